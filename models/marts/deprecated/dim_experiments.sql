{#- Deprecated: the old name of experiments (docs/dbt.md "Mart names"); removed after 2027-06-01. -#}
select * from {{ ref('experiments') }}
