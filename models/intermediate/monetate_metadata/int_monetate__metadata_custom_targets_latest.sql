{#-
  One row per custom target the Metadata API knows or knew: its current version (`valid_to` NULL), or, for an id the API
  no longer returns (deleted), the last version it had, so old ids in the session data keep their last name.
-#}
with versions as (

    select * from {{ ref('stg_monetate__metadata_custom_targets') }}
    where target_id is not null

),

ranked as (

    select
        versions.*,
        count(*) over (partition by target_id) as version_count,
        row_number() over (
            partition by target_id
            order by case when valid_to is null then 0 else 1 end, valid_from desc, row_id
        ) as version_rank
    from versions

)

select * from ranked
where version_rank = 1
