{{
  config(
    materialized='table',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['experience_key', 'visitor_id']}, {'columns': ['experience_id']}, {'columns': ['split_id']}]),
    dist='even',
    sort=['experience_key', 'split_id']
  )
}}
{#-
  One row per (experience, visitor): the split the visitor was assigned, when it was first exposed, and its
  outcomes from the first exposure on and in the `experiment_pre_period_days` before it.

  Unit: the visitor (Monetate ID, the part of `guid` after ':'), because Monetate keeps a visitor in one split
  for the life of its cookie, so its sessions are not independent. Experience: `splits.experience_id`; a
  split the metadata does not know is an experience of its own (`experience_key` 'split-<id>').
  Window: post-exposure outcomes count every session of the visitor from the session of its first exposure on
  (up to var experiment_window_hours after the first exposure when set: sessions by start, purchases by time)
  (page views, time on site: whole sessions) and every purchase at or after the first exposure time (so a
  purchase earlier in the exposure session is pre-exposure). Stealth and capped sessions are left out by
  default (vars experiment_exclude_stealth / experiment_exclude_capped), for exposures and outcomes alike.
  A visitor seen in two splits of one experience keeps its row (`is_multi_split`) but no readout counts it.
-#}
with sessions as (

    {{ experiment_sessions() }}

),

purchases as (

    {{ experiment_purchases('sessions') }}

),

firsts as (

    select * from {{ ref('int_monetate__experiment_first_exposures') }}

),

session_outcomes as (

    select
        firsts.experience_key,
        firsts.visitor_id,
        sum(case when sessions.session_start_at >= firsts.first_exposure_session_start_at
                 {{- experiment_in_window('sessions.session_start_at', 'firsts.first_exposed_at') }} then 1 else 0 end)
            as sessions,
        sum(case when sessions.session_start_at >= firsts.first_exposure_session_start_at
                 {{- experiment_in_window('sessions.session_start_at', 'firsts.first_exposed_at') }}
                 then sessions.page_views else 0 end) as page_views,
        sum(case when sessions.session_start_at >= firsts.first_exposure_session_start_at
                 {{- experiment_in_window('sessions.session_start_at', 'firsts.first_exposed_at') }}
                 then sessions.time_on_site_seconds else 0 end) as time_on_site_seconds,
        sum(case when sessions.session_start_at < firsts.first_exposure_session_start_at then 1 else 0 end)
            as pre_sessions,
        sum(case when sessions.session_start_at < firsts.first_exposure_session_start_at
                 then sessions.page_views else 0 end) as pre_page_views,
        sum(case when sessions.session_start_at < firsts.first_exposure_session_start_at
                 then sessions.time_on_site_seconds else 0 end) as pre_time_on_site_seconds
    from firsts
    inner join sessions
        on sessions.visitor_id = firsts.visitor_id
       and sessions.session_start_at >= firsts.pre_period_start_at
    group by firsts.experience_key, firsts.visitor_id

),

purchase_outcomes as (

    select
        firsts.experience_key,
        firsts.visitor_id,
        sum(case when purchases.purchased_at >= firsts.first_exposed_at
                 {{- experiment_in_window('purchases.purchased_at', 'firsts.first_exposed_at') }} then 1 else 0 end) as orders,
        sum(case when purchases.purchased_at >= firsts.first_exposed_at
                 {{- experiment_in_window('purchases.purchased_at', 'firsts.first_exposed_at') }}
                 then purchases.purchase_value else 0 end) as revenue,
        sum(case when purchases.purchased_at < firsts.first_exposed_at then 1 else 0 end) as pre_orders,
        sum(case when purchases.purchased_at < firsts.first_exposed_at
                 then purchases.purchase_value else 0 end) as pre_revenue
    from firsts
    inner join purchases
        on purchases.visitor_id = firsts.visitor_id
       and purchases.purchased_at >= firsts.pre_period_start_at
    group by firsts.experience_key, firsts.visitor_id

),

final as (

    select
        firsts.experience_key,
        firsts.experience_id,
        firsts.visitor_id,
        firsts.split_id,
        firsts.first_exposed_at,
        {{ experiment_window_end('firsts.first_exposed_at') }} as analysis_window_end_at,
        firsts.first_exposure_date,
        firsts.first_exposure_session_id,
        firsts.split_count,
        case when firsts.split_count > 1 then true else false end as is_multi_split,

        -- outcomes from the first exposure on
        coalesce(session_outcomes.sessions, 0) as sessions,
        case when coalesce(purchase_outcomes.orders, 0) > 0 then 1 else 0 end as converted,
        coalesce(purchase_outcomes.orders, 0) as orders,
        {{ to_money('coalesce(purchase_outcomes.revenue, 0)') }} as revenue,
        coalesce(session_outcomes.page_views, 0) as page_views,
        coalesce(session_outcomes.time_on_site_seconds, 0) as time_on_site_seconds,

        -- the same outcomes in the pre-period (CUPED covariates)
        coalesce(session_outcomes.pre_sessions, 0) as pre_sessions,
        case when coalesce(purchase_outcomes.pre_orders, 0) > 0 then 1 else 0 end as pre_converted,
        coalesce(purchase_outcomes.pre_orders, 0) as pre_orders,
        {{ to_money('coalesce(purchase_outcomes.pre_revenue, 0)') }} as pre_revenue,
        coalesce(session_outcomes.pre_page_views, 0) as pre_page_views,
        coalesce(session_outcomes.pre_time_on_site_seconds, 0) as pre_time_on_site_seconds
    from firsts
    left join session_outcomes
        on firsts.experience_key = session_outcomes.experience_key
       and firsts.visitor_id = session_outcomes.visitor_id
    left join purchase_outcomes
        on firsts.experience_key = purchase_outcomes.experience_key
       and firsts.visitor_id = purchase_outcomes.visitor_id

)

select {{ monetate_contract_columns() }} from final
