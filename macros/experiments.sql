{#-
  Building blocks of the experiment readout (models/marts/experiments/, docs/experiment_readout.md).

  experiment_sessions() / experiment_purchases(): the sessions and purchase lines the readout counts (stealth and
  capped sessions left out unless the vars say otherwise), with the visitor id (the Monetate ID after ':' in guid).

  experiment_readout(visitors, splits, multi, keys) (macros/experiment_readout.sql, in named steps): every
  per-split figure of experiment_results from a relation with one row per included visitor; `keys` are extra
  grouping columns (the date of experiment_results_daily).
  Formulas (n visitors of an arm, Sx = sum x, Sxx = sum x^2; docs/experiment_readout.md "Formulas"):
    mean = Sx/n; sample variance s^2 = (Sxx - Sx^2/n)/(n-1); se = s/sqrt(n); CI = mean +- t(n-1)*se.
    conversion rate p: variance p(1-p) (Bernoulli), se = sqrt(p(1-p)/n), Wilson interval; the difference's
      p-value from the unpooled z test (the SE of its interval).
    average order value R = S_revenue / S_orders (ratio of visitor means, delta method):
      var R = (s_rev^2/m_ord^2 - 2 R cov/m_ord^2 + R^2 s_ord^2/m_ord^2) / n ; p-value from a z test.
    means (revenue, orders, sessions per visitor): Welch's t = diff / sqrt(se_t^2 + se_c^2), Welch-Satterthwaite
      df = (se_t^2 + se_c^2)^2 / (se_t^4/(n_t-1) + se_c^4/(n_c-1)); interval diff +- t(df)*se.
    relative lift = m_t/m_c - 1; interval on the log of the ratio: (m_t/m_c) exp(+-q sqrt(se_t^2/m_t^2 +
      se_c^2/m_c^2)) - 1, q the quantile of the absolute interval (delta method; never below -100 %).
    CUPED (revenue and conversion, covariate = the same outcome in the pre-period): theta = cov(x,y)/var(x) over
      the treatment and control visitors pooled; adjusted mean = ybar - theta*xbar; arm variance
      s_y^2 + theta^2 s_x^2 - 2 theta cov_xy; relative lift (adj_t - adj_c)/ybar_c with GrowthBook's delta-method
      variance, interval on the log of 1 + lift; variance reduction = 1 - var(CUPED difference)/var(plain
      difference), both with n-1 variances.
    Guards: a comparison is NULL (split_warning says why) below experiment_min_units_per_arm visitors or
      experiment_min_events_per_arm conversions / orders in either arm, or when its difference has no variance.
  Every division goes through nullif(..., 0) and every sqrt argument is floored at 0 with a case expression:
  PostgreSQL and Redshift raise errors where DuckDB returns NULL, and greatest() would turn NULL into 0.
-#}

{% macro experiment_sessions() -%}
    select
        session_id,
        {{ dbt.split_part('guid', "':'", 2) }} as visitor_id,
        session_start_at,
        session_date,
        coalesce(page_views, 0) as page_views,
        coalesce(time_on_site_seconds, 0) as time_on_site_seconds
    from {{ ref('int_monetate__sessions_enriched') }}
    where 1 = 1
    {%- if var('experiment_exclude_stealth', true) %}
      and not coalesce(has_stealth, false)
    {%- endif %}
    {%- if var('experiment_exclude_capped', true) %}
      and not coalesce(is_capped, false)
    {%- endif %}
{%- endmacro %}

{#- purchase lines of the sessions above; `sessions` names the CTE holding experiment_sessions() -#}
{% macro experiment_purchases(sessions) -%}
    select
        {{ sessions }}.visitor_id,
        purchases.session_id,
        purchases.purchased_at,
        {{ dbt.cast(dbt.date_trunc('day', 'purchases.purchased_at'), 'date') }} as purchase_date,
        purchases.purchase_value
    from {{ ref('int_monetate__purchase_lines') }} as purchases
    inner join {{ sessions }}
        on purchases.session_id = {{ sessions }}.session_id
    where purchases.purchased_at is not null
{%- endmacro %}

{#- double-typed column or expression -#}
{% macro _xd(expr) -%}{{ stat_double(expr) }}{%- endmacro %}

{#- sample variance from n, sum, sum of squares (NULL below 2 units; never negative) -#}
{% macro _svar(n, s, ss) -%}
  (case when {{ n }} >= 2 then (case when (({{ ss }} - {{ s }} * {{ s }} / {{ n }}) / ({{ n }} - 1.0)) < 0 then 0.0 else (({{ ss }} - {{ s }} * {{ s }} / {{ n }}) / ({{ n }} - 1.0)) end) end)
{%- endmacro %}

{#- sample covariance from n, the two sums and the sum of products -#}
{% macro _scov(n, sx, sy, sxy) -%}
  (case when {{ n }} >= 2 then ({{ sxy }} - {{ sx }} * {{ sy }} / {{ n }}) / ({{ n }} - 1.0) end)
{%- endmacro %}

{#-
  The analysis window (var experiment_window_hours, default none): outcomes count from the first exposure up to
  that many hours after it (sessions by start, purchases by time). experiment_window_end(exposed_at): its end,
  NULL without a window. experiment_in_window(ts, exposed_at): ` and ts < end`, or nothing without a window.
-#}
{% macro experiment_window_hours() -%}
  {%- set hours = var('experiment_window_hours', none) -%}
  {%- if hours is not none and not (hours | int == hours and hours > 0) -%}
    {{ exceptions.raise_compiler_error('var experiment_window_hours must be a whole number of hours above 0 (or none), got ' ~ hours) }}
  {%- endif -%}
  {{ return(hours) }}
{%- endmacro %}

{% macro experiment_window_end(exposed_at) -%}
  {%- set hours = experiment_window_hours() -%}
  {%- if hours is none -%}cast(null as {{ dbt.type_timestamp() }}){%- else -%}{{ dbt.dateadd('hour', hours | int, exposed_at) }}{%- endif -%}
{%- endmacro %}

{% macro experiment_in_window(ts, exposed_at) -%}
  {%- set hours = experiment_window_hours() -%}
  {%- if hours is not none %} and {{ ts }} < {{ dbt.dateadd('hour', hours | int, exposed_at) }}{% endif -%}
{%- endmacro %}
