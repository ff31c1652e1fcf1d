{#-
  The experiment readout (experiment_results, experiment_results_daily) in named steps, each a CTE or two:

    experiment_readout_capped      per-unit values capped as var experiment_capping says (cap_<outcome>, capped)
    experiment_readout_sums        per-unit values -> additive per-split sums (the `sums` CTE)
    experiment_readout_srm         sample-ratio check per experience (srm_arms .. srm)
    experiment_readout_arms        each split next to its experience's control, double-typed moments (controls, arms)
    experiment_readout_moments     means, sample variances, covariances, CUPED theta (moments)
    experiment_readout_arm_errors  per-split standard errors, average order value, CUPED-adjusted means (derived)
    experiment_readout_lifts       differences, relative lifts and their standard errors, test statistics (compared)
    experiment_readout_p_values    p-values from the statistics macros (tested)
    experiment_readout_guards      experience totals the warnings need (experience_totals)
    experiment_readout_columns     intervals, significance flags, warnings, the output columns (readout_rows)
    experiment_readout_adjusted    multiple-testing correction of the primary metrics' p-values (family .. final)

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
  splits: splits. multi: relation with experience_key, the `keys`, multi_split_visitors.
-#}
{% macro experiment_readout(visitors, splits, multi, keys=[]) -%}
{{ experiment_readout_capped(visitors, keys) }},
{{ experiment_readout_sums('capped', keys) }},
{{ experiment_readout_srm(splits, keys) }},
{{ experiment_readout_arms(splits, keys) }},
{{ experiment_readout_moments() }},
{{ experiment_readout_arm_errors() }},
{{ experiment_readout_lifts() }},
{{ experiment_readout_p_values() }},
{{ experiment_readout_guards(keys) }},
{{ experiment_readout_columns(multi, keys) }},
{{ experiment_readout_adjusted(keys) }}
{%- endmacro %}

{#- the outcomes var experiment_capping may cap -#}
{% macro experiment_cappable() -%}
  {{ return(['revenue', 'orders', 'sessions']) }}
{%- endmacro %}

{#-
  var experiment_capping, checked: {outcome: {'percentile': p} or {'absolute': x}} for outcomes among
  experiment_cappable(), 0 < p < 1, x > 0. A wrong entry stops the build with a message naming it.
-#}
{% macro experiment_capping() -%}
  {%- set capping = var('experiment_capping', {}) or {} -%}
  {%- if capping is not mapping -%}
    {{ exceptions.raise_compiler_error('var experiment_capping must be a mapping {outcome: {percentile: p} or {absolute: x}}, got ' ~ capping) }}
  {%- endif -%}
  {%- for y, rule in capping.items() -%}
    {%- if y not in experiment_cappable() or rule is not mapping or (rule | length) != 1
          or (rule.keys() | list)[0] not in ['percentile', 'absolute'] -%}
      {{ exceptions.raise_compiler_error('var experiment_capping: ' ~ y ~ ': ' ~ rule ~ ' is not {percentile: p} or {absolute: x} for one of ' ~ experiment_cappable()) }}
    {%- endif -%}
    {%- set kind, value = (rule.items() | list)[0] -%}
    {%- if (kind == 'percentile' and not (0 < value < 1)) or (kind == 'absolute' and not (value > 0)) -%}
      {{ exceptions.raise_compiler_error('var experiment_capping: ' ~ y ~ ': ' ~ kind ~ ' must be ' ~ ('in (0, 1)' if kind == 'percentile' else 'above 0') ~ ', got ' ~ value) }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(capping) }}
{%- endmacro %}

{#-
  Capping (winsorisation) of per-visitor outcomes before anything is summed: each configured outcome is replaced
  by min(value, cap). cap = the absolute value, or the percentile (percentile_cont, linear interpolation) of the
  outcome over the experience's readout visitors with a value above 0 (all splits pooled, per `keys`: per day in
  experiment_results_daily; Statsig's definition, so the cap does not move with the share of zeros), rounded up
  to a whole number for the counts (orders, sessions); no such visitor, no cap. The CUPED covariate
  pre_revenue is capped at revenue's cap (same metric, same scale). Conversion is never capped. One CTE per
  percentile: Redshift refuses two percentile_cont with different orderings in one select.
-#}
{% macro experiment_readout_capped(visitors, keys=[]) -%}
{%- set capping = experiment_capping() -%}
{%- set kcols = keys | join(', ') -%}
{%- for y, rule in capping.items() if 'percentile' in rule %}
cap_{{ y }} as (

    select
        experience_key,
        {% for k in keys %}{{ k }}, {% endfor %}
        {%- set pct = 'percentile_cont(' ~ rule['percentile'] ~ ') within group (order by ' ~ _xd(y) ~ ')' %}
        {{ ('ceil(' ~ pct ~ ')') if y != 'revenue' else pct }} as cap
    from {{ visitors }}
    where {{ _xd(y) }} > 0
    group by experience_key{% if keys %}, {{ kcols }}{% endif %}

),
{%- endfor %}

capped as (

    select
        v.experience_key,
        v.experience_id,
        v.split_id,
        {% for k in keys %}v.{{ k }},
        {% endfor -%}
        v.converted,
        v.page_views,
        v.time_on_site_seconds,
        v.pre_converted,
        {%- for y in experiment_cappable() %}
        {%- if y in capping %}
        {%- set cap = ('cap_' ~ y ~ '.cap') if 'percentile' in capping[y] else _xd(capping[y]['absolute']) %}
        case when {{ _xd('v.' ~ y) }} > {{ cap }} then {{ cap }} else {{ _xd('v.' ~ y) }} end as {{ y }},
        case when {{ _xd('v.' ~ y) }} > {{ cap }} then 1 else 0 end as {{ y }}_was_capped,
        {{ cap }} as {{ y }}_cap,
        {%- if y == 'revenue' %}
        case when {{ _xd('v.pre_revenue') }} > {{ cap }} then {{ cap }} else {{ _xd('v.pre_revenue') }} end as pre_revenue,
        {%- endif %}
        {%- else %}
        v.{{ y }},
        0 as {{ y }}_was_capped,
        cast(null as {{ stat_double_type() }}) as {{ y }}_cap,
        {%- if y == 'revenue' %}
        v.pre_revenue,
        {%- endif %}
        {%- endif %}
        {%- endfor %}
        1 as _end_of_capped
    from {{ visitors }} as v
    {%- for y, rule in capping.items() if 'percentile' in rule %}
    left join cap_{{ y }}
        on cap_{{ y }}.experience_key = v.experience_key
       {% for k in keys %}and cap_{{ y }}.{{ k }} = v.{{ k }} {% endfor %}
    {%- endfor %}

)
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
        sum({{ _xd('revenue') }} * {{ _xd('pre_revenue') }}) as sum_revenue_x_pre_revenue,
        {%- for y in experiment_cappable() %}
        max({{ y }}_cap) as {{ y }}_cap,
        sum({{ y }}_was_capped) as {{ y }}_capped_visitors{% if not loop.last %},{% endif %}
        {%- endfor %}
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
        {#- delta method; a variance below 1e-10 of its terms is 0: when every order of the arm has one value the
            terms cancel exactly in theory and leave float noise (~1e-7 dollars) in practice -#}
        {%- set r = '(' ~ side ~ '_s_revenue / nullif(' ~ side ~ '_s_orders, 0))' %}
        {%- set mo2 = 'nullif(' ~ side ~ '_m_orders * ' ~ side ~ '_m_orders, 0)' %}
        {%- set num = '(' ~ side ~ '_v_revenue - 2.0 * ' ~ r ~ ' * ' ~ side ~ '_cov_aov + ' ~ r ~ ' * ' ~ r ~ ' * ' ~ side ~ '_v_orders)' %}
        {%- set scale = '(' ~ side ~ '_v_revenue + ' ~ r ~ ' * ' ~ r ~ ' * ' ~ side ~ '_v_orders)' %}
        sqrt((case when {{ num }} <= 1e-10 * {{ scale }} then 0.0
                   else {{ num }} / {{ mo2 }} / nullif({{ side }}_n, 0) end)) as {{ side }}_se_aov,
        {%- for metric, y, x in cuped %}
        {{ side }}_m_{{ y }} - theta_{{ y }} * {{ side }}_m_{{ x }} as {{ side }}_adj_{{ y }},
        (case when ({{ side }}_v_{{ y }} + theta_{{ y }} * theta_{{ y }} * {{ side }}_v_{{ x }}
                 - 2.0 * theta_{{ y }} * {{ side }}_cov_{{ y }}) < 0 then 0.0 else ({{ side }}_v_{{ y }} + theta_{{ y }} * theta_{{ y }} * {{ side }}_v_{{ x }}
                 - 2.0 * theta_{{ y }} * {{ side }}_cov_{{ y }}) end) as {{ side }}_cuped_v_{{ y }},
        {%- endfor %}
        {%- endfor %}
        1 as _end_of_derived
    from moments

)
{%- endmacro %}

{#- the metrics compared, with the per-arm mean and SE columns of `derived` and the guard that applies:
    `conversions` (units and conversions per arm), `orders` (units and orders per arm) or `units` -#}
{% macro experiment_readout_metrics() -%}
  {{ return([('conversion_rate', 'm_converted', 'se_conversion_rate', 'conversions'),
             ('revenue_per_visitor', 'm_revenue', 'se_revenue_per_visitor', 'orders'),
             ('orders_per_visitor', 'm_orders', 'se_orders_per_visitor', 'orders'),
             ('sessions_per_visitor', 'm_sessions', 'se_sessions_per_visitor', 'units'),
             ('average_order_value', 'm_aov', 'se_aov', 'orders')]) }}
{%- endmacro %}

{#- the guard of each CUPED metric (its outcome's events) -#}
{% macro experiment_readout_cuped_guard(metric) -%}
  {{ return('orders' if metric == 'revenue_per_visitor' else 'conversions') }}
{%- endmacro %}

{#- minimums per arm below which comparisons are NULL (dbt vars, docs/experiment_readout.md) -#}
{% macro experiment_min_units() -%}
  {%- set v = var('experiment_min_units_per_arm', 100) | int -%}
  {%- if v < 3 -%}
    {{ exceptions.raise_compiler_error('var experiment_min_units_per_arm must be at least 3 (Welch df >= 2), got ' ~ v) }}
  {%- endif -%}
  {{ return(v) }}
{%- endmacro %}
{% macro experiment_min_events() -%}
  {%- set v = var('experiment_min_events_per_arm', 5) | int -%}
  {%- if v < 1 -%}
    {{ exceptions.raise_compiler_error('var experiment_min_events_per_arm must be at least 1 (a ratio needs a mean above 0), got ' ~ v) }}
  {%- endif -%}
  {{ return(v) }}
{%- endmacro %}

{#-
  Differences and their SE; relative lifts and the SE of the log of the ratio of means (delta method:
  var ln(m_t/m_c) = se_t^2/m_t^2 + se_c^2/m_c^2, NULL unless both means are above 0); test statistics (conversion:
  unpooled z, the SE of its interval), Welch df; CUPED lifts, the CUPED ratio 1 + lift/m_c and the SE of its log.
-#}
{% macro experiment_readout_lifts() -%}
{%- set means = experiment_readout_means() -%}
{%- set cuped = experiment_readout_cuped() -%}
compared as {{ stat_materialized() }} (

    select
        derived.*,
        {%- for metric, m, se, guard in experiment_readout_metrics() %}
        t_{{ m }} - c_{{ m }} as {{ metric }}_abs_lift,
        sqrt(t_{{ se }} * t_{{ se }} + c_{{ se }} * c_{{ se }}) as {{ metric }}_se_diff,
        t_{{ m }} / nullif(c_{{ m }}, 0) - 1.0 as {{ metric }}_rel_lift,
        case when t_{{ m }} > 0 and c_{{ m }} > 0
             then sqrt(t_{{ se }} * t_{{ se }} / (t_{{ m }} * t_{{ m }}) + c_{{ se }} * c_{{ se }} / (c_{{ m }} * c_{{ m }})) end
          as {{ metric }}_log_ratio_se,
        {%- endfor %}
        (t_m_converted - c_m_converted)
          / nullif(sqrt(t_se_conversion_rate * t_se_conversion_rate + c_se_conversion_rate * c_se_conversion_rate), 0)
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
        {%- set rel_var = '(t_cuped_v_' ~ y ~ ' / nullif(t_n * c_m_' ~ y ~ ' * c_m_' ~ y ~ ', 0) + (c_v_' ~ y ~ ' * t_m_' ~ y
            ~ ' * t_m_' ~ y ~ ' / nullif(c_m_' ~ y ~ ' * c_m_' ~ y ~ ', 0) - 2.0 * theta_' ~ y ~ ' * c_cov_' ~ y ~ ' * t_m_' ~ y
            ~ ' / nullif(c_m_' ~ y ~ ', 0) + theta_' ~ y ~ ' * theta_' ~ y ~ ' * c_v_' ~ x ~ ') / nullif(c_n * c_m_' ~ y
            ~ ' * c_m_' ~ y ~ ', 0))' %}
        t_adj_{{ y }} - c_adj_{{ y }} as {{ metric }}_cuped_abs_lift,
        sqrt(t_cuped_v_{{ y }} / nullif(t_n, 0) + c_cuped_v_{{ y }} / nullif(c_n, 0)) as {{ metric }}_cuped_se_diff,
        (t_adj_{{ y }} - c_adj_{{ y }}) / nullif(c_m_{{ y }}, 0) as {{ metric }}_cuped_rel_lift,
        sqrt((case when {{ rel_var }} < 0 then 0.0 else {{ rel_var }} end)) as {{ metric }}_cuped_rel_lift_se,
        1.0 + (t_adj_{{ y }} - c_adj_{{ y }}) / nullif(c_m_{{ y }}, 0) as {{ metric }}_cuped_ratio,
        1.0 - (t_cuped_v_{{ y }} / nullif(t_n, 0) + c_cuped_v_{{ y }} / nullif(c_n, 0))
            / nullif(t_v_{{ y }} / nullif(t_n, 0) + c_v_{{ y }} / nullif(c_n, 0), 0) as {{ metric }}_cuped_variance_reduction,
        {%- endfor %}
        1 as _end_of_compared
    from derived

)
{%- endmacro %}

{#- the significance level of every test (two-sided; var experiment_alpha, default 0.05): intervals are 1 - alpha -#}
{% macro experiment_alpha() -%}
  {%- set value = var('experiment_alpha', 0.05) -%}
  {%- if not (0 < value <= 0.5) -%}
    {{ exceptions.raise_compiler_error('var experiment_alpha must be in (0, 0.5], got ' ~ value) }}
  {%- endif -%}
  {{ return(value) }}
{%- endmacro %}

{#- the normal quantile of the intervals, z = Phi^-1(1 - alpha/2) (1.959964 at alpha 0.05) -#}
{% macro experiment_z() -%}
  {{ return('(' ~ stat_normal_quantile(1 - experiment_alpha() / 2) ~ ')') }}
{%- endmacro %}

{#- p-values of the statistics above; first step of the t quantiles of the intervals -#}
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
        {{ stat_t_quantile_start(metric ~ '_welch_df', experiment_alpha(), experiment_z()) }} as {{ metric }}_t_q0,
        {%- endfor %}
        {#- first step of the Student t quantiles (stat_t_quantile_start): per-split df n - 1 and each Welch df -#}
        {{ stat_t_quantile_start('t_n - 1.0', experiment_alpha(), experiment_z()) }} as split_t_q0,
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

{#-
  Guards: which comparisons may be reported. Both arms need experiment_min_units_per_arm visitors; a metric
  also needs experiment_min_events_per_arm events in both arms (conversions for conversion rate, orders for
  revenue, orders and order value) and a difference with a standard error above 0. The per-split intervals of
  means need the minimum of units in the split. Plus the experience totals of readout_warning and the t quantiles
  of the intervals (second step).
-#}
{% macro experiment_readout_guards(keys=[]) -%}
{%- set kcols = keys | join(', ') -%}
{%- set kc = (kcols ~ ', ') if keys else '' -%}
{%- set units, events = experiment_min_units(), experiment_min_events() -%}
experience_totals as (

    select
        sums.experience_key,
        {{ kc }}
        sum(sums.n_visitors) as experience_visitors
    from sums
    group by sums.experience_key{% if keys %}, {{ kcols }}{% endif %}

),

guarded as {{ stat_materialized() }} (

    select
        tested.*,
        {#- the t quantiles, refined by one Newton step (stat_t_quantile_refine) -#}
        {%- for metric, y in experiment_readout_means() %}
        {{ stat_t_quantile_refine(metric ~ '_t_q0', metric ~ '_welch_df', experiment_alpha()) }} as {{ metric }}_t_q,
        {%- endfor %}
        {{ stat_t_quantile_refine('split_t_q0', 't_n - 1.0', experiment_alpha()) }} as split_t_q,
        case when t_n >= {{ units }} then true else false end as ok_split_units,
        case when c_n is not null then true else false end as has_comparison,
        case when t_n >= {{ units }} and c_n >= {{ units }} then true else false end as ok_units,
        case when t_n >= {{ units }} and c_n >= {{ units }}
                  and t_s_converted >= {{ events }} and c_s_converted >= {{ events }} then true else false end
          as ok_conversions,
        case when t_n >= {{ units }} and c_n >= {{ units }}
                  and t_s_orders >= {{ events }} and c_s_orders >= {{ events }} then true else false end
          as ok_orders
    from tested

),

checked as (

    select
        guarded.*,
        {%- for metric, m, se, guard in experiment_readout_metrics() %}
        case when ok_{{ guard }} and {{ metric }}_se_diff > 0 then true else false end as ok_{{ metric }},
        {%- endfor %}
        {%- for metric, y, x in experiment_readout_cuped() %}
        case when ok_{{ experiment_readout_cuped_guard(metric) }} and {{ metric }}_cuped_se_diff > 0
             then true else false end as ok_{{ metric }}_cuped,
        {%- endfor %}
        case when t_n >= {{ units }} and t_s_orders >= {{ events }} then true else false end as ok_split_orders
    from guarded

)
{%- endmacro %}

{#- the warning of one split row: what is NULL in it and why (split_warning) -#}
{% macro experiment_split_warning() -%}
{%- set units, events = experiment_min_units(), experiment_min_events() -%}
nullif(rtrim(
       case when not g.ok_split_units
            then {{ dbt.concat([dbt.cast('g.n_visitors', dbt.type_string()), "' visitors, below the minimum of " ~ units ~ " per split: no intervals of means, no comparisons; '"]) }}
            else '' end
    || case when g.has_comparison and g.ok_split_units and not g.ok_units
            then 'the control has fewer than {{ units }} visitors: no comparisons; ' else '' end
    || case when g.has_comparison and g.ok_units and not g.ok_conversions
            then 'fewer than {{ events }} conversions in this split or the control: conversion comparisons NULL; ' else '' end
    || case when g.has_comparison and g.ok_units and not g.ok_orders
            then 'fewer than {{ events }} orders in this split or the control: revenue, order and order-value comparisons NULL; ' else '' end
    {%- for metric, m, se, guard in experiment_readout_metrics() %}
    || case when g.has_comparison and g.ok_{{ guard }} and not g.ok_{{ metric }}
            then 'no variance in {{ metric | replace("_", " ") }}: its comparison is NULL; ' else '' end
    {%- endfor %}
    {%- for metric in experiment_guardrail_metrics() %}
    || case when g.ok_{{ metric }} and g.{{ metric }}_p_value < {{ experiment_alpha() }} and g.{{ metric }}_abs_lift < 0
            then 'guardrail {{ metric | replace("_", " ") }} is significantly worse than the control; ' else '' end
    {%- endfor %}
    {%- for metric, y, x in experiment_readout_cuped() %}
    || case when g.ok_{{ metric }}_cuped and not (g.{{ metric }}_cuped_ratio > 0)
            then 'CUPED-adjusted {{ metric | replace("_", " ") }} of this split is not above 0: its CUPED relative interval is NULL; ' else '' end
    {%- endfor %},
    '; '), '')
{%- endmacro %}

{#- `expr` where `ok` holds, else NULL -#}
{% macro _when(ok, expr) -%}case when {{ ok }} then {{ expr }} end{%- endmacro %}

{#- the output: additive sums, per-split figures and intervals, comparisons, CUPED, SRM, warnings -#}
{% macro experiment_readout_columns(multi, keys=[]) -%}
{%- set primary = experiment_primary_metrics() -%}
{%- set guardrails = experiment_guardrail_metrics() -%}
{%- set z = experiment_z() -%}
{%- set alpha = experiment_alpha() -%}
{%- set cuped = experiment_readout_cuped() -%}
{%- set quantile = {'conversion_rate': z, 'average_order_value': z, 'revenue_per_visitor': 'g.revenue_per_visitor_t_q',
                    'orders_per_visitor': 'g.orders_per_visitor_t_q', 'sessions_per_visitor': 'g.sessions_per_visitor_t_q'} -%}
readout_rows as {{ stat_materialized() }} (

    select
        g.experience_key,
        g.experience_id,
        g.experience_name,
        g.split_id,
        g.split_name,
        {% for k in keys %}g.{{ k }},
        {% endfor -%}
        g.is_control,
        g.control_split_id,
        g.traffic_share,

        -- additive quantities (sum them across rows, then derive; see docs/experiment_readout.md)
        g.n_visitors,
        g.sum_converted,
        g.sum_orders,
        g.sum_orders_sq,
        g.sum_revenue,
        g.sum_revenue_sq,
        g.sum_revenue_x_orders,
        g.sum_sessions,
        g.sum_sessions_sq,
        g.sum_page_views,
        g.sum_page_views_sq,
        g.sum_time_on_site_seconds,
        g.sum_time_on_site_seconds_sq,
        g.sum_pre_converted,
        g.sum_converted_x_pre_converted,
        g.sum_pre_revenue,
        g.sum_pre_revenue_sq,
        g.sum_revenue_x_pre_revenue,
        coalesce(multi.multi_split_visitors, 0) as experience_multi_split_visitors,
        experience_totals.experience_visitors,

        -- capping (var experiment_capping): the cap of each outcome (NULL: not capped), visitors it capped
        {%- for y in experiment_cappable() %}
        g.{{ y }}_cap,
        g.{{ y }}_capped_visitors,
        {%- endfor %}

        -- per-split figures: conversion rate with Wilson's interval (always within [0, 1])
        {%- set zz = z ~ ' * ' ~ z %}
        g.t_m_converted as conversion_rate,
        sqrt((case when g.t_pv_converted < 0 then 0.0 else g.t_pv_converted end)) as conversion_rate_sd,
        g.t_se_conversion_rate as conversion_rate_se,
        {%- for sign, name in [('-', 'low'), ('+', 'high')] %}
        {{ stat_clamp01('(g.t_m_converted + ' ~ zz ~ ' / (2.0 * g.t_n) ' ~ sign ~ ' ' ~ z
            ~ ' * sqrt((case when g.t_pv_converted < 0 then 0.0 else g.t_pv_converted end) / g.t_n + ' ~ zz
            ~ ' / (4.0 * g.t_n * g.t_n))) / (1.0 + ' ~ zz ~ ' / g.t_n)') }} as conversion_rate_ci_{{ name }},
        {%- endfor %}
        -- means: interval mean +- t(n - 1) * se from the minimum of units on
        {%- for metric, m, sd, se in [('revenue_per_visitor', 't_m_revenue', 'sqrt(g.t_v_revenue)', 't_se_revenue_per_visitor'),
                                      ('orders_per_visitor', 't_m_orders', 'sqrt(g.t_v_orders)', 't_se_orders_per_visitor'),
                                      ('sessions_per_visitor', 't_m_sessions', 'sqrt(g.t_v_sessions)', 't_se_sessions_per_visitor')] %}
        g.{{ m }} as {{ metric }},
        {{ sd }} as {{ metric }}_sd,
        g.{{ se }} as {{ metric }}_se,
        {{ _when('g.ok_split_units', 'g.' ~ m ~ ' - g.split_t_q * g.' ~ se) }} as {{ metric }}_ci_low,
        {{ _when('g.ok_split_units', 'g.' ~ m ~ ' + g.split_t_q * g.' ~ se) }} as {{ metric }}_ci_high,
        {%- endfor %}
        -- average order value (delta method, normal): interval from the minimum of units and orders on
        g.t_m_aov as average_order_value,
        g.t_se_aov as average_order_value_se,
        {{ _when('g.ok_split_orders', 'g.t_m_aov - ' ~ z ~ ' * g.t_se_aov') }} as average_order_value_ci_low,
        {{ _when('g.ok_split_orders', 'g.t_m_aov + ' ~ z ~ ' * g.t_se_aov') }} as average_order_value_ci_high,

        -- against the control: NULL unless the metric's guard holds (experiment_readout_guards)
        {%- for metric, m, se, guard in experiment_readout_metrics() %}
        {%- set ok = 'g.ok_' ~ metric %}
        {%- set q = quantile[metric] %}
        {{ _when(ok, 'g.' ~ metric ~ '_abs_lift') }} as {{ metric }}_abs_lift,
        {{ _when(ok, 'g.' ~ metric ~ '_se_diff') }} as {{ metric }}_se_diff,
        {{ _when(ok, 'g.' ~ metric ~ '_abs_lift - ' ~ q ~ ' * g.' ~ metric ~ '_se_diff') }} as {{ metric }}_abs_lift_ci_low,
        {{ _when(ok, 'g.' ~ metric ~ '_abs_lift + ' ~ q ~ ' * g.' ~ metric ~ '_se_diff') }} as {{ metric }}_abs_lift_ci_high,
        {{ _when(ok, 'g.' ~ metric ~ '_rel_lift') }} as {{ metric }}_rel_lift,
        {{ _when(ok, '(g.' ~ metric ~ '_rel_lift + 1.0) * exp(-' ~ q ~ ' * g.' ~ metric ~ '_log_ratio_se) - 1.0') }}
          as {{ metric }}_rel_lift_ci_low,
        {{ _when(ok, '(g.' ~ metric ~ '_rel_lift + 1.0) * exp(' ~ q ~ ' * g.' ~ metric ~ '_log_ratio_se) - 1.0') }}
          as {{ metric }}_rel_lift_ci_high,
        {%- if metric in ['revenue_per_visitor', 'orders_per_visitor', 'sessions_per_visitor'] %}
        {{ _when(ok, 'g.' ~ metric ~ '_welch_df') }} as {{ metric }}_welch_df,
        {%- endif %}
        {{ _when(ok, 'g.' ~ metric ~ '_p_value') }} as {{ metric }}_p_value,
        {{ _when(ok, 'case when g.' ~ metric ~ '_p_value < ' ~ alpha ~ ' then true else false end') }} as {{ metric }}_is_significant,
        {%- endfor %}

        -- CUPED (pre-exposure outcome as covariate); relative interval on the log of 1 + lift
        {%- for metric, y, x in cuped %}
        {%- set ok = 'g.ok_' ~ metric ~ '_cuped' %}
        {%- set rel_ok = ok ~ ' and g.' ~ metric ~ '_cuped_ratio > 0' %}
        {{ _when(ok, 'g.theta_' ~ y) }} as {{ metric }}_cuped_theta,
        {{ _when(ok, 'g.' ~ metric ~ '_cuped_abs_lift') }} as {{ metric }}_cuped_abs_lift,
        {{ _when(ok, 'g.' ~ metric ~ '_cuped_se_diff') }} as {{ metric }}_cuped_se_diff,
        {{ _when(ok, 'g.' ~ metric ~ '_cuped_abs_lift - ' ~ z ~ ' * g.' ~ metric ~ '_cuped_se_diff') }} as {{ metric }}_cuped_abs_lift_ci_low,
        {{ _when(ok, 'g.' ~ metric ~ '_cuped_abs_lift + ' ~ z ~ ' * g.' ~ metric ~ '_cuped_se_diff') }} as {{ metric }}_cuped_abs_lift_ci_high,
        {{ _when(ok, 'g.' ~ metric ~ '_cuped_rel_lift') }} as {{ metric }}_cuped_rel_lift,
        {{ _when(rel_ok, 'g.' ~ metric ~ '_cuped_ratio * exp(-' ~ z ~ ' * g.' ~ metric ~ '_cuped_rel_lift_se / g.' ~ metric ~ '_cuped_ratio) - 1.0') }}
          as {{ metric }}_cuped_rel_lift_ci_low,
        {{ _when(rel_ok, 'g.' ~ metric ~ '_cuped_ratio * exp(' ~ z ~ ' * g.' ~ metric ~ '_cuped_rel_lift_se / g.' ~ metric ~ '_cuped_ratio) - 1.0') }}
          as {{ metric }}_cuped_rel_lift_ci_high,
        {{ _when(ok, 'g.' ~ metric ~ '_cuped_p_value') }} as {{ metric }}_cuped_p_value,
        {{ _when(ok, 'case when g.' ~ metric ~ '_cuped_p_value < ' ~ alpha ~ ' then true else false end') }} as {{ metric }}_cuped_is_significant,
        {{ _when(ok, 'g.' ~ metric ~ '_cuped_variance_reduction') }} as {{ metric }}_cuped_variance_reduction,
        {%- endfor %}

        -- sample ratio mismatch (per experience)
        srm.srm_chi_square,
        srm.srm_df,
        srm.srm_p_value,
        case when srm.srm_p_value is null then null
             when srm.srm_p_value < {{ experiment_srm_alpha() }} then true else false end as srm_detected,
        {{ experiment_srm_alpha() }} as srm_threshold,
        nullif(rtrim(
               case when srm.srm_p_value < {{ experiment_srm_alpha() }} then 'sample ratio mismatch: do not trust this experience; ' else '' end
            || case when g.control_split_id is null then 'no control split; ' else '' end
            || case when coalesce(multi.multi_split_visitors, 0)
                         > 0.01 * (experience_totals.experience_visitors + coalesce(multi.multi_split_visitors, 0))
                    then 'over 1 % of visitors saw two splits; ' else '' end,
            '; '), '') as readout_warning,
        {{ experiment_split_warning() }} as split_warning
    from checked as g
    left join srm
        on g.experience_key = srm.experience_key
       {% for k in keys %}and g.{{ k }} = srm.{{ k }} {% endfor %}
    left join experience_totals
        on g.experience_key = experience_totals.experience_key
       {% for k in keys %}and g.{{ k }} = experience_totals.{{ k }} {% endfor %}
    left join {{ multi }} as multi
        on g.experience_key = multi.experience_key
       {% for k in keys %}and g.{{ k }} = multi.{{ k }} {% endfor %}

)
{%- endmacro %}


{#- the metrics of experiment_readout_metrics(), by name -#}
{% macro experiment_metric_names() -%}
  {{ return(experiment_readout_metrics() | map(attribute=0) | list) }}
{%- endmacro %}

{#- a var holding a list of metric names, checked -#}
{% macro _experiment_metric_list(name, default) -%}
  {%- set value = var(name, default) or [] -%}
  {%- if value is string or value is mapping -%}
    {{ exceptions.raise_compiler_error('var ' ~ name ~ ' must be a list of metrics among ' ~ experiment_metric_names() ~ ', got ' ~ value) }}
  {%- endif -%}
  {%- for m in value if m not in experiment_metric_names() -%}
    {{ exceptions.raise_compiler_error('var ' ~ name ~ ': ' ~ m ~ ' is not one of ' ~ experiment_metric_names()) }}
  {%- endfor -%}
  {{ return(value | list) }}
{%- endmacro %}

{#- the metrics a decision rests on: their p-values are corrected for multiplicity (var experiment_primary_metrics) -#}
{% macro experiment_primary_metrics() -%}
  {{ return(_experiment_metric_list('experiment_primary_metrics', ['conversion_rate', 'revenue_per_visitor'])) }}
{%- endmacro %}

{#- metrics that must not get worse: a significant drop is a split_warning (var experiment_guardrail_metrics) -#}
{% macro experiment_guardrail_metrics() -%}
  {{ return(_experiment_metric_list('experiment_guardrail_metrics', [])) }}
{%- endmacro %}

{#- holm (default), bh or none (var experiment_multiple_testing) -#}
{% macro experiment_multiple_testing() -%}
  {%- set method = var('experiment_multiple_testing', 'holm') -%}
  {%- if method not in ['holm', 'bh', 'none'] -%}
    {{ exceptions.raise_compiler_error('var experiment_multiple_testing must be holm, bh or none, got ' ~ method) }}
  {%- endif -%}
  {{ return(method) }}
{%- endmacro %}

{#- the sample-ratio check's threshold (var experiment_srm_alpha, default 0.001) -#}
{% macro experiment_srm_alpha() -%}
  {%- set value = var('experiment_srm_alpha', 0.001) -%}
  {%- if not (0 < value < 1) -%}
    {{ exceptions.raise_compiler_error('var experiment_srm_alpha must be in (0, 1), got ' ~ value) }}
  {%- endif -%}
  {{ return(value) }}
{%- endmacro %}

{#-
  Multiple-testing correction. The family: every non-NULL p-value of a primary metric over the treatment splits
  of one experience (per `keys`: per day in experiment_results_daily), m tests. Sorted p_(1) <= .. <= p_(m):
    holm (S. Holm, Scand. J. Statist. 6, 1979; controls the family-wise error rate):
      adj_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))
    bh (Y. Benjamini, Y. Hochberg, JRSS B 57, 1995; controls the false discovery rate):
      adj_(i) = min(1, min_{j >= i} m p_(j) / j)
    none: adj = p.
  Ties give equal adjusted values whatever their order. Other metrics: NULL adjusted p-values.
-#}
{% macro experiment_readout_adjusted(keys=[]) -%}
{%- set primary = experiment_primary_metrics() -%}
{%- set method = experiment_multiple_testing() -%}
{%- set part = 'partition by experience_key' ~ (', ' ~ (keys | join(', ')) if keys else '') -%}
{%- if primary %}
family as (
    {%- for m in primary %}
    select experience_key, {% for k in keys %}{{ k }}, {% endfor %}split_id, '{{ m }}' as metric, {{ m }}_p_value as p_value
    from readout_rows
    where {{ m }}_p_value is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

family_ranked as (

    select
        family.*,
        row_number() over ({{ part }} order by p_value, metric, split_id) as p_rank,
        count(*) over ({{ part }}) as family_size
    from family

),

family_adjusted as (

    select
        family_ranked.*,
        {%- if method == 'holm' %}
        max((family_size - p_rank + 1) * p_value) over (
            {{ part }} order by p_rank rows between unbounded preceding and current row) as p_stepped
        {%- elif method == 'bh' %}
        min(family_size * p_value / p_rank) over (
            {{ part }} order by p_rank rows between current row and unbounded following) as p_stepped
        {%- else %}
        p_value as p_stepped
        {%- endif %}
    from family_ranked

),
{%- endif %}

final as (

    select
        readout_rows.*,
        '{{ method }}' as multiple_testing_method,
        {%- if primary %}
        sizes.family_size as multiple_testing_family_size,
        {%- else %}
        cast(null as bigint) as multiple_testing_family_size,
        {%- endif %}
        {%- for m in experiment_metric_names() %}
        {%- if m in primary %}
        case when adj_{{ m }}.p_stepped > 1.0 then 1.0 else adj_{{ m }}.p_stepped end as {{ m }}_p_value_adjusted,
        case when adj_{{ m }}.p_stepped is null then null
             when adj_{{ m }}.p_stepped < {{ experiment_alpha() }} then true else false end as {{ m }}_is_significant_adjusted{% if not loop.last %},{% endif %}
        {%- else %}
        cast(null as {{ stat_double_type() }}) as {{ m }}_p_value_adjusted,
        cast(null as boolean) as {{ m }}_is_significant_adjusted{% if not loop.last %},{% endif %}
        {%- endif %}
        {%- endfor %}
    from readout_rows
    {%- if primary %}
    left join (select distinct experience_key, {% for k in keys %}{{ k }}, {% endfor %}family_size from family_ranked) as sizes
        on sizes.experience_key = readout_rows.experience_key
       {% for k in keys %}and sizes.{{ k }} = readout_rows.{{ k }} {% endfor %}
    {%- for m in primary %}
    left join family_adjusted as adj_{{ m }}
        on adj_{{ m }}.experience_key = readout_rows.experience_key
       and adj_{{ m }}.split_id = readout_rows.split_id
       and adj_{{ m }}.metric = '{{ m }}'
       {% for k in keys %}and adj_{{ m }}.{{ k }} = readout_rows.{{ k }} {% endfor %}
    {%- endfor %}
    {%- endif %}

)
{%- endmacro %}
