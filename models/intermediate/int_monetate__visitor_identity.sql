{#-
  One row per Monetate ID that carries any customer id: the stitched customer id (the latest non-null
  `customer_id` of its sessions, else the latest non-null `customer_link`; "latest" = latest session start, then
  session key) and how many distinct customer ids it carries over both columns.
  The rule lives in macros/visitors.sql (monetate_visitor_context_ctes); this is its per-visitor view.
-#}
select distinct monetate_id, stitched_customer_id, stitched_from, customer_id_count
from {{ ref('int_monetate__visitor_sessions') }}
where customer_id_count > 0
