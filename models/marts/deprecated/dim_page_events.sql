{#- Deprecated: the old name of page_events (docs/dbt.md "Mart names"); removed after 2027-06-01. -#}
select * from {{ ref('page_events') }}
