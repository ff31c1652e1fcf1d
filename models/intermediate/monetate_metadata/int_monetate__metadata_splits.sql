{#-
  One row per split id the Metadata API knows, from every place it names one: the variant endpoint (names,
  description) and the traffic design of the experience's chosen version (`variant_splits`: variant, share,
  control flag; their `allocations`: per-variant control groups such as `A-Control`; the `splits` list).

  Control rule (contract of splits): a split is the control when the API flags it (`is_control`) or its
  variant / split name is `Control` or ends in `-Control` (case-insensitive); false when the API describes the
  split without saying so; NULL when it says nothing that decides it. Never guessed from anything else.
-#}
with experiences as (

    select experience_id, row_id from {{ ref('int_monetate__metadata_experiences_latest') }}

),

variants as (

    select * from {{ ref('int_monetate__metadata_variants_latest') }}

),

variant_splits as (

    select
        variant_splits.row_id,
        variant_splits.split_id,
        variant_splits.variant,
        variant_splits.traffic_share,
        variant_splits.label,
        variant_splits.is_control,
        experiences.experience_id
    from {{ ref('stg_monetate__metadata_variant_splits') }} as variant_splits
    inner join experiences
        on variant_splits.parent_row_id = experiences.row_id

),

allocations as (

    select
        allocations.split_id,
        allocations.variant,
        allocations.traffic_share,
        allocations.label,
        variant_splits.experience_id
    from {{ ref('stg_monetate__metadata_variant_split_allocations') }} as allocations
    inner join variant_splits
        on allocations.parent_row_id = variant_splits.row_id

),

listed as (

    select listed.split_id, experiences.experience_id
    from {{ ref('stg_monetate__metadata_experience_splits') }} as listed
    inner join experiences
        on listed.parent_row_id = experiences.row_id

),

design as (

    {#- the most specific statement about a split wins: its own variant_splits entry, then an allocation, then
        the bare `splits` list -#}
    select split_id, experience_id, variant, traffic_share, label, is_control, 1 as priority from variant_splits
    union all
    select split_id, experience_id, variant, traffic_share, label, cast(null as boolean), 2 from allocations
    union all
    select split_id, experience_id, cast(null as varchar(256)), cast(null as double precision),
        cast(null as varchar(256)), cast(null as boolean), 3
    from listed

),

design_ranked as (

    select
        design.*,
        row_number() over (partition by split_id order by priority, experience_id) as design_rank
    from design
    where split_id is not null

),

design_best as (

    select * from design_ranked where design_rank = 1

),

ids as (

    select split_id from variants
    union
    select split_id from design_best

),

final as (

    select
        ids.split_id,
        coalesce(variants.experience_id, design_best.experience_id) as experience_id,
        variants.experience_name as variant_experience_name,
        variants.experience_type as variant_experience_type,
        coalesce(variants.split_name, design_best.variant) as split_name,
        design_best.variant,
        coalesce(variants.split_description, design_best.label) as split_description,
        design_best.traffic_share,
        case
            when design_best.is_control then true
            when lower(variants.split_name) = 'control' or lower(variants.split_name) like '%-control' then true
            when lower(design_best.variant) = 'control' or lower(design_best.variant) like '%-control' then true
            when design_best.is_control is not null or variants.split_name is not null
                or design_best.variant is not null then false
        end as is_control,
        variants.integration_type
    from ids
    left join variants
        on ids.split_id = variants.split_id
    left join design_best
        on ids.split_id = design_best.split_id

)

select * from final
