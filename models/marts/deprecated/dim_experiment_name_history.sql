{#- Deprecated: the old name of experiment_name_history (docs/dbt.md "Mart names"); removed after 2027-06-01. -#}
select * from {{ ref('experiment_name_history') }}
