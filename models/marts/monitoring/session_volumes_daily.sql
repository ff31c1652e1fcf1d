{{ config(materialized='table') }}
{#-
  Sessions per UTC day (by the day folder of the loaded files, from the ledger) against the trailing 28 days
  before it (the day itself excluded): mean, standard deviation and z-score, so a sudden drop shows even when
  every window has its file. Days without any loaded file are in the series with 0 sessions. The z-score needs
  at least 7 trailing days; a day still in progress (today, UTC) is never flagged.
-#}
with files as (

    select file_date, sessions_loaded
    from {{ ref('stg_monetate__files') }}
    where file_status = 'loaded'

),

bounds as (

    select min(file_date) as first_day, max(file_date) as last_day
    from files

),

days as (

    {{ monetate_day_spine('bounds') }}

),

daily as (

    select
        days.window_date as volume_date,
        cast(count(files.file_date) as integer) as files,
        cast(coalesce(sum(files.sessions_loaded), 0) as bigint) as sessions
    from days
    left join files
        on files.file_date = days.window_date
    group by days.window_date

),

trailing_stats as (

    select
        daily.volume_date,
        cast(count(earlier.volume_date) as integer) as trailing_days,
        avg(cast(earlier.sessions as double precision)) as trailing_mean,
        stddev_samp(cast(earlier.sessions as double precision)) as trailing_stddev
    from daily
    left join daily as earlier
        on earlier.volume_date < daily.volume_date
        and earlier.volume_date >= {{ dbt.dateadd('day', -28, 'daily.volume_date') }}
    group by daily.volume_date

),

scored as (

    select
        daily.volume_date,
        daily.files,
        daily.sessions,
        trailing_stats.trailing_days,
        trailing_stats.trailing_mean,
        trailing_stats.trailing_stddev,
        case
            when trailing_stats.trailing_days >= 7 and trailing_stats.trailing_stddev > 0
                then (daily.sessions - trailing_stats.trailing_mean) / trailing_stats.trailing_stddev
        end as z_score,
        daily.volume_date < cast({{ to_utc_timestamp(dbt.current_timestamp()) }} as date) as is_complete_day
    from daily
    inner join trailing_stats
        on trailing_stats.volume_date = daily.volume_date

)

select
    volume_date,
    files,
    sessions,
    trailing_days,
    trailing_mean,
    trailing_stddev,
    z_score,
    is_complete_day,
    coalesce(is_complete_day and z_score < -4, false) as is_volume_drop
from scored
