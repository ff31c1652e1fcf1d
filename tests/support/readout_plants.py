"""Hand-made experiences with known, degenerate outcomes, for the readout's end-to-end test.

The generator's day makes realistic experiments; these make the cases a readout must survive without printing a
wrong number: two identical arms (every test statistic exactly 0, so every p-value must be exactly 1), zero
conversions in one arm against six in the other, no variance in a metric, one order against two, splits of
three and four visitors, and a guardrail metric (sessions per visitor) that drops. Each is an experience of its
own that the stand-in Metadata API serves (50/50, with a control), so the readout compares its arms; the
reference (``readout_check``) reads the same sessions from the files, so every figure is still checked against
numpy/scipy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

from dlt_pipeline.synthetic import metadata_catalog as catalog_module
from dlt_pipeline.synthetic.design import ExperienceDesign, SplitDesign, experience_design
from dlt_pipeline.synthetic.generator import make_session
from support.readout_check import SplitInfo

Arm = list[tuple[int, list[float]]]
"""One arm: per visitor, (sessions, order values)."""


@dataclass(frozen=True)
class Plant:
    experience_id: int
    name: str
    control: Arm
    treatment: Arm

    @property
    def split_ids(self) -> tuple[int, int]:
        base = 3_990_000 + (self.experience_id % 1000) * 10
        return base + 1, base + 2


def _arm(n: int, orders: dict[int, list[float]], two_sessions: int = 0) -> Arm:
    """`n` visitors; visitor i places the orders `orders[i]`; the first `two_sessions` come back once."""
    return [(2 if i < two_sessions else 1, orders.get(i, [])) for i in range(n)]


_TIE = _arm(120, {0: [10.0], 1: [20.0], 2: [30.0], 3: [10.0, 15.0], 4: [20.0], 5: [35.5]}, two_sessions=30)
PLANTS = (
    Plant(299101, "Planted tie", _TIE, list(_TIE)),
    Plant(299102, "Planted six conversions vs none", _arm(120, {}),
          _arm(120, {i * 20: [10.0 * (i + 1)] for i in range(6)})),
    Plant(299103, "Planted one order vs two", _arm(120, {7: [25.0]}, two_sessions=60),
          _arm(120, {7: [25.0], 9: [35.0]}, two_sessions=60)),
    Plant(299104, "Planted tiny splits", _arm(3, {0: [40.0]}), _arm(4, {1: [12.5]}, two_sessions=2)),
    # sessions per visitor falls from 1.5 to 1.1: a guardrail that is significantly worse
    Plant(299105, "Planted guardrail drop", _arm(120, {i: [20.0] for i in range(6)}, two_sessions=60),
          _arm(120, {i: [20.0] for i in range(6)}, two_sessions=12)),
)
TIE, SIX_VS_NONE, ONE_VS_TWO, TINY, GUARDRAIL_DROP = PLANTS


def _design(p: Plant) -> ExperienceDesign:
    ctrl, treat = p.split_ids
    splits = tuple(
        SplitDesign(split_id=sid, variant=variant, share=0.5, assigned_share=0.5, is_control=variant == "Control",
                    name=variant, original_name=variant, description="", original_description="")
        for sid, variant in ((ctrl, "Control"), (treat, "B")))
    return ExperienceDesign(p.experience_id, p.name, p.name, "Standard", "standard", 0.0, splits)


@contextmanager
def planted_catalog() -> Iterator[None]:
    """While open, the synthetic Metadata API catalog also describes the planted experiences."""
    def design(config: Any = None) -> list[ExperienceDesign]:  # noqa: ANN401
        return [*experience_design(config), *(_design(p) for p in PLANTS)]

    with mock.patch.object(catalog_module, "experience_design", design):
        yield


def planted_split_info() -> dict[int, SplitInfo]:
    """What the metadata says about the planted splits (readout_check.split_info's shape)."""
    out = {}
    for p in PLANTS:
        ctrl, treat = p.split_ids
        out[ctrl] = SplitInfo(str(p.experience_id), p.experience_id, 0.5, True)
        out[treat] = SplitInfo(str(p.experience_id), p.experience_id, 0.5, False)
    return out


def _plain_template(account: int, start_ms: int) -> dict[str, Any]:
    seed = 0
    while True:
        doc = make_session(account, start_ms, seed=seed)
        if not doc["purchase_count"] and doc["has_stealth"] == "f" and len(doc["view_lines"]) < 1000:
            return doc
        seed += 1


def _session(account: int, visitor: str, start_ms: int, split_id: int, orders: list[float]) -> dict[str, Any]:
    """A closed session of `visitor` exposed to `split_id` 100 ms after its start, with one purchase per order."""
    doc = _plain_template(account, start_ms)
    guid = f"{account}:{visitor}"
    lines = {f"ORD{visitor.replace('.', '')}{k}": {
        "value": v, "time": start_ms + 1000 + k,
        "items": [{"product_id": "884512", "sku": "884512-10", "unit_price": v, "quantity": 1}]}
        for k, v in enumerate(orders)}
    total = round(sum(orders), 2)
    doc.update(guid=guid, session_id=f"{guid}:0:{doc['start_time']}:{doc['end_time']}", has_stealth="f",
               offers={str(split_id): start_ms + 100}, purchase_lines=lines,
               purchases={k: v["value"] for k, v in lines.items()}, purchase_count=len(orders),
               has_purchase="t" if orders else "f", session_value=total,
               session_value_ss=round(total * total, 4),
               purchase_value_ss=round(sum(v * v for v in orders), 4))
    return doc


def planted_sessions(account: int, day: dt.date) -> list[dict[str, Any]]:
    """Every session of the planted experiences, on `day` from 13:00 UTC (returning visitors one hour later)."""
    base = int(dt.datetime(day.year, day.month, day.day, 13, tzinfo=dt.UTC).timestamp() * 1000)
    out = []
    for p in PLANTS:
        for arm_no, (split_id, arm) in enumerate(zip(p.split_ids, (p.control, p.treatment), strict=True)):
            for i, (sessions, orders) in enumerate(arm):
                visitor = f"8.{p.experience_id % 1000:03d}{arm_no}{i:04d}.1"
                start = base + (p.experience_id % 1000) * 600_000 + arm_no * 300_000 + i * 1000
                out.append(_session(account, visitor, start, split_id, orders))
                out += [_session(account, visitor, start + 3_600_000 * k, split_id, [])
                        for k in range(1, sessions)]
    return out
