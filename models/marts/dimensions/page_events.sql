{{
  config(
    materialized='table',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['page_event_id'], 'unique': true}]),
    dist='all',
    sort=['page_event_id']
  )
}}
{#- One row per page event id seen in the session data or known to the Metadata API; unknown ids keep their row. -#}
with session_events as (

    select distinct {{ safe_cast_number('id', 'bigint') }} as page_event_id
    from {{ ref('int_monetate__seen_ids') }}
    where id_kind = 'page_event'

),

metadata as (

    select page_event_id, page_event_title from {{ ref('int_monetate__metadata_page_events_latest') }}

),

ids as (

    select page_event_id from session_events where page_event_id is not null
    union
    select page_event_id from metadata

),

final as (

    select
        ids.page_event_id,
        metadata.page_event_title,
        case when metadata.page_event_id is not null then true else false end as has_metadata,
        case when session_events.page_event_id is not null then true else false end as is_seen_in_sessions
    from ids
    left join metadata
        on ids.page_event_id = metadata.page_event_id
    left join session_events
        on ids.page_event_id = session_events.page_event_id

),

named as (

    {#- when the names last changed: the marts' post-hook refreshes only those ids (macros/monetate_names.sql) -#}
    {{ monetate_names_changed_at('final', 'page_event_id', ['page_event_title']) }}

)

select {{ monetate_contract_columns('named') }} from named
