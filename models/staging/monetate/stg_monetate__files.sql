{%- set raw = monetate_raw_columns('session_stream_files') -%}

with source as (

    {{ monetate_completed_rows('session_stream_files', raw) }}

),

renamed as (

    select
        {{ monetate_col(raw, 'file_path', 'varchar') }} as file_path,
        {{ monetate_col(raw, 'file_name', 'varchar') }} as file_name,
        cast({{ monetate_col(raw, 'day', 'date') }} as date) as file_date,
        {{ to_utc_timestamp(monetate_col(raw, 'window_start', 'timestamp')) }} as window_start_at,
        cast({{ monetate_col(raw, 'size_bytes', 'bigint') }} as bigint) as size_bytes,
        {{ to_utc_timestamp(monetate_col(raw, 'modified_at', 'timestamp')) }} as modified_at,
        cast({{ monetate_col(raw, 'sessions_loaded', 'bigint') }} as bigint) as sessions_loaded,
        cast({{ monetate_col(raw, 'rejected_lines', 'bigint') }} as bigint) as rejected_lines,
        {{ monetate_col(raw, 'status', 'varchar') }} as file_status,
        {{ monetate_col(raw, 'reason', 'varchar') }} as reason,
        {{ monetate_col(raw, 'sha256', 'varchar') }} as sha256,
        {{ monetate_col(raw, 'load_id', 'varchar') }} as file_load_id,
        {{ to_utc_timestamp(monetate_col(raw, 'loaded_at', 'timestamp')) }} as loaded_at,
        {{ monetate_col(raw, '_dlt_load_id', 'varchar') }} as load_id

    from source

)

select * from renamed
