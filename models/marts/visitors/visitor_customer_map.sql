{{
  config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['loaded_at']}, {'columns': ['monetate_id']}, {'columns': ['customer_id']}]),
    dist='monetate_id',
    sort=['monetate_id'],
    pre_hook="{{ monetate_delete_affected_visitors() }}"
  )
}}
{#-
  One row per (Monetate ID, customer id, source column): which customer ids a visitor's sessions carried, from
  which column (`customer_id`: collected on the page in that session; `customer_link`: associated with the
  visitor in an earlier session), first and last seen. Like Snowplow's user_mapping, but every id is listed,
  so conflicts (a visitor with several ids) stay visible. Incremental per visitor (macros/visitors.sql); the
  pre-hook drops an affected visitor's rows first, since a replaced session version may carry other ids.
-#}
-- depends_on: {{ ref('int_monetate__sessions_deduped') }} {{ ref('int_monetate__sessions_enriched') }}

with ids as (

    {% if is_incremental() -%}
    {{ monetate_visitor_customer_ids(monetate_visitor_incremental_filter('monetate_id')) }}
    {%- else -%}
    select * from {{ ref('int_monetate__visitor_customer_ids') }}
    {%- endif %}

),

final as (

    select
        monetate_id,
        customer_id,
        source_column,
        first_seen_at,
        last_seen_at,
        cast(session_count as bigint) as session_count,
        loaded_at
    from ids

)

select * from final
