{#-
  One row per (surviving session, conversion) for the page events listed in var('conversion_events')
  ({name, page_event_id}, macros/visitors.sql): when the session first fired the event. Empty (typed) when the
  var lists nothing. Feeds session_conversion_events and the converted_<name> flags of sessions.
-#}
{%- set conversions = monetate_conversion_events() %}

{% if conversions | length > 0 -%}
with events as (

    select session_row_id, session_id, session_key, page_event_id, first_seen_at, load_id, loaded_at, version_loaded_at
    from {{ ref('int_monetate__page_events') }}
    where page_event_id in (
        {%- for c in conversions %}'{{ c['page_event_id'] }}'{{ ", " if not loop.last }}{% endfor -%}
    )

),

conversions as (

    {%- for c in conversions %}
    select
        cast('{{ c['name'] }}' as {{ dbt.type_string() }}) as conversion_name,
        cast('{{ c['page_event_id'] }}' as {{ dbt.type_string() }}) as page_event_id
    {{ "union all" if not loop.last }}
    {%- endfor %}

),

final as (

    select
        events.session_row_id,
        events.session_id,
        events.session_key,
        conversions.conversion_name,
        events.page_event_id,
        min(events.first_seen_at) as first_fired_at,
        events.load_id,
        max(events.loaded_at) as loaded_at,
        max(events.version_loaded_at) as version_loaded_at
    from events
    inner join conversions
        on events.page_event_id = conversions.page_event_id
    group by events.session_row_id, events.session_id, events.session_key, conversions.conversion_name,
        events.page_event_id, events.load_id

)

select * from final
{%- else -%}
select
    cast(null as {{ dbt.type_string() }}) as session_row_id,
    cast(null as {{ dbt.type_string() }}) as session_id,
    cast(null as {{ dbt.type_string() }}) as session_key,
    cast(null as {{ dbt.type_string() }}) as conversion_name,
    cast(null as {{ dbt.type_string() }}) as page_event_id,
    cast(null as {{ dbt.type_timestamp() }}) as first_fired_at,
    cast(null as {{ dbt.type_string() }}) as load_id,
    cast(null as {{ dbt.type_timestamp() }}) as loaded_at,
    cast(null as {{ dbt.type_timestamp() }}) as version_loaded_at
where 1 = 0
{%- endif %}
