{{
  config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='monetate_id',
    on_schema_change='append_new_columns',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['loaded_at']}, {'columns': ['monetate_id'], 'unique': true}]),
    dist='monetate_id',
    sort=['monetate_id']
  )
}}
{#-
  One row per visitor (Monetate ID, the cookie id inside guid): when it was first and last seen, its sessions,
  conversions, orders and revenue, first and latest device, latest country, and its customer ids (stitched id
  and how many distinct ids it carries: conflicts are counted, not hidden). docs/visitors.md says how to read it
  and when not to trust it. Incremental: every visitor touched by a new load is re-derived from all of its
  sessions (macros/visitors.sql).
-#}
-- depends_on: {{ ref('int_monetate__sessions_deduped') }} {{ ref('int_monetate__sessions_enriched') }}

{% if is_incremental() -%}
with scoped as (

    {#- every session of the affected visitors; their visitor context from these sessions alone (macros/visitors.sql) -#}
    select
        session_row_id, session_id, session_key, monetate_id, session_start_at, session_end_at, device_type,
        country_code, country_name, is_converted, purchase_count, session_value, customer_id, customer_link, loaded_at
    from {{ ref('int_monetate__sessions_enriched') }}
    where {{ monetate_visitor_incremental_filter('monetate_id') }}

),

{{ monetate_visitor_context_ctes('scoped', 'sessions') }},
{%- else %}
with sessions as (

    select * from {{ ref('int_monetate__visitor_sessions') }}
    where monetate_id is not null

),
{%- endif %}

visitor_totals as (

    select
        monetate_id,
        min(session_start_at) as first_seen_at,
        max(session_start_at) as last_seen_at,
        count(*) as session_count,
        sum(case when is_converted then 1 else 0 end) as converted_session_count,
        sum(case when is_converted and visitor_session_number > 1 then 1 else 0 end)
            as returning_converted_session_count,
        sum(coalesce(purchase_count, 0)) as order_count,
        sum(coalesce(session_value, 0)) as revenue,
        max(loaded_at) as loaded_at
    from sessions
    group by monetate_id

),

first_session as (

    select monetate_id, session_id, device_type, country_code
    from sessions
    where visitor_session_number = 1

),

latest_session as (

    select monetate_id, session_id, device_type, country_code, country_name, stitched_customer_id, customer_id_count
    from sessions
    where visitor_session_number = visitor_session_count

),

final as (

    select
        visitor_totals.monetate_id,
        visitor_totals.first_seen_at,
        visitor_totals.last_seen_at,
        cast(visitor_totals.session_count as bigint) as session_count,
        cast(visitor_totals.converted_session_count as bigint) as converted_session_count,
        cast(visitor_totals.order_count as bigint) as order_count,
        cast(visitor_totals.revenue as {{ money_type() }}) as revenue,
        case when visitor_totals.session_count > 1 then true else false end as is_returning,
        case when visitor_totals.returning_converted_session_count > 0 then true else false end
            as has_returned_and_bought,
        first_session.session_id as first_session_id,
        latest_session.session_id as latest_session_id,
        first_session.device_type as first_device_type,
        latest_session.device_type as latest_device_type,
        first_session.country_code as first_country_code,
        latest_session.country_code as latest_country_code,
        latest_session.country_name as latest_country_name,
        latest_session.stitched_customer_id,
        cast(latest_session.customer_id_count as bigint) as customer_id_count,
        case when latest_session.customer_id_count > 1 then true else false end as has_conflicting_customer_ids,
        visitor_totals.loaded_at
    from visitor_totals
    inner join first_session on visitor_totals.monetate_id = first_session.monetate_id
    inner join latest_session on visitor_totals.monetate_id = latest_session.monetate_id

)

select * from final
