{#- Deprecated: the old name of offer_exposures (docs/dbt.md "Mart names"); removed after 2027-06-01. -#}
select * from {{ ref('offer_exposures') }}
