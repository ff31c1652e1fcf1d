-- Reconciliation: per purchase of a surviving session version, the items (unit price x quantity) add up
-- to the purchase's value (vendor: purchase_lines holds the purchase total and its items).
-- Sessions whose purchase item list reached the 1,000-item cap are skipped: the vendor says such lists
-- may be incomplete. Tolerance: one cent per item (prices are rounded to cents) plus one cent.
-- Fails with one row per offending purchase.
with purchase_lines as (

    select row_id, session_id, purchase_id, purchase_value
    from {{ ref('int_monetate__purchase_lines') }}
    where {{ monetate_test_scope(ref('int_monetate__purchase_lines')) }}

),

items as (

    select purchase_line_row_id, count(*) as item_count, sum(unit_price * quantity) as items_value
    from {{ ref('int_monetate__purchase_line_items') }}
    where {{ monetate_test_scope(ref('int_monetate__purchase_line_items')) }}
    group by purchase_line_row_id

),

sessions as (

    select session_id, is_capped, capped_fields from {{ ref('int_monetate__sessions_deduped') }}

)

select
    purchase_lines.session_id,
    purchase_lines.purchase_id,
    purchase_lines.purchase_value,
    coalesce(items.items_value, 0) as items_value,
    coalesce(items.item_count, 0) as item_count,
    purchase_lines.purchase_value - coalesce(items.items_value, 0) as difference
from purchase_lines
left join items
    on purchase_lines.row_id = items.purchase_line_row_id
inner join sessions
    on purchase_lines.session_id = sessions.session_id
where coalesce(sessions.capped_fields, '') not like '%purchase_lines%'
  and abs(purchase_lines.purchase_value - coalesce(items.items_value, 0))
      > 0.01 * (coalesce(items.item_count, 0) + 1)
