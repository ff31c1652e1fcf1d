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

{% macro monetate_affected_monetate_ids() -%}
  select {{ monetate_id_from_guid('guid') }} as monetate_id
  from {{ ref('int_monetate__session_versions') }}
  where loaded_at > {{ monetate_mart_watermark() }}
{%- endmacro %}

{#- every surviving session (by session_key) of an affected visitor -#}
{% macro monetate_affected_visitor_session_keys() -%}
  select session_key
  from {{ ref('int_monetate__sessions_deduped') }}
  where {{ monetate_id_from_guid('guid') }} in ({{ monetate_affected_monetate_ids() }})
{%- endmacro %}

{#- `where` condition restricting a visitor-level mart's input to every session of an affected visitor on
    incremental runs: by monetate_id (key_column='monetate_id') or by session key (any other column). -#}
{% macro monetate_visitor_incremental_filter(key_column='session_key') -%}
  {%- if is_incremental() -%}
    {%- if key_column.split('.')[-1] == 'monetate_id' -%}
      {{ key_column }} in ({{ monetate_affected_monetate_ids() }})
    {%- else -%}
      {{ key_column }} in ({{ monetate_affected_visitor_session_keys() }})
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
  when the session fired the page event, and a `converted_<name>` boolean on sessions_fact. Names become
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
