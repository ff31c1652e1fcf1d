-- depends_on: {{ ref('int_monetate__offers') }} {{ ref('int_monetate__page_events') }} {{ ref('int_monetate__custom_targets') }} {{ ref('int_monetate__purchases') }}
-- depends_on: {{ ref('int_monetate__purchase_lines') }} {{ ref('int_monetate__purchase_line_items') }} {{ ref('int_monetate__cart_lines') }} {{ ref('int_monetate__view_lines') }}
-- Reconciliation: counts agree with the vendor's flags and scalars, per surviving session.
-- One row per (session, failed check), naming the check and both sides. List-length checks skip sessions
-- whose list reached the 1,000-item cap (possibly incomplete by the vendor's own rule).
-- time_on_site is whole seconds; the vendor's rounding allows one second against end - start.
with sessions as (

    select * from {{ ref('int_monetate__sessions_enriched') }}
    where {{ monetate_test_scope(ref('int_monetate__sessions_enriched')) }}

),

{#- the aggregation of int_monetate__session_child_counts (macros/child_counts.sql), over the sessions under test -#}
{{ monetate_child_counts_ctes('sessions', 'counts', monetate_test_scope_load_filter()) }},

joined as (

    select
        sessions.session_id,
        coalesce(sessions.capped_fields, '') as capped_fields,
        sessions.has_purchase,
        sessions.has_cart,
        sessions.has_product_view,
        sessions.is_bounce,
        coalesce(sessions.purchase_count, 0) as purchase_count,
        coalesce(sessions.product_view_count, 0) as product_view_count,
        sessions.page_views,
        sessions.page_views_ss,
        sessions.session_count,
        sessions.time_on_site_seconds,
        sessions.session_duration_seconds as duration_seconds,
        counts.purchases_row_count,
        counts.purchase_line_count,
        counts.cart_line_count
    from sessions
    inner join counts
        on sessions.session_row_id = counts.session_row_id

),

checks as (

    select session_id, 'has_purchase agrees with purchase_count > 0' as check_name,
           {{ dbt.cast_bool_to_text('has_purchase') }} as flag_or_expected, {{ dbt.cast('purchase_count', dbt.type_string()) }} as actual
    from joined
    where has_purchase is null or has_purchase <> (purchase_count > 0)

    union all
    select session_id, 'purchase_count = number of purchases',
           {{ dbt.cast('purchase_count', dbt.type_string()) }}, {{ dbt.cast('purchases_row_count', dbt.type_string()) }}
    from joined
    where purchase_count <> purchases_row_count and capped_fields not like '%purchases%'

    union all
    select session_id, 'purchase_count = number of purchase_lines',
           {{ dbt.cast('purchase_count', dbt.type_string()) }}, {{ dbt.cast('purchase_line_count', dbt.type_string()) }}
    from joined
    where purchase_count <> purchase_line_count and capped_fields not like '%purchase_lines%'

    union all
    select session_id, 'has_product_view agrees with product_view_count > 0',
           {{ dbt.cast_bool_to_text('has_product_view') }}, {{ dbt.cast('product_view_count', dbt.type_string()) }}
    from joined
    where has_product_view is null or has_product_view <> (product_view_count > 0)

    union all
    select session_id, 'has_cart agrees with cart_lines present',
           {{ dbt.cast_bool_to_text('has_cart') }}, {{ dbt.cast('cart_line_count', dbt.type_string()) }}
    from joined
    where (has_cart is null or has_cart <> (cart_line_count > 0)) and capped_fields not like '%cart_lines%'

    union all
    select session_id, 'is_bounce implies at most one page view',
           {{ dbt.cast_bool_to_text('is_bounce') }}, {{ dbt.cast('page_views', dbt.type_string()) }}
    from joined
    where is_bounce and page_views > 1

    union all
    select session_id, 'page_views_ss = page_views squared (one session)',
           {{ dbt.cast('page_views * page_views', dbt.type_string()) }}, {{ dbt.cast('page_views_ss', dbt.type_string()) }}
    from joined
    where page_views_ss <> page_views * page_views

    union all
    select session_id, 'session_count = 1',
           '1', {{ dbt.cast('session_count', dbt.type_string()) }}
    from joined
    where session_count <> 1

    union all
    select session_id, 'time_on_site within 1 s of end - start',
           {{ dbt.cast('duration_seconds', dbt.type_string()) }}, {{ dbt.cast('time_on_site_seconds', dbt.type_string()) }}
    from joined
    where abs(time_on_site_seconds - duration_seconds) > 1

)

select * from checks
