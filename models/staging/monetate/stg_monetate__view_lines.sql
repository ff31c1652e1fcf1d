{%- set raw = monetate_raw_columns('sessions__view_lines') -%}

with source as (

    {{ monetate_completed_rows('sessions__view_lines', raw) }}

),

renamed as (

    select
        {{ monetate_col(raw, '_dlt_id', 'varchar') }} as row_id,
        {{ monetate_col(raw, '_dlt_parent_id', 'varchar') }} as parent_row_id,
        {{ monetate_col(raw, '_dlt_root_id', 'varchar') }} as session_row_id,
        cast({{ monetate_col(raw, '_dlt_list_idx', 'bigint') }} as bigint) as list_index,
        {{ monetate_col(raw, 'session_id', 'varchar') }} as session_id,
        {{ monetate_col(raw, 'product_id', 'varchar') }} as product_id,
        {{ monetate_col(raw, 'sku', 'varchar') }} as sku,
        {{ epoch_ms_to_timestamp(monetate_col(raw, 'time', 'bigint')) }} as viewed_at,
        {{ monetate_col(raw, '_dlt_load_id', 'varchar') }} as load_id

    from source

)

select * from renamed
