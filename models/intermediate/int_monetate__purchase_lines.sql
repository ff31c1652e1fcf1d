{#- Child rows of the surviving session version only (joined on the root row id), so nothing downstream is doubled. -#}
with child as (

    select * from {{ ref('stg_monetate__purchase_lines') }}

),

sessions as (

    select session_row_id, session_id, session_key, loaded_at, version_loaded_at
    from {{ ref('int_monetate__sessions_deduped') }}

),

final as (

    select
        child.row_id,
        child.session_row_id,
        sessions.session_id,
        sessions.session_key,
        child.list_index,
        child.purchase_id,
        child.purchase_value,
        child.purchased_at,
        child.purchased_ms,
        child.load_id,
        sessions.loaded_at,
        sessions.version_loaded_at
    from child
    inner join sessions
        on child.session_row_id = sessions.session_row_id

)

select * from final
