-- depends_on: {{ ref('int_monetate__offers') }} {{ ref('int_monetate__page_events') }} {{ ref('int_monetate__custom_targets') }} {{ ref('int_monetate__purchases') }}
-- depends_on: {{ ref('int_monetate__purchase_lines') }} {{ ref('int_monetate__purchase_line_items') }} {{ ref('int_monetate__cart_lines') }} {{ ref('int_monetate__view_lines') }}
-- Reconciliation: per surviving session, the `purchases` values and the `purchase_lines` values each add
-- up to `session_value` (vendor: session_value is the total value of the session's purchases).
-- Tolerance: one cent per purchase plus one cent. Fails with one row per offending session.
with sessions as (

    select session_row_id, session_id, session_key, session_value, is_capped
    from {{ ref('int_monetate__sessions_deduped') }}
    where {{ monetate_test_scope(ref('int_monetate__sessions_deduped')) }}

),

{{ monetate_child_counts_ctes('sessions', 'counts', monetate_test_scope_load_filter()) }}

select
    sessions.session_id,
    sessions.session_value,
    counts.purchases_value,
    counts.purchase_lines_value,
    counts.purchases_row_count,
    counts.purchase_line_count
from sessions
inner join counts
    on sessions.session_row_id = counts.session_row_id
where abs(coalesce(sessions.session_value, 0) - counts.purchases_value) > 0.01 * (counts.purchases_row_count + 1)
   or abs(coalesce(sessions.session_value, 0) - counts.purchase_lines_value) > 0.01 * (counts.purchase_line_count + 1)
