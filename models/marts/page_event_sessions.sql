{{
  config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['loaded_at']}, {'columns': ['session_key']}, {'columns': ['session_date']}, {'columns': ['page_event_id']}]),
    dist='session_key',
    sort=['session_date', 'page_event_id'],
    pre_hook="{{ monetate_delete_affected_sessions() }}",
    post_hook="{{ monetate_refresh_names(ref('page_events'), 'page_event_id', ['page_event_title']) }}"
  )
}}
{#-
  One row per (session, page event): funnels and event-based conversion without joins in a BI tool. Facts are
  incremental like offer_exposures; the title is refreshed on every build (macros/monetate_names.sql).
-#}
-- depends_on: {{ ref('int_monetate__sessions_deduped') }}

with events as (

    select * from {{ ref('int_monetate__page_events') }}
    where {{ monetate_incremental_filter() }}

),

sessions as (

    select * from {{ ref('int_monetate__sessions_enriched') }}
    where {{ monetate_incremental_filter() }}

),

value_after as (

    {#- the session's purchases at or after the first firing of each page event -#}
    {{ monetate_purchases_after('events', 'page_event_id', 'first_seen_at') }}

),

titles as (

    select page_event_id, page_event_title from {{ ref('page_events') }}

),

final as (

    select
        events.session_id,
        {{ safe_cast_number('events.page_event_id', 'bigint') }} as page_event_id,
        events.session_key,
        titles.page_event_title,
        sessions.guid,
        sessions.session_date,
        sessions.session_start_at,
        events.first_seen_at,
        cast(
            {{ dbt.datediff('sessions.session_start_at', 'events.first_seen_at', 'millisecond') }} / 1000.0
            as decimal(18, 3)
        ) as seconds_from_session_start,
        case when value_after.purchases_after > 0 then true else false end as purchased_after_event,
        cast(coalesce(value_after.purchased_value, 0) as {{ money_type() }}) as purchased_value_after_event,

        -- session outcome, repeated so that a BI tool can compare events without joins
        sessions.device_type,
        sessions.country_code,
        sessions.is_converted,
        sessions.is_bounce,
        sessions.purchase_count,
        sessions.session_value,
        sessions.page_views,
        sessions.time_on_site_seconds,
        sessions.has_stealth,
        sessions.is_capped,
        events.loaded_at

    from events
    inner join sessions
        on events.session_id = sessions.session_id
    left join value_after
        on events.session_id = value_after.session_id
        and events.page_event_id = value_after.page_event_id
    left join titles
        on {{ safe_cast_number('events.page_event_id', 'bigint') }} = titles.page_event_id

)

select {{ monetate_contract_columns() }} from final
