{#-
  Incremental marts, late data and exactness.

  A mart run re-derives *every session touched by a load that completed since the mart was last built*:
    affected keys = session_key of every completed session line (any version, any delivery) whose load
                    completed after  max(loaded_at) already in the mart  minus  var('mart_lookback_hours').
  For those keys the rows are recomputed from *all* their versions (not only the new ones), so a late
  version, a re-delivered file or a re-emitted closed version replaces what the mart held, exactly as a
  full build would. sessions uses delete+insert on session_key; the child marts delete every row of the
  affected sessions in a pre-hook (a new surviving version may have fewer, or no, child rows than the one it
  replaces) and then append the re-derived rows (a second delete by key would scan the whole mart again).
  The look-back only widens the set (a safety margin for loads that commit out of order or clock skew).
-#}

{#-
  The watermark: latest loaded_at in this model minus var mart_lookback_hours. On incremental runs it is read
  once when the model is compiled and written into the SQL as a constant: DuckDB skips row groups only for
  constant bounds (a bound behind a nested subquery makes it read every row of history), and PostgreSQL plans an
  index range scan. var monetate_inline_watermark=false keeps it a subquery (dbt unit tests, whose `this` is a
  fixture that cannot be queried at compile time).
-#}
{% macro monetate_mart_watermark() -%}
  {%- set latest = 'coalesce(max(loaded_at), ' ~ dbt.cast("'1900-01-01 00:00:00'", dbt.type_timestamp()) ~ ')' -%}
  {%- set watermark_sql -%}
    select {{ dbt.dateadd('hour', -1 * var('mart_lookback_hours', 1), latest) }} from {{ this }}
  {%- endset -%}
  {%- if monetate_inline_bounds() -%}
    {{ dbt.cast("'" ~ monetate_constant(watermark_sql) ~ "'", dbt.type_timestamp()) }}
  {%- else -%}
    ({{ watermark_sql }})
  {%- endif -%}
{%- endmacro %}

{#- Whether this run may write bounds read from the warehouse into the SQL as constants: incremental runs only,
    and not when introspection is off (compiling without a warehouse) or var monetate_inline_watermark is false. -#}
{% macro monetate_inline_bounds() -%}
  {{ return(execute and is_incremental() and var('monetate_inline_watermark', true)
            and var('monetate_introspect', true)) }}
{%- endmacro %}

{#- The first row `query` returns, read once per node (model or test) and run: a bound is used in several places
    of one node's SQL and hooks, and each read is a round trip to the warehouse. -#}
{% macro monetate_query_row(query) -%}
  {%- set cache = model.setdefault('monetate_query_rows', {}) -%}
  {%- if query not in cache -%}
    {%- do cache.update({query: run_query(query).rows[0]}) -%}
  {%- endif -%}
  {{ return(cache[query]) }}
{%- endmacro %}

{#- The single value `query` returns (`default` when NULL), read once per model and run (monetate_query_row). -#}
{% macro monetate_constant(query, default='') -%}
  {%- set value = monetate_query_row(query)[0] -%}
  {{ return(default if value is none else value) }}
{%- endmacro %}

{#-
  The oldest load that wrote the surviving version of an affected session ('' when unknown): every row a mart
  re-derives, and every child row it reads, comes from that load or a later one. Appended in load order, the raw
  child tables are then read from that load on only. Read at compile time like the watermark.
-#}
{% macro monetate_min_affected_load_id() -%}
  {%- if monetate_inline_bounds() -%}
    {%- set query -%}
      select min(load_id) from {{ ref('int_monetate__sessions_deduped') }}
      where version_loaded_at > {{ monetate_mart_watermark() }}
    {%- endset -%}
    {{ return(monetate_constant(query)) }}
  {%- endif -%}
  {{ return('') }}
{%- endmacro %}

{#- ` and <column> >= '<oldest affected load>'` on incremental runs when that load is known, else nothing. -#}
{% macro monetate_load_id_bound(column='load_id') -%}
  {%- set oldest = monetate_min_affected_load_id() -%}
  {%- if oldest %} and {{ column }} >= '{{ oldest }}'{% endif -%}
{%- endmacro %}

{#- Completed loads not yet in int_monetate__session_versions (this model): the rows a run appends. -#}
{% macro monetate_versions_new_loads() -%}
  select load_id, loaded_at
  from {{ ref('stg_monetate__loads') }}
  where is_completed
  {%- if is_incremental() %}
    and loaded_at > {{ monetate_mart_watermark() }}
    and load_id not in (
        select distinct load_id from {{ this }} where loaded_at > {{ monetate_mart_watermark() }}
    )
  {%- endif %}
{%- endmacro %}

{#- The oldest completed load after this model's watermark, as a constant ('~' when there is none, '' when not
    incremental): raw tables are appended in load order, so a `load_id >=` bound lets DuckDB skip every older row
    group (a bound that only comes through a join does not reach the raw scan behind the staging views). -#}
{% macro monetate_oldest_new_load() -%}
  {%- if monetate_inline_bounds() -%}
    {%- set query -%}
      select min(load_id) from {{ ref('stg_monetate__loads') }}
      where is_completed and loaded_at > {{ monetate_mart_watermark() }}
    {%- endset -%}
    {{ return(monetate_constant(query, '~')) }}
  {%- endif -%}
  {{ return('') }}
{%- endmacro %}

{#- pre-hook of int_monetate__session_versions: a file a new load brings again replaces its earlier rows. -#}
{% macro monetate_versions_drop_reloaded_files() -%}
  {%- if is_incremental() -%}
    delete from {{ this }}
    where source_path in (
        select source_path from {{ ref('stg_monetate__sessions') }}
        where load_id in (select load_id from ({{ monetate_versions_new_loads() }}) new_loads)
          and load_id >= '{{ monetate_oldest_new_load() }}'
    )
  {%- endif -%}
{%- endmacro %}

{#- The deduplication's own filter: every version of each session with a line loaded after its watermark. -#}
{% macro monetate_dedup_incremental_filter() -%}
  {%- if is_incremental() -%}
    session_key in (
        select session_key from {{ ref('int_monetate__session_versions') }}
        where loaded_at > {{ monetate_mart_watermark() }}
    )
  {%- else -%}
    1 = 1
  {%- endif -%}
{%- endmacro %}

{#- Sessions with a line loaded after the watermark: their newest version's load time is after it. The rows the
    deduplication just re-derived are the newest of its table, so this filter reads only those (DuckDB skips the
    older row groups; PostgreSQL uses the index on version_loaded_at). -#}
{% macro monetate_affected_session_keys() -%}
  select session_key
  from {{ ref('int_monetate__sessions_deduped') }}
  where version_loaded_at > {{ monetate_mart_watermark() }}
{%- endmacro %}

{#- `where` condition restricting a mart's input (any model carrying the session's version_loaded_at) to the
    affected sessions on incremental runs. -#}
{% macro monetate_incremental_filter(column='version_loaded_at') -%}
  {%- if is_incremental() -%}
    {{ column }} > {{ monetate_mart_watermark() }}{{ monetate_load_id_bound() }}
  {%- else -%}
    1 = 1
  {%- endif -%}
{%- endmacro %}

{#- pre-hook of the child marts (strategy append): drop every row of an affected session before the new rows go in. -#}
{% macro monetate_delete_affected_sessions() -%}
  {%- if is_incremental() -%}
    delete from {{ this }} where session_key in ({{ monetate_affected_session_keys() }})
  {%- endif -%}
{%- endmacro %}

{#- Incremental runs of a model whose table predates a column the incremental path relies on (an upgrade) stop
    with one line saying what to do, instead of filtering on a column that is NULL in the older rows. -#}
{% macro monetate_require_columns(columns) -%}
  {%- if execute and is_incremental() and var('monetate_introspect', true) -%}
    {%- set have = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- set missing = columns | reject('in', have) | list -%}
    {%- if missing -%}
      {{ exceptions.raise_compiler_error(this ~ " was built by an older version of this project (no column " ~
         missing | join(', ') ~ "): run `dbt build --full-refresh` once to rebuild it.") }}
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}
