{#-
  One row per (Monetate ID, customer id, source column): every customer id a visitor's surviving sessions carry,
  from `customer_id` (collected on the page in that session) and from `customer_link` (an id associated with
  the visitor in an earlier session), with the first and last session start it was seen in. The long form
  behind visitor_customer_map and the visitor's distinct-id count (conflicts stay visible).
-#}
{{ monetate_visitor_customer_ids() }}
