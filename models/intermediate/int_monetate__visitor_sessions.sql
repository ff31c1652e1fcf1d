{#-
  One row per surviving session with its visitor context: the Monetate ID, the session's number among its
  visitor's sessions (1 = first; ordered by start, then session key), whether it is the first, and the
  visitor's stitched customer id. Everything here depends on ALL sessions of the visitor, which is why the
  marts reading it re-derive whole visitors on incremental runs (macros/visitors.sql), where the
  same SQL (macro monetate_visitor_context_ctes) runs over just those visitors.
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
        loaded_at,
        version_loaded_at
    from {{ ref('int_monetate__sessions_enriched') }}

),

{{ monetate_visitor_context_ctes('sessions', 'final') }}

select * from final
