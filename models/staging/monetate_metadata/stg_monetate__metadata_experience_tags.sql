{#- The tags of an experience version.
    Child rows of every version (dlt gives child tables no load id): the intermediate models reach them only
    through their parent version, which comes from completed loads. -#}
{%- set raw = monetate_raw_columns('metadata_experiences__tags', 'monetate_metadata') -%}

with source as (

    {{ monetate_completed_rows('metadata_experiences__tags', raw, 'monetate_metadata', completed_only=false) }}

),

renamed as (

    select
        {{ monetate_col(raw, 'value', 'varchar') }} as tag,
        cast({{ monetate_col(raw, '_dlt_list_idx', 'bigint') }} as bigint) as list_index,
        {{ monetate_col(raw, '_dlt_id', 'varchar') }} as row_id,
        {{ monetate_col(raw, '_dlt_parent_id', 'varchar') }} as parent_row_id

    from source

)

select * from renamed
