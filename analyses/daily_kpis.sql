-- Sessions, bounces, conversions and revenue per day, device and country (the analysts' main question).
select
    session_date,
    device_type,
    country_code,
    country_name,
    count(*) as sessions,
    sum(case when is_bounce then 1 else 0 end) as bounces,
    sum(case when is_converted then 1 else 0 end) as converted_sessions,
    sum(session_value) as revenue,
    sum(case when is_capped then 1 else 0 end) as capped_sessions
from {{ ref('sessions') }}
group by session_date, device_type, country_code, country_name
order by session_date, sessions desc
