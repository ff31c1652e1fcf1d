{#-
  The few dialect differences that dbt's built-in cross-database macros do not cover.

  Everything else is written with dbt's own macros, which dispatch to the DuckDB, PostgreSQL and Redshift
  adapters themselves: dbt.dateadd (look-back of the incremental marts), dbt.datediff (durations, in
  milliseconds), dbt.date_trunc (session date), dbt.cast with dbt.type_string / dbt.type_timestamp (keys,
  literals, diagnostic text), dbt.concat (keys) and dbt.cast_bool_to_text (diagnostic text).

  What stays here, each with a default__ version and an adapter version only where the adapter differs,
  and a note on why no built-in fits. All timestamps these macros produce are `timestamp without time
  zone` holding UTC.
-#}

{# ---------------------------------------------------------------- epoch ms -> UTC timestamp #}
{#-
  The built-in fits PostgreSQL only: dbt.dateadd('millisecond', ms, epoch) from the Unix epoch (the
  default__ version). Epoch milliseconds (~1.7e12) do not fit a 32-bit integer, and on the other two
  engines dbt.dateadd passes the count through one: DuckDB's `interval * bigint` casts the factor to
  INT32 ("value is out of range"), and Redshift's DATEADD(millisecond, n, ts) takes an int n. DuckDB has
  epoch_ms(BIGINT) instead; Redshift adds seconds as an interval.
-#}
{% macro epoch_ms_to_timestamp(epoch_ms) -%}
  {{ return(adapter.dispatch('epoch_ms_to_timestamp', 'monetate_session_stream')(epoch_ms)) }}
{%- endmacro %}

{% macro default__epoch_ms_to_timestamp(epoch_ms) -%}
  ({{ dbt.dateadd('millisecond', epoch_ms, dbt.cast("'1970-01-01 00:00:00'", dbt.type_timestamp())) }})
{%- endmacro %}

{% macro duckdb__epoch_ms_to_timestamp(epoch_ms) -%}
  {#- epoch_ms(BIGINT) returns a naive TIMESTAMP in UTC, independent of the session time zone -#}
  epoch_ms(cast({{ epoch_ms }} as bigint))
{%- endmacro %}

{% macro redshift__epoch_ms_to_timestamp(epoch_ms) -%}
  (timestamp 'epoch' + (({{ epoch_ms }}) / 1000.0) * interval '1 second')
{%- endmacro %}

{# ---------------------------------------------------------------- timestamptz -> UTC timestamp #}
{#-
  No built-in: dbt-core has no time-zone conversion macro (dbt.current_timestamp only gives "now"), and
  each engine spells "this instant as a naive UTC timestamp" differently.
-#}
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
{#-
  No built-in: dbt.safe_cast(x, dbt.type_boolean()) is a plain CAST on DuckDB, PostgreSQL and Redshift
  (none of the three adapters overrides it), so an unexpected vendor value would fail the whole model
  instead of becoming NULL, and Redshift cannot cast text to boolean at all.
-#}
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
{#-
  No built-in: dbt.safe_cast is a plain CAST on DuckDB, PostgreSQL and Redshift (only adapters such as
  BigQuery or Snowflake map it to a real safe cast), so one non-numeric custom target value would fail
  the model. The number type is passed in: dbt.type_float() would be `float`, which is 4 bytes on DuckDB.
-#}
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
{#-
  No built-in: dbt.type_numeric() is numeric(28,6) (the marts' contract is decimal(18,2)), and how a
  double becomes an exact cent amount differs per engine (DuckDB and Redshift round explicitly,
  PostgreSQL goes through numeric, which keeps 15 significant digits and rounds half away from zero).
-#}
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

{#- The money type of every model (not dispatched: the same on every engine). -#}
{% macro money_type() -%}decimal(18, 2){%- endmacro %}

{# ---------------------------------------------------------------- hour of day #}
{#-
  No built-in: dbt-core has no date-part macro (dbt.date_trunc truncates, it does not extract).
  EXTRACT is standard SQL; DuckDB keeps its own hour(), which returns the BIGINT the column has always had.
-#}
{% macro hour_of_day(ts) -%}
  {{ return(adapter.dispatch('hour_of_day', 'monetate_session_stream')(ts)) }}
{%- endmacro %}

{% macro default__hour_of_day(ts) -%}cast(extract(hour from {{ ts }}) as integer){%- endmacro %}
{% macro duckdb__hour_of_day(ts) -%}hour({{ ts }}){%- endmacro %}
