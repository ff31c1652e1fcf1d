{{
  config(
    materialized='table',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['target_id'], 'unique': true}]),
    dist='all',
    sort=['target_id']
  )
}}
{#-
  One row per custom target id seen in the session data or known to the Metadata API; unknown ids keep their
  row. `is_personal_data` marks the targets the API flags as identifiers or person-id collectors: the loader's
  `--pii-target-ids auto` hashes or drops exactly their values (docs/metadata_api.md).
-#}
with session_targets as (

    select distinct {{ safe_cast_number('id', 'bigint') }} as target_id
    from {{ ref('int_monetate__seen_ids') }}
    where id_kind = 'custom_target'

),

metadata as (

    select * from {{ ref('int_monetate__metadata_custom_targets_latest') }}

),

ids as (

    select target_id from session_targets where target_id is not null
    union
    select target_id from metadata

),

final as (

    select
        ids.target_id,
        metadata.target_title,
        metadata.target_description,
        metadata.is_identifier,
        metadata.collects_person_id,
        case
            when metadata.is_identifier or metadata.collects_person_id then true
            when metadata.target_id is not null then false
        end as is_personal_data,
        case when metadata.target_id is not null then true else false end as has_metadata,
        case when session_targets.target_id is not null then true else false end as is_seen_in_sessions
    from ids
    left join metadata
        on ids.target_id = metadata.target_id
    left join session_targets
        on ids.target_id = session_targets.target_id

),

named as (

    {#- when the names last changed: the marts' post-hook refreshes only those ids (macros/monetate_names.sql) -#}
    {{ monetate_names_changed_at('final', 'target_id', ['target_title', 'is_personal_data']) }}

)

select {{ monetate_contract_columns('named') }} from named
