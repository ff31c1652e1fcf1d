{#-
  Statistical functions for the experiment readout (models/marts/experiments/), in plain SQL.

  DuckDB, PostgreSQL and Redshift have no normal, Student t or chi-square distribution functions (PostgreSQL
  16+ has erf/erfc, older servers and the other two engines do not), so the readout computes them from
  documented numerical approximations built from +, *, /, exp, ln and sqrt only. Each was checked against
  scipy (tests/unit/test_statistics_macros.py on DuckDB, tests/e2e/test_experiment_readout.py on PostgreSQL):

  | macro                         | method                                                        | relative error |
  | ----------------------------- | ------------------------------------------------------------- | -------------- |
  | stat_erfc(x)                  | Chebyshev-fitted rational erfc of Numerical Recipes (erfcc,   | < 1.2e-7       |
  |                               | Press et al. 1992, 6.2), every x                              |                |
  | stat_normal_cdf(x)            | 0.5 * erfc(-x / sqrt 2)                                       | < 1.2e-7       |
  | stat_normal_two_sided_p(z)    | erfc(abs z / sqrt 2) (no 1 - cdf cancellation in the tails)   | < 1.2e-7       |
  | stat_t_two_sided_p(t, df)     | df <= 100: regularized incomplete beta I_x(df/2, 1/2),        | < 1e-9 /       |
  |                               | x = df/(df+t^2), continued fraction (NR 6.4) evaluated        |                |
  |                               | bottom-up at a fixed depth of 20, with the symmetry           |                |
  |                               | I_x(a,b) = 1 - I_{1-x}(b,a) where it converges faster;        |                |
  |                               | df > 100: Hill's normalizing transformation (G. W. Hill,      | < 1.1e-7       |
  |                               | ACM Algorithm 395, 1970) then erfc. Any real df > 0 (Welch).  |                |
  | stat_chi2_sf(x, df)           | closed forms for integer df 1..20 (even df: Poisson sum;      | < 1.2e-7       |
  |                               | odd df: erfc plus a finite series), NULL above 20             |                |
  | stat_lgamma(x)                | Lanczos (NR gammln), x > 0; DuckDB's native lgamma            | < 2e-10 abs.   |
  | stat_t_quantile_start(df,a,z) | Hill's Student t quantile (ACM Algorithm 396), df >= 2        | < 6e-4         |
  | stat_t_quantile_refine(q0,..) | one Newton step on stat_t_two_sided_p                         | < 3e-7         |
  | stat_clamp01(p)               | least(1, greatest(0, p)): every probability stays in [0, 1]   | exact          |

  Every probability is clamped to [0, 1] (stat_clamp01): a statistic of exactly 0 gives p = 1 exactly.
  Measured worst case over t in [0, 60], df in [0.5, 1e5]: 1.05e-7 relative on the two-sided p-value (the
  erfc's own error); the unit test asserts 1e-6 on a grid of values.
  The quantile of the 95 % intervals is the normal one, stat_z_975() = 1.959963984540054.

  Dialect differences live in dispatched macros: the double type's name, exp (PostgreSQL and Redshift raise
  an error on underflow, DuckDB returns 0) and lgamma (DuckDB has it built in). Arguments should be column
  names or short expressions: they are repeated inside the approximations.
-#}

{% macro stat_double_type() -%}
  {{ return(adapter.dispatch('stat_double_type', 'monetate_session_stream')()) }}
{%- endmacro %}
{% macro default__stat_double_type() -%}double precision{%- endmacro %}
{% macro duckdb__stat_double_type() -%}double{%- endmacro %}

{% macro stat_double(expr) -%}cast({{ expr }} as {{ stat_double_type() }}){%- endmacro %}

