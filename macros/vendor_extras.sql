{#-
  Fields the vendor adds later (docs/visitors.md, "Fields the vendor adds later").

  The loader keeps every field it does not know: a new scalar becomes a new column of the raw `sessions` table, a
  new object or array a new child table `sessions__<field>` (docs/raw_tables.md). These macros find them by
  introspection, so they reach the marts without code changes:
    * monetate_extra_session_columns(): raw `sessions` columns that stg_monetate__sessions does not read; they pass
      through staging, int_monetate__sessions_enriched and sessions as `extra_<name>`, typed as loaded;
    * monetate_extra_child_tables(): raw `sessions__*` tables no staging model reads; session_extra_items lists
      their values as text, one row per (child row, field).
  With var('monetate_introspect') false, or when not executing (parse), both are empty: the models compile and
  carry no passthrough columns.
-#}

{#- raw `sessions` columns stg_monetate__sessions reads (vendor scalars and the loader's lineage columns) -#}
{% macro monetate_known_session_columns() -%}
  {{ return([
    'session_id', 'guid', 'account_id', 'customer_id', 'customer_link', 'start_time', 'end_time',
    'device_type', 'browser', 'browser_version', 'os', 'os_version', 'screen_width', 'screen_height',
    'country_code', 'region', 'city', 'page_views', 'page_views_ss', 'product_view_count', 'time_on_site',
    'time_on_site_ss', 'session_count', 'purchase_count', 'session_value', 'session_value_ss',
    'purchase_value_ss', 'has_cart', 'has_new_customer', 'has_product_view', 'has_purchase',
    'has_recommendation_cart', 'has_recommendation_click', 'has_recommendation_impression',
    'has_recommendation_purchase', 'has_stealth', 'is_bounce', 'is_closed',
  ]) }}
{%- endmacro %}

{#- raw child tables the staging models read (the vendor's variable-size fields) -#}
{% macro monetate_known_child_tables() -%}
  {{ return([
    'sessions__offers', 'sessions__page_event_ids', 'sessions__custom_targets', 'sessions__purchases',
    'sessions__purchase_lines', 'sessions__purchase_lines__items', 'sessions__cart_lines', 'sessions__view_lines',
  ]) }}
{%- endmacro %}

{#- Unknown scalar columns of raw `sessions`, sorted: names only (lower case, as dlt writes them). Columns
    starting with `_` are the loader's own (lineage, dlt) and never passthrough. -#}
{% macro monetate_extra_session_columns() -%}
  {%- set names = [] -%}
  {%- if execute and var('monetate_introspect', true) -%}
    {#- not monetate_raw_columns: it calls source(), which only models that read the raw table may do -#}
    {%- set rel = adapter.get_relation(database=target.database, schema=var('raw_schema'), identifier='sessions') -%}
    {%- if rel is not none -%}
      {%- for col in adapter.get_columns_in_relation(rel) -%}
        {%- do names.append(col.name | lower) -%}
      {%- endfor -%}
    {%- endif -%}
  {%- endif -%}
  {%- set known = monetate_known_session_columns() -%}
  {%- set extra = [] -%}
  {%- for name in names | sort -%}
    {%- if name not in known and not name.startswith('_') and modules.re.match('^[a-z0-9_]+$', name) -%}
      {%- do extra.append(name) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(extra) }}
{%- endmacro %}

{#- `, <prefix>extra_<name>` for each passthrough column (empty when there are none) -#}
{% macro monetate_extra_columns_select(prefix='') -%}
  {%- for name in monetate_extra_session_columns() %}
        , {{ prefix }}extra_{{ name }}
  {%- endfor -%}
{%- endmacro %}

{#- Unknown raw child tables: [(table name, relation, {column: type})], sorted by name. -#}
{% macro monetate_extra_child_tables() -%}
  {%- set found = [] -%}
  {%- if execute and var('monetate_introspect', true) -%}
    {%- set schema_rel = api.Relation.create(database=target.database, schema=var('raw_schema')) -%}
    {%- set known = monetate_known_child_tables() -%}
    {%- set rels = {} -%}
    {%- for row in list_relations_without_caching(schema_rel) -%}
      {%- set name = row['name'] | lower -%}
      {%- if name.startswith('sessions__') and name not in known and modules.re.match('^[a-z0-9_]+$', name) -%}
        {%- set rel = adapter.get_relation(database=target.database, schema=var('raw_schema'), identifier=row['name']) -%}
        {%- if rel is not none -%}
          {%- do rels.update({name: rel}) -%}
        {%- endif -%}
      {%- endif -%}
    {%- endfor -%}
    {%- for name in rels | sort -%}
      {%- set types = {} -%}
      {%- for col in adapter.get_columns_in_relation(rels[name]) -%}
        {%- do types.update({col.name | lower: col.dtype | lower}) -%}
      {%- endfor -%}
      {%- do found.append((name, rels[name], types)) -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(found) }}
{%- endmacro %}

{#- A column as text; booleans through dbt.cast_bool_to_text (Redshift cannot cast a boolean to text). -#}
{% macro monetate_value_as_text(column, dtype) -%}
  {%- if dtype in ('boolean', 'bool') -%}
    {{ dbt.cast_bool_to_text(column) }}
  {%- else -%}
    {{ dbt.cast(column, dbt.type_string()) }}
  {%- endif -%}
{%- endmacro %}
