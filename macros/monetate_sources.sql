{#-
  Helpers for reading the loader's raw tables (docs/raw_tables.md).

  * monetate_completed_loads_filter(): staging reads only rows of completed dlt loads
    (`_dlt_load_id in (select load_id from _dlt_loads where status = 0)`).
  * monetate_raw_columns(table): which raw columns exist, so optional columns (dlt does not create a
    column that was NULL in every row it has seen) and optional tables (e.g. no rejects yet) become typed
    NULLs / empty selects instead of compile errors. Introspection is skipped when not executing or when
    var('monetate_introspect') is false: everything is then assumed to exist.
-#}

{% macro monetate_completed_loads_filter(load_id_column='_dlt_load_id') -%}
  {{ load_id_column }} in (
      select load_id from {{ source('monetate', '_dlt_loads') }} where status = 0
  )
{%- endmacro %}

{% macro monetate_raw_columns(table_name) -%}
  {%- set info = {'exists': true, 'all': true, 'names': []} -%}
  {%- if execute and var('monetate_introspect', true) -%}
    {%- set src = source('monetate', table_name) -%}
    {%- set rel = adapter.get_relation(database=target.database, schema=var('raw_schema'), identifier=table_name) -%}
    {%- if rel is none -%}
      {%- do info.update({'exists': false, 'all': false}) -%}
    {%- else -%}
      {%- set names = [] -%}
      {%- for col in adapter.get_columns_in_relation(rel) -%}
        {%- do names.append(col.name | lower) -%}
      {%- endfor -%}
      {%- do info.update({'all': false, 'names': names}) -%}
    {%- endif -%}
  {%- endif -%}
  {{ return(info) }}
{%- endmacro %}

{#- A raw column if it exists, else a typed NULL. -#}
{% macro monetate_col(info, column, data_type) -%}
  {%- if info['all'] or (column | lower) in info['names'] -%}
    {{ adapter.quote(column) if (column | lower) in ('time', 'value', 'day') else column }}
  {%- else -%}
    cast(null as {{ data_type }})
  {%- endif -%}
{%- endmacro %}

{#- `select * from <raw table> where <completed load>`, or an empty select when the table does not exist yet. -#}
{% macro monetate_completed_rows(table_name, info) -%}
  {%- if info['exists'] -%}
    select * from {{ source('monetate', table_name) }}
    {%- if info['all'] or '_dlt_load_id' in info['names'] %}
    where {{ monetate_completed_loads_filter('_dlt_load_id') }}
    {%- endif %}
  {%- else -%}
    {#- the loader has not created this table yet (nothing of this kind loaded so far) -#}
    select cast(null as varchar(64)) as _dlt_load_id where 1 = 0
  {%- endif -%}
{%- endmacro %}
