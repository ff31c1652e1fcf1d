{#-
  One row per (surviving) session: how many child rows of each kind its surviving version has, and the
  sums the reconciliation tests compare. Built from the same int_monetate__<child> models the child marts
  list (offer_exposure from int_monetate__offers, purchase_items from int_monetate__purchase_line_items),
  so a count here always equals the rows of the corresponding mart. Those models hold the surviving
  version's rows only; they are aggregated per session row and attached to every surviving session
  (0 when it has none).
-#}
with sessions as (

    select session_row_id, session_id, session_key from {{ ref('int_monetate__sessions_deduped') }}

),

offers as (
    select session_row_id, count(*) as offer_count
    from {{ ref('int_monetate__offers') }} group by session_row_id
),

page_events as (
    select session_row_id, count(*) as page_event_count
    from {{ ref('int_monetate__page_events') }} group by session_row_id
),

custom_targets as (
    select session_row_id, count(*) as custom_target_count
    from {{ ref('int_monetate__custom_targets') }} group by session_row_id
),

purchases as (
    select session_row_id, count(*) as purchases_row_count, sum(purchase_value) as purchases_value
    from {{ ref('int_monetate__purchases') }} group by session_row_id
),

purchase_lines as (
    select
        session_row_id,
        count(*) as purchase_line_count,
        sum(purchase_value) as purchase_lines_value,
        max(purchased_at) as last_purchased_at
    from {{ ref('int_monetate__purchase_lines') }} group by session_row_id
),

items as (
    select
        session_row_id,
        count(*) as purchased_item_count,
        cast(sum(quantity) as bigint) as purchased_quantity,
        cast(sum(unit_price * quantity) as {{ money_type() }}) as purchased_items_value
    from {{ ref('int_monetate__purchase_line_items') }} group by session_row_id
),

cart_lines as (
    select session_row_id, count(*) as cart_line_count
    from {{ ref('int_monetate__cart_lines') }} group by session_row_id
),

view_lines as (
    select session_row_id, count(*) as view_line_count
    from {{ ref('int_monetate__view_lines') }} group by session_row_id
),

final as (

    select
        sessions.session_row_id,
        sessions.session_id,
        sessions.session_key,
        coalesce(offers.offer_count, 0) as offer_count,
        coalesce(page_events.page_event_count, 0) as page_event_count,
        coalesce(custom_targets.custom_target_count, 0) as custom_target_count,
        coalesce(purchases.purchases_row_count, 0) as purchases_row_count,
        coalesce(purchases.purchases_value, 0) as purchases_value,
        coalesce(purchase_lines.purchase_line_count, 0) as purchase_line_count,
        coalesce(purchase_lines.purchase_lines_value, 0) as purchase_lines_value,
        purchase_lines.last_purchased_at,
        coalesce(items.purchased_item_count, 0) as purchased_item_count,
        coalesce(items.purchased_quantity, 0) as purchased_quantity,
        coalesce(items.purchased_items_value, 0) as purchased_items_value,
        coalesce(cart_lines.cart_line_count, 0) as cart_line_count,
        coalesce(view_lines.view_line_count, 0) as view_line_count
    from sessions
    left join offers on sessions.session_row_id = offers.session_row_id
    left join page_events on sessions.session_row_id = page_events.session_row_id
    left join custom_targets on sessions.session_row_id = custom_targets.session_row_id
    left join purchases on sessions.session_row_id = purchases.session_row_id
    left join purchase_lines on sessions.session_row_id = purchase_lines.session_row_id
    left join items on sessions.session_row_id = items.session_row_id
    left join cart_lines on sessions.session_row_id = cart_lines.session_row_id
    left join view_lines on sessions.session_row_id = view_lines.session_row_id

)

select * from final
