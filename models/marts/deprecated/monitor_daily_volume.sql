{#- Deprecated: the old name of session_volumes_daily (docs/dbt.md "Mart names"); removed after 2027-06-01. -#}
select * from {{ ref('session_volumes_daily') }}
