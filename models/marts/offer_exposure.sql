{{
  config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='session_key',
    on_schema_change='append_new_columns',
    pre_hook="{{ monetate_delete_affected_sessions() }}"
  )
}}
-- depends_on: {{ ref('int_monetate__session_versions') }}

with offers as (

    select * from {{ ref('int_monetate__offers') }}
    where {{ monetate_incremental_filter('session_key') }}

),

sessions as (

    select * from {{ ref('int_monetate__sessions_enriched') }}
    where {{ monetate_incremental_filter('session_key') }}

),

purchases as (

    {#- the session's latest purchase, from the purchase lines of its surviving version (the same rows
        that give sessions_fact.last_purchase_at) -#}
    select session_id, max(purchased_at) as last_purchased_at
    from {{ ref('int_monetate__purchase_lines') }}
    where {{ monetate_incremental_filter('session_key') }}
    group by session_id

),

final as (

    select
        offers.session_id,
        offers.split_id,
        offers.session_key,
        sessions.guid,
        sessions.session_date,
        sessions.session_start_at,
        offers.first_seen_at,
        cast(
            {{ dbt.datediff('sessions.session_start_at', 'offers.first_seen_at', 'millisecond') }} / 1000.0
            as decimal(18, 3)
        ) as seconds_from_session_start,
        case
            when purchases.last_purchased_at is not null
                and purchases.last_purchased_at >= offers.first_seen_at then true
            else false
        end as purchased_after_exposure,

        -- session outcome, repeated so that a BI tool can compare splits without joins
        sessions.device_type,
        sessions.country_code,
        sessions.is_converted,
        sessions.is_bounce,
        sessions.purchase_count,
        sessions.session_value,
        sessions.page_views,
        sessions.time_on_site_seconds,
        sessions.page_views_ss,
        sessions.time_on_site_ss,
        sessions.session_value_ss,
        sessions.purchase_value_ss,
        sessions.is_capped,
        offers.loaded_at

    from offers
    inner join sessions
        on offers.session_id = sessions.session_id
    left join purchases
        on offers.session_id = purchases.session_id

)

select * from final
