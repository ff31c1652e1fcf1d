{#- Deprecated: the old name of splits (docs/dbt.md "Mart names"); removed after 2027-06-01. -#}
select * from {{ ref('splits') }}