{#- 97.5 % quantile of the standard normal: the 95 % confidence intervals use it. -#}
{% macro stat_z_975() -%}1.959963984540054{%- endmacro %}

{#- exp(x) that returns 0 instead of failing on underflow (values below e^-700 do not matter here). -#}
{% macro stat_exp(x) -%}
  {{ return(adapter.dispatch('stat_exp', 'monetate_session_stream')(x)) }}
{%- endmacro %}
{% macro default__stat_exp(x) -%}
  {#- PostgreSQL/Redshift: exp() of a very negative double raises "value out of range: underflow" -#}
  exp(case when ({{ x }}) < -700.0 then -700.0 else ({{ x }}) end)
{%- endmacro %}
{% macro duckdb__stat_exp(x) -%}exp({{ x }}){%- endmacro %}

{#- ln(gamma(x)) for x > 0. -#}
{% macro stat_lgamma(x) -%}
  {{ return(adapter.dispatch('stat_lgamma', 'monetate_session_stream')(x)) }}
{%- endmacro %}
{% macro default__stat_lgamma(x) -%}
  {#- Lanczos approximation with the six coefficients of Numerical Recipes' gammln (|error| < 2e-10) -#}
  (ln(2.5066282746310005 * (1.000000000190015
      + 76.18009172947146 / (({{ x }}) + 1.0) - 86.50532032941677 / (({{ x }}) + 2.0)
      + 24.01409824083091 / (({{ x }}) + 3.0) - 1.231739572450155 / (({{ x }}) + 4.0)
      + 0.001208650973866179 / (({{ x }}) + 5.0) - 0.000005395239384953 / (({{ x }}) + 6.0)) / ({{ x }}))
   - ((({{ x }}) + 5.5) - (({{ x }}) + 0.5) * ln(({{ x }}) + 5.5)))
{%- endmacro %}
{% macro duckdb__stat_lgamma(x) -%}lgamma({{ x }}){%- endmacro %}

{#-
  A probability clamped to [0, 1]. The approximations are accurate to ~1e-7, which can land just outside the
  range (erfc(0) is 1 + 3e-8, so a test statistic of exactly 0 gave p = 1.00000003). Only for expressions that
  are not NULL where they are used (least/greatest ignore NULLs on every engine): each caller applies it inside
  a branch whose inputs are known.
-#}
{% macro stat_clamp01(p) -%}
  least(1.0, greatest(0.0, {{ p }}))
{%- endmacro %}

{#- Complementary error function, every real x (Numerical Recipes erfcc: fractional error < 1.2e-7). -#}
{% macro stat_erfc(x) -%}
  {%- set z = 'abs(' ~ x ~ ')' -%}
  {%- set t = '(1.0 / (1.0 + 0.5 * ' ~ z ~ '))' -%}
  {%- set poly = '(-1.26551223 + ' ~ t ~ ' * (1.00002368 + ' ~ t ~ ' * (0.37409196 + ' ~ t ~ ' * (0.09678418 + '
      ~ t ~ ' * (-0.18628806 + ' ~ t ~ ' * (0.27886807 + ' ~ t ~ ' * (-1.13520398 + ' ~ t ~ ' * (1.48851587 + '
      ~ t ~ ' * (-0.82215223 + ' ~ t ~ ' * 0.17087277)))))))))' -%}
  {%- set tail = '(' ~ t ~ ' * ' ~ stat_exp('-' ~ z ~ ' * ' ~ z ~ ' + ' ~ poly) ~ ')' -%}
  {#- clamped to [0, 2] (the fit gives 1 + 3e-8 at 0): every probability built on it stays within [0, 1].
      least() ignores NULLs, but `tail` is never NULL inside a branch (x is not NULL there) -#}
  (case when ({{ x }}) >= 0 then least(1.0, {{ tail }}) else 2.0 - least(1.0, {{ tail }}) end)
{%- endmacro %}

{#- Standard normal CDF. -#}
{% macro stat_normal_cdf(x) -%}
  (0.5 * {{ stat_erfc('-(' ~ x ~ ') * 0.7071067811865476') }})
{%- endmacro %}

{#- Two-sided p-value of a z statistic: P(|Z| >= |z|). -#}
{% macro stat_normal_two_sided_p(z) -%}
  {{ stat_erfc('abs(' ~ z ~ ') * 0.7071067811865476') }}
{%- endmacro %}

{#- Continued fraction of the regularized incomplete beta (NR betacf), `depth` levels, evaluated bottom-up. -#}
{% macro _stat_betacf(a, b, x, depth=20) -%}
  {%- set ns = namespace(f='1.0') -%}
  {%- for m in range(depth, 0, -1) -%}
    {%- set ns.f = '(1.0 + ' ~ m ~ '.0 * ((' ~ b ~ ') - ' ~ m ~ '.0) * (' ~ x ~ ') / (((' ~ a ~ ') + ' ~ (2 * m - 1)
        ~ '.0) * ((' ~ a ~ ') + ' ~ (2 * m) ~ '.0)) / ' ~ ns.f ~ ')' -%}
    {%- set ns.f = '(1.0 - ((' ~ a ~ ') + ' ~ (m - 1) ~ '.0) * ((' ~ a ~ ') + (' ~ b ~ ') + ' ~ (m - 1) ~ '.0) * ('
        ~ x ~ ') / (((' ~ a ~ ') + ' ~ (2 * m - 2) ~ '.0) * ((' ~ a ~ ') + ' ~ (2 * m - 1) ~ '.0)) / ' ~ ns.f ~ ')' -%}
  {%- endfor -%}
  {{ ns.f }}
{%- endmacro %}

{#-
  Two-sided p-value of Student's t with `df` (any real > 0) degrees of freedom: P(|T| >= |t|).
  p = I_x(df/2, 1/2) with x = df / (df + t^2). NULL when t or df is NULL or df <= 0.
-#}
{% macro stat_t_two_sided_p(t, df) -%}
  {%- set tt = '((' ~ t ~ ') * (' ~ t ~ '))' -%}
  {%- set a = '((' ~ df ~ ') / 2.0)' -%}
  {%- set x = '((' ~ df ~ ') / ((' ~ df ~ ') + ' ~ tt ~ '))' -%}
  {%- set x1 = '(' ~ tt ~ ' / ((' ~ df ~ ') + ' ~ tt ~ '))' -%}
  {#- ln B(a, 1/2) terms: lgamma(a + 1/2) - lgamma(a) - lgamma(1/2) -#}
  {%- set lbeta = '(' ~ stat_lgamma(a ~ ' + 0.5') ~ ' - ' ~ stat_lgamma(a) ~ ' - 0.5723649429247001 + ' ~ a
      ~ ' * ln(greatest(' ~ x ~ ', 1e-300)) + 0.5 * ln(greatest(' ~ x1 ~ ', 1e-300)))' -%}
  {%- set hill_a = '((' ~ df ~ ') - 0.5)' -%}
  {%- set hill_b = '(48.0 * ' ~ hill_a ~ ' * ' ~ hill_a ~ ')' -%}
  {%- set hill_y = '(' ~ hill_a ~ ' * ln(1.0 + ' ~ tt ~ ' / (' ~ df ~ ')))' -%}
  {%- set hill_z = '((((((-0.4 * ' ~ hill_y ~ ' - 3.3) * ' ~ hill_y ~ ' - 24.0) * ' ~ hill_y ~ ' - 85.5) / (0.8 * '
      ~ hill_y ~ ' * ' ~ hill_y ~ ' + 100.0 + ' ~ hill_b ~ ') + ' ~ hill_y ~ ' + 3.0) / ' ~ hill_b ~ ' + 1.0) * sqrt('
      ~ hill_y ~ '))' -%}
  (case
    when ({{ t }}) is null or ({{ df }}) is null or ({{ df }}) <= 0 then null
    when ({{ df }}) > 100 then {{ stat_erfc(hill_z ~ ' * 0.7071067811865476') }}
    when {{ x }} < ({{ a }} + 1.0) / ({{ a }} + 2.5)
      then {{ stat_clamp01(stat_exp(lbeta) ~ ' / ' ~ a ~ ' / ' ~ _stat_betacf(a, '0.5', x)) }}
    else {{ stat_clamp01('1.0 - ' ~ stat_exp(lbeta) ~ ' / 0.5 / ' ~ _stat_betacf('0.5', a, x1)) }}
  end)
{%- endmacro %}

{#-
  Upper tail of the chi-square distribution, P(X >= x), integer df 1..20 (NULL otherwise):
  even df = 2m:   exp(-x/2) * sum_{k<m} (x/2)^k / k!
  odd df = 2m+1:  erfc(sqrt(x/2)) + sqrt(2x/pi) * exp(-x/2) * sum_{k=1..m} x^(k-1) / (1*3*...*(2k-1))
-#}
{% macro stat_chi2_sf(x, df) -%}
  {%- set xs = '(' ~ x ~ ')' -%}
  {%- set e = stat_exp('-' ~ xs ~ ' / 2.0') -%}
  (case
    when {{ xs }} is null or ({{ df }}) is null then null
    when {{ xs }} <= 0 and ({{ df }}) between 1 and 20 then 1.0
  {%- for df_value in range(1, 21) %}
    {%- set m = df_value // 2 %}
    {%- if df_value % 2 == 0 %}
      {%- set terms = ['1.0'] %}
      {%- set fact = namespace(v=1) %}
      {%- for k in range(1, m) %}{% set fact.v = fact.v * k %}{% do terms.append('power(' ~ xs ~ ' / 2.0, ' ~ k ~ ') / ' ~ fact.v ~ '.0') %}{% endfor %}
    when ({{ df }}) = {{ df_value }} then {{ stat_clamp01(e ~ ' * (' ~ (terms | join(' + ')) ~ ')') }}
    {%- else %}
      {%- set terms = [] %}
      {%- set fact = namespace(v=1) %}
      {%- for k in range(1, m + 1) %}{% set fact.v = fact.v * (2 * k - 1) %}{% do terms.append('power(' ~ xs ~ ', ' ~ (k - 1) ~ ') / ' ~ fact.v ~ '.0') %}{% endfor %}
    {%- set odd = stat_erfc('sqrt(' ~ xs ~ ' / 2.0)') ~ ((' + sqrt(2.0 * ' ~ xs ~ ' / 3.141592653589793) * ' ~ e ~ ' * ('
        ~ (terms | join(' + ')) ~ ')') if terms else '') %}
    when ({{ df }}) = {{ df_value }} then {{ stat_clamp01(odd) }}
    {%- endif %}
  {%- endfor %}
  end)
{%- endmacro %}

{#-
  `as materialized` for a CTE whose columns are used many times by the approximations above. PostgreSQL inlines
  a CTE referenced once, substituting its expressions into every use: a p-value that repeats its t statistic ~100
  times then repeats the whole expression tree behind it, and the server runs out of stack (it crashed on the
  readout). DuckDB accepts the same keyword; Redshift has none (it does not inline expressions that way).
-#}
{% macro stat_materialized() -%}
  {{ return(adapter.dispatch('stat_materialized', 'monetate_session_stream')()) }}
{%- endmacro %}
{% macro default__stat_materialized() -%}materialized{%- endmacro %}
{% macro redshift__stat_materialized() -%}{%- endmacro %}

{#-
  Two-sided quantile of Student's t: the q > 0 with P(|T_df| >= q) = alpha, in two steps because the second
  repeats the first many times (materialize q0 in a CTE column between them):
    stat_t_quantile_start(df, alpha, z): G. W. Hill's approximation (ACM Algorithm 396, 1970) for real df >= 2,
      z = the normal quantile of 1 - alpha/2. Relative error < 6e-4 at df 2, < 1e-5 from df 3.
    stat_t_quantile_refine(q0, df, alpha): one Newton step on stat_t_two_sided_p, q0 + (p(q0) - alpha) / (2 f(q0))
      with f the t density. Relative error < 3e-7 for df >= 2 (tests/unit/test_statistics_macros.py, against
      scipy's t.ppf). The readout asks for df >= 2 only (its minimum of 3 units per arm).
-#}
{% macro stat_t_quantile_start(df, alpha, z) -%}
  {%- set n = '(' ~ df ~ ')' -%}
  {%- set alpha = stat_double(alpha) -%}
  {%- set z = stat_double(z) -%}
  {%- set a = '(1.0 / (' ~ n ~ ' - 0.5))' -%}
  {%- set b = '(48.0 / (' ~ a ~ ' * ' ~ a ~ '))' -%}
  {%- set c = '((((20700.0 * ' ~ a ~ ' / ' ~ b ~ ' - 98.0) * ' ~ a ~ ' - 16.0) * ' ~ a ~ ' + 96.36))' -%}
  {%- set d = '((((94.5 / (' ~ b ~ ' + ' ~ c ~ ') - 3.0) / ' ~ b ~ ' + 1.0) * sqrt(' ~ a ~ ' * 1.5707963267948966) * ' ~ n ~ '))' -%}
  {%- set y0 = 'power(' ~ d ~ ' * ' ~ alpha ~ ', 2.0 / ' ~ n ~ ')' -%}
  {%- set x = '(-' ~ z ~ ')' -%}
  {%- set c2 = '(' ~ c ~ ' + (case when ' ~ n ~ ' < 5 then 0.3 * (' ~ n ~ ' - 4.5) * (' ~ x ~ ' + 0.6) else 0.0 end))' -%}
  {%- set c3 = '((((0.05 * ' ~ d ~ ' * ' ~ x ~ ' - 5.0) * ' ~ x ~ ' - 7.0) * ' ~ x ~ ' - 2.0) * ' ~ x ~ ' + ' ~ b ~ ' + ' ~ c2 ~ ')' -%}
  {%- set xx = '(' ~ x ~ ' * ' ~ x ~ ')' -%}
  {%- set y1 = '((((((0.4 * ' ~ xx ~ ' + 6.3) * ' ~ xx ~ ' + 36.0) * ' ~ xx ~ ' + 94.5) / ' ~ c3 ~ ' - ' ~ xx ~ ' - 3.0) / ' ~ b ~ ' + 1.0) * ' ~ x ~ ')' -%}
  {%- set y2 = '(' ~ a ~ ' * ' ~ y1 ~ ' * ' ~ y1 ~ ')' -%}
  {%- set tail_y = '(case when ' ~ y2 ~ ' > 0.002 then exp(' ~ y2 ~ ') - 1.0 else 0.5 * ' ~ y2 ~ ' * ' ~ y2 ~ ' + ' ~ y2 ~ ' end)' -%}
  {%- set far_y = '(((1.0 / (((' ~ n ~ ' + 6.0) / (' ~ n ~ ' * ' ~ y0 ~ ') - 0.089 * ' ~ d ~ ' - 0.822) * (' ~ n ~ ' + 2.0) * 3.0) + 0.5 / (' ~ n ~ ' + 4.0)) * ' ~ y0 ~ ' - 1.0) * (' ~ n ~ ' + 1.0) / (' ~ n ~ ' + 2.0) + 1.0 / ' ~ y0 ~ ')' -%}
  (case when {{ n }} is null or {{ n }} < 2 then null
        else sqrt({{ n }} * (case when {{ y0 }} > 0.05 + {{ a }} then {{ tail_y }} else {{ far_y }} end)) end)
{%- endmacro %}

{% macro stat_t_density(t, df) -%}
  {{ stat_exp(stat_lgamma('((' ~ df ~ ') + 1.0) / 2.0') ~ ' - ' ~ stat_lgamma('(' ~ df ~ ') / 2.0')
     ~ ' - 0.5 * ln((' ~ df ~ ') * 3.141592653589793) - ((' ~ df ~ ') + 1.0) / 2.0 * ln(1.0 + (' ~ t ~ ') * (' ~ t
     ~ ') / (' ~ df ~ '))') }}
{%- endmacro %}

{% macro stat_t_quantile_refine(q0, df, alpha) -%}
  (case when ({{ q0 }}) is null then null
        else ({{ q0 }}) + ({{ stat_t_two_sided_p(q0, df) }} - {{ stat_double(alpha) }}) / (2.0 * {{ stat_t_density(q0, df) }}) end)
{%- endmacro %}

{#-
  Quantile of the standard normal, Phi^-1(p), for a constant 0 < p < 1 known when the model compiles (the
  readout's 1 - alpha/2): P. J. Acklam's rational approximation (relative error < 1.15e-9; three regions, the
  one for p chosen here). SQL only for ln and sqrt in the tails; tests/unit/test_statistics_macros.py checks it
  against scipy's norm.ppf.
-#}
{% macro stat_normal_quantile(p) -%}
  {%- set a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
               -3.066479806614716e+01, 2.506628277459239e+00] -%}
  {%- set b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
               -1.328068155288572e+01] -%}
  {%- set c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
               4.374664141464968e+00, 2.938163982698783e+00] -%}
  {%- set d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00] -%}
  {%- set p = p | float -%}
  {%- if not (0 < p < 1) -%}
    {{ exceptions.raise_compiler_error('stat_normal_quantile: p must be in (0, 1), got ' ~ p) }}
  {%- endif -%}
  {%- if 0.02425 <= p <= 1 - 0.02425 -%}
    {%- set q = p - 0.5 -%}
    {%- set r = q * q -%}
    {{ (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
       / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1) }}
  {%- else -%}
    {%- set tail = p if p < 0.5 else 1 - p -%}
    {%- set q = 'sqrt(-2.0 * ln(' ~ stat_double(tail) ~ '))' -%}
    {%- set num = '(((((' ~ c[0] ~ ' * ' ~ q ~ ' + ' ~ c[1] ~ ') * ' ~ q ~ ' + ' ~ c[2] ~ ') * ' ~ q ~ ' + ' ~ c[3] ~ ') * '
        ~ q ~ ' + ' ~ c[4] ~ ') * ' ~ q ~ ' + ' ~ c[5] ~ ')' -%}
    {%- set den = '((((' ~ d[0] ~ ' * ' ~ q ~ ' + ' ~ d[1] ~ ') * ' ~ q ~ ' + ' ~ d[2] ~ ') * ' ~ q ~ ' + ' ~ d[3] ~ ') * '
        ~ q ~ ' + 1.0)' -%}
    ({{ '' if p < 0.5 else '-' }}{{ num }} / {{ den }})
  {%- endif -%}
{%- endmacro %}
