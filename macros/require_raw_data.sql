{#-
  on-run-start hook: stop `dbt build` / `dbt run` with one clear line when the loader has not loaded anything
  into the raw schema yet, instead of a build of empty models or a database's "table does not exist" per model.

  The raw `sessions` table and dlt's `_dlt_loads` exist from the first load that brought sessions on. Checked
  through dbt's adapter (information schema), so it works the same on DuckDB, PostgreSQL and Redshift. Skipped
  when not executing, with --vars '{monetate_introspect: false}' (compiling without a connection), and for
  commands that do not read the raw data (seed, test, docs, ...).
-#}
{% macro monetate_require_raw_data() -%}
  {%- if execute and var('monetate_introspect', true) and flags.WHICH in ('build', 'run') -%}
    {%- set missing = [] -%}
    {%- for name in ['_dlt_loads', 'sessions'] -%}
      {%- if adapter.get_relation(database=target.database, schema=var('raw_schema'), identifier=name) is none -%}
        {%- do missing.append(name) -%}
      {%- endif -%}
    {%- endfor -%}
    {%- if missing -%}
      {{ exceptions.raise_compiler_error("no Session Stream data loaded yet in " ~ var('raw_schema')
           ~ " (no table " ~ missing | join(', ') ~ "): run python dlt_pipeline/run.py first") }}
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}
