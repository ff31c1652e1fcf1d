{{
  config(
    materialized='table',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['experience_id'], 'unique': true}]),
    dist='all',
    sort=['experience_id']
  )
}}
{#-
  One row per experience the Metadata API knows (from its experience summaries, or only through the variant
  endpoint when the summary is missing): current name, type, status, times, tags and goal names of the chosen
  version (the current one, or the last one for an experience the API no longer returns), and how many names it
  has had. Session Stream carries no experience ids, so every row comes from the metadata.
-#}
with experiences as (

    select * from {{ ref('int_monetate__metadata_experiences_latest') }}

),

variant_experiences as (

    {#- experiences the variant endpoint names but the summary endpoint does not return -#}
    select
        experience_id,
        max(experience_name) as experience_name,
        max(experience_type) as experience_type,
        max(integration_type) as integration_type
    from {{ ref('int_monetate__metadata_variants_latest') }}
    where experience_id is not null
    group by experience_id

),

tags as (

    select experiences.experience_id,
        {{ dbt.listagg('tags.tag', "', '", 'order by tags.tag') }} as tags
    from {{ ref('stg_monetate__metadata_experience_tags') }} as tags
    inner join experiences
        on tags.parent_row_id = experiences.row_id
    where tags.tag is not null
    group by experiences.experience_id

),

goals as (

    select experiences.experience_id,
        {{ dbt.listagg('goals.goal_name', "', '", 'order by goals.goal_name') }} as goal_names
    from {{ ref('stg_monetate__metadata_experience_goals') }} as goals
    inner join experiences
        on goals.parent_row_id = experiences.row_id
    where goals.goal_name is not null
    group by experiences.experience_id

),

history as (

    select experience_id, count(*) as name_history_count
    from {{ ref('experiment_name_history') }}
    group by experience_id

),

ids as (

    select experience_id from experiences
    union
    select experience_id from variant_experiences

),

final as (

    select
        ids.experience_id,
        coalesce(experiences.experience_name, variant_experiences.experience_name) as experience_name,
        coalesce(experiences.experience_type, variant_experiences.experience_type) as experience_type,
        experiences.status,
        experiences.is_archived,
        experiences.created_at,
        experiences.started_at,
        experiences.ended_at,
        coalesce(experiences.integration_type, variant_experiences.integration_type) as integration_type,
        tags.tags,
        goals.goal_names,
        cast(coalesce(history.name_history_count, 1) as integer) as name_history_count,
        case when experiences.experience_id is not null then true else false end as has_metadata,
        case when experiences.experience_id is not null then experiences.is_current else false end
            as is_current_in_api
    from ids
    left join experiences
        on ids.experience_id = experiences.experience_id
    left join variant_experiences
        on ids.experience_id = variant_experiences.experience_id
    left join tags
        on ids.experience_id = tags.experience_id
    left join goals
        on ids.experience_id = goals.experience_id
    left join history
        on ids.experience_id = history.experience_id

)

select {{ monetate_contract_columns() }} from final
