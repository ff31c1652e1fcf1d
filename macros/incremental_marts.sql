{#-
  Incremental marts, late data and exactness.

  A mart run re-derives *every session touched by a load that completed since the mart was last built*:
    affected keys = session_key of every completed session line (any version, any delivery) whose load
                    completed after  max(loaded_at) already in the mart  minus  var('mart_lookback_hours').
  For those keys the rows are recomputed from *all* their versions (not only the new ones), so a late
  version, a re-delivered file or a re-emitted closed version replaces what the mart held, exactly as a
  full build would. Marts use delete+insert on session_key; child marts also delete the affected keys in a
  pre-hook, because a new surviving version may have fewer (or no) child rows than the one it replaces.
  The look-back only widens the set (a safety margin for loads that commit out of order or clock skew).
-#}

{% macro monetate_mart_watermark() -%}
  {%- set latest = 'coalesce(max(loaded_at), ' ~ dbt.cast("'1900-01-01 00:00:00'", dbt.type_timestamp()) ~ ')' -%}
  (
    select {{ dbt.dateadd('hour', -1 * var('mart_lookback_hours', 1), latest) }}
    from {{ this }}
  )
{%- endmacro %}

{% macro monetate_affected_session_keys() -%}
  select session_key
  from {{ ref('int_monetate__session_versions') }}
  where loaded_at > {{ monetate_mart_watermark() }}
{%- endmacro %}

{#- `where` condition restricting a mart's input to affected sessions on incremental runs. -#}
{% macro monetate_incremental_filter(key_column='session_key') -%}
  {%- set versions = ref('int_monetate__session_versions') -%}
  {%- if is_incremental() -%}
    {{ key_column }} in ({{ monetate_affected_session_keys() }})
  {%- else -%}
    1 = 1
  {%- endif -%}
{%- endmacro %}

{#- pre-hook of child marts: drop every row of an affected session before the new rows go in. -#}
{% macro monetate_delete_affected_sessions() -%}
  {%- if is_incremental() -%}
    delete from {{ this }} where session_key in ({{ monetate_affected_session_keys() }})
  {%- endif -%}
{%- endmacro %}
