{#-
  Helpers for reading the loader's raw tables (docs/raw_tables.md).

  * monetate_completed_loads_filter(): staging reads only rows of completed dlt loads
    (`_dlt_load_id in (select load_id from _dlt_loads where status = 0)`).
  * monetate_raw_columns(table): which raw columns exist, so optional columns (dlt does not create a
    column that was NULL in every row it has seen) and optional tables (e.g. no rejects yet) become typed
    NULLs / empty selects instead of compile errors. Introspection is skipped when not executing or when
    var('monetate_introspect') is false: everything is then assumed to exist.
  * The Metadata API tables (source `monetate_metadata`, docs/dimensions.md) use the same helpers with
    source_name='monetate_metadata': they exist only once the API is configured and refreshed, so every model
    reading them builds (empty) without them. Their child tables carry no `_dlt_load_id` (dlt writes it on
    root tables only): they are read with completed_only=false and reach the dimensions only through a join
    to their parent version, which is filtered.
-#}

{% macro monetate_completed_loads_filter(load_id_column='_dlt_load_id') -%}
  {{ load_id_column }} in (
      select load_id from {{ source('monetate', '_dlt_loads') }} where status = 0
  )
{%- endmacro %}

{% macro monetate_raw_columns(table_name, source_name='monetate') -%}
  {%- set info = {'exists': true, 'all': true, 'names': [], 'types': {}} -%}
  {%- if execute and var('monetate_introspect', true) -%}
    {%- set src = source(source_name, table_name) -%}
    {%- set rel = adapter.get_relation(database=target.database, schema=var('raw_schema'), identifier=table_name) -%}
    {%- if rel is none -%}
      {%- do info.update({'exists': false, 'all': false}) -%}
    {%- else -%}
      {%- set names = [] -%}
      {%- set types = {} -%}
      {%- for col in adapter.get_columns_in_relation(rel) -%}
        {%- do names.append(col.name | lower) -%}
        {%- do types.update({col.name | lower: col.dtype | lower}) -%}
      {%- endfor -%}
      {%- do info.update({'all': false, 'names': names, 'types': types}) -%}
    {%- endif -%}
  {%- endif -%}
  {{ return(info) }}
{%- endmacro %}

{#- A raw column if it exists, else a typed NULL. Names that are keywords or functions on one of the engines
    (the metadata tables bring `split`, `key`, `type`, `label`, `variant`, ...) are quoted; dlt writes lower case. -#}
{% macro monetate_col(info, column, data_type) -%}
  {%- if info['all'] or (column | lower) in info['names'] -%}
    {{ adapter.quote(column) if (column | lower) in ('time', 'value', 'day', 'split', 'key', 'type', 'label',
                                                      'variant', 'name', 'kind', 'status', 'channel') else column }}
  {%- else -%}
    cast(null as {{ data_type }})
  {%- endif -%}
{%- endmacro %}

{#- A raw boolean column as a boolean: used as is when the warehouse says it is one (or, without
    introspection, when it is assumed to be: the metadata source writes booleans), else read as a 't'/'f' flag
    (an API that sends "true"/"false" strings). Redshift cannot cast a boolean to text, so no blanket cast. -#}
{% macro monetate_bool_col(info, column) -%}
  {%- set dtype = info['types'].get(column | lower, 'boolean' if info['all'] else none) -%}
  {%- if dtype is none -%}
    cast(null as boolean)
  {%- elif dtype in ('boolean', 'bool') -%}
    {{ monetate_col(info, column, 'boolean') }}
  {%- else -%}
    {{ flag_to_boolean(monetate_col(info, column, 'varchar')) }}
  {%- endif -%}
{%- endmacro %}

{#- `select * from <raw table> where <completed load>`, or an empty select when the table does not exist yet
    (completed_only=false: every row, for child tables without `_dlt_load_id`). -#}
{% macro monetate_completed_rows(table_name, info, source_name='monetate', completed_only=true) -%}
  {%- if info['exists'] -%}
    select * from {{ source(source_name, table_name) }}
    {%- if completed_only and (info['all'] or '_dlt_load_id' in info['names']) %}
    where {{ monetate_completed_loads_filter('_dlt_load_id') }}
    {%- endif %}
  {%- else -%}
    {#- the loader has not created this table yet (nothing of this kind loaded so far) -#}
    select cast(null as varchar(64)) as _dlt_load_id where 1 = 0
  {%- endif -%}
{%- endmacro %}
