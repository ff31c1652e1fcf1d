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
  One row per (experience, split): additive sums per metric, the derived per-split figures, the comparison with
  the experience's control (lift, CI, p-value), CUPED, the sample-ratio-mismatch check and a readout warning.
  The unit is the visitor (experiment_exposures); visitors seen in two splits of the experience are left out and
  counted in experience_multi_split_visitors. Formulas: macros/experiments.sql and docs/experiment_readout.md.
-#}
with visitors as (

    select * from {{ ref('experiment_exposures') }}
    where not is_multi_split

),

splits as (

    select * from {{ ref('splits') }}

),

multi as (

    select experience_key, count(*) as multi_split_visitors
    from {{ ref('experiment_exposures') }}
    where is_multi_split
    group by experience_key

),

{{ experiment_readout('visitors', 'splits', 'multi') }}

select {{ monetate_contract_columns() }} from final
