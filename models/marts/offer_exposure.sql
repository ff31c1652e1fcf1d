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

    select * from {{ ref('sessions_fact') }}

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
        {{ seconds_between('sessions.session_start_at', 'offers.first_seen_at') }} as seconds_from_session_start,
        case
            when sessions.last_purchase_at is not null and sessions.last_purchase_at >= offers.first_seen_at then true
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

)

select * from final
