{#-
  Calendar spines for the monitors (models/marts/monitoring/). dbt.date_spine would query the warehouse while
  compiling (get_intervals_between), which breaks compiling without a connection; these use dbt.generate_series
  (static unions, valid on DuckDB, PostgreSQL and Redshift) and dbt.dateadd, bounded by a `bounds` CTE with
  `first_day` and `last_day` columns. 8192 days is over 22 years of history.
-#}
{% macro monetate_day_spine(bounds) -%}
    select
        cast({{ dbt.dateadd('day', 'numbers.day_number', bounds ~ '.first_day') }} as date) as window_date
    from (
        select cast(generated_number as integer) - 1 as day_number
        from ({{ dbt.generate_series(8192) }}) as series
    ) as numbers
    cross join {{ bounds }}
    where numbers.day_number <= {{ dbt.datediff(bounds ~ '.first_day', bounds ~ '.last_day', 'day') }}
{%- endmacro %}

{#- One row per day x 15-minute window (window_index 0..95) between the bounds, with its UTC start. -#}
{% macro monetate_window_spine(bounds) -%}
    select
        days.window_date,
        slots.window_index,
        cast({{ dbt.dateadd('minute', '15 * slots.window_index', 'cast(days.window_date as timestamp)') }}
            as timestamp) as window_start_at
    from ({{ monetate_day_spine(bounds) }}) as days
    cross join (
        select cast(generated_number as integer) - 1 as window_index
        from ({{ dbt.generate_series(96) }}) as series
    ) as slots
{%- endmacro %}
