{#-
  Dialect differences live here, behind adapter.dispatch, so that models stay dialect-free.
  Every macro has a default__ (ANSI-ish) version plus duckdb__, postgres__ and redshift__ versions.
  All timestamps produced by these macros are `timestamp without time zone` holding UTC.
-#}

{# ---------------------------------------------------------------- epoch ms -> UTC timestamp #}
{% macro epoch_ms_to_timestamp(epoch_ms) -%}
  {{ return(adapter.dispatch('epoch_ms_to_timestamp', 'monetate_session_stream')(epoch_ms)) }}
{%- endmacro %}

{% macro default__epoch_ms_to_timestamp(epoch_ms) -%}
  (cast('1970-01-01 00:00:00' as timestamp) + ({{ epoch_ms }}) * interval '1 millisecond')
{%- endmacro %}

{% macro duckdb__epoch_ms_to_timestamp(epoch_ms) -%}
  {#- epoch_ms(BIGINT) returns a naive TIMESTAMP in UTC, independent of the session time zone -#}
  epoch_ms(cast({{ epoch_ms }} as bigint))
{%- endmacro %}

{% macro postgres__epoch_ms_to_timestamp(epoch_ms) -%}
  (to_timestamp(({{ epoch_ms }}) / 1000.0) at time zone 'UTC')
{%- endmacro %}

{% macro redshift__epoch_ms_to_timestamp(epoch_ms) -%}
  {#- dateadd() takes a 32-bit int; epoch milliseconds do not fit, so add seconds as an interval -#}
  (timestamp 'epoch' + (({{ epoch_ms }}) / 1000.0) * interval '1 second')
{%- endmacro %}

{# ---------------------------------------------------------------- timestamptz -> UTC timestamp #}
{% macro to_utc_timestamp(ts) -%}
  {{ return(adapter.dispatch('to_utc_timestamp', 'monetate_session_stream')(ts)) }}
{%- endmacro %}

{% macro default__to_utc_timestamp(ts) -%}
  cast(({{ ts }}) at time zone 'UTC' as timestamp)
{%- endmacro %}

{% macro duckdb__to_utc_timestamp(ts) -%}
  {#- timezone('UTC', timestamptz) -> naive timestamp in UTC (ICU is bundled with duckdb) -#}
  timezone('UTC', cast({{ ts }} as timestamptz))
{%- endmacro %}

{% macro postgres__to_utc_timestamp(ts) -%}
  (cast({{ ts }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{% macro redshift__to_utc_timestamp(ts) -%}
  convert_timezone('UTC', cast({{ ts }} as timestamptz))
{%- endmacro %}

{# ---------------------------------------------------------------- 't' / 'f' -> boolean #}
{% macro flag_to_boolean(flag) -%}
  {{ return(adapter.dispatch('flag_to_boolean', 'monetate_session_stream')(flag)) }}
{%- endmacro %}

{% macro default__flag_to_boolean(flag) -%}
  case lower(trim(cast({{ flag }} as varchar(16))))
    when 't' then true when 'true' then true when '1' then true
    when 'f' then false when 'false' then false when '0' then false
  end
{%- endmacro %}

{% macro duckdb__flag_to_boolean(flag) -%}
  {#- try_cast accepts t/f/true/false/1/0 (any case) and yields NULL on anything else -#}
  try_cast(trim(cast({{ flag }} as varchar)) as boolean)
{%- endmacro %}

{% macro postgres__flag_to_boolean(flag) -%}
  {#- a plain cast to boolean would raise on an unexpected value; map explicitly instead -#}
  case when lower(trim(cast({{ flag }} as text))) in ('t', 'true', '1', 'y', 'yes', 'on') then true
       when lower(trim(cast({{ flag }} as text))) in ('f', 'false', '0', 'n', 'no', 'off') then false
  end
{%- endmacro %}

{% macro redshift__flag_to_boolean(flag) -%}
  case when lower(btrim(cast({{ flag }} as varchar(16)))) in ('t', 'true', '1', 'y', 'yes') then true
       when lower(btrim(cast({{ flag }} as varchar(16)))) in ('f', 'false', '0', 'n', 'no') then false
  end
{%- endmacro %}

{# ---------------------------------------------------------------- safe casts (NULL instead of an error) #}
{% macro safe_cast_number(expr, data_type) -%}
  {{ return(adapter.dispatch('safe_cast_number', 'monetate_session_stream')(expr, data_type)) }}
{%- endmacro %}

{% macro default__safe_cast_number(expr, data_type) -%}
  case when trim(cast({{ expr }} as varchar(64))) like '%[0-9]%' then cast({{ expr }} as {{ data_type }}) end
{%- endmacro %}

{% macro duckdb__safe_cast_number(expr, data_type) -%}
  try_cast({{ expr }} as {{ data_type }})
{%- endmacro %}

{% macro postgres__safe_cast_number(expr, data_type) -%}
  case when trim(cast({{ expr }} as text)) ~ '^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$'
       then cast(trim(cast({{ expr }} as text)) as {{ data_type }}) end
{%- endmacro %}

{% macro redshift__safe_cast_number(expr, data_type) -%}
  case when btrim(cast({{ expr }} as varchar(64))) ~ '^[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?$'
       then cast(btrim(cast({{ expr }} as varchar(64))) as {{ data_type }}) end
{%- endmacro %}

{# ---------------------------------------------------------------- money -> decimal #}
{% macro to_money(expr) -%}
  {{ return(adapter.dispatch('to_money', 'monetate_session_stream')(expr)) }}
{%- endmacro %}

{% macro default__to_money(expr) -%}
  cast({{ expr }} as {{ money_type() }})
{%- endmacro %}

{% macro duckdb__to_money(expr) -%}
  {#- round in double first: DuckDB's double -> decimal cast rounds, this makes it explicit -#}
  cast(round({{ expr }}, 2) as {{ money_type() }})
{%- endmacro %}

{% macro postgres__to_money(expr) -%}
  {#- float8 -> numeric keeps 15 significant digits, then rounds half away from zero to the scale -#}
  cast(cast({{ expr }} as numeric) as {{ money_type() }})
{%- endmacro %}

{% macro redshift__to_money(expr) -%}
  cast(round(cast({{ expr }} as decimal(38, 6)), 2) as {{ money_type() }})
{%- endmacro %}

{% macro money_type() -%}decimal(18, 2){%- endmacro %}

{# ---------------------------------------------------------------- date parts #}
{% macro to_date(ts) -%}
  {{ return(adapter.dispatch('to_date', 'monetate_session_stream')(ts)) }}
{%- endmacro %}

{% macro default__to_date(ts) -%}cast({{ ts }} as date){%- endmacro %}
{% macro duckdb__to_date(ts) -%}cast({{ ts }} as date){%- endmacro %}
{% macro postgres__to_date(ts) -%}cast({{ ts }} as date){%- endmacro %}
{% macro redshift__to_date(ts) -%}trunc({{ ts }}){%- endmacro %}

{% macro hour_of_day(ts) -%}
  {{ return(adapter.dispatch('hour_of_day', 'monetate_session_stream')(ts)) }}
{%- endmacro %}

{% macro default__hour_of_day(ts) -%}cast(extract(hour from {{ ts }}) as integer){%- endmacro %}
{% macro duckdb__hour_of_day(ts) -%}hour({{ ts }}){%- endmacro %}
{% macro postgres__hour_of_day(ts) -%}cast(date_part('hour', {{ ts }}) as integer){%- endmacro %}
{% macro redshift__hour_of_day(ts) -%}cast(extract(hour from {{ ts }}) as integer){%- endmacro %}

{% macro seconds_between(start_ts, end_ts) -%}
  {{ return(adapter.dispatch('seconds_between', 'monetate_session_stream')(start_ts, end_ts)) }}
{%- endmacro %}

{% macro default__seconds_between(start_ts, end_ts) -%}
  cast(extract(epoch from ({{ end_ts }}) - ({{ start_ts }})) as decimal(18, 3))
{%- endmacro %}

{% macro duckdb__seconds_between(start_ts, end_ts) -%}
  cast((epoch_ms({{ end_ts }}) - epoch_ms({{ start_ts }})) / 1000.0 as decimal(18, 3))
{%- endmacro %}

{% macro postgres__seconds_between(start_ts, end_ts) -%}
  cast(extract(epoch from (({{ end_ts }}) - ({{ start_ts }}))) as decimal(18, 3))
{%- endmacro %}

{% macro redshift__seconds_between(start_ts, end_ts) -%}
  cast(datediff(millisecond, {{ start_ts }}, {{ end_ts }}) / 1000.0 as decimal(18, 3))
{%- endmacro %}

{% macro add_hours(ts, hours) -%}
  {{ return(adapter.dispatch('add_hours', 'monetate_session_stream')(ts, hours)) }}
{%- endmacro %}

{% macro default__add_hours(ts, hours) -%}(({{ ts }}) + ({{ hours }}) * interval '1 hour'){%- endmacro %}
{% macro duckdb__add_hours(ts, hours) -%}(({{ ts }}) + to_hours(cast({{ hours }} as bigint))){%- endmacro %}
{% macro postgres__add_hours(ts, hours) -%}(({{ ts }}) + ({{ hours }}) * interval '1 hour'){%- endmacro %}
{% macro redshift__add_hours(ts, hours) -%}dateadd(hour, {{ hours }}, {{ ts }}){%- endmacro %}

{# ---------------------------------------------------------------- text #}
{% macro to_text(expr) -%}
  {{ return(adapter.dispatch('to_text', 'monetate_session_stream')(expr)) }}
{%- endmacro %}

{% macro default__to_text(expr) -%}cast({{ expr }} as varchar){%- endmacro %}
{% macro duckdb__to_text(expr) -%}cast({{ expr }} as varchar){%- endmacro %}
{% macro postgres__to_text(expr) -%}cast({{ expr }} as text){%- endmacro %}
{% macro redshift__to_text(expr) -%}cast({{ expr }} as varchar(65535)){%- endmacro %}

{% macro timestamp_literal(value) -%}
  cast('{{ value }}' as timestamp)
{%- endmacro %}

{# ---------------------------------------------------------------- boolean -> 'true' / 'false' text #}
{% macro boolean_to_text(expr) -%}
  {{ return(adapter.dispatch('boolean_to_text', 'monetate_session_stream')(expr)) }}
{%- endmacro %}

{% macro default__boolean_to_text(expr) -%}
  case when {{ expr }} then 'true' when not {{ expr }} then 'false' end
{%- endmacro %}
{% macro duckdb__boolean_to_text(expr) -%}cast({{ expr }} as varchar){%- endmacro %}
{% macro postgres__boolean_to_text(expr) -%}cast({{ expr }} as text){%- endmacro %}
{#- Redshift cannot cast boolean to varchar -#}
{% macro redshift__boolean_to_text(expr) -%}
  case when {{ expr }} then 'true' when not {{ expr }} then 'false' end
{%- endmacro %}
