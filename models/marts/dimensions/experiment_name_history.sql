{{
  config(
    materialized='table',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['experience_id', 'name_version'], 'unique': true}]),
    dist='all',
    sort=['experience_id']
  )
}}
{#-
  The names an experience has had: one row per period with one name (consecutive versions of the experience
  summary that changed something else, such as its status, collapse into one period). `valid_from` is the time
  our metadata refresh first saw the name, not the time it was renamed in the vendor UI; the first name also
  covers sessions before the first refresh.
-#}
with versions as (

    select experience_id, experience_name, valid_from, valid_to
    from {{ ref('stg_monetate__metadata_experiences') }}
    where experience_id is not null

),

flagged as (

    select
        versions.*,
        case
            when coalesce(lag(experience_name) over (partition by experience_id order by valid_from), '')
                = coalesce(experience_name, '')
                and row_number() over (partition by experience_id order by valid_from) > 1 then 0
            else 1
        end as starts_name
    from versions

),

numbered as (

    select
        flagged.*,
        sum(starts_name) over (
            partition by experience_id order by valid_from rows between unbounded preceding and current row
        ) as name_version
    from flagged

),

final as (

    select
        experience_id,
        cast(name_version as integer) as name_version,
        max(experience_name) as experience_name,
        min(valid_from) as valid_from,
        case when count(valid_to) < count(*) then null else max(valid_to) end as valid_to
    from numbered
    group by experience_id, name_version

),

published as (

    select
        final.*,
        case when valid_to is null then true else false end as is_current_name,
        case when name_version = 1 then true else false end as is_first_name
    from final

)

select {{ monetate_contract_columns('published') }} from published
