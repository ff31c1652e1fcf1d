{{
  config(
    materialized='table',
    contract=monetate_contract(),
    indexes=monetate_postgres_indexes([{'columns': ['experience_id']}, {'columns': ['split_id']}]),
    dist='even',
    sort=['experience_key', 'split_id']
  )
}}
{#-
  Session-level figures per (experience, split), the way the vendor's own experience reports count: every
  (non-stealth, non-capped by default) session that saw the split, with its whole-session outcome, and the
  variances from the vendor's *_ss fields (sum of squares per session). Use it to reconcile with the Monetate UI;
  decide on experiment_results: a visitor's sessions are not independent, so these intervals are too narrow.
-#}
{%- set z = experiment_z() -%}
with sessions as (

    select
        session_id,
        {{ stat_double('coalesce(page_views, 0)') }} as page_views,
        {{ stat_double('coalesce(page_views_ss, 0)') }} as page_views_ss,
        {{ stat_double('coalesce(time_on_site_seconds, 0)') }} as time_on_site,
        {{ stat_double('coalesce(time_on_site_ss, 0)') }} as time_on_site_ss,
        {{ stat_double('coalesce(session_value, 0)') }} as session_value,
        {{ stat_double('coalesce(session_value_ss, 0)') }} as session_value_ss,
        {{ stat_double('coalesce(purchase_value_ss, 0)') }} as purchase_value_ss,
        coalesce(purchase_count, 0) as purchase_count,
        case when is_converted then 1 else 0 end as converted
    from {{ ref('int_monetate__sessions_enriched') }}
    where 1 = 1
    {%- if var('experiment_exclude_stealth', true) %}
      and not coalesce(has_stealth, false)
    {%- endif %}
    {%- if var('experiment_exclude_capped', true) %}
      and not coalesce(is_capped, false)
    {%- endif %}

),

splits as (

    select * from {{ ref('splits') }}

),

seen as (

    select distinct offers.session_id, {{ safe_cast_number('offers.split_id', 'bigint') }} as split_id
    from {{ ref('int_monetate__offers') }} as offers

),

sums as (

    select
        case
            when splits.experience_id is not null then {{ dbt.cast('splits.experience_id', dbt.type_string()) }}
            else {{ dbt.concat(["'split-'", dbt.cast('seen.split_id', dbt.type_string())]) }}
        end as experience_key,
        splits.experience_id,
        seen.split_id,
        count(*) as n_sessions,
        sum(sessions.converted) as sum_converted,
        sum(sessions.purchase_count) as sum_purchases,
        sum(sessions.page_views) as sum_page_views,
        sum(sessions.page_views_ss) as sum_page_views_ss,
        sum(sessions.time_on_site) as sum_time_on_site_seconds,
        sum(sessions.time_on_site_ss) as sum_time_on_site_seconds_ss,
        sum(sessions.session_value) as sum_session_value,
        sum(sessions.session_value_ss) as sum_session_value_ss,
        sum(sessions.purchase_value_ss) as sum_purchase_value_ss
    from seen
    inner join sessions
        on seen.session_id = sessions.session_id
    left join splits
        on seen.split_id = splits.split_id
    where seen.split_id is not null
    group by 1, 2, 3

),

controls as (

    select experience_id, min(split_id) as control_split_id
    from splits
    where is_control and experience_id is not null
    group by experience_id

),

moments as {{ stat_materialized() }} (

    select
        sums.*,
        controls.control_split_id,
        {%- for side, rel in [('t', 'sums'), ('c', 'ctrl')] %}
        {{ stat_double(rel ~ '.n_sessions') }} as {{ side }}_n,
        {{ stat_double(rel ~ '.sum_converted') }} / nullif({{ rel }}.n_sessions, 0) as {{ side }}_conversion_rate,
        {%- for m, s, ss in [('page_views', 'sum_page_views', 'sum_page_views_ss'),
                             ('time_on_site_seconds', 'sum_time_on_site_seconds', 'sum_time_on_site_seconds_ss'),
                             ('session_value', 'sum_session_value', 'sum_session_value_ss')] %}
        {{ rel }}.{{ s }} / nullif({{ rel }}.n_sessions, 0) as {{ side }}_{{ m }},
        case when {{ rel }}.n_sessions >= 2
             then (case when (({{ rel }}.{{ ss }} - {{ rel }}.{{ s }} * {{ rel }}.{{ s }} / {{ rel }}.n_sessions)
                           / ({{ rel }}.n_sessions - 1.0)) < 0 then 0.0 else (({{ rel }}.{{ ss }} - {{ rel }}.{{ s }} * {{ rel }}.{{ s }} / {{ rel }}.n_sessions)
                           / ({{ rel }}.n_sessions - 1.0)) end) end as {{ side }}_{{ m }}_var{% if not loop.last %},{% endif %}
        {%- endfor %}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from sums
    left join controls
        on sums.experience_id = controls.experience_id
    left join sums as ctrl
        on ctrl.experience_key = sums.experience_key
       and ctrl.split_id = controls.control_split_id
       and ctrl.split_id <> sums.split_id

),

derived as {{ stat_materialized() }} (

    select
        moments.*,
        {%- for side in ['t', 'c'] %}
        sqrt((case when ({{ side }}_conversion_rate * (1.0 - {{ side }}_conversion_rate) / nullif({{ side }}_n, 0)) < 0 then 0.0 else ({{ side }}_conversion_rate * (1.0 - {{ side }}_conversion_rate) / nullif({{ side }}_n, 0)) end))
          as {{ side }}_conversion_rate_se,
        {%- for m in ['page_views', 'time_on_site_seconds', 'session_value'] %}
        sqrt({{ side }}_{{ m }}_var / nullif({{ side }}_n, 0)) as {{ side }}_{{ m }}_se{% if not (loop.last and side == 'c') %},{% endif %}
        {%- endfor %}
        {%- endfor %}
    from moments

),

compared as {{ stat_materialized() }} (

    select
        derived.*,
        {%- for m in ['conversion_rate', 'page_views', 'time_on_site_seconds', 'session_value'] %}
        t_{{ m }} - c_{{ m }} as {{ m }}_abs_lift,
        sqrt(t_{{ m }}_se * t_{{ m }}_se + c_{{ m }}_se * c_{{ m }}_se) as {{ m }}_se_diff,
        t_{{ m }} / nullif(c_{{ m }}, 0) - 1.0 as {{ m }}_rel_lift,
        (t_{{ m }} - c_{{ m }}) / nullif(sqrt(t_{{ m }}_se * t_{{ m }}_se + c_{{ m }}_se * c_{{ m }}_se), 0) as {{ m }}_z
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from derived

),

final as (

    select
        compared.experience_key,
        compared.experience_id,
        splits.experience_name,
        compared.split_id,
        splits.split_name,
        splits.is_control,
        compared.control_split_id,

        -- additive quantities
        compared.n_sessions,
        compared.sum_converted,
        compared.sum_purchases,
        compared.sum_page_views,
        compared.sum_page_views_ss,
        compared.sum_time_on_site_seconds,
        compared.sum_time_on_site_seconds_ss,
        compared.sum_session_value,
        compared.sum_session_value_ss,
        compared.sum_purchase_value_ss,

        -- per-split, per-session figures and the comparison with the control (z test, sessions as units)
        {%- for m in ['conversion_rate', 'page_views', 'time_on_site_seconds', 'session_value'] %}
        compared.t_{{ m }} as {{ m }},
        compared.t_{{ m }}_se as {{ m }}_se,
        compared.t_{{ m }} - {{ z }} * compared.t_{{ m }}_se as {{ m }}_ci_low,
        compared.t_{{ m }} + {{ z }} * compared.t_{{ m }}_se as {{ m }}_ci_high,
        compared.{{ m }}_abs_lift,
        compared.{{ m }}_se_diff,
        compared.{{ m }}_rel_lift,
        case when compared.{{ m }}_z is not null then {{ stat_normal_two_sided_p('compared.' ~ m ~ '_z') }} end
          as {{ m }}_p_value,
        {%- endfor %}
        compared.sum_session_value / nullif(compared.sum_purchases, 0) as purchase_value_mean,
        case when compared.sum_purchases >= 2
             then sqrt((case when ((compared.sum_purchase_value_ss
                   - compared.sum_session_value * compared.sum_session_value / compared.sum_purchases)
                   / (compared.sum_purchases - 1.0)) < 0 then 0.0 else ((compared.sum_purchase_value_ss
                   - compared.sum_session_value * compared.sum_session_value / compared.sum_purchases)
                   / (compared.sum_purchases - 1.0)) end)) end as purchase_value_sd
    from compared
    left join splits
        on compared.split_id = splits.split_id

)

select {{ monetate_contract_columns() }} from final
