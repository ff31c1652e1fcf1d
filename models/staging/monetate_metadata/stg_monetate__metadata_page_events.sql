{#- One row per version of a page event (dlt scd2: a new version each time the API returns it changed). -#}
{%- set raw = monetate_raw_columns('metadata_page_events', 'monetate_metadata') -%}

with source as (

    {{ monetate_completed_rows('metadata_page_events', raw, 'monetate_metadata') }}

),

renamed as (

    select
        cast({{ monetate_col(raw, 'id', 'bigint') }} as bigint) as page_event_id,
        {{ monetate_col(raw, 'title', 'varchar') }} as page_event_title,
        {{ to_utc_timestamp(monetate_col(raw, '_dlt_valid_from', 'timestamp')) }} as valid_from,
        {{ to_utc_timestamp(monetate_col(raw, '_dlt_valid_to', 'timestamp')) }} as valid_to,
        case when {{ monetate_col(raw, '_dlt_valid_to', 'timestamp') }} is null then true else false end as is_current,
        {{ monetate_col(raw, '_dlt_id', 'varchar') }} as row_id,
        {{ monetate_col(raw, '_dlt_load_id', 'varchar') }} as load_id

    from source

)

select * from renamed
