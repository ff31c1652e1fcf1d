{#- dlt's load ledger. Not filtered on status: this model is where completion is looked up. -#}
with source as (

    select * from {{ source('monetate', '_dlt_loads') }}

),

renamed as (

    select
        load_id,
        schema_name,
        cast(status as integer) as load_status,
        case when status = 0 then true else false end as is_completed,
        {{ to_utc_timestamp('inserted_at') }} as loaded_at,
        schema_version_hash
    from source

)

select * from renamed
