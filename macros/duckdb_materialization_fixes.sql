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

{#-
  Views on DuckDB: one `create or replace view` instead of dbt's create-temp / rename / rename / drop dance.

  Why: DuckDB replaces a view atomically in one statement, and each of the four catalog changes of the default
  dance waits for the catalog while other threads commit large inserts (measured 0.3-0.9 s per view on a 1M-session
  warehouse, 42 views: a third of an incremental run's model time went into re-creating unchanged views). The
  default materialization is kept for PostgreSQL and Redshift, where the rename dance is what makes the swap
  atomic. A table or other relation in the view's place is dropped first, as the default does through its backup.
-#}
{% materialization view, adapter='duckdb' %}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set grant_config = config.get('grants') -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {%- if existing_relation is not none and not existing_relation.is_view %}
    {{ drop_relation_if_exists(existing_relation) }}
  {%- endif %}

  {% call statement('main') -%}
    create or replace view {{ target_relation }} as (
      {{ sql }}
    );
  {%- endcall %}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
