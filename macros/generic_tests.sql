{#- Generic tests written here because dbt hub packages (dbt_utils) cannot be installed in this project. -#}

{#- Fails with one row per duplicated combination, naming it and how often it occurs. -#}
{% test monetate_unique_combination(model, combination_of_columns) %}
select
    {{ combination_of_columns | join(', ') }},
    count(*) as occurrences
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Fails with every row where the expression is not true (NULL counts as a failure). -#}
{% test monetate_expression_is_true(model, expression, column_name=none, where_clause=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{%- if where_clause %} and ({{ where_clause }}){% endif %}
{% endtest %}

{#- Fails when the relation's row count is outside [min_count, max_count]. -#}
{% test monetate_row_count_between(model, min_count=0, max_count=none) %}
select row_count
from (select count(*) as row_count from {{ model }}) as counted
where row_count < {{ min_count }}
{%- if max_count is not none %} or row_count > {{ max_count }}{% endif %}
{% endtest %}

{#- Fails with the rows whose value lies outside [min_value, max_value] (NULLs are ignored). -#}
{% test monetate_accepted_range(model, column_name, min_value=none, max_value=none) %}
select *
from {{ model }}
where {{ column_name }} is not null
  and (
    1 = 0
    {%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
    {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
  )
{% endtest %}

{#- Fails with one row when the relation and compare_model do not have the same number of rows (a cheap check that a
    compatibility view returns what its mart holds: models/marts/deprecated/). -#}
{% test monetate_same_row_count_as(model, compare_model) %}
select model_rows, compare_rows
from (select count(*) as model_rows from {{ model }}) as a
cross join (select count(*) as compare_rows from {{ compare_model }}) as b
where model_rows <> compare_rows
{% endtest %}
