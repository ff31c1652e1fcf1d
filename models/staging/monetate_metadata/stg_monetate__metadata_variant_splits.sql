{#- The `variant_splits` of an experience version: split id, variant (A, B, Control, ...), traffic share, control flag.
    Child rows of every version (dlt gives child tables no load id): the intermediate models reach them only
    through their parent version, which comes from completed loads. -#}
{%- set raw = monetate_raw_columns('metadata_experiences__variant_splits', 'monetate_metadata') -%}

with source as (

    {{ monetate_completed_rows('metadata_experiences__variant_splits', raw, 'monetate_metadata', completed_only=false) }}

),

renamed as (

    select
        cast({{ monetate_col(raw, 'id', 'bigint') }} as bigint) as split_id,
        {{ monetate_col(raw, 'variant', 'varchar') }} as variant,
        cast({{ monetate_col(raw, 'split', 'double precision') }} as double precision) as traffic_share,
        {{ monetate_col(raw, 'label', 'varchar') }} as label,
        {{ monetate_bool_col(raw, 'is_control') }} as is_control,
        {{ monetate_bool_col(raw, 'is_holdout') }} as is_holdout,
        {{ monetate_col(raw, 'test_group', 'varchar') }} as test_group,
        cast({{ monetate_col(raw, '_dlt_list_idx', 'bigint') }} as bigint) as list_index,
        {{ monetate_col(raw, '_dlt_id', 'varchar') }} as row_id,
        {{ monetate_col(raw, '_dlt_parent_id', 'varchar') }} as parent_row_id

    from source

)

select * from renamed
