{{
  config(
    materialized='table',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['split_id'], 'unique': true}, {'columns': ['experience_id']}]),
    dist='all',
    sort=['split_id']
  )
}}
{#-
  One row per split id seen in the session data (`offers`) or known to the Metadata API. Ids the API does not
  know (old, deleted experiences) keep their row with empty names and `has_metadata` false; ids only the API
  knows (not seen in any session yet) are listed too. Contract with the experiment readout: the columns up to
  `has_metadata` are stable.
-#}
with session_splits as (

    select distinct {{ safe_cast_number('id', 'bigint') }} as split_id
    from {{ ref('int_monetate__seen_ids') }}
    where id_kind = 'split'

),

metadata as (

    select * from {{ ref('int_monetate__metadata_splits') }}

),

experiences as (

    select experience_id, experience_name from {{ ref('experiments') }}

),

ids as (

    select split_id from session_splits where split_id is not null
    union
    select split_id from metadata

),

final as (

    select
        ids.split_id,
        metadata.experience_id,
        coalesce(experiences.experience_name, metadata.variant_experience_name) as experience_name,
        metadata.split_name,
        metadata.split_description,
        metadata.traffic_share,
        metadata.is_control,
        case when metadata.split_id is not null then true else false end as has_metadata,
        case when session_splits.split_id is not null then true else false end as is_seen_in_sessions
    from ids
    left join metadata
        on ids.split_id = metadata.split_id
    left join experiences
        on metadata.experience_id = experiences.experience_id
    left join session_splits
        on ids.split_id = session_splits.split_id

),

named as (

    {#- when the names last changed: the marts' post-hook refreshes only those ids (macros/monetate_names.sql) -#}
    {{ monetate_names_changed_at('final', 'split_id', ['experience_id', 'experience_name', 'split_name', 'is_control']) }}

)

select {{ monetate_contract_columns('named') }} from named
