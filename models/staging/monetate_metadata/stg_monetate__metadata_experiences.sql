{#- One row per version of a experience (experience summary) (dlt scd2: a new version each time the API returns it changed). -#}
{%- set raw = monetate_raw_columns('metadata_experiences', 'monetate_metadata') -%}

with source as (

    {{ monetate_completed_rows('metadata_experiences', raw, 'monetate_metadata') }}

),

renamed as (

    select
        cast({{ monetate_col(raw, 'id', 'bigint') }} as bigint) as experience_id,
        {{ monetate_col(raw, 'experience_name', 'varchar') }} as experience_name,
        {{ monetate_col(raw, 'experience_type', 'varchar') }} as experience_type,
        {{ monetate_col(raw, 'status', 'varchar') }} as status,
        {{ monetate_bool_col(raw, 'archived') }} as is_archived,
        {{ to_utc_timestamp(monetate_col(raw, 'create_time', 'timestamp')) }} as created_at,
        {{ to_utc_timestamp(monetate_col(raw, 'start_time', 'timestamp')) }} as started_at,
        {{ to_utc_timestamp(monetate_col(raw, 'end_time', 'timestamp')) }} as ended_at,
        {{ monetate_col(raw, 'integration_type', 'varchar') }} as integration_type,
        {{ monetate_col(raw, 'account_domain', 'varchar') }} as account_domain,
        {{ to_utc_timestamp(monetate_col(raw, '_dlt_valid_from', 'timestamp')) }} as valid_from,
        {{ to_utc_timestamp(monetate_col(raw, '_dlt_valid_to', 'timestamp')) }} as valid_to,
        case when {{ monetate_col(raw, '_dlt_valid_to', 'timestamp') }} is null then true else false end as is_current,
        {{ monetate_col(raw, '_dlt_id', 'varchar') }} as row_id,
        {{ monetate_col(raw, '_dlt_load_id', 'varchar') }} as load_id

    from source

)

select * from renamed
