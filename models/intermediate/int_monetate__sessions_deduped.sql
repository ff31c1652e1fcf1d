{#-
  One row per session. The deduplication rule (documented in _intermediate__models.yml):
    1. exact repeats (same session_id, e.g. a re-delivered file) collapse;
    2. re-emitted versions of one session (same guid and start_time) collapse;
  keeping, within (guid, start_time), the version that is
    closed before open, then has the latest end_time, then comes from the latest source file name,
    then the latest line of that file (then the latest load, then the row id, only to be total).
  Exact repeats share guid and start_time (both are part of session_id), so one window over
  (guid, start_time) applies both steps at once.

  Materialized as an incremental table (delete+insert on session_key), like the marts: a run re-ranks
  only the sessions that have a version loaded since the last run (all of their versions, old and new),
  so its many grain tests and every downstream model read a table instead of re-running the window.
  version_loaded_at (the load time of the session's newest version) is what the marts' incremental filter reads:
  the rows a run re-derives are the newest of the table, so that filter skips the older ones.
-#}
{{
  config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='session_key',
    on_schema_change='append_new_columns',
    indexes=monetate_postgres_indexes([{'columns': ['session_key']}, {'columns': ['version_loaded_at']},
                                       {'columns': ['monetate_id']}]),
    post_hook="{{ monetate_analyze_relation(this) }}"
  )
}}

{{ monetate_require_columns(['monetate_id', 'version_loaded_at']) }}

with versions as (

    select * from {{ ref('int_monetate__session_versions') }}
    where {{ monetate_dedup_incremental_filter() }}

),

ranked as (

    select
        session_row_id,
        count(*) over (partition by guid, start_time_ms) as version_count,
        max(loaded_at) over (partition by guid, start_time_ms) as version_loaded_at,
        row_number() over (
            partition by guid, start_time_ms
            order by
                case when is_closed then 1 else 0 end desc,
                coalesce(end_time_ms, -1) desc,
                coalesce(source_file, '') desc,
                coalesce(source_line, -1) desc,
                loaded_at desc,
                session_row_id desc
        ) as version_rank
    from versions

),

surviving as (

    select
        versions.*,
        ranked.version_count,
        ranked.version_loaded_at
    from versions
    inner join ranked
        on versions.session_row_id = ranked.session_row_id
    where ranked.version_rank = 1

)

select * from surviving
