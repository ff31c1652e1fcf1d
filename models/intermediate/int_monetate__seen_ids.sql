{#-
  One row per split, page event and custom target id that occurs in any loaded session line, with the latest
  load that carried it: the "seen in sessions" half of splits, page_events and custom_targets.

  Incremental: a run reads only the child rows of loads completed since its newest row (minus
  var mart_lookback_hours), so the dimensions no longer scan every offer, page event and custom target of
  history on every run. "Seen" means in any session line loaded, including versions a later version replaced
  (a later version of a session carries the ids of the earlier ones, so the two readings agree in practice).
-#}
{{
  config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['id_kind', 'id'],
    post_hook="{{ monetate_analyze_relation(this) }}"
  )
}}

{%- set oldest_new_load = monetate_oldest_new_load() %}

with loads as (

    select load_id, loaded_at
    from {{ ref('stg_monetate__loads') }}
    where is_completed
    {%- if is_incremental() %}
      and loaded_at > {{ monetate_mart_watermark() }}
    {%- endif %}

),

ids as (

    select 'split' as id_kind, child.split_id as id, loads.loaded_at
    from {{ ref('stg_monetate__offers') }} as child
    inner join loads on child.load_id = loads.load_id
    {%- if oldest_new_load %} where child.load_id >= '{{ oldest_new_load }}'{% endif %}
    union all
    select 'page_event' as id_kind, child.page_event_id as id, loads.loaded_at
    from {{ ref('stg_monetate__page_events') }} as child
    inner join loads on child.load_id = loads.load_id
    {%- if oldest_new_load %} where child.load_id >= '{{ oldest_new_load }}'{% endif %}
    union all
    select 'custom_target' as id_kind, child.target_id as id, loads.loaded_at
    from {{ ref('stg_monetate__custom_targets') }} as child
    inner join loads on child.load_id = loads.load_id
    {%- if oldest_new_load %} where child.load_id >= '{{ oldest_new_load }}'{% endif %}

),

final as (

    select
        cast(id_kind as {{ dbt.type_string() }}) as id_kind,
        id,
        max(loaded_at) as loaded_at
    from ids
    where id is not null
    group by id_kind, id

)

select * from final
