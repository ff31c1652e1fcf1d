{#-
  Every completed session line (all versions, all deliveries) with the load time of the load that wrote it,
  the session key (guid + start time) the deduplication groups on and the visitor's Monetate ID, each computed
  once, when the line arrives.

  Why a table that only grows: every incremental model asks "which sessions did the loads since my last build
  touch?". Over a view that question re-read every raw line of history and rebuilt a string key per row on every
  run. Here a run appends only the lines of loads completed since the last run, in load order, so the question
  reads the newest rows of one table (DuckDB skips the older row groups; PostgreSQL uses the indexes below).

  New loads: completed, with a load time after (latest load time here - var mart_lookback_hours), and not
  absorbed yet (the look-back only widens the window; a load is never appended twice).
  A file loaded again (`--reload`, a retried quarantine) replaces its earlier rows in the raw tables (the loader's
  supersede step); the pre-hook mirrors that here: rows of a source path that a new load brings again are
  deleted before the new copy is appended (macros/incremental_marts.sql).
-#}
{{
  config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    indexes=monetate_postgres_indexes([{'columns': ['loaded_at']}, {'columns': ['session_key']},
                                       {'columns': ['monetate_id']}, {'columns': ['source_path']}]),
    dist='session_key',
    sort=['loaded_at'],
    pre_hook="{{ monetate_versions_drop_reloaded_files() }}",
    post_hook="{{ monetate_analyze_relation(this) }}"
  )
}}

{%- set oldest_new_load = monetate_oldest_new_load() %}

with loads as (

    {{ monetate_versions_new_loads() }}

),

sessions as (

    select * from {{ ref('stg_monetate__sessions') }}

),

joined as (

    select
        sessions.*,
        loads.loaded_at,
        {{ dbt.concat(['sessions.guid', "'|'", dbt.cast('sessions.start_time_ms', dbt.type_string())]) }} as session_key,
        {{ monetate_id_from_guid('sessions.guid') }} as monetate_id
    from sessions
    inner join loads
        on sessions.load_id = loads.load_id
    {%- if oldest_new_load %}
    where sessions.load_id >= '{{ oldest_new_load }}'
    {%- endif %}

)

select * from joined
