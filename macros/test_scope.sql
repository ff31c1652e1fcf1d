{#-
  Data tests after an incremental run: check the rows just loaded, not all of history.

  With --vars '{monetate_test_scope_minutes: N}' (the every-load job, README "Operating it"), every generic data test
  on a model with a `loaded_at`, `version_loaded_at` or `load_id` column reads only the rows of the loads that
  completed within N minutes of the newest load (the surviving session version's load; for staging views over
  the raw tables, the row's own load). Other models are tested in full. Without the var (the
  default: `dbt build`, `dbt build --full-refresh`, CI) every test reads every row.
  What a scoped run cannot see: a duplicate between a new row and an old one, or an old row broken by hand. So keep
  a full `dbt build` (or `dbt test`) in the daily job; the scoped run is the quick check after each load.
  dbt's documented hook for this is the `get_where_subquery` macro, which applies a test's `where` config;
  this override adds the scope to it.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scope = monetate_test_scope_condition(relation) -%}
    {%- set conditions = [] -%}
    {%- if where %}{% do conditions.append('(' ~ where ~ ')') %}{% endif -%}
    {%- if scope %}{% do conditions.append(scope) %}{% endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The columns this project documents for the model behind `relation` (every column is documented). -#}
{% macro monetate_documented_columns(relation) -%}
  {%- set found = [] -%}
  {%- if execute and relation.identifier -%}
    {%- for node in graph.nodes.values() -%}
      {%- if node.resource_type in ('model', 'seed') and node.alias == relation.identifier
            and node.schema == relation.schema -%}
        {%- do found.extend(node.columns.keys() | map('lower')) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(found) }}
{%- endmacro %}

{#- '' (test every row) or the condition limiting `relation` to the rows of recent loads. The bounds are
    constants read once per test (`monetate_test_scope_bounds`): DuckDB skips older row groups, and the load id
    bound reaches the raw tables behind the staging and intermediate views, only for a constant (measured on 1M
    sessions: a test on int_monetate__session_child_counts 12-17 s with the bound as a subquery, 0.4 s as a
    constant). -#}
{% macro monetate_test_scope_condition(relation) -%}
  {%- if var('monetate_test_scope_minutes', none) is none or not execute -%}{{ return('') }}{%- endif -%}
  {%- set columns = monetate_documented_columns(relation) -%}
  {%- set time_column = 'loaded_at' if 'loaded_at' in columns else
                        ('version_loaded_at' if 'version_loaded_at' in columns else none) -%}
  {%- if time_column is none and 'load_id' not in columns -%}{{ return('') }}{%- endif -%}
  {%- set bounds = monetate_test_scope_bounds() -%}
  {%- if bounds is none -%}{{ return('') }}{%- endif -%}
  {%- set conditions = [] -%}
  {%- if time_column -%}
    {%- do conditions.append(time_column ~ ' >= ' ~ dbt.cast("'" ~ bounds[1] ~ "'", dbt.type_timestamp())) -%}
  {%- endif -%}
  {%- if 'load_id' in columns -%}{%- do conditions.append("load_id >= '" ~ bounds[0] ~ "'") -%}{%- endif -%}
  {{ return(conditions | join(' and ')) }}
{%- endmacro %}

{#- In a scoped test run, (first load id, its completion time in UTC) of the completed loads within
    `monetate_test_scope_minutes` of the newest one; none when the run is not scoped or nothing is loaded. Load
    ids and completion times rise together (one loader run at a time holds the lock), so either bound selects
    the same loads. Read once per test (monetate_query_row). -#}
{% macro monetate_test_scope_bounds() -%}
  {%- set minutes = var('monetate_test_scope_minutes', none) -%}
  {%- if minutes is none or not execute -%}{{ return(none) }}{%- endif -%}
  {%- set loads = api.Relation.create(database=target.database, schema=var('raw_schema'), identifier='_dlt_loads') -%}
  {%- set query -%}
    select min(load_id), min({{ to_utc_timestamp('inserted_at') }}) from {{ loads }}
    where status = 0
      and inserted_at >= (select {{ dbt.dateadd('minute', -1 * (minutes | int), 'max(inserted_at)') }} from {{ loads }}
                          where status = 0)
  {%- endset -%}
  {%- set row = monetate_query_row(query) -%}
  {{ return(none if row[0] is none else [row[0], row[1]]) }}
{%- endmacro %}

{#- The same scope for singular tests: a `where` condition on `relation` ('1 = 1' when tests read every row). -#}
{% macro monetate_test_scope(relation) -%}
  {{ monetate_test_scope_condition(relation) or '1 = 1' }}
{%- endmacro %}

{#- ` and <column> >= '<first recent load>'` in a scoped test run, else nothing: narrows the child rows a singular
    test aggregates for its scoped sessions to the same loads (a child row comes from its session version's load,
    so none of theirs is left out), and lets the raw child scans skip older rows. -#}
{% macro monetate_test_scope_load_filter(column='child.load_id') -%}
  {%- set bounds = monetate_test_scope_bounds() -%}
  {%- if bounds is not none %} and {{ column }} >= '{{ bounds[0] }}'{% endif -%}
{%- endmacro %}
