{#-
  Visitors (docs/visitors.md): the Monetate ID inside guid, the reporting time zone, and the visitor-level
  incremental rule.

  Why a visitor-level rule: a session's visitor_session_number, is_first_visitor_session and
  stitched_customer_id depend on ALL sessions of its visitor. A late session (an earlier start arriving
  later) renumbers every later session of that visitor, and a new customer id re-stitches all of them. So on
  an incremental run the visitor-level marts re-derive every session of every visitor touched by a new load
  (affected visitors = Monetate ID of every session line loaded after the watermark of
  macros/incremental_marts.sql), not only the touched sessions. The session-level macros there keep their
  behaviour for the other marts.
-#}

{#- Visitor part of guid (`account id:Monetate ID`, vendor field table). dbt.split_part dispatches per engine;
    NULL instead of '' when a guid has no second part. -#}
{% macro monetate_id_from_guid(guid) -%}
  nullif({{ dbt.split_part(guid, "':'", 2) }}, '')
{%- endmacro %}

{#- Monetate IDs of the sessions with a line loaded after the watermark (read from the newest rows of the
    deduplicated sessions, see monetate_affected_session_keys). -#}
{% macro monetate_affected_monetate_ids() -%}
  select monetate_id
  from {{ ref('int_monetate__sessions_deduped') }}
  where version_loaded_at > {{ monetate_mart_watermark() }}
    and monetate_id is not null
{%- endmacro %}

{#- `where` condition restricting a visitor-level mart's input to the affected visitors on incremental runs:
    key_column='monetate_id' keeps their rows; 'session' (a relation with monetate_id and version_loaded_at) keeps
    every session of an affected visitor, and every affected session (a guid without a Monetate ID part has no
    visitor, but its session must still be re-derived). -#}
{% macro monetate_visitor_incremental_filter(key_column='session') -%}
  {%- if is_incremental() -%}
    {%- if key_column.split('.')[-1] == 'monetate_id' -%}
      {{ key_column }} in ({{ monetate_affected_monetate_ids() }})
    {%- else -%}
      (monetate_id in ({{ monetate_affected_monetate_ids() }}) or version_loaded_at > {{ monetate_mart_watermark() }})
    {%- endif -%}
  {%- else -%}
    1 = 1
  {%- endif -%}
{%- endmacro %}

{#- pre-hook of visitor-grain marts whose rows may vanish (visitor_customer_map): drop every row of an
    affected visitor before the re-derived rows go in. -#}
{% macro monetate_delete_affected_visitors() -%}
  {%- if is_incremental() -%}
    delete from {{ this }} where monetate_id in ({{ monetate_affected_monetate_ids() }})
  {%- endif -%}
{%- endmacro %}

{# ---------------------------------------------------------------- reporting time zone #}
{#-
  A UTC `timestamp without time zone` as wall-clock time in var('reporting_time_zone') (IANA name, default
  'UTC'). No dbt built-in converts time zones. DuckDB: timezone() from the bundled ICU extension (naive ->
  instant in UTC -> local naive); PostgreSQL: AT TIME ZONE twice; Redshift: convert_timezone(source, target, ts).
-#}
{% macro reporting_time_zone() -%}
  {%- set tz = var('reporting_time_zone', 'UTC') | string -%}
  {%- if not modules.re.match('^[A-Za-z0-9_+/-]+$', tz) -%}
    {{ exceptions.raise_compiler_error("var reporting_time_zone: '" ~ tz ~ "' is not an IANA time zone name (e.g. 'America/New_York')") }}
  {%- endif -%}
  {{ return(tz) }}
{%- endmacro %}

{% macro to_reporting_time(ts) -%}
  {{ return(adapter.dispatch('to_reporting_time', 'monetate_session_stream')(ts)) }}
{%- endmacro %}

{% macro default__to_reporting_time(ts) -%}
  ((({{ ts }}) at time zone 'UTC') at time zone '{{ reporting_time_zone() }}')
{%- endmacro %}

{% macro duckdb__to_reporting_time(ts) -%}
  timezone('{{ reporting_time_zone() }}', timezone('UTC', cast({{ ts }} as timestamp)))
{%- endmacro %}

{% macro redshift__to_reporting_time(ts) -%}
  convert_timezone('UTC', '{{ reporting_time_zone() }}', {{ ts }})
{%- endmacro %}

{# ---------------------------------------------------------------- conversion events #}
{#-
  var('conversion_events'): a list of {name, page_event_id}; each becomes a session_conversion_events row
  when the session fired the page event, and a `converted_<name>` boolean on sessions. Names become
  column names, so they are checked here (lower-case identifier, unique).
-#}
{% macro monetate_conversion_events() -%}
  {%- set events = var('conversion_events', []) or [] -%}
  {%- set seen = [] -%}
  {%- for e in events -%}
    {%- set name = (e.get('name') if e is mapping else none) | string -%}
    {%- set event_id = (e.get('page_event_id') if e is mapping else none) | string -%}
    {%- if not modules.re.match('^[a-z][a-z0-9_]{0,50}$', name) or name in seen -%}
      {{ exceptions.raise_compiler_error("var conversion_events: name '" ~ name ~ "' must be a unique lower-case identifier (letters, digits, _), e.g. {name: newsletter, page_event_id: 55151}") }}
    {%- endif -%}
    {%- if not modules.re.match('^[0-9A-Za-z_-]+$', event_id) -%}
      {{ exceptions.raise_compiler_error("var conversion_events: entry '" ~ name ~ "' needs a page_event_id (the id in sessions' page_event_ids)") }}
    {%- endif -%}
    {%- do seen.append(name) -%}
  {%- endfor -%}
  {{ return(events) }}
{%- endmacro %}

{# ---------------------------------------------------------------- visitor context of sessions #}
{#-
  CTEs giving every session of `sessions` (a CTE holding ALL sessions of the visitors it covers, with
  session_row_id, session_id, session_key, monetate_id, session_start_at, customer_id, customer_link, ...) its
  visitor context, in the CTE `name`: visitor_session_number (1 = first; by start, then session key),
  visitor_session_count, is_first_visitor_session, stitched_customer_id (the latest non-null customer_id of the
  visitor's sessions, else the latest non-null customer_link; latest = latest start, then session key),
  stitched_from and customer_id_count (distinct ids over both columns). Portable on purpose: PostgreSQL has no
  `ignore nulls`, so the latest id is a row_number over the sessions that have one.
  int_monetate__visitor_sessions is this over every session; sessions and visitors run it over just the
  visitors an incremental run re-derives (a filter outside the window would not reach below it: the window
  would number every session of history on every run).
-#}
{% macro monetate_visitor_context_ctes(sessions, name) -%}
{{ name }}_ids as (

    select monetate_id, customer_id as id from {{ sessions }}
    where monetate_id is not null and customer_id is not null
    union all
    select monetate_id, customer_link as id from {{ sessions }}
    where monetate_id is not null and customer_link is not null

),

{{ name }}_id_counts as (

    select monetate_id, count(distinct id) as customer_id_count
    from {{ name }}_ids
    group by monetate_id

),

{%- for column in ('customer_id', 'customer_link') %}

{{ name }}_latest_{{ column }} as (

    select monetate_id, {{ column }}
    from (
        select
            monetate_id,
            {{ column }},
            row_number() over (
                partition by monetate_id order by session_start_at desc, session_key desc
            ) as recency
        from {{ sessions }}
        where monetate_id is not null and {{ column }} is not null
    ) ranked
    where recency = 1

),
{%- endfor %}

{{ name }}_numbered as (

    select
        {{ sessions }}.*,
        case when {{ sessions }}.monetate_id is not null then
            row_number() over (
                partition by {{ sessions }}.monetate_id order by {{ sessions }}.session_start_at, {{ sessions }}.session_key
            )
        end as visitor_session_number,
        case when {{ sessions }}.monetate_id is not null then
            count(*) over (partition by {{ sessions }}.monetate_id)
        end as visitor_session_count
    from {{ sessions }}

),

{{ name }} as (

    select
        numbered.*,
        case when numbered.visitor_session_number = 1 then true
             when numbered.visitor_session_number > 1 then false end as is_first_visitor_session,
        case when id_counts.monetate_id is not null then
            coalesce(latest_id.customer_id, latest_link.customer_link) end as stitched_customer_id,
        case when id_counts.monetate_id is null then null
             when latest_id.customer_id is not null then 'customer_id' else 'customer_link' end as stitched_from,
        coalesce(id_counts.customer_id_count, 0) as customer_id_count
    from {{ name }}_numbered as numbered
    left join {{ name }}_id_counts as id_counts on numbered.monetate_id = id_counts.monetate_id
    left join {{ name }}_latest_customer_id as latest_id on numbered.monetate_id = latest_id.monetate_id
    left join {{ name }}_latest_customer_link as latest_link on numbered.monetate_id = latest_link.monetate_id

)
{%- endmacro %}

{#- int_monetate__visitor_customer_ids over the sessions passing `sessions_filter` (a condition on
    int_monetate__sessions_enriched): the view uses every session, visitor_customer_map on incremental runs only
    the sessions of the visitors it re-derives (a filter applied after the grouping would group all of history). -#}
{% macro monetate_visitor_customer_ids(sessions_filter='1 = 1') -%}
with sessions as (

    select monetate_id, session_key, session_start_at, customer_id, customer_link, loaded_at
    from {{ ref('int_monetate__sessions_enriched') }}
    where monetate_id is not null
        and {{ sessions_filter }}

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
{%- endmacro %}

{#- One row per session that fired a listed conversion event (var conversion_events), one 0/1 column per event:
    over the sessions of `scope` (a CTE with session_row_id and session_key) when given, else every session.
    sessions' full and incremental paths both build their flags with it. -#}
{% macro monetate_conversion_flags(conversions, scope=none, events_filter='') -%}
    {%- set key = (scope if scope else 'events') ~ '.session_key' -%}
    select
        {{ key }}
        {%- for c in conversions %},
        max(case when events.conversion_name = '{{ c['name'] }}' then 1 else 0 end) as converted_{{ c['name'] }}
        {%- endfor %}
    from {{ ref('int_monetate__conversion_events') }} as events
    {%- if scope %}
    inner join {{ scope }} on {{ scope }}.session_row_id = events.session_row_id
    {%- endif %}
    where 1 = 1{{ events_filter }}
    group by {{ key }}
{%- endmacro %}
