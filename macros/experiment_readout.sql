{#-
  The experiment readout (experiment_results, experiment_results_daily) in named steps, each a CTE or two:

    experiment_readout_sums        per-unit values -> additive per-split sums (the `sums` CTE)
    experiment_readout_srm         sample-ratio check per experience (srm_arms .. srm)
    experiment_readout_arms        each split next to its experience's control, double-typed moments (controls, arms)
    experiment_readout_moments     means, sample variances, covariances, CUPED theta (moments)
    experiment_readout_arm_errors  per-split standard errors, average order value, CUPED-adjusted means (derived)
    experiment_readout_lifts       differences, relative lifts and their standard errors, test statistics (compared)
    experiment_readout_p_values    p-values from the statistics macros (tested)
    experiment_readout_guards      experience totals the warnings need (experience_totals)
    experiment_readout_columns     intervals, significance flags, warnings, the output columns (final)

  experiment_readout() strings them together in that order. Formulas: macros/experiments.sql and
  docs/experiment_readout.md.
-#}

{#- metrics compared as means (Welch) and the CUPED pairs (metric, outcome, pre-period covariate) -#}
{% macro experiment_readout_means() -%}
  {{ return([('revenue_per_visitor', 'revenue'), ('orders_per_visitor', 'orders'), ('sessions_per_visitor', 'sessions')]) }}
{%- endmacro %}
{% macro experiment_readout_cuped() -%}
  {{ return([('revenue_per_visitor', 'revenue', 'pre_revenue'), ('conversion_rate', 'converted', 'pre_converted')]) }}
{%- endmacro %}

{#-
  The readout. visitors: relation with experience_key, experience_id, split_id, the `keys`, and per visitor
  converted, orders, revenue, sessions, page_views, time_on_site_seconds, pre_converted, pre_revenue.
  splits: dim_splits. multi: relation with experience_key, the `keys`, multi_split_visitors.
-#}
{% macro experiment_readout(visitors, splits, multi, keys=[]) -%}
{{ experiment_readout_sums(visitors, keys) }},
{{ experiment_readout_srm(splits, keys) }},
{{ experiment_readout_arms(splits, keys) }},
{{ experiment_readout_moments() }},
{{ experiment_readout_arm_errors() }},
{{ experiment_readout_lifts() }},
{{ experiment_readout_p_values() }},
{{ experiment_readout_guards(keys) }},
{{ experiment_readout_columns(multi, keys) }}
{%- endmacro %}

{#- per-split sums over the visitors (additive: they sum across days, splits, experiences) -#}
{% macro experiment_readout_sums(visitors, keys=[]) -%}
{%- set kcols = keys | join(', ') -%}
{%- set kc = (kcols ~ ', ') if keys else '' -%}
sums as (

    select
        experience_key,
        max(experience_id) as experience_id,
        split_id,
        {{ kc }}
        count(*) as n_visitors,
        sum(converted) as sum_converted,
        sum(orders) as sum_orders,
        sum(orders * orders) as sum_orders_sq,
        sum({{ _xd('revenue') }}) as sum_revenue,
        sum({{ _xd('revenue') }} * {{ _xd('revenue') }}) as sum_revenue_sq,
        sum({{ _xd('revenue') }} * orders) as sum_revenue_x_orders,
        sum(sessions) as sum_sessions,
        sum(sessions * sessions) as sum_sessions_sq,
        sum(page_views) as sum_page_views,
        sum({{ _xd('page_views') }} * page_views) as sum_page_views_sq,
        sum(time_on_site_seconds) as sum_time_on_site_seconds,
        sum({{ _xd('time_on_site_seconds') }} * time_on_site_seconds) as sum_time_on_site_seconds_sq,
        sum(pre_converted) as sum_pre_converted,
        sum(converted * pre_converted) as sum_converted_x_pre_converted,
        sum({{ _xd('pre_revenue') }}) as sum_pre_revenue,
        sum({{ _xd('pre_revenue') }} * {{ _xd('pre_revenue') }}) as sum_pre_revenue_sq,
        sum({{ _xd('revenue') }} * {{ _xd('pre_revenue') }}) as sum_revenue_x_pre_revenue
    from {{ visitors }}
    group by experience_key, split_id{% if keys %}, {{ kcols }}{% endif %}

)
{%- endmacro %}

{#- chi-square of visitors per split against the metadata's traffic shares, per experience -#}
{% macro experiment_readout_srm(splits, keys=[]) -%}
{%- set kcols = keys | join(', ') -%}
{%- set kc = (kcols ~ ', ') if keys else '' -%}
srm_arms as (

    {#- every split of the experience with a traffic share (also those no visitor reached) -#}
    select
        keyset.experience_key,
        {% for k in keys %}keyset.{{ k }}, {% endfor %}
        {{ _xd('coalesce(sums.n_visitors, 0)') }} as observed,
        {{ _xd(splits ~ '.traffic_share') }}
          / sum({{ _xd(splits ~ '.traffic_share') }}) over (
              partition by keyset.experience_key{% for k in keys %}, keyset.{{ k }}{% endfor %}) as expected_share
    from (select distinct experience_key, experience_id{% for k in keys %}, {{ k }}{% endfor %} from sums
          where experience_id is not null) as keyset
    inner join {{ splits }}
        on keyset.experience_id = {{ splits }}.experience_id
       and {{ splits }}.traffic_share > 0
    left join sums
        on sums.experience_key = keyset.experience_key
       and sums.split_id = {{ splits }}.split_id
       {% for k in keys %}and sums.{{ k }} = keyset.{{ k }} {% endfor %}

),

srm_totals as (

    select
        experience_key,
        {{ kc }}
        observed,
        expected_share,
        sum(observed) over (partition by experience_key{% for k in keys %}, {{ k }}{% endfor %}) as total
    from srm_arms

),

srm_stat as {{ stat_materialized() }} (

    select
        experience_key,
        {{ kc }}
        sum((observed - total * expected_share) * (observed - total * expected_share)
            / nullif(total * expected_share, 0)) as srm_chi_square,
        count(*) - 1 as srm_df
    from srm_totals
    group by experience_key{% if keys %}, {{ kcols }}{% endif %}

),

srm as (

    select
        experience_key,
        {{ kc }}
        srm_chi_square,
        srm_df,
        case when srm_df >= 1 then {{ stat_chi2_sf('srm_chi_square', 'srm_df') }} end as srm_p_value
    from srm_stat

)
{%- endmacro %}

{#- each split with its metadata and the double-typed sums of itself (t_) and of its control (c_) -#}
{% macro experiment_readout_arms(splits, keys=[]) -%}
{%- set kcols = keys | join(', ') -%}
{%- set kc = (kcols ~ ', ') if keys else '' -%}
controls as (

    {#- the experience's control split (the lowest id if the metadata flags several) -#}
    select experience_id, min(split_id) as control_split_id
    from {{ splits }}
    where is_control and experience_id is not null
    group by experience_id

),

arms as {{ stat_materialized() }} (

    select
        sums.*,
        {{ splits }}.experience_name,
        {{ splits }}.split_name,
        {{ splits }}.is_control,
        {{ splits }}.traffic_share,
        controls.control_split_id,
        {#- double-typed moments of this arm (t_) and of its experience's control (c_) -#}
        {%- for side, rel in [('t', 'sums'), ('c', 'ctrl')] %}
        {{ _xd(rel ~ '.n_visitors') }} as {{ side }}_n,
        {{ _xd(rel ~ '.sum_converted') }} as {{ side }}_s_converted,
        {{ _xd(rel ~ '.sum_converted') }} as {{ side }}_ss_converted,
        {{ _xd(rel ~ '.sum_orders') }} as {{ side }}_s_orders,
        {{ _xd(rel ~ '.sum_orders_sq') }} as {{ side }}_ss_orders,
        {{ rel }}.sum_revenue as {{ side }}_s_revenue,
        {{ rel }}.sum_revenue_sq as {{ side }}_ss_revenue,
        {{ rel }}.sum_revenue_x_orders as {{ side }}_sxy_aov,
        {{ _xd(rel ~ '.sum_sessions') }} as {{ side }}_s_sessions,
        {{ _xd(rel ~ '.sum_sessions_sq') }} as {{ side }}_ss_sessions,
        {{ _xd(rel ~ '.sum_pre_converted') }} as {{ side }}_s_pre_converted,
        {{ _xd(rel ~ '.sum_pre_converted') }} as {{ side }}_ss_pre_converted,
        {{ _xd(rel ~ '.sum_converted_x_pre_converted') }} as {{ side }}_sxy_converted,
        {{ rel }}.sum_pre_revenue as {{ side }}_s_pre_revenue,
        {{ rel }}.sum_pre_revenue_sq as {{ side }}_ss_pre_revenue,
        {{ rel }}.sum_revenue_x_pre_revenue as {{ side }}_sxy_revenue
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from sums
    left join {{ splits }}
        on sums.split_id = {{ splits }}.split_id
    left join controls
        on sums.experience_id = controls.experience_id
    left join sums as ctrl
        on ctrl.experience_key = sums.experience_key
       and ctrl.split_id = controls.control_split_id
       and ctrl.split_id <> sums.split_id
       {% for k in keys %}and ctrl.{{ k }} = sums.{{ k }} {% endfor %}

)
{%- endmacro %}

{#- per-visitor means, sample variances and covariances of both sides; CUPED theta -#}
{% macro experiment_readout_moments() -%}
{%- set cuped = experiment_readout_cuped() -%}
moments as {{ stat_materialized() }} (

    select
        arms.*,
        {%- for side in ['t', 'c'] %}
        {#- per-visitor means and sample variances of each outcome -#}
        {%- for y in ['converted', 'orders', 'revenue', 'sessions', 'pre_converted', 'pre_revenue'] %}
        {{ side }}_s_{{ y }} / nullif({{ side }}_n, 0) as {{ side }}_m_{{ y }},
        {{ _svar(side ~ '_n', side ~ '_s_' ~ y, side ~ '_ss_' ~ y) }} as {{ side }}_v_{{ y }},
        {%- endfor %}
        {{ _scov(side ~ '_n', side ~ '_s_revenue', side ~ '_s_orders', side ~ '_sxy_aov') }} as {{ side }}_cov_aov,
        {{ _scov(side ~ '_n', side ~ '_s_pre_revenue', side ~ '_s_revenue', side ~ '_sxy_revenue') }} as {{ side }}_cov_revenue,
        {{ _scov(side ~ '_n', side ~ '_s_pre_converted', side ~ '_s_converted', side ~ '_sxy_converted') }} as {{ side }}_cov_converted,
        {#- conversion: Bernoulli variance p(1-p) -#}
        ({{ side }}_s_converted / nullif({{ side }}_n, 0)) * (1.0 - {{ side }}_s_converted / nullif({{ side }}_n, 0))
          as {{ side }}_pv_converted,
        {%- endfor %}
        {#- CUPED theta, pooled over this arm and the control -#}
        {%- for metric, y, x in cuped %}
        coalesce(
          ((t_sxy_{{ y }} + c_sxy_{{ y }}) - (t_s_{{ x }} + c_s_{{ x }}) * (t_s_{{ y }} + c_s_{{ y }}) / nullif(t_n + c_n, 0))
          / nullif((t_ss_{{ x }} + c_ss_{{ x }}) - (t_s_{{ x }} + c_s_{{ x }}) * (t_s_{{ x }} + c_s_{{ x }}) / nullif(t_n + c_n, 0), 0),
          0.0) as theta_{{ y }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from arms

)
{%- endmacro %}

{#- per-split standard errors, average order value (delta method), CUPED-adjusted means and variances -#}
{% macro experiment_readout_arm_errors() -%}
{%- set means = experiment_readout_means() -%}
{%- set cuped = experiment_readout_cuped() -%}
derived as {{ stat_materialized() }} (

    select
        moments.*,
        {#- per-arm figures -#}
        {%- for side in ['t', 'c'] %}
        sqrt((case when ({{ side }}_pv_converted / nullif({{ side }}_n, 0)) < 0 then 0.0 else ({{ side }}_pv_converted / nullif({{ side }}_n, 0)) end)) as {{ side }}_se_conversion_rate,
        {%- for metric, y in means %}
        sqrt((case when ({{ side }}_v_{{ y }} / nullif({{ side }}_n, 0)) < 0 then 0.0 else ({{ side }}_v_{{ y }} / nullif({{ side }}_n, 0)) end)) as {{ side }}_se_{{ metric }},
        {%- endfor %}
        {{ side }}_s_revenue / nullif({{ side }}_s_orders, 0) as {{ side }}_m_aov,
        sqrt((case when ((
              {{ side }}_v_revenue / nullif({{ side }}_m_orders * {{ side }}_m_orders, 0)
            - 2.0 * ({{ side }}_s_revenue / nullif({{ side }}_s_orders, 0)) * {{ side }}_cov_aov
                  / nullif({{ side }}_m_orders * {{ side }}_m_orders, 0)
            + ({{ side }}_s_revenue / nullif({{ side }}_s_orders, 0)) * ({{ side }}_s_revenue / nullif({{ side }}_s_orders, 0))
                  * {{ side }}_v_orders / nullif({{ side }}_m_orders * {{ side }}_m_orders, 0)
          ) / nullif({{ side }}_n, 0)) < 0 then 0.0 else ((
              {{ side }}_v_revenue / nullif({{ side }}_m_orders * {{ side }}_m_orders, 0)
            - 2.0 * ({{ side }}_s_revenue / nullif({{ side }}_s_orders, 0)) * {{ side }}_cov_aov
                  / nullif({{ side }}_m_orders * {{ side }}_m_orders, 0)
            + ({{ side }}_s_revenue / nullif({{ side }}_s_orders, 0)) * ({{ side }}_s_revenue / nullif({{ side }}_s_orders, 0))
                  * {{ side }}_v_orders / nullif({{ side }}_m_orders * {{ side }}_m_orders, 0)
          ) / nullif({{ side }}_n, 0)) end)) as {{ side }}_se_aov,
        {%- for metric, y, x in cuped %}
        {{ side }}_m_{{ y }} - theta_{{ y }} * {{ side }}_m_{{ x }} as {{ side }}_adj_{{ y }},
        (case when ({{ side }}_v_{{ y }} + theta_{{ y }} * theta_{{ y }} * {{ side }}_v_{{ x }}
                 - 2.0 * theta_{{ y }} * {{ side }}_cov_{{ y }}) < 0 then 0.0 else ({{ side }}_v_{{ y }} + theta_{{ y }} * theta_{{ y }} * {{ side }}_v_{{ x }}
                 - 2.0 * theta_{{ y }} * {{ side }}_cov_{{ y }}) end) as {{ side }}_cuped_v_{{ y }},
        {%- endfor %}
        {%- endfor %}
        {#- pooled proportion for the two-proportion z test -#}
        (t_s_converted + c_s_converted) / nullif(t_n + c_n, 0) as pooled_conversion_rate
    from moments

)
{%- endmacro %}

{#- differences, relative lifts (delta method), test statistics, Welch df, CUPED lifts -#}
{% macro experiment_readout_lifts() -%}
{%- set means = experiment_readout_means() -%}
{%- set cuped = experiment_readout_cuped() -%}
compared as {{ stat_materialized() }} (

    select
        derived.*,
        {#- mean metrics and conversion: difference, its SE, the relative lift's SE (delta method) -#}
        {%- for metric, m, se in [('conversion_rate', 'm_converted', 'se_conversion_rate'),
                                  ('revenue_per_visitor', 'm_revenue', 'se_revenue_per_visitor'),
                                  ('orders_per_visitor', 'm_orders', 'se_orders_per_visitor'),
                                  ('sessions_per_visitor', 'm_sessions', 'se_sessions_per_visitor'),
                                  ('average_order_value', 'm_aov', 'se_aov')] %}
        t_{{ m }} - c_{{ m }} as {{ metric }}_abs_lift,
        sqrt(t_{{ se }} * t_{{ se }} + c_{{ se }} * c_{{ se }}) as {{ metric }}_se_diff,
        t_{{ m }} / nullif(c_{{ m }}, 0) - 1.0 as {{ metric }}_rel_lift,
        sqrt((case when (t_{{ se }} * t_{{ se }} / nullif(c_{{ m }} * c_{{ m }}, 0)
             + c_{{ se }} * c_{{ se }} * t_{{ m }} * t_{{ m }} / nullif(c_{{ m }} * c_{{ m }} * c_{{ m }} * c_{{ m }}, 0)) < 0 then 0.0 else (t_{{ se }} * t_{{ se }} / nullif(c_{{ m }} * c_{{ m }}, 0)
             + c_{{ se }} * c_{{ se }} * t_{{ m }} * t_{{ m }} / nullif(c_{{ m }} * c_{{ m }} * c_{{ m }} * c_{{ m }}, 0)) end))
          as {{ metric }}_rel_lift_se,
        {%- endfor %}
        {#- test statistics -#}
        (t_m_converted - c_m_converted) / nullif(sqrt((case when (pooled_conversion_rate * (1.0 - pooled_conversion_rate) * (1.0 / nullif(t_n, 0) + 1.0 / nullif(c_n, 0))) < 0 then 0.0 else (pooled_conversion_rate * (1.0 - pooled_conversion_rate) * (1.0 / nullif(t_n, 0) + 1.0 / nullif(c_n, 0))) end)), 0)
          as conversion_rate_z,
        {%- for metric, y in means %}
        (t_m_{{ y }} - c_m_{{ y }}) / nullif(sqrt(t_se_{{ metric }} * t_se_{{ metric }} + c_se_{{ metric }} * c_se_{{ metric }}), 0)
          as {{ metric }}_t,
        (t_se_{{ metric }} * t_se_{{ metric }} + c_se_{{ metric }} * c_se_{{ metric }})
          * (t_se_{{ metric }} * t_se_{{ metric }} + c_se_{{ metric }} * c_se_{{ metric }})
          / nullif(
              power(t_se_{{ metric }}, 4) / nullif(t_n - 1.0, 0) + power(c_se_{{ metric }}, 4) / nullif(c_n - 1.0, 0), 0)
          as {{ metric }}_welch_df,
        {%- endfor %}
        (t_m_aov - c_m_aov) / nullif(sqrt(t_se_aov * t_se_aov + c_se_aov * c_se_aov), 0) as average_order_value_z,
        {#- CUPED -#}
        {%- for metric, y, x in cuped %}
        t_adj_{{ y }} - c_adj_{{ y }} as {{ metric }}_cuped_abs_lift,
        sqrt(t_cuped_v_{{ y }} / nullif(t_n, 0) + c_cuped_v_{{ y }} / nullif(c_n, 0)) as {{ metric }}_cuped_se_diff,
        (t_adj_{{ y }} - c_adj_{{ y }}) / nullif(c_m_{{ y }}, 0) as {{ metric }}_cuped_rel_lift,
        sqrt((case when (t_cuped_v_{{ y }} / nullif(t_n * c_m_{{ y }} * c_m_{{ y }}, 0)
          + (c_v_{{ y }} * t_m_{{ y }} * t_m_{{ y }} / nullif(c_m_{{ y }} * c_m_{{ y }}, 0)
             - 2.0 * theta_{{ y }} * c_cov_{{ y }} * t_m_{{ y }} / nullif(c_m_{{ y }}, 0)
             + theta_{{ y }} * theta_{{ y }} * c_v_{{ x }}) / nullif(c_n * c_m_{{ y }} * c_m_{{ y }}, 0)) < 0 then 0.0 else (t_cuped_v_{{ y }} / nullif(t_n * c_m_{{ y }} * c_m_{{ y }}, 0)
          + (c_v_{{ y }} * t_m_{{ y }} * t_m_{{ y }} / nullif(c_m_{{ y }} * c_m_{{ y }}, 0)
             - 2.0 * theta_{{ y }} * c_cov_{{ y }} * t_m_{{ y }} / nullif(c_m_{{ y }}, 0)
             + theta_{{ y }} * theta_{{ y }} * c_v_{{ x }}) / nullif(c_n * c_m_{{ y }} * c_m_{{ y }}, 0)) end))
          as {{ metric }}_cuped_rel_lift_se,
        1.0 - (t_cuped_v_{{ y }} / nullif(t_n, 0) + c_cuped_v_{{ y }} / nullif(c_n, 0))
            / nullif(t_v_{{ y }} / nullif(t_n, 0) + c_v_{{ y }} / nullif(c_n, 0), 0) as {{ metric }}_cuped_variance_reduction,
        {%- endfor %}
        1 as _end_of_compared
    from derived

)
{%- endmacro %}

{#- p-values of the statistics above -#}
{% macro experiment_readout_p_values() -%}
{%- set means = experiment_readout_means() -%}
{%- set cuped = experiment_readout_cuped() -%}
tested as {{ stat_materialized() }} (

    select
        compared.*,
        case when conversion_rate_z is not null then {{ stat_normal_two_sided_p('conversion_rate_z') }} end
          as conversion_rate_p_value,
        {%- for metric, y in means %}
        case when {{ metric }}_t is not null and {{ metric }}_welch_df > 0
             then {{ stat_t_two_sided_p(metric ~ '_t', metric ~ '_welch_df') }} end as {{ metric }}_p_value,
        {%- endfor %}
        case when average_order_value_z is not null then {{ stat_normal_two_sided_p('average_order_value_z') }} end
          as average_order_value_p_value,
        {%- for metric, y, x in cuped %}
        case when {{ metric }}_cuped_se_diff > 0
             then {{ stat_normal_two_sided_p('(' ~ metric ~ '_cuped_abs_lift / ' ~ metric ~ '_cuped_se_diff)') }} end
          as {{ metric }}_cuped_p_value{% if not loop.last %},{% endif %}
        {%- endfor %}
    from compared

)
{%- endmacro %}

{#- experience totals the warnings need -#}
{% macro experiment_readout_guards(keys=[]) -%}
{%- set kcols = keys | join(', ') -%}
{%- set kc = (kcols ~ ', ') if keys else '' -%}
experience_totals as (

    select
        sums.experience_key,
        {{ kc }}
        sum(sums.n_visitors) as experience_visitors,
        min(sums.n_visitors) as min_split_visitors
    from sums
    group by sums.experience_key{% if keys %}, {{ kcols }}{% endif %}

)
{%- endmacro %}

{#- the output: additive sums, per-split figures and intervals, comparisons, CUPED, SRM, warnings -#}
{% macro experiment_readout_columns(multi, keys=[]) -%}
{%- set z = stat_z_975() -%}
{%- set cuped = experiment_readout_cuped() -%}
final as (

    select
        tested.experience_key,
        tested.experience_id,
        tested.experience_name,
        tested.split_id,
        tested.split_name,
        {% for k in keys %}tested.{{ k }},
        {% endfor -%}
        tested.is_control,
        tested.control_split_id,
        tested.traffic_share,

        -- additive quantities (sum them across rows, then derive; see docs/experiment_readout.md)
        tested.n_visitors,
        tested.sum_converted,
        tested.sum_orders,
        tested.sum_orders_sq,
        tested.sum_revenue,
        tested.sum_revenue_sq,
        tested.sum_revenue_x_orders,
        tested.sum_sessions,
        tested.sum_sessions_sq,
        tested.sum_page_views,
        tested.sum_page_views_sq,
        tested.sum_time_on_site_seconds,
        tested.sum_time_on_site_seconds_sq,
        tested.sum_pre_converted,
        tested.sum_converted_x_pre_converted,
        tested.sum_pre_revenue,
        tested.sum_pre_revenue_sq,
        tested.sum_revenue_x_pre_revenue,
        coalesce(multi.multi_split_visitors, 0) as experience_multi_split_visitors,
        experience_totals.experience_visitors,

        -- per-split figures
        {%- for metric, m, sd, se in [('conversion_rate', 't_m_converted', 'sqrt((case when (t_pv_converted) < 0 then 0.0 else (t_pv_converted) end))', 't_se_conversion_rate'),
                                      ('revenue_per_visitor', 't_m_revenue', 'sqrt(t_v_revenue)', 't_se_revenue_per_visitor'),
                                      ('orders_per_visitor', 't_m_orders', 'sqrt(t_v_orders)', 't_se_orders_per_visitor'),
                                      ('sessions_per_visitor', 't_m_sessions', 'sqrt(t_v_sessions)', 't_se_sessions_per_visitor'),
                                      ('average_order_value', 't_m_aov', 'null', 't_se_aov')] %}
        tested.{{ m }} as {{ metric }},
        {%- if sd != 'null' %}
        {{ sd }} as {{ metric }}_sd,
        {%- endif %}
        tested.{{ se }} as {{ metric }}_se,
        tested.{{ m }} - {{ z }} * tested.{{ se }} as {{ metric }}_ci_low,
        tested.{{ m }} + {{ z }} * tested.{{ se }} as {{ metric }}_ci_high,
        {%- endfor %}

        -- against the control
        {%- for metric in ['conversion_rate', 'revenue_per_visitor', 'orders_per_visitor', 'sessions_per_visitor', 'average_order_value'] %}
        tested.{{ metric }}_abs_lift,
        tested.{{ metric }}_se_diff,
        tested.{{ metric }}_abs_lift - {{ z }} * tested.{{ metric }}_se_diff as {{ metric }}_abs_lift_ci_low,
        tested.{{ metric }}_abs_lift + {{ z }} * tested.{{ metric }}_se_diff as {{ metric }}_abs_lift_ci_high,
        tested.{{ metric }}_rel_lift,
        tested.{{ metric }}_rel_lift - {{ z }} * tested.{{ metric }}_rel_lift_se as {{ metric }}_rel_lift_ci_low,
        tested.{{ metric }}_rel_lift + {{ z }} * tested.{{ metric }}_rel_lift_se as {{ metric }}_rel_lift_ci_high,
        {%- if metric in ['revenue_per_visitor', 'orders_per_visitor', 'sessions_per_visitor'] %}
        tested.{{ metric }}_welch_df,
        {%- endif %}
        tested.{{ metric }}_p_value,
        case when tested.{{ metric }}_p_value is null then null
             when tested.{{ metric }}_p_value < 0.05 then true else false end as {{ metric }}_is_significant,
        {%- endfor %}

        -- CUPED (pre-exposure outcome as covariate)
        {%- for metric, y, x in cuped %}
        case when tested.control_split_id is not null and tested.c_n is not null then tested.theta_{{ y }} end
          as {{ metric }}_cuped_theta,
        tested.{{ metric }}_cuped_abs_lift,
        tested.{{ metric }}_cuped_se_diff,
        tested.{{ metric }}_cuped_abs_lift - {{ z }} * tested.{{ metric }}_cuped_se_diff as {{ metric }}_cuped_abs_lift_ci_low,
        tested.{{ metric }}_cuped_abs_lift + {{ z }} * tested.{{ metric }}_cuped_se_diff as {{ metric }}_cuped_abs_lift_ci_high,
        tested.{{ metric }}_cuped_rel_lift,
        tested.{{ metric }}_cuped_rel_lift - {{ z }} * tested.{{ metric }}_cuped_rel_lift_se as {{ metric }}_cuped_rel_lift_ci_low,
        tested.{{ metric }}_cuped_rel_lift + {{ z }} * tested.{{ metric }}_cuped_rel_lift_se as {{ metric }}_cuped_rel_lift_ci_high,
        tested.{{ metric }}_cuped_p_value,
        case when tested.{{ metric }}_cuped_p_value is null then null
             when tested.{{ metric }}_cuped_p_value < 0.05 then true else false end as {{ metric }}_cuped_is_significant,
        tested.{{ metric }}_cuped_variance_reduction,
        {%- endfor %}

        -- sample ratio mismatch (per experience)
        srm.srm_chi_square,
        srm.srm_df,
        srm.srm_p_value,
        case when srm.srm_p_value is null then null
             when srm.srm_p_value < 0.001 then true else false end as srm_detected,
        nullif(rtrim(
               case when srm.srm_p_value < 0.001 then 'sample ratio mismatch: do not trust this experience; ' else '' end
            || case when tested.control_split_id is null then 'no control split; ' else '' end
            || case when experience_totals.min_split_visitors < 100 then 'fewer than 100 visitors in a split; ' else '' end
            || case when coalesce(multi.multi_split_visitors, 0)
                         > 0.01 * (experience_totals.experience_visitors + coalesce(multi.multi_split_visitors, 0))
                    then 'over 1 % of visitors saw two splits; ' else '' end,
            '; '), '') as readout_warning
    from tested
    left join srm
        on tested.experience_key = srm.experience_key
       {% for k in keys %}and tested.{{ k }} = srm.{{ k }} {% endfor %}
    left join experience_totals
        on tested.experience_key = experience_totals.experience_key
       {% for k in keys %}and tested.{{ k }} = experience_totals.{{ k }} {% endfor %}
    left join {{ multi }} as multi
        on tested.experience_key = multi.experience_key
       {% for k in keys %}and tested.{{ k }} = multi.{{ k }} {% endfor %}

)
{%- endmacro %}
