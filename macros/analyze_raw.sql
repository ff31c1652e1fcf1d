{#-
  on-run-start hook: refresh planner statistics of the raw tables the loader just wrote.

  dlt never runs ANALYZE, and PostgreSQL's autovacuum may not have reached freshly loaded tables when
  `dbt build` starts right after the loader. Without statistics the planner guesses ~1 row for the
  completed-load semi-joins and picks nested loops through the staging/intermediate views (minutes
  instead of milliseconds on a few thousand sessions). DuckDB keeps its own statistics and Redshift
  analyzes automatically, so only the postgres__ version does work. Tables that do not exist yet and
  tables the dbt role does not own (PostgreSQL then only warns) are harmless.
  Switch off with --vars '{monetate_analyze_raw: false}'.
-#}
{% macro monetate_analyze_raw_tables() -%}
  {{ return(adapter.dispatch('monetate_analyze_raw_tables', 'monetate_session_stream')()) }}
{%- endmacro %}

{% macro default__monetate_analyze_raw_tables() -%}{%- endmacro %}

{% macro duckdb__monetate_analyze_raw_tables() -%}{%- endmacro %}

{% macro redshift__monetate_analyze_raw_tables() -%}{%- endmacro %}

{% macro postgres__monetate_analyze_raw_tables() -%}
  {%- set statements = [] -%}
  {%- if execute and var('monetate_analyze_raw', true) -%}
    {%- set tables = ['_dlt_loads', 'sessions', 'sessions__offers', 'sessions__page_event_ids',
                      'sessions__custom_targets', 'sessions__purchases', 'sessions__purchase_lines',
                      'sessions__purchase_lines__items', 'sessions__cart_lines', 'sessions__view_lines',
                      'session_stream_files', 'session_stream_rejects'] -%}
    {%- for name in tables -%}
      {%- set rel = adapter.get_relation(database=target.database, schema=var('raw_schema'), identifier=name) -%}
      {%- if rel is not none -%}
        {%- if name.startswith('sessions') -%}
          {%- do statements.append(monetate_postgres_load_id_brin(rel, name)) -%}
        {%- endif -%}
        {%- do statements.append('analyze ' ~ rel) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {%- if statements -%}
    {{ statements | join(';\n') }}
  {%- endif -%}
{%- endmacro %}

{#-
  A BRIN index on `_dlt_load_id` of the raw session tables (PostgreSQL): rows arrive in load order, so a block range
  index of a few pages lets an incremental run read only the newest loads' rows (the marts bound their child reads
  by the oldest load they re-derive, macros/incremental_marts.sql) instead of scanning every raw row of history.
  Created once (`if not exists`); a dbt role that does not own the raw tables skips it (the runs still work, only
  slower as history grows).
-#}
{% macro monetate_postgres_load_id_brin(relation, name) -%}
do $$
begin
    create index if not exists {{ name }}__dlt_load_id_brin on {{ relation }} using brin (_dlt_load_id);
exception when insufficient_privilege then
    raise notice 'not the owner of {{ name }}: no load-order index (incremental runs read the whole table)';
end
$$
{%- endmacro %}

{#- post-hook of the marts: fresh statistics for the models that read them next (PostgreSQL only). -#}
{% macro monetate_analyze_relation(relation) -%}
  {{ return(adapter.dispatch('monetate_analyze_relation', 'monetate_session_stream')(relation)) }}
{%- endmacro %}

{% macro default__monetate_analyze_relation(relation) -%}{%- endmacro %}

{% macro postgres__monetate_analyze_relation(relation) -%}
  {#- a view has no statistics (the marts' deprecated views) -#}
  {%- if execute and var('monetate_analyze_raw', true) and config.get('materialized') != 'view' -%}analyze {{ relation }}{%- endif -%}
{%- endmacro %}

{#-
  pre-hook of the marts: switch PostgreSQL's JIT compiler off for the model's own transaction.

  The marts' incremental statements join several views over the raw tables; the planner's cost estimate
  for them passes jit_above_cost, and PostgreSQL then spends seconds compiling expressions for a statement
  that runs in well under a second (measured: the incremental sessions step went from ~6 s to 16–22 s
  at 200k sessions with JIT on). `set local` ends with the transaction, so nothing else in the session
  changes. Redshift has no JIT (and no `jit` setting), DuckDB neither. Keep JIT with
  --vars '{monetate_postgres_jit: true}'.
-#}
{% macro monetate_model_session_settings() -%}
  {{ return(adapter.dispatch('monetate_model_session_settings', 'monetate_session_stream')()) }}
{%- endmacro %}

{% macro default__monetate_model_session_settings() -%}{%- endmacro %}

{% macro redshift__monetate_model_session_settings() -%}{%- endmacro %}

{% macro postgres__monetate_model_session_settings() -%}
  {%- if not var('monetate_postgres_jit', false) -%}set local jit = off{%- endif -%}
{%- endmacro %}
