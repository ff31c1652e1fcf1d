{{
  config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='session_key',
    on_schema_change='append_new_columns'
  )
}}
-- depends_on: {{ ref('int_monetate__session_versions') }}

with sessions as (

    select * from {{ ref('int_monetate__sessions_enriched') }}
    where {{ monetate_incremental_filter('session_key') }}

),

child_counts as (

    select * from {{ ref('int_monetate__session_child_counts') }}
    where {{ monetate_incremental_filter('session_key') }}

),

final as (

    select
        -- ids
        sessions.session_id,
        sessions.session_key,
        sessions.guid,
        sessions.account_id,
        sessions.customer_id,
        sessions.customer_link,

        -- time
        sessions.session_start_at,
        sessions.session_end_at,
        sessions.session_date,
        sessions.session_start_hour,
        sessions.session_duration_seconds,

        -- device, browser, OS, screen, geo
        sessions.device_type,
        sessions.browser,
        sessions.browser_version,
        sessions.os,
        sessions.os_version,
        sessions.screen_width,
        sessions.screen_height,
        sessions.country_code,
        sessions.country_name,
        sessions.region,
        sessions.city,

        -- engagement
        sessions.page_views,
        sessions.product_view_count,
        sessions.time_on_site_seconds,
        sessions.session_count,

        -- flags
        sessions.has_cart,
        sessions.has_new_customer,
        sessions.has_product_view,
        sessions.has_purchase,
        sessions.has_recommendation_cart,
        sessions.has_recommendation_click,
        sessions.has_recommendation_impression,
        sessions.has_recommendation_purchase,
        sessions.has_stealth,
        sessions.is_bounce,
        sessions.is_closed,
        sessions.is_converted,

        -- purchases
        sessions.purchase_count,
        sessions.session_value,
        child_counts.purchased_items_value,
        child_counts.last_purchased_at as last_purchase_at,

        -- variable-size fields
        child_counts.offer_count,
        child_counts.page_event_count,
        child_counts.view_line_count,
        child_counts.cart_line_count,
        child_counts.custom_target_count,
        child_counts.purchase_line_count,
        child_counts.purchased_item_count,
        child_counts.purchased_quantity,

        -- sums of squares (variance)
        sessions.page_views_ss,
        sessions.time_on_site_ss,
        sessions.session_value_ss,
        sessions.purchase_value_ss,

        -- data quality and lineage
        sessions.is_capped,
        sessions.capped_fields,
        sessions.version_count,
        sessions.source_file,
        sessions.source_path,
        sessions.source_line,
        sessions.load_id,
        sessions.loaded_at

    from sessions
    left join child_counts
        on sessions.session_row_id = child_counts.session_row_id

)

select * from final
