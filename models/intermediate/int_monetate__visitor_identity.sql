{#-
  One row per Monetate ID that carries any customer id: the stitched customer id (the latest non-null
  `customer_id` of its sessions, else the latest non-null `customer_link`; "latest" = latest session start, then
  session key) and how many distinct customer ids it carries over both columns. Portable on purpose:
  PostgreSQL has no `ignore nulls`, so the latest id is a row_number over the sessions that have one.
-#}
with sessions as (

    select monetate_id, session_key, session_start_at, customer_id, customer_link
    from {{ ref('int_monetate__sessions_enriched') }}
    where monetate_id is not null
        and (customer_id is not null or customer_link is not null)

),

latest_customer_id as (

    select monetate_id, customer_id
    from (
        select
            monetate_id,
            customer_id,
            row_number() over (
                partition by monetate_id order by session_start_at desc, session_key desc
            ) as recency
        from sessions
        where customer_id is not null
    ) ranked
    where recency = 1

),

latest_customer_link as (

    select monetate_id, customer_link
    from (
        select
            monetate_id,
            customer_link,
            row_number() over (
                partition by monetate_id order by session_start_at desc, session_key desc
            ) as recency
        from sessions
        where customer_link is not null
    ) ranked
    where recency = 1

),

distinct_ids as (

    select monetate_id, count(distinct customer_id) as customer_id_count
    from {{ ref('int_monetate__visitor_customer_ids') }}
    group by monetate_id

),

final as (

    select
        distinct_ids.monetate_id,
        coalesce(latest_customer_id.customer_id, latest_customer_link.customer_link) as stitched_customer_id,
        case when latest_customer_id.customer_id is not null then 'customer_id' else 'customer_link' end
            as stitched_from,
        distinct_ids.customer_id_count
    from distinct_ids
    left join latest_customer_id on distinct_ids.monetate_id = latest_customer_id.monetate_id
    left join latest_customer_link on distinct_ids.monetate_id = latest_customer_link.monetate_id

)

select * from final
