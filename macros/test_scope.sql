{#-
  Data tests after an incremental run: check the rows just loaded, not all of history.

  With --vars '{monetate_test_scope_minutes: N}' (the every-load job, README "Operating it"), every generic data test
  on a model that has a `loaded_at` column reads only its rows with loaded_at within N minutes of the model's
  newest row, and on a model with only a `load_id` column (staging views over the raw tables) only the rows of
  loads completed within N minutes of the newest load. Other models are tested in full. Without the var (the
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

{#- '' (test every row) or the condition limiting `relation` to recently loaded rows. -#}
{% macro monetate_test_scope_condition(relation) -%}
  {%- set minutes = var('monetate_test_scope_minutes', none) -%}
  {%- if minutes is none or not execute -%}{{ return('') }}{%- endif -%}
  {%- set columns = monetate_documented_columns(relation) -%}
  {%- if 'loaded_at' in columns -%}
    {{ return('loaded_at > (select ' ~ dbt.dateadd('minute', -1 * (minutes | int), 'max(loaded_at)') ~ ' from ' ~ relation ~ ')') }}
  {%- elif 'load_id' in columns -%}
    {%- set loads = api.Relation.create(database=target.database, schema=var('raw_schema'), identifier='_dlt_loads') -%}
    {{ return('load_id in (select load_id from ' ~ loads ~ ' where inserted_at > (select '
              ~ dbt.dateadd('minute', -1 * (minutes | int), 'max(inserted_at)') ~ ' from ' ~ loads ~ '))') }}
  {%- endif -%}
  {{ return('') }}
{%- endmacro %}

{#- The same scope for singular tests: a `where` condition on `relation` ('1 = 1' when tests read every row). -#}
{% macro monetate_test_scope(relation) -%}
  {{ monetate_test_scope_condition(relation) or '1 = 1' }}
{%- endmacro %}
