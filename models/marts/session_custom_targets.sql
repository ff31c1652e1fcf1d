{{
  config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['loaded_at']}, {'columns': ['session_key']}, {'columns': ['session_date']}, {'columns': ['target_id']}]),
    dist='session_key',
    sort=['session_date', 'target_id'],
    pre_hook="{{ monetate_delete_affected_sessions() }}",
    post_hook="{{ monetate_refresh_names(ref('custom_targets'), 'target_id',
                                          ['target_title', 'is_personal_data']) }}"
  )
}}
{#-
  One row per (session, custom target) with the target's title. The value is exactly what the loader stored:
  for personal-data targets under `--pii-mode hash|drop` it is already a keyed hash or absent, and nothing here
  adds anything that could re-identify (no other source of the value is joined). `is_personal_data` tells the
  analyst which values are hashes. Facts incremental; titles refreshed on every build (macros/monetate_names.sql).
-#}
-- depends_on: {{ ref('int_monetate__sessions_deduped') }}

with targets as (

    select * from {{ ref('int_monetate__custom_targets') }}
    where {{ monetate_incremental_filter() }}

),

sessions as (

    select session_id, guid, session_date, session_start_at, is_converted, session_value, has_stealth, is_capped
    from {{ ref('int_monetate__sessions_enriched') }}
    where {{ monetate_incremental_filter() }}

),

titles as (

    select target_id, target_title, is_personal_data from {{ ref('custom_targets') }}

),

final as (

    select
        targets.session_id,
        {{ safe_cast_number('targets.target_id', 'bigint') }} as target_id,
        targets.session_key,
        titles.target_title,
        titles.is_personal_data,
        targets.target_value,
        targets.target_value_number,
        sessions.guid,
        sessions.session_date,
        sessions.session_start_at,
        sessions.is_converted,
        sessions.session_value,
        sessions.has_stealth,
        sessions.is_capped,
        targets.loaded_at

    from targets
    inner join sessions
        on targets.session_id = sessions.session_id
    left join titles
        on {{ safe_cast_number('targets.target_id', 'bigint') }} = titles.target_id

)

select {{ monetate_contract_columns() }} from final
