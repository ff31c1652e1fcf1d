{#-
  Names on incremental marts stay current.

  A mart such as offer_exposures is incremental: a run re-derives only the sessions touched by new loads. Names
  come from the Metadata API and change in the vendor UI while ids never do, so a row built last week would keep
  last week's name. This post-hook, run after every build of the mart, sets the name columns of every row whose
  values differ from its dimension's current ones (NULL compared as a value; spelled out because Redshift has no
  `is distinct from`), so after each `dbt build` every row shows the current name, exactly as a full build
  would, without rewriting unchanged rows. Only ids whose names changed in the last var mart_names_refresh_days
  (default 7) are looked at (dimension column names_changed_at), so a build does not scan the whole mart for
  names that did not change; a run failing for longer than that needs `dbt build --full-refresh` for the names.
  UPDATE ... FROM with a target alias is valid on DuckDB, PostgreSQL and Redshift. The hook runs on every
  build, also the first and --full-refresh ones, where it finds nothing to change.
  For the name a split had at the time of a session, join experiment_name_history (docs/dimensions.md).
-#}
{% macro monetate_refresh_names(dimension, key_column, columns) -%}
  {%- if execute -%}
update {{ this }} as facts
set
  {%- for column in columns %}
    {{ column }} = names.{{ column }}{{ ',' if not loop.last }}
  {%- endfor %}
from (
    select * from {{ dimension }}
    where names_changed_at >= {{ dbt.dateadd('day', -1 * var('mart_names_refresh_days', 7),
                                             dbt.cast(dbt.current_timestamp(), dbt.type_timestamp())) }}
) as names
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

{#-
  Dimensions: when each id's names last changed, so the post-hook above only touches rows whose names did.

  `select <relation>.*, names_changed_at` where names_changed_at is the time of the build that first saw the
  id's current names differ from the previous build's (NULL while they never changed: an id new to the
  dimension has no rows with older names). Read from the dimension's previous table, which still exists while
  dbt builds the new one. Without the post-hook's look-back (var mart_names_refresh_days, 7) a name change would
  make every later build scan the whole mart; with it, a build scans only rows of ids renamed in the last days.
-#}
{% macro monetate_names_changed_at(relation, key_column, columns) -%}
  {%- set previous = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier)
                     if execute else none -%}
  {%- set previous_columns = adapter.get_columns_in_relation(previous) | map(attribute='name') | map('lower') | list
                             if previous is not none else [] -%}
  {%- set now = dbt.cast(dbt.current_timestamp(), dbt.type_timestamp()) -%}
  select
      {{ relation }}.*,
  {%- if previous is none or key_column not in previous_columns %}
      cast(null as {{ dbt.type_timestamp() }}) as names_changed_at
  from {{ relation }}
  {%- else %}
      case
          when previous.{{ key_column }} is null then
              {{ 'previous.names_changed_at' if 'names_changed_at' in previous_columns else 'cast(null as ' ~ dbt.type_timestamp() ~ ')' }}
      {%- for column in columns if column in previous_columns %}
          when {{ relation }}.{{ column }} <> previous.{{ column }}
            or ({{ relation }}.{{ column }} is null and previous.{{ column }} is not null)
            or ({{ relation }}.{{ column }} is not null and previous.{{ column }} is null) then {{ now }}
      {%- endfor %}
          else {{ 'previous.names_changed_at' if 'names_changed_at' in previous_columns else 'cast(null as ' ~ dbt.type_timestamp() ~ ')' }}
      end as names_changed_at
  from {{ relation }}
  left join {{ previous }} as previous
      on {{ relation }}.{{ key_column }} = previous.{{ key_column }}
  {%- endif %}
{%- endmacro %}
