{%- set raw = monetate_raw_columns('sessions') -%}

with source as (

    {{ monetate_completed_rows('sessions', raw) }}

),

renamed as (

    select
        -- lineage / keys
        {{ monetate_col(raw, '_dlt_id', 'varchar') }} as session_row_id,
        {{ monetate_col(raw, '_dlt_load_id', 'varchar') }} as load_id,
        {{ monetate_col(raw, 'session_id', 'varchar') }} as session_id,
        {{ monetate_col(raw, 'guid', 'varchar') }} as guid,
        cast({{ monetate_col(raw, 'account_id', 'bigint') }} as bigint) as account_id,
        {{ monetate_col(raw, 'customer_id', 'varchar') }} as customer_id,
        {{ monetate_col(raw, 'customer_link', 'varchar') }} as customer_link,

        -- session times (vendor: Unix milliseconds, UTC)
        cast({{ monetate_col(raw, 'start_time', 'bigint') }} as bigint) as start_time_ms,
        cast({{ monetate_col(raw, 'end_time', 'bigint') }} as bigint) as end_time_ms,
        {{ epoch_ms_to_timestamp(monetate_col(raw, 'start_time', 'bigint')) }} as session_start_at,
        {{ epoch_ms_to_timestamp(monetate_col(raw, 'end_time', 'bigint')) }} as session_end_at,

        -- device and geo
        {{ monetate_col(raw, 'device_type', 'varchar') }} as device_type,
        {{ monetate_col(raw, 'browser', 'varchar') }} as browser,
        {{ monetate_col(raw, 'browser_version', 'varchar') }} as browser_version,
        {{ monetate_col(raw, 'os', 'varchar') }} as os,
        {{ monetate_col(raw, 'os_version', 'varchar') }} as os_version,
        cast({{ monetate_col(raw, 'screen_width', 'bigint') }} as integer) as screen_width,
        cast({{ monetate_col(raw, 'screen_height', 'bigint') }} as integer) as screen_height,
        upper({{ monetate_col(raw, 'country_code', 'varchar') }}) as country_code,
        {{ monetate_col(raw, 'region', 'varchar') }} as region,
        {{ monetate_col(raw, 'city', 'varchar') }} as city,

        -- measures
        cast({{ monetate_col(raw, 'page_views', 'bigint') }} as bigint) as page_views,
        cast({{ monetate_col(raw, 'page_views_ss', 'bigint') }} as bigint) as page_views_ss,
        cast({{ monetate_col(raw, 'product_view_count', 'bigint') }} as bigint) as product_view_count,
        cast({{ monetate_col(raw, 'time_on_site', 'bigint') }} as bigint) as time_on_site_seconds,
        cast({{ monetate_col(raw, 'time_on_site_ss', 'bigint') }} as bigint) as time_on_site_ss,
        cast({{ monetate_col(raw, 'session_count', 'bigint') }} as integer) as session_count,
        cast({{ monetate_col(raw, 'purchase_count', 'bigint') }} as integer) as purchase_count,
        {{ to_money(monetate_col(raw, 'session_value', 'double precision')) }} as session_value,
        cast({{ monetate_col(raw, 'session_value_ss', 'double precision') }} as double precision) as session_value_ss,
        cast({{ monetate_col(raw, 'purchase_value_ss', 'double precision') }} as double precision) as purchase_value_ss,

        -- flags ('t' / 'f' -> boolean)
        {{ flag_to_boolean(monetate_col(raw, 'has_cart', 'varchar')) }} as has_cart,
        {{ flag_to_boolean(monetate_col(raw, 'has_new_customer', 'varchar')) }} as has_new_customer,
        {{ flag_to_boolean(monetate_col(raw, 'has_product_view', 'varchar')) }} as has_product_view,
        {{ flag_to_boolean(monetate_col(raw, 'has_purchase', 'varchar')) }} as has_purchase,
        {{ flag_to_boolean(monetate_col(raw, 'has_recommendation_cart', 'varchar')) }} as has_recommendation_cart,
        {{ flag_to_boolean(monetate_col(raw, 'has_recommendation_click', 'varchar')) }} as has_recommendation_click,
        {{ flag_to_boolean(monetate_col(raw, 'has_recommendation_impression', 'varchar')) }} as has_recommendation_impression,
        {{ flag_to_boolean(monetate_col(raw, 'has_recommendation_purchase', 'varchar')) }} as has_recommendation_purchase,
        {{ flag_to_boolean(monetate_col(raw, 'has_stealth', 'varchar')) }} as has_stealth,
        {{ flag_to_boolean(monetate_col(raw, 'is_bounce', 'varchar')) }} as is_bounce,
        {{ flag_to_boolean(monetate_col(raw, 'is_closed', 'varchar')) }} as is_closed,

        -- 1,000-item cap (vendor: fields at or over the cap may be incomplete, likely a bot)
        {{ monetate_col(raw, '_capped_fields', 'varchar') }} as capped_fields,
        case when {{ monetate_col(raw, '_capped_fields', 'varchar') }} is not null then true else false end as is_capped,

        -- source file lineage
        {{ monetate_col(raw, '_source_file', 'varchar') }} as source_file,
        {{ monetate_col(raw, '_source_path', 'varchar') }} as source_path,
        {{ to_utc_timestamp(monetate_col(raw, '_source_window_start', 'timestamp')) }} as source_window_start_at,
        cast({{ monetate_col(raw, '_source_line', 'bigint') }} as bigint) as source_line

        -- passthrough: scalar fields the vendor added later, typed as loaded (macros/vendor_extras.sql)
        {%- for name in monetate_extra_session_columns() %}
        , {{ adapter.quote(name) }} as extra_{{ name }}
        {%- endfor %}

    from source

)

select * from renamed
