{%- set raw = monetate_raw_columns('session_stream_rejects') -%}

with source as (

    {{ monetate_completed_rows('session_stream_rejects', raw) }}

),

renamed as (

    select
        {{ monetate_col(raw, '_dlt_id', 'varchar') }} as reject_row_id,
        {{ monetate_col(raw, 'file_path', 'varchar') }} as file_path,
        cast({{ monetate_col(raw, 'line_number', 'bigint') }} as bigint) as line_number,
        {{ monetate_col(raw, 'reason', 'varchar') }} as reason,
        {{ monetate_col(raw, 'raw_text', 'varchar') }} as raw_text,
        {{ monetate_col(raw, 'load_id', 'varchar') }} as reject_load_id,
        {{ monetate_col(raw, '_dlt_load_id', 'varchar') }} as load_id

    from source

)

select * from renamed
