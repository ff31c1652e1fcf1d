{%- set raw = monetate_raw_columns('sessions__custom_targets') -%}

with source as (

    {{ monetate_completed_rows('sessions__custom_targets', raw) }}

),

renamed as (

    select
        {{ monetate_col(raw, '_dlt_id', 'varchar') }} as row_id,
        {{ monetate_col(raw, '_dlt_parent_id', 'varchar') }} as parent_row_id,
        {{ monetate_col(raw, '_dlt_root_id', 'varchar') }} as session_row_id,
        cast({{ monetate_col(raw, '_dlt_list_idx', 'bigint') }} as bigint) as list_index,
        {{ monetate_col(raw, 'session_id', 'varchar') }} as session_id,
        {{ monetate_col(raw, 'id', 'varchar') }} as target_id,
        {{ monetate_col(raw, 'value', 'varchar') }} as target_value,
        {{ safe_cast_number(monetate_col(raw, 'value', 'varchar'), 'double precision') }} as target_value_number,
        {{ monetate_col(raw, '_dlt_load_id', 'varchar') }} as load_id

    from source

)

select * from renamed
