{#-
  CTEs (cc_<child> ... and `name`): per-session counts and sums of the surviving version's child rows, for the sessions of `scope` (the name of a
  CTE with session_row_id, session_id and session_key). Each child model is joined to the scope before it is
  aggregated, so an incremental run that scopes a few sessions reads only their child rows (DuckDB prunes the
  raw scans through the join; a filter applied after the aggregates would read every child row of history).
  int_monetate__session_child_counts is this macro over every surviving session; sessions calls it over the
  sessions a run re-derives (`child_filter`, e.g. " and child.load_id >= '...'", narrows the child rows read;
  `carry` lists further scope columns to pass through). `by_load` keys every aggregate by (session row, load id)
  and joins on both: a child row always comes from its session version's load, so the result is the same, but a
  `load_id >= '...'` filter on the result then reaches the raw child scans (the view's scoped tests, 0.3 s instead
  of 3.5 s on 1M sessions); the scope must carry load_id. Models calling it must declare `-- depends_on:` the child models (see sessions).
-#}
{% macro monetate_child_aggregate(model, scope, measures, child_filter='', by_load=false) -%}
    {%- set keys = 'child.session_row_id' ~ (', child.load_id' if by_load else '') -%}
    select {{ keys }}, {{ measures }}
    from {{ ref(model) }} as child
    inner join {{ scope }} on child.session_row_id = {{ scope }}.session_row_id
    where 1 = 1{{ child_filter }}
    group by {{ keys }}
{%- endmacro %}

{#- ` and <scope>.load_id = <cte>.load_id` when the aggregates are keyed by load too (`by_load`). -#}
{% macro monetate_child_load_match(scope, cte, by_load) -%}
  {%- if by_load %} and {{ scope }}.load_id = {{ cte }}.load_id{% endif -%}
{%- endmacro %}

{% macro monetate_child_counts_ctes(scope, name='child_counts', child_filter='', carry=[], by_load=false) -%}
cc_offers as (
    {{ monetate_child_aggregate('int_monetate__offers', scope, 'count(*) as offer_count', child_filter, by_load) }}
),

cc_page_events as (
    {{ monetate_child_aggregate('int_monetate__page_events', scope, 'count(*) as page_event_count', child_filter, by_load) }}
),

cc_custom_targets as (
    {{ monetate_child_aggregate('int_monetate__custom_targets', scope, 'count(*) as custom_target_count', child_filter, by_load) }}
),

cc_purchases as (
    {{ monetate_child_aggregate('int_monetate__purchases', scope,
                                'count(*) as purchases_row_count, sum(child.purchase_value) as purchases_value', child_filter, by_load) }}
),

cc_purchase_lines as (
    {{ monetate_child_aggregate('int_monetate__purchase_lines', scope,
                                'count(*) as purchase_line_count, sum(child.purchase_value) as purchase_lines_value,
        max(child.purchased_at) as last_purchased_at', child_filter, by_load) }}
),

cc_items as (
    {{ monetate_child_aggregate('int_monetate__purchase_line_items', scope,
                                'count(*) as purchased_item_count, cast(sum(child.quantity) as bigint) as purchased_quantity,
        cast(sum(child.unit_price * child.quantity) as ' ~ money_type() ~ ') as purchased_items_value', child_filter, by_load) }}
),

cc_cart_lines as (
    {{ monetate_child_aggregate('int_monetate__cart_lines', scope, 'count(*) as cart_line_count', child_filter, by_load) }}
),

cc_view_lines as (
    {{ monetate_child_aggregate('int_monetate__view_lines', scope, 'count(*) as view_line_count', child_filter, by_load) }}
),

{{ name }} as (

    select
        {{ scope }}.session_row_id,
        {{ scope }}.session_id,
        {{ scope }}.session_key,
{%- for column in carry %}
        {{ scope }}.{{ column }},
{%- endfor %}
        coalesce(cc_offers.offer_count, 0) as offer_count,
        coalesce(cc_page_events.page_event_count, 0) as page_event_count,
        coalesce(cc_custom_targets.custom_target_count, 0) as custom_target_count,
        coalesce(cc_purchases.purchases_row_count, 0) as purchases_row_count,
        coalesce(cc_purchases.purchases_value, 0) as purchases_value,
        coalesce(cc_purchase_lines.purchase_line_count, 0) as purchase_line_count,
        coalesce(cc_purchase_lines.purchase_lines_value, 0) as purchase_lines_value,
        cc_purchase_lines.last_purchased_at,
        coalesce(cc_items.purchased_item_count, 0) as purchased_item_count,
        coalesce(cc_items.purchased_quantity, 0) as purchased_quantity,
        coalesce(cc_items.purchased_items_value, 0) as purchased_items_value,
        coalesce(cc_cart_lines.cart_line_count, 0) as cart_line_count,
        coalesce(cc_view_lines.view_line_count, 0) as view_line_count
    from {{ scope }}
{%- for cte in ['cc_offers', 'cc_page_events', 'cc_custom_targets', 'cc_purchases', 'cc_purchase_lines', 'cc_items', 'cc_cart_lines', 'cc_view_lines'] %}
    left join {{ cte }} on {{ scope }}.session_row_id = {{ cte }}.session_row_id{{ monetate_child_load_match(scope, cte, by_load) }}
{%- endfor %}

)
{%- endmacro %}
