{%- set raw = monetate_raw_columns('sessions__purchase_lines__items') -%}

with source as (

    {{ monetate_completed_rows('sessions__purchase_lines__items', raw) }}

),

renamed as (

    select
        {{ monetate_col(raw, '_dlt_id', 'varchar') }} as row_id,
        {{ monetate_col(raw, '_dlt_parent_id', 'varchar') }} as purchase_line_row_id,
        {{ monetate_col(raw, '_dlt_root_id', 'varchar') }} as session_row_id,
        cast({{ monetate_col(raw, '_dlt_list_idx', 'bigint') }} as bigint) as item_index,
        {{ monetate_col(raw, 'session_id', 'varchar') }} as session_id,
        {{ monetate_col(raw, 'purchase_id', 'varchar') }} as purchase_id,
        {{ monetate_col(raw, 'product_id', 'varchar') }} as product_id,
        {{ monetate_col(raw, 'sku', 'varchar') }} as sku,
        {{ to_money(monetate_col(raw, 'unit_price', 'double precision')) }} as unit_price,
        cast({{ monetate_col(raw, 'quantity', 'bigint') }} as bigint) as quantity,
        {{ monetate_col(raw, '_dlt_load_id', 'varchar') }} as load_id

    from source

)

select * from renamed
