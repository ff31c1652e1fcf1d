{#- One row per version of a Monetate account (dlt scd2: a new version each time the API returns it changed). -#}
{%- set raw = monetate_raw_columns('metadata_accounts', 'monetate_metadata') -%}

with source as (

    {{ monetate_completed_rows('metadata_accounts', raw, 'monetate_metadata') }}

),

renamed as (

    select
        cast({{ monetate_col(raw, 'id', 'bigint') }} as bigint) as account_id,
        {{ monetate_col(raw, 'name', 'varchar') }} as account_name,
        {{ monetate_col(raw, 'type', 'varchar') }} as account_type,
        {{ monetate_col(raw, 'kind', 'varchar') }} as account_kind,
        {{ monetate_col(raw, 'channel', 'varchar') }} as channel,
        {{ monetate_bool_col(raw, 'archived') }} as is_archived,
        {{ monetate_col(raw, 'preview_url', 'varchar') }} as preview_url,
        {{ to_utc_timestamp(monetate_col(raw, '_dlt_valid_from', 'timestamp')) }} as valid_from,
        {{ to_utc_timestamp(monetate_col(raw, '_dlt_valid_to', 'timestamp')) }} as valid_to,
        case when {{ monetate_col(raw, '_dlt_valid_to', 'timestamp') }} is null then true else false end as is_current,
        {{ monetate_col(raw, '_dlt_id', 'varchar') }} as row_id,
        {{ monetate_col(raw, '_dlt_load_id', 'varchar') }} as load_id

    from source

)

select * from renamed
