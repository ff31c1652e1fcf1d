{#-
  One row per (surviving) session: how many child rows of each kind its surviving version has, and the
  sums the reconciliation tests compare. Built from the same int_monetate__<child> models the child marts
  list (offer_exposures from int_monetate__offers, purchase_items from int_monetate__purchase_line_items),
  so a count here always equals the rows of the corresponding mart. Those models hold the surviving
  version's rows only; they are aggregated per session row and attached to every surviving session
  (0 when it has none). `loaded_at` and `load_id` let a scoped test run (macros/test_scope.sql) read recent sessions only.
  The SQL lives in macros/child_counts.sql: sessions runs the same
  aggregation over just the sessions an incremental run re-derives.
-#}
with sessions as (

    select session_row_id, session_id, session_key, loaded_at, load_id from {{ ref('int_monetate__sessions_deduped') }}

),

{{ monetate_child_counts_ctes('sessions', 'final', carry=['loaded_at', 'load_id'], by_load=true) }}

select * from final
