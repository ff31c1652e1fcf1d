{{
  config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['loaded_at']}, {'columns': ['session_key']}, {'columns': ['session_date']}, {'columns': ['product_id']}]),
    dist='session_key',
    sort=['session_date', 'product_id'],
    pre_hook="{{ monetate_delete_affected_sessions() }}"
  )
}}
-- depends_on: {{ ref('int_monetate__sessions_deduped') }}

with items as (

    select * from {{ ref('int_monetate__purchase_line_items') }}
    where {{ monetate_incremental_filter() }}

),

purchase_lines as (

    select * from {{ ref('int_monetate__purchase_lines') }}
    where {{ monetate_incremental_filter() }}

),

sessions as (

    select * from {{ ref('int_monetate__sessions_enriched') }}
    where {{ monetate_incremental_filter() }}

),

final as (

    select
        {{ dbt.concat([
            'items.session_id', "'|'", 'items.purchase_id', "'|'", dbt.cast('items.item_index', dbt.type_string())
        ]) }} as purchase_item_key,
        items.session_id,
        items.session_key,
        items.purchase_id,
        items.item_index,
        purchase_lines.purchased_at,
        purchase_lines.purchase_value,
        items.product_id,
        items.sku,
        items.unit_price,
        items.quantity,
        cast(items.unit_price * items.quantity as {{ money_type() }}) as line_value,
        sessions.session_date,
        sessions.device_type,
        sessions.country_code,
        items.loaded_at

    from items
    inner join purchase_lines
        on items.purchase_line_row_id = purchase_lines.row_id
    inner join sessions
        on items.session_id = sessions.session_id

)

select {{ monetate_contract_columns() }} from final
