-- Reconciliation across marts: per session, purchase_items add up to sessions' item count, item
-- value and purchased quantity, and offer_exposures has exactly offer_count rows. sessions' counts
-- and the child marts' rows are built from the same intermediate child models, so any difference is a
-- bug (or an incremental run that touched one mart and not the other). Fails with one row per offending
-- session.
with facts as (

    select session_id, offer_count, purchased_item_count, purchased_items_value, purchased_quantity
    from {{ ref('sessions') }}
    where {{ monetate_test_scope(ref('sessions')) }}

),

items as (

    select session_id, count(*) as item_rows, sum(line_value) as items_value, sum(quantity) as items_quantity
    from {{ ref('purchase_items') }}
    where session_id in (select session_id from facts)
    group by session_id

),

exposures as (

    select session_id, count(*) as exposure_rows
    from {{ ref('offer_exposures') }}
    where session_id in (select session_id from facts)
    group by session_id

)

select
    facts.session_id,
    facts.purchased_item_count,
    coalesce(items.item_rows, 0) as purchase_items_rows,
    facts.purchased_items_value,
    items.items_value as purchase_items_value,
    facts.purchased_quantity,
    coalesce(items.items_quantity, 0) as purchase_items_quantity,
    facts.offer_count,
    coalesce(exposures.exposure_rows, 0) as offer_exposure_rows
from facts
left join items on facts.session_id = items.session_id
left join exposures on facts.session_id = exposures.session_id
where facts.purchased_item_count <> coalesce(items.item_rows, 0)
   or abs(coalesce(facts.purchased_items_value, 0) - coalesce(items.items_value, 0)) > 0.005
   or coalesce(facts.purchased_quantity, 0) <> coalesce(items.items_quantity, 0)
   or facts.offer_count <> coalesce(exposures.exposure_rows, 0)
