{{
  config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['loaded_at']}, {'columns': ['session_key']}, {'columns': ['session_date']}, {'columns': ['split_id']}]),
    dist='session_key',
    sort=['session_date', 'split_id'],
    pre_hook="{{ monetate_delete_affected_sessions() }}",
    post_hook="{{ monetate_refresh_names(ref('splits'), 'split_id',
                                          ['experience_id', 'experience_name', 'split_name', 'is_control']) }}"
  )
}}
{#-
  Facts are incremental (delete+insert by session_key); the name columns from splits are set for the rows
  built now and refreshed on every other row by the post-hook, so names are always the current ones
  (macros/monetate_names.sql). Split ids are cast to bigint, the type of every id in the dimensions.
-#}
-- depends_on: {{ ref('int_monetate__sessions_deduped') }}

with offers as (

    select * from {{ ref('int_monetate__offers') }}
    where {{ monetate_incremental_filter() }}

),

sessions as (

    select * from {{ ref('int_monetate__sessions_enriched') }}
    where {{ monetate_incremental_filter() }}

),

purchases as (

    {#- the session's latest purchase, from the purchase lines of its surviving version (the same rows
        that give sessions.last_purchase_at) -#}
    select session_id, max(purchased_at) as last_purchased_at
    from {{ ref('int_monetate__purchase_lines') }}
    where {{ monetate_incremental_filter() }}
    group by session_id

),

purchase_lines as (

    select session_id, purchased_at, purchase_value
    from {{ ref('int_monetate__purchase_lines') }}
    where {{ monetate_incremental_filter() }}

),

value_after as (

    {#- the session's purchase value at or after the first sighting of each split -#}
    select offers.session_id, offers.split_id, sum(purchase_lines.purchase_value) as purchased_value
    from offers
    inner join purchase_lines
        on offers.session_id = purchase_lines.session_id
        and purchase_lines.purchased_at >= offers.first_seen_at
    group by offers.session_id, offers.split_id

),

splits as (

    select split_id, experience_id, experience_name, split_name, is_control from {{ ref('splits') }}

),

final as (

    select
        offers.session_id,
        {{ safe_cast_number('offers.split_id', 'bigint') }} as split_id,
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
        cast(coalesce(value_after.purchased_value, 0) as {{ money_type() }}) as purchased_value_after_exposure,

        -- names (current; refreshed on every build by the post-hook)
        splits.experience_id,
        splits.experience_name,
        splits.split_name,
        splits.is_control,

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
        sessions.has_stealth,
        sessions.is_capped,
        offers.loaded_at

    from offers
    inner join sessions
        on offers.session_id = sessions.session_id
    left join purchases
        on offers.session_id = purchases.session_id
    left join value_after
        on offers.session_id = value_after.session_id
        and offers.split_id = value_after.split_id
    left join splits
        on {{ safe_cast_number('offers.split_id', 'bigint') }} = splits.split_id

)

select {{ monetate_contract_columns() }} from final
