{#-
  Per (session, `key`) of the `events` CTE (session_id, `key`, `fired_at`): how many of the session's purchase
  lines came at or after the event first fired, and their value ("who fired event X, then bought").
  page_event_sessions and session_conversion_events both report it; on incremental runs it reads only the purchase
  lines of the sessions the run re-derives (monetate_incremental_filter).
-#}
{% macro monetate_purchases_after(events, key, fired_at) -%}
    select {{ events }}.session_id, {{ events }}.{{ key }},
        count(*) as purchases_after, sum(purchase_lines.purchase_value) as purchased_value
    from {{ events }}
    inner join (
        select session_id, purchased_at, purchase_value
        from {{ ref('int_monetate__purchase_lines') }}
        where {{ monetate_incremental_filter() }}
    ) as purchase_lines
        on {{ events }}.session_id = purchase_lines.session_id
        and purchase_lines.purchased_at >= {{ events }}.{{ fired_at }}
    group by {{ events }}.session_id, {{ events }}.{{ key }}
{%- endmacro %}
