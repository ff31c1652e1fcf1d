{{
  config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    indexes=monetate_postgres_indexes([{'columns': ['loaded_at']}, {'columns': ['session_key']}]),
    dist='session_key',
    sort=['table_name'],
    pre_hook="{{ monetate_delete_affected_sessions() }}"
  )
}}
{#-
  Passthrough of child tables the vendor added later (objects and arrays no staging model reads, found by
  introspection: macros/vendor_extras.sql): one row per (child row, field) of the surviving session version,
  value as text. An id-keyed object gives item_key = its id and field `value`; an array gives item_position;
  an array of objects gives one row per key. dlt's type variants (`value__v_bool`, ...) fold into their field.
  Empty when there are none (or without introspection). Incremental per session like the child marts.
-#}
-- depends_on: {{ ref('int_monetate__sessions_deduped') }}
{%- set tables = monetate_extra_child_tables() %}

with sessions as (

    select session_row_id, session_id, session_key, loaded_at, version_loaded_at
    from {{ ref('int_monetate__sessions_deduped') }}
    where {{ monetate_incremental_filter() }}

),

items as (

{%- set parts = [] %}
{%- for name, rel, types in tables %}
  {%- set fields = {} %}
  {%- for col in types | sort %}
    {%- if not col.startswith('_dlt') and col not in ('session_id', 'id') %}
      {%- set base = col.split('__v_')[0] %}
      {%- do fields.setdefault(base, []).append(col) %}
    {%- endif %}
  {%- endfor %}
  {%- for field in fields | sort %}
    {%- set values = [] %}
    {%- for col in fields[field] %}
      {%- do values.append(monetate_value_as_text(adapter.quote(col), types[col])) %}
    {%- endfor %}
    {%- set value_sql = values[0] if values | length == 1 else 'coalesce(' ~ values | join(', ') ~ ')' %}
    {%- set part %}
    select
        _dlt_root_id as session_row_id,
        cast('{{ name }}' as {{ dbt.type_string() }}) as table_name,
        _dlt_id as item_row_id,
        cast(_dlt_list_idx as bigint) as item_position,
        {{ monetate_value_as_text(adapter.quote('id'), types['id']) if 'id' in types else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as item_key,
        cast('{{ field }}' as {{ dbt.type_string() }}) as field_name,
        {{ value_sql }} as item_value
    from {{ rel }}
    where {{ value_sql }} is not null
    {%- if '_dlt_load_id' in types %}
        and {{ monetate_completed_loads_filter('_dlt_load_id') }}
    {%- endif %}
    {%- endset %}
    {%- do parts.append(part) %}
  {%- endfor %}
{%- endfor %}
{%- if parts %}
    {{ parts | join('\n    union all') }}
{%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as session_row_id,
        cast(null as {{ dbt.type_string() }}) as table_name,
        cast(null as {{ dbt.type_string() }}) as item_row_id,
        cast(null as bigint) as item_position,
        cast(null as {{ dbt.type_string() }}) as item_key,
        cast(null as {{ dbt.type_string() }}) as field_name,
        cast(null as {{ dbt.type_string() }}) as item_value
    where 1 = 0
{%- endif %}

),

final as (

    select
        sessions.session_id,
        sessions.session_key,
        items.table_name,
        items.item_row_id,
        items.item_position,
        items.item_key,
        items.field_name,
        items.item_value,
        sessions.loaded_at
    from items
    inner join sessions
        on items.session_row_id = sessions.session_row_id

)

select * from final
