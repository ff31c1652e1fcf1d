{#-
  One row per (Monetate ID, customer id, source column): every customer id a visitor's surviving sessions carry,
  from `customer_id` (collected on the page in that session) and from `customer_link` (an id associated with
  the visitor in an earlier session), with the first and last session start it was seen in. The long form
  behind visitor_customer_map and the visitor's distinct-id count (conflicts stay visible).
-#}
with sessions as (

    select monetate_id, session_key, session_start_at, customer_id, customer_link, loaded_at
    from {{ ref('int_monetate__sessions_enriched') }}
    where monetate_id is not null

),

ids as (

    select monetate_id, customer_id, 'customer_id' as source_column, session_key, session_start_at, loaded_at
    from sessions
    where customer_id is not null
    union all
    select monetate_id, customer_link, 'customer_link', session_key, session_start_at, loaded_at
    from sessions
    where customer_link is not null

),

final as (

    select
        monetate_id,
        customer_id,
        source_column,
        min(session_start_at) as first_seen_at,
        max(session_start_at) as last_seen_at,
        count(*) as session_count,
        max(loaded_at) as loaded_at
    from ids
    group by monetate_id, customer_id, source_column

)

select * from final
