{#-
  The select list of a mart with an enforced contract: every column the model's YAML declares, cast to its
  declared `data_type`. dbt checks that a model's SQL yields exactly the contracted types; engines disagree on
  what an aggregate returns (DuckDB's sum of integers is HUGEINT, PostgreSQL's sum of bigint is numeric,
  Redshift's count is bigint), so the marts cast once, here, to the types BI tools read (bigint, decimal(18, s),
  double precision, timestamp, boolean, varchar(65535)). A value that does not fit fails the build loudly (cast
  overflow), never silently. Column order follows the YAML. At parse time the YAML is not attached yet: `*`.
-#}
{% macro monetate_contract_columns(relation='final') -%}
  {%- set columns = model.columns.values() | list if model is mapping and model.columns else [] -%}
  {%- if not columns -%}
    {{ relation }}.*
  {%- else -%}
    {%- for column in columns %}
    {% if column.data_type -%}
      cast({{ relation }}.{{ column.name }} as {{ column.data_type }}) as {{ column.name }}
    {%- else -%}
      {{ relation }}.{{ column.name }}
    {%- endif -%}{{ "," if not loop.last }}
    {%- endfor %}
  {%- endif -%}
{%- endmacro %}

{#-
  The `contract` config of the marts: enforced (column names and types checked by dbt on every build);
  var monetate_enforce_contracts: false switches the check off (the casts above still give the same types).
-#}
{% macro monetate_contract() -%}
  {{ return({'enforced': var('monetate_enforce_contracts', true)}) }}
{%- endmacro %}

{#-
  `indexes` config of the marts: PostgreSQL only. dbt-duckdb would build DuckDB ART indexes from the same config;
  they do not speed up analytic scans, slow every insert, and a rebuild of an existing warehouse with several
  threads then fails while dbt-duckdb drops them ("Table with name ..._dbt_backup does not exist"). Redshift has no
  indexes (its `sort` / `dist` configs do that job).
-#}
{% macro monetate_postgres_indexes(indexes) -%}
  {{ return(indexes if target.type == 'postgres' else []) }}
{%- endmacro %}
