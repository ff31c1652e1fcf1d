-- Conversion by experiment split, straight from offer_exposures (compile with `dbt compile -s split_conversion`).
-- converted_after_exposure counts sessions that purchased at or after first seeing the split.
select
    split_id,
    count(*) as sessions,
    sum(case when is_converted then 1 else 0 end) as converted_sessions,
    sum(case when purchased_after_exposure then 1 else 0 end) as converted_after_exposure,
    cast(sum(case when is_converted then 1 else 0 end) as decimal(18, 6)) / count(*) as conversion_rate,
    sum(session_value) as revenue,
    avg(page_views) as avg_page_views,
    avg(seconds_from_session_start) as avg_seconds_to_exposure
from {{ ref('offer_exposures') }}
group by split_id
order by sessions desc
