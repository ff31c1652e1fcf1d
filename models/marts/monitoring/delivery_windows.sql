{{ config(materialized='table') }}
{#-
  One row per UTC 15-minute window, from the first to the latest window with a loaded file: how many files the
  ledger has for the window, their sessions and load times, and whether the window has no loaded file at all.
  Windows after the latest delivered one are not listed: whether the newest data is late is freshness (dbt source
  freshness on the ledger, `run.py --check`), not a gap; listing them would flag every window of a backfill's
  last day.
  The vendor writes at least one file per window, so `is_missing` is a gap to explain (`run.py --check` says
  why). Built from the ledger only (stg_monetate__files): cheap, whatever the data volume.
  One definition with `run.py --check` (dlt_pipeline/completeness.py, `_windows`): a window is missing when no
  file of it is loaded (a quarantined or unreadable file does not fill it; files count by the window in their
  name, whatever their day folder) and overdue when it also ended two hours or more before now. On every window
  both list they agree (tests/e2e/test_dbt_monitoring.py).
-#}
with files as (

    select file_date, window_start_at, file_status, sessions_loaded, loaded_at
    from {{ ref('stg_monetate__files') }}
    where window_start_at is not null

),

bounds as (

    select
        min(file_date) as first_day,
        max(file_date) as last_day,
        min(window_start_at) as first_window_at,
        max(window_start_at) as last_window_at
    from files
    where file_status = 'loaded'

),

windows as (

    {{ monetate_window_spine('bounds') }}

),

per_window as (

    select
        window_start_at,
        sum(case when file_status = 'loaded' then 1 else 0 end) as files,
        sum(case when file_status = 'loaded' then 0 else 1 end) as files_not_loaded,
        sum(case when file_status = 'loaded' then sessions_loaded else 0 end) as sessions,
        min(case when file_status = 'loaded' then loaded_at end) as first_loaded_at,
        max(case when file_status = 'loaded' then loaded_at end) as last_loaded_at
    from files
    group by window_start_at

),

now_utc as (

    select {{ to_utc_timestamp(dbt.current_timestamp()) }} as built_at

)

select
    windows.window_date,
    windows.window_index,
    windows.window_start_at,
    cast(coalesce(per_window.files, 0) as integer) as files,
    cast(coalesce(per_window.files_not_loaded, 0) as integer) as files_not_loaded,
    cast(coalesce(per_window.sessions, 0) as bigint) as sessions,
    per_window.first_loaded_at,
    per_window.last_loaded_at,
    coalesce(per_window.files, 0) = 0 as is_missing,
    coalesce(per_window.files, 0) = 0
        and {{ dbt.dateadd('minute', 15 + 120, 'windows.window_start_at') }} <= now_utc.built_at as is_overdue,
    now_utc.built_at
from windows
cross join now_utc
cross join bounds
left join per_window
    on per_window.window_start_at = windows.window_start_at
where windows.window_start_at between bounds.first_window_at and bounds.last_window_at
