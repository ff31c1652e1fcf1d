{#-
  Every completed session line (all versions, all deliveries) with the load time of the load that
  wrote it and the session key (guid + start time) that the deduplication groups on.
  Incremental marts use this model to find the sessions touched by new loads.
-#}
with sessions as (

    select * from {{ ref('stg_monetate__sessions') }}

),

loads as (

    select load_id, loaded_at from {{ ref('stg_monetate__loads') }}

),

joined as (

    select
        sessions.*,
        loads.loaded_at,
        {{ dbt.concat(['sessions.guid', "'|'", dbt.cast('sessions.start_time_ms', dbt.type_string())]) }} as session_key
    from sessions
    left join loads
        on sessions.load_id = loads.load_id

)

select * from joined
