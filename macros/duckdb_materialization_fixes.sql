{#-
  Override of dbt-duckdb 1.11's `drop_indexes_on_relation`, which its table and incremental materializations call
  before swapping every existing table. It lists the table's indexes with `duckdb_indexes()`, a scan of the whole
  catalog; when another dbt thread drops its `__dbt_backup` table at the same moment, the scan fails with
  "Catalog Error: Table with name X__dbt_backup does not exist" and a rebuild of an existing warehouse fails at
  random (seen on every full refresh with 4 threads). The marts create no DuckDB indexes
  (macros/contracts.sql: monetate_postgres_indexes), so a model without an `indexes` config has none to drop and
  skips the scan; a model that asks for indexes gets dbt-duckdb's own behaviour.
-#}
{% macro drop_indexes_on_relation(relation) -%}
  {%- if config.get('indexes') -%}
    {%- do dbt_duckdb.drop_indexes_on_relation(relation) -%}
  {%- endif -%}
{%- endmacro %}
