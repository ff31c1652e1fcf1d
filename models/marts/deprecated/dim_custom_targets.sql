{#- Deprecated: the old name of custom_targets (docs/dbt.md "Mart names"); removed after 2027-06-01. -#}
select * from {{ ref('custom_targets') }}
