{#- Deprecated: the old name of delivery_windows (docs/dbt.md "Mart names"); removed after 2027-06-01. -#}
select * from {{ ref('delivery_windows') }}
