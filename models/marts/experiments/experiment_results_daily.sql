{{
  config(
    materialized='table',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['experience_id', 'readout_date']}, {'columns': ['split_id']}]),
    dist='even',
    sort=['readout_date', 'experience_key', 'split_id']
  )
}}
{#-
  experiment_results per day: one row per (experience, split, readout_date), every figure computed on what was
  known at the end of that UTC day (cumulative): the visitors whose first exposure session started on or before it, their outcomes up to
  it (sessions by start date, purchases by purchase date). Pre-period covariates are those of experiment_exposures.
  The last date's row equals experiment_results. For the "does the lift settle" chart.
-#}
with sessions as (

    {{ experiment_sessions() }}

),

purchases as (

    {{ experiment_purchases('sessions') }}

),

exposures as (

    select * from {{ ref('experiment_exposures') }}

),

dates as (

    select distinct session_date as readout_date from sessions
    union
    select distinct purchase_date from purchases

),

session_increments as (

    select
        exposures.experience_key,
        exposures.visitor_id,
        sessions.session_date as readout_date,
        count(*) as sessions,
        sum(sessions.page_views) as page_views,
        sum(sessions.time_on_site_seconds) as time_on_site_seconds,
        0 as orders,
        {{ to_money('0') }} as revenue
    from exposures
    inner join sessions
        on sessions.visitor_id = exposures.visitor_id
    {# the first exposure session by its id: its start may lie on the day before the exposure #}
    inner join sessions as first_session
        on first_session.session_id = exposures.first_exposure_session_id
    where sessions.session_start_at >= first_session.session_start_at
        {{- experiment_in_window('sessions.session_start_at', 'exposures.first_exposed_at') }}
    group by exposures.experience_key, exposures.visitor_id, sessions.session_date

),

purchase_increments as (

    select
        exposures.experience_key,
        exposures.visitor_id,
        purchases.purchase_date as readout_date,
        0 as sessions,
        0 as page_views,
        0 as time_on_site_seconds,
        count(*) as orders,
        sum(purchases.purchase_value) as revenue
    from exposures
    inner join purchases
        on purchases.visitor_id = exposures.visitor_id
       and purchases.purchased_at >= exposures.first_exposed_at
       {{- experiment_in_window('purchases.purchased_at', 'exposures.first_exposed_at') }}
    group by exposures.experience_key, exposures.visitor_id, purchases.purchase_date

),

increments as (

    select
        experience_key, visitor_id, readout_date,
        sum(sessions) as sessions,
        sum(page_views) as page_views,
        sum(time_on_site_seconds) as time_on_site_seconds,
        sum(orders) as orders,
        sum(revenue) as revenue
    from (
        select * from session_increments
        union all
        select * from purchase_increments
    ) as both_kinds
    group by experience_key, visitor_id, readout_date

),

visitor_days as (

    select
        exposures.experience_key,
        exposures.experience_id,
        exposures.split_id,
        exposures.visitor_id,
        exposures.is_multi_split,
        dates.readout_date,
        exposures.pre_converted,
        exposures.pre_revenue,
        coalesce(increments.sessions, 0) as day_sessions,
        coalesce(increments.page_views, 0) as day_page_views,
        coalesce(increments.time_on_site_seconds, 0) as day_time_on_site_seconds,
        coalesce(increments.orders, 0) as day_orders,
        coalesce(increments.revenue, 0) as day_revenue
    from exposures
    {# a visitor enters the readout on the start date of its first exposure session #}
    inner join sessions as first_session
        on first_session.session_id = exposures.first_exposure_session_id
    inner join dates
        on dates.readout_date >= first_session.session_date
    left join increments
        on increments.experience_key = exposures.experience_key
       and increments.visitor_id = exposures.visitor_id
       and increments.readout_date = dates.readout_date

),

cumulative as (

    select
        experience_key,
        experience_id,
        split_id,
        visitor_id,
        is_multi_split,
        readout_date,
        pre_converted,
        pre_revenue,
        {%- for col in ['sessions', 'page_views', 'time_on_site_seconds', 'orders', 'revenue'] %}
        sum(day_{{ col }}) over (
            partition by experience_key, visitor_id order by readout_date
            rows between unbounded preceding and current row
        ) as {{ col }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from visitor_days

),

visitors as (

    select
        cumulative.*,
        case when orders > 0 then 1 else 0 end as converted
    from cumulative
    where not is_multi_split

),

splits as (

    select * from {{ ref('splits') }}

),

multi as (

    select experience_key, readout_date, count(*) as multi_split_visitors
    from cumulative
    where is_multi_split
    group by experience_key, readout_date

),

{{ experiment_readout('visitors', 'splits', 'multi', keys=['readout_date']) }}

select {{ monetate_contract_columns() }} from final
