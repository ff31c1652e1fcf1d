{{
  config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='session_key',
    on_schema_change='append_new_columns',
    indexes=monetate_postgres_indexes([{'columns': ['loaded_at']}, {'columns': ['session_key'], 'unique': true}, {'columns': ['session_date']},
                                       {'columns': ['monetate_id']}]),
    dist='session_key',
    sort=['session_date']
  )
}}
{#-
  One row per session. Visitor columns (visitor_session_number, is_first_visitor_session, stitched_customer_id)
  depend on every session of the visitor, so an incremental run re-derives every session of each visitor touched
  by a new load (visitor-level rule, macros/visitors.sql), not only the touched sessions. No enforced contract:
  the extra_<name> (vendor fields added later) and converted_<name> (var conversion_events) columns are dynamic.
-#}
-- depends_on: {{ ref('int_monetate__sessions_deduped') }} {{ ref('int_monetate__visitor_sessions') }}
-- depends_on: {{ ref('int_monetate__offers') }} {{ ref('int_monetate__page_events') }} {{ ref('int_monetate__custom_targets') }}
-- depends_on: {{ ref('int_monetate__purchases') }} {{ ref('int_monetate__purchase_lines') }} {{ ref('int_monetate__purchase_line_items') }}
-- depends_on: {{ ref('int_monetate__cart_lines') }} {{ ref('int_monetate__view_lines') }}
{%- set conversions = monetate_conversion_events() %}

with sessions as (

    select * from {{ ref('int_monetate__sessions_enriched') }}
    where {{ monetate_visitor_incremental_filter() }}

),

{% if is_incremental() -%}
{#-
  Incremental: `sessions` holds every session of the visitors touched by new loads. Their visitor columns are
  derived from those sessions alone (the same SQL as int_monetate__visitor_sessions, which numbers all of
  history). Only the sessions touched themselves (`changed`) get their child counts and conversion flags computed
  again, from their child rows alone; the others keep theirs from this table (their surviving version did not
  change).
-#}
{{ monetate_visitor_context_ctes('sessions', 'visitor_sessions') }},

changed as (

    select session_row_id, session_id, session_key from {{ ref('int_monetate__sessions_deduped') }}
    where {{ monetate_incremental_filter() }}

),

{{ monetate_child_counts_ctes('changed', 'changed_counts', monetate_load_id_bound('child.load_id')) }},

kept as (

    select session_key from sessions
    where session_key not in (select session_key from changed)

),

child_counts as (

    select
        session_key, offer_count, page_event_count, view_line_count, cart_line_count, custom_target_count,
        purchase_line_count, purchased_item_count, purchased_quantity, purchased_items_value, last_purchased_at
    from changed_counts
    union all
    select
        previous.session_key, previous.offer_count, previous.page_event_count, previous.view_line_count, previous.cart_line_count,
        previous.custom_target_count, previous.purchase_line_count, previous.purchased_item_count, previous.purchased_quantity,
        previous.purchased_items_value, previous.last_purchase_at
    from {{ this }} as previous
    inner join kept on previous.session_key = kept.session_key

),

conversions as (

    {{ monetate_conversion_flags(conversions, 'changed', monetate_load_id_bound('events.load_id')) }}
    {%- if conversions %}
    union all
    select
        previous.session_key
        {%- for c in conversions %},
        case when previous.converted_{{ c['name'] }} then 1 else 0 end
        {%- endfor %}
    from {{ this }} as previous
    inner join kept on previous.session_key = kept.session_key
    {%- endif %}

),
{%- else %}

visitor_sessions as (

    select session_row_id, monetate_id, visitor_session_number, is_first_visitor_session, stitched_customer_id
    from {{ ref('int_monetate__visitor_sessions') }}

),

child_counts as (

    select * from {{ ref('int_monetate__session_child_counts') }}

),

conversions as (

    {{ monetate_conversion_flags(conversions) }}

),
{%- endif %}

final as (

    select
        -- ids
        sessions.session_id,
        sessions.session_key,
        sessions.guid,
        sessions.monetate_id,
        sessions.account_id,
        sessions.customer_id,
        sessions.customer_link,

        -- visitor (docs/visitors.md)
        visitor_sessions.visitor_session_number,
        visitor_sessions.is_first_visitor_session,
        visitor_sessions.stitched_customer_id,

        -- time
        sessions.session_start_at,
        sessions.session_end_at,
        sessions.session_date,
        cast(sessions.session_start_hour as integer) as session_start_hour,
        {{ to_reporting_time('sessions.session_start_at') }} as session_start_at_local,
        cast({{ to_reporting_time('sessions.session_start_at') }} as date) as session_date_local,
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
        cast(child_counts.purchased_items_value as {{ money_type() }}) as purchased_items_value,
        child_counts.last_purchased_at as last_purchase_at,

        -- variable-size fields
        child_counts.offer_count,
        child_counts.page_event_count,
        child_counts.view_line_count,
        child_counts.cart_line_count,
        child_counts.custom_target_count,
        child_counts.purchase_line_count,
        child_counts.purchased_item_count,
        cast(child_counts.purchased_quantity as bigint) as purchased_quantity,

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

        {#- conversion events (var conversion_events): did the session fire the listed page event #}
        {%- for c in conversions %},
        case when conversions.converted_{{ c['name'] }} = 1 then true else false end as converted_{{ c['name'] }}
        {%- endfor %}

        {#- passthrough: scalar fields the vendor added later (macros/vendor_extras.sql) #}
        {{- monetate_extra_columns_select('sessions.') }}

    from sessions
    left join child_counts
        on sessions.session_key = child_counts.session_key
    left join visitor_sessions
        on sessions.session_row_id = visitor_sessions.session_row_id
    left join conversions
        on sessions.session_key = conversions.session_key

)

select * from final
