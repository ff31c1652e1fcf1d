{#-
  One row per surviving session with its visitor context: the Monetate ID, the session's number among its
  visitor's sessions (1 = first; ordered by start, then session key), whether it is the first, and the
  visitor's stitched customer id. Everything here depends on ALL sessions of the visitor, which is why the
  marts reading it re-derive whole visitors on incremental runs (macros/visitors.sql).
  Sessions whose guid has no Monetate ID part get NULL visitor columns.
-#}
with sessions as (

    select
        session_row_id,
        session_id,
        session_key,
        monetate_id,
        session_start_at,
        session_end_at,
        device_type,
        country_code,
        country_name,
        is_converted,
        purchase_count,
        session_value,
        customer_id,
        customer_link,
        loaded_at
    from {{ ref('int_monetate__sessions_enriched') }}

),

identity as (

    select monetate_id, stitched_customer_id, customer_id_count
    from {{ ref('int_monetate__visitor_identity') }}

),

numbered as (

    select
        sessions.*,
        case when sessions.monetate_id is not null then
            row_number() over (
                partition by sessions.monetate_id order by sessions.session_start_at, sessions.session_key
            )
        end as visitor_session_number,
        case when sessions.monetate_id is not null then
            count(*) over (partition by sessions.monetate_id)
        end as visitor_session_count
    from sessions

),

final as (

    select
        numbered.*,
        case when numbered.visitor_session_number = 1 then true
             when numbered.visitor_session_number > 1 then false end as is_first_visitor_session,
        identity.stitched_customer_id,
        coalesce(identity.customer_id_count, 0) as customer_id_count
    from numbered
    left join identity
        on numbered.monetate_id = identity.monetate_id

)

select * from final
