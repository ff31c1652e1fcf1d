{{
  config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    indexes=monetate_postgres_indexes([{'columns': ['loaded_at']}, {'columns': ['session_key']}, {'columns': ['session_date']}]),
    dist='session_key',
    sort=['session_date', 'conversion_name'],
    pre_hook="{{ monetate_delete_affected_sessions() }}"
  )
}}
{#-
  One row per (session, conversion event listed in var('conversion_events')) the session fired: when it first
  fired, seconds from the session start, and whether / how much the session purchased at or after it ("who fired
  event X then bought"). Empty while the var lists nothing. Facts are incremental per session like
  page_event_sessions; after changing the var, rebuild with --full-refresh (older sessions are not re-derived).
-#}
-- depends_on: {{ ref('int_monetate__sessions_deduped') }}

with conversions as (

    select * from {{ ref('int_monetate__conversion_events') }}
    where {{ monetate_incremental_filter() }}

),

sessions as (

    select session_id, monetate_id, session_date, session_start_at, device_type, country_code, is_converted,
        purchase_count, session_value
    from {{ ref('int_monetate__sessions_enriched') }}
    where {{ monetate_incremental_filter() }}

),

value_after as (

    {{ monetate_purchases_after('conversions', 'conversion_name', 'first_fired_at') }}

),

final as (

    select
        conversions.session_id,
        conversions.conversion_name,
        conversions.session_key,
        {{ safe_cast_number('conversions.page_event_id', 'bigint') }} as page_event_id,
        sessions.monetate_id,
        sessions.session_date,
        sessions.session_start_at,
        conversions.first_fired_at,
        cast(
            {{ dbt.datediff('sessions.session_start_at', 'conversions.first_fired_at', 'millisecond') }} / 1000.0
            as decimal(18, 3)
        ) as seconds_from_session_start,
        case when value_after.purchases_after > 0 then true else false end as purchased_after_event,
        cast(coalesce(value_after.purchased_value, 0) as {{ money_type() }}) as purchased_value_after_event,
        sessions.device_type,
        sessions.country_code,
        sessions.is_converted,
        sessions.purchase_count,
        sessions.session_value,
        conversions.loaded_at
    from conversions
    inner join sessions
        on conversions.session_id = sessions.session_id
    left join value_after
        on conversions.session_id = value_after.session_id
        and conversions.conversion_name = value_after.conversion_name

)

select * from final
