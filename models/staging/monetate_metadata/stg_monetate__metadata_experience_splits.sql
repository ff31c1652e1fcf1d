{#- The split ids an experience version lists in `splits`.
    Child rows of every version (dlt gives child tables no load id): the intermediate models reach them only
    through their parent version, which comes from completed loads. -#}
{%- set raw = monetate_raw_columns('metadata_experiences__splits', 'monetate_metadata') -%}

with source as (

    {{ monetate_completed_rows('metadata_experiences__splits', raw, 'monetate_metadata', completed_only=false) }}

),

renamed as (

    select
        cast({{ monetate_col(raw, 'value', 'bigint') }} as bigint) as split_id,
        cast({{ monetate_col(raw, '_dlt_list_idx', 'bigint') }} as bigint) as list_index,
        {{ monetate_col(raw, '_dlt_id', 'varchar') }} as row_id,
        {{ monetate_col(raw, '_dlt_parent_id', 'varchar') }} as parent_row_id

    from source

)

select * from renamed
