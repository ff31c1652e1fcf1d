{#-
  One row per surviving session with everything the marts report about the session itself: the
  deduplicated attributes plus the reporting columns derived from them (UTC date and hour of the start,
  duration, conversion flag) and the country name from the ISO 3166 seed. sessions adds the child
  counts; offer_exposures and purchase_items repeat these columns on their rows, so every mart shows the
  same value for the same session.
-#}
with sessions as (

    select * from {{ ref('int_monetate__sessions_deduped') }}

),

countries as (

    select country_code, country_name from {{ ref('iso_3166_countries') }}

),

final as (

    select
        -- ids
        sessions.session_row_id,
        sessions.session_id,
        sessions.session_key,
        sessions.guid,
        sessions.monetate_id,
        sessions.account_id,
        sessions.customer_id,
        sessions.customer_link,

        -- time
        sessions.session_start_at,
        sessions.session_end_at,
        {{ dbt.cast(dbt.date_trunc('day', 'sessions.session_start_at'), 'date') }} as session_date,
        {{ hour_of_day('sessions.session_start_at') }} as session_start_hour,
        cast(
            {{ dbt.datediff('sessions.session_start_at', 'sessions.session_end_at', 'millisecond') }} / 1000.0
            as decimal(18, 3)
        ) as session_duration_seconds,

        -- device, browser, OS, screen, geo
        sessions.device_type,
        sessions.browser,
        sessions.browser_version,
        sessions.os,
        sessions.os_version,
        sessions.screen_width,
        sessions.screen_height,
        sessions.country_code,
        countries.country_name,
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
        case when coalesce(sessions.purchase_count, 0) > 0 then true else false end as is_converted,

        -- purchases
        sessions.purchase_count,
        sessions.session_value,

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
        sessions.loaded_at,
        sessions.version_loaded_at

        {#- passthrough: scalar fields the vendor added later (macros/vendor_extras.sql) #}
        {{- monetate_extra_columns_select('sessions.') }}

    from sessions
    left join countries
        on sessions.country_code = countries.country_code

)

select * from final
