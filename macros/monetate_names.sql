{#-
  Names on incremental marts stay current.

  A mart such as offer_exposure is incremental: a run re-derives only the sessions touched by new loads. Names
  come from the Metadata API and change in the vendor UI while ids never do, so a row built last week would keep
  last week's name. This post-hook, run after every build of the mart, sets the name columns of every row whose
  values differ from its dimension's current ones (NULL compared as a value; spelled out because Redshift has no
  `is distinct from`), so after each `dbt build` every row shows the current name, exactly as a full build
  would, without rewriting unchanged rows.
  UPDATE ... FROM with a target alias is valid on DuckDB, PostgreSQL and Redshift. The hook runs on every
  build, also the first and --full-refresh ones, where it finds nothing to change.
  For the name a split had at the time of a session, join dim_experiment_name_history (docs/dimensions.md).
-#}
{% macro monetate_refresh_names(dimension, key_column, columns) -%}
  {%- if execute -%}
update {{ this }} as facts
set
  {%- for column in columns %}
    {{ column }} = names.{{ column }}{{ ',' if not loop.last }}
  {%- endfor %}
from {{ dimension }} as names
where facts.{{ key_column }} = names.{{ key_column }}
  and (
  {%- for column in columns %}
    {{ 'or ' if not loop.first }}facts.{{ column }} <> names.{{ column }}
    or (facts.{{ column }} is null and names.{{ column }} is not null)
    or (facts.{{ column }} is not null and names.{{ column }} is null)
  {%- endfor %}
  )
  {%- endif -%}
{%- endmacro %}
