"""The generator's ground truth is what every other test compares against, so it is checked independently.

Generates a tree, then re-reads every file with plain gzip + orjson (no generator code
except path helpers) and checks every truth number and every consistency rule.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import math
import re
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pytest
from scipy import stats

from dlt_pipeline.synthetic.design import OLD_SPLIT_IDS, page_event_design
from dlt_pipeline.synthetic.generator import (
    ExperienceDesign,
    GeneratorConfig,
    SplitDesign,
    experience_design,
    generate,
    iter_sessions,
)
from dlt_pipeline.synthetic.metadata_catalog import metadata_catalog

VENDOR_FIELDS = {
    "account_id": int,
    "browser": str,
    "browser_version": str,
    "cart_lines": list,
    "city": str,
    "country_code": str,
    "custom_targets": dict,
    "customer_id": (str, type(None)),
    "customer_link": (str, type(None)),
    "device_type": str,
    "end_time": int,
    "guid": str,
    "has_cart": str,
    "has_new_customer": str,
    "has_product_view": str,
    "has_purchase": str,
    "has_recommendation_cart": str,
    "has_recommendation_click": str,
    "has_recommendation_impression": str,
    "has_recommendation_purchase": str,
    "has_stealth": str,
    "is_bounce": str,
    "is_closed": str,
    "offers": dict,
    "os": str,
    "os_version": str,
    "page_event_ids": dict,
    "page_views": int,
    "page_views_ss": int,
    "product_view_count": int,
    "purchase_count": int,
    "purchase_lines": dict,
    "purchase_value_ss": float,
    "purchases": dict,
    "region": str,
    "screen_height": int,
    "screen_width": int,
    "session_count": int,
    "session_id": str,
    "session_value": float,
    "session_value_ss": float,
    "start_time": int,
    "time_on_site": int,
    "time_on_site_ss": int,
    "view_lines": list,
}
NAME_RE = re.compile(r"^(\d{8}T\d{6})\.000Z_PT15M-(\d{13})\.json\.gz$")
CAP = 1000


def close(a: float, b: float, tol: float = 0.006) -> bool:
    return abs(a - b) <= tol


def two_dp(x: float) -> bool:
    return abs(round(x, 2) - x) < 1e-9


def verify(out: Path, account: int, spd: int, days: int, fpw: int) -> None:
    truth = generate(
        out,
        account,
        "2026-11-01",
        days,
        spd,
        fpw,
        7,
        redeliver=3,
        reemit=0.2,
        truth_path=out / "truth.json",
    )
    assert orjson.loads((out / "truth.json").read_bytes()) == truth
    cfg = GeneratorConfig(account_id=account, start_date=dt.date(2026, 11, 1), days=days, sessions_per_day=spd,
                          files_per_window=fpw, seed=7, redeliver=3, reemit=0.2)
    assert orjson.loads((out / "metadata_catalog.json").read_bytes()) == metadata_catalog(cfg, revision=1)
    root = out / str(account) / "raw_data" / "session_stream"
    raw = Counter()
    money = defaultdict(float)
    by_sid: dict[str, bytes] = {}
    file_hashes: dict[str, list[str]] = defaultdict(list)
    versions: dict[tuple[str, int], list[tuple[str, int, str, dict]]] = defaultdict(list)
    capped_kinds_by_day: dict[str, set[str]] = defaultdict(set)
    unknown_names: set[str] = set()
    pii = 0
    paths = sorted(root.rglob("*"))
    files = [p for p in paths if p.is_file()]
    assert {p.relative_to(root).as_posix() for p in files} == {f["path"] for f in truth["files"]}
    for path in files:
        rel = path.relative_to(root).as_posix()
        m = NAME_RE.match(path.name)
        assert m, path.name
        ws = dt.datetime.strptime(m.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
        assert ws.minute % 15 == 0 and ws.second == 0
        assert rel.startswith(ws.strftime("%Y/%m/%d/")), rel
        ws_ms = int(ws.timestamp() * 1000)
        body = gzip.decompress(path.read_bytes())
        assert body.endswith(b"\n")
        file_hashes[hashlib.sha256(body).hexdigest()].append(rel)
        raw["files"] += 1
        for line in body.split(b"\n")[:-1]:
            s = orjson.loads(line)
            raw["sessions"] += 1
            # Types and presence of every vendor field.
            for k, t in VENDOR_FIELDS.items():
                assert k in s and isinstance(s[k], t), (k, s.get(k))
            extra = set(s) - set(VENDOR_FIELDS)
            unknown_names |= extra
            raw["unknown_field_sessions"] += bool(extra)
            for k in ("has_cart", "has_new_customer", "has_product_view", "has_purchase", "is_bounce", "is_closed"):
                assert s[k] in ("t", "f")
            assert all(s[k] in ("t", "f") for k in s if k.startswith("has_"))
            start, end = s["start_time"], s["end_time"]
            assert ws_ms <= end < ws_ms + 900_000, "session not in the window in which it ended"
            assert 0 <= end - start <= 43_200_000
            assert s["account_id"] == account and s["session_count"] == 1
            mid = s["guid"].split(":", 1)[1]
            assert s["guid"] == f"{account}:{mid}"
            pc = s["purchase_count"]
            assert s["session_id"] == f"{s['guid']}:{pc}:{start}:{end}"
            if s["session_id"] in by_sid:
                assert by_sid[s["session_id"]] == line, "same session_id, different content"
            by_sid[s["session_id"]] = line
            # Derived fields.
            assert s["time_on_site"] == (end - start) // 1000
            assert s["time_on_site_ss"] == s["time_on_site"] ** 2
            assert s["page_views"] >= 1 and s["page_views_ss"] == s["page_views"] ** 2
            assert s["is_bounce"] == ("t" if s["page_views"] == 1 else "f")
            assert pc == len(s["purchases"]) == len(s["purchase_lines"])
            assert s["has_purchase"] == ("t" if pc else "f")
            assert s["has_cart"] == ("t" if s["cart_lines"] else "f")
            assert s["has_product_view"] == ("t" if s["view_lines"] else "f")
            assert s["product_view_count"] == len(s["view_lines"])
            pvals = 0.0
            ss = 0.0
            capped = any(len(s[k]) >= CAP for k in ("offers", "page_event_ids", "custom_targets", "purchases"))
            capped |= any(len(s[k]) >= CAP for k in ("cart_lines", "view_lines", "purchase_lines"))
            for pid, val in s["purchases"].items():
                pl = s["purchase_lines"][pid]
                assert pl["value"] == val and two_dp(val)
                assert start <= pl["time"] <= end
                isum = 0.0
                for it in pl["items"]:
                    assert set(it) == {"product_id", "sku", "unit_price", "quantity"}
                    assert isinstance(it["quantity"], int) and it["quantity"] >= 1 and two_dp(it["unit_price"])
                    isum += it["unit_price"] * it["quantity"]
                    raw["items_quantity"] += it["quantity"]
                assert val == round(isum, 2), (val, isum)
                money["items_value"] += isum
                money["purchase_lines_value"] += pl["value"]
                raw["sessions__purchase_lines__items"] += len(pl["items"])
                if len(pl["items"]) >= CAP:
                    capped = True
                    capped_kinds_by_day[ws.date().isoformat()].add("purchase_items")
                pvals += val
                ss += val * val
            assert s["session_value"] == round(pvals, 2) and two_dp(s["session_value"])
            assert close(s["session_value_ss"], s["session_value"] ** 2, 1e-3)
            assert close(s["purchase_value_ss"], ss, 1e-3)
            money["session_value"] += s["session_value"]
            money["purchases_value"] += sum(s["purchases"].values())
            for k in ("offers", "page_event_ids"):
                for key, t in s[k].items():
                    assert key.isdigit() and isinstance(t, int) and start <= t <= end
                if len(s[k]) >= CAP:
                    capped_kinds_by_day[ws.date().isoformat()].add(k)
            for k in ("cart_lines", "view_lines"):
                for it in s[k]:
                    assert set(it) == {"product_id", "sku", "time"} and start <= it["time"] <= end
            if len(s["view_lines"]) >= CAP:
                capped_kinds_by_day[ws.date().isoformat()].add("view_lines")
            assert all(isinstance(v, str) for v in s["custom_targets"].values())
            if "9001" in s["custom_targets"]:
                assert "@" in s["custom_targets"]["9001"] and " " in s["custom_targets"]["9002"]
                pii += 1
            raw["capped_sessions"] += capped
            for k, table in (
                ("offers", "sessions__offers"),
                ("page_event_ids", "sessions__page_event_ids"),
                ("custom_targets", "sessions__custom_targets"),
                ("purchases", "sessions__purchases"),
                ("purchase_lines", "sessions__purchase_lines"),
                ("cart_lines", "sessions__cart_lines"),
                ("view_lines", "sessions__view_lines"),
            ):
                raw[table] += len(s[k])
            versions[(s["guid"], start)].append((s["is_closed"], end, path.name, s))

    # ---- raw truth
    t_raw = truth["raw"]
    for k, v in raw.items():
        assert t_raw[k] == v, (k, t_raw[k], v)
    for k, v in money.items():
        assert close(t_raw[k], v), (k, t_raw[k], v)
    assert set(t_raw) == set(raw) | set(money), set(t_raw) ^ (set(raw) | set(money))

    # ---- dedup per the documented rule
    d = Counter()
    dm = defaultdict(float)
    by_day: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    n_multi = 0
    finals: dict[str, list[dict]] = defaultdict(list)
    for vs in versions.values():
        uniq = {v[3]["session_id"]: v for v in vs}  # exact repeats collapse
        n_multi += len(uniq) > 1
        best = max(uniq.values(), key=lambda v: (v[0] == "t", v[1], v[2]))[3]
        if len(uniq) > 1:  # re-emit: the open version sits in an earlier window's file
            assert best["is_closed"] == "t" or best["end_time"] == max(v[1] for v in uniq.values())
            assert max(uniq.values(), key=lambda v: v[2])[3] is best
        finals[best["guid"].split(":", 1)[1]].append(best)
        d["sessions"] += 1
        d["converted_sessions"] += best["purchase_count"] > 0
        dm["revenue"] += best["session_value"]
        d["offer_exposures"] += len(best["offers"])
        d["page_views"] += best["page_views"]
        for pl in best["purchase_lines"].values():
            d["purchase_items"] += len(pl["items"])
            dm["items_value"] += sum(i["unit_price"] * i["quantity"] for i in pl["items"])
        day = dt.datetime.fromtimestamp(best["start_time"] / 1000, dt.UTC).date().isoformat()
        by_day[day][0] += 1
        by_day[day][1] += best["session_value"]
    t_d = truth["dedup"]
    for k, v in d.items():
        assert t_d[k] == v, (k, t_d[k], v)
    for k, v in dm.items():
        assert close(t_d[k], v), (k, t_d[k], v)
    assert set(t_d["by_day"]) == set(by_day)
    for day, (n, rev) in by_day.items():
        assert t_d["by_day"][day]["sessions"] == n and close(t_d["by_day"][day]["revenue"], rev), day
    assert t_d["sessions"] == spd * days
    check_visitor_truth(truth["visitors"], finals)

    # ---- scenario features present
    assert sum(len(v) - 1 for v in file_hashes.values()) == truth["extra"]["redelivered_files"] == 3
    assert n_multi == truth["extra"]["reemitted_sessions"] > 0
    assert unknown_names == {"visitor_score", "experiment_flags", "search_terms"}, unknown_names
    assert pii > 0
    day_dirs = sorted({p.parent.relative_to(root).as_posix() for p in files})
    last = (dt.date(2026, 11, 1) + dt.timedelta(days=days)).strftime("%Y/%m/%d")
    assert spd < 1000 or last in day_dirs, "no next-day files for late sessions"
    if spd >= 1000:
        for i in range(days):
            day = (dt.date(2026, 11, 1) + dt.timedelta(days=i)).isoformat()
            # by start day, over every version (an open re-emit may be cut below the cap)
            kinds = set()
            for s in (v[3] for vs in versions.values() for v in vs):
                if dt.datetime.fromtimestamp(s["start_time"] / 1000, dt.UTC).date().isoformat() != day:
                    continue
                if len(s["view_lines"]) >= CAP:
                    kinds.add("view_lines")
                if len(s["offers"]) >= CAP:
                    kinds.add("offers")
                if len(s["page_event_ids"]) >= CAP:
                    kinds.add("page_event_ids")
                if any(len(p["items"]) >= CAP for p in s["purchase_lines"].values()):
                    kinds.add("purchase_items")
            assert kinds == {"view_lines", "offers", "page_event_ids", "purchase_items"}, (day, kinds)
    n = raw["sessions"]
    conv = d["converted_sessions"] / d["sessions"]
    print(
        f"OK {out}: {raw['files']} files, {n} lines, {d['sessions']} dedup sessions, conversion {conv:.3%}, "
        f"{truth['extra']['reemitted_sessions']} re-emits, {raw['capped_sessions']} capped lines, "
        f"{raw['unknown_field_sessions']} unknown-field lines, {pii} PII lines, day folders {day_dirs}"
    )


def _digest(lines: list[str]) -> str:
    total = sum(int.from_bytes(hashlib.blake2b(x.encode(), digest_size=8).digest(), "big") for x in lines)
    return f"{total % 2**64:016x}"


def check_visitor_truth(got: dict, finals: dict[str, list[dict]]) -> None:
    """The ``visitors`` truth, recomputed from the surviving versions read back from the files (seed 7)."""
    design_events = {str(e.event_id) for e in page_event_design(GeneratorConfig(seed=7)) if e.in_sessions}
    want: Counter = Counter()
    stitched, first, per_visitor, fired = [], [], Counter(), Counter()
    bought: defaultdict[str, list] = defaultdict(lambda: [0, 0.0])
    for mid, sessions in finals.items():
        sessions.sort(key=lambda x: x["start_time"])
        per_visitor[str(len(sessions))] += 1
        ids = {x[k] for x in sessions for k in ("customer_id", "customer_link") if x[k] is not None}
        cids = [x["customer_id"] for x in sessions if x["customer_id"] is not None]
        links = [x["customer_link"] for x in sessions if x["customer_link"] is not None]
        want["visitors"] += 1
        want["identified_visitors"] += bool(ids)
        want["conflicting_visitors"] += len(ids) > 1
        want["returning_visitors"] += len(sessions) > 1
        want["returning_buyers"] += any(x["purchase_count"] > 0 for x in sessions[1:])
        if cids or links:
            want["stitched_visitors"] += 1
            stitched.append(f"{mid}|{(cids or links)[-1]}")
        first.append(f"{mid}|{sessions[0]['start_time']}")
        for x in sessions:
            fired.update(k for k in x["page_event_ids"] if k in design_events)
            for event_id, fired_ms in x["page_event_ids"].items():
                after = [p["value"] for p in x["purchase_lines"].values() if p["time"] >= fired_ms]
                if event_id in design_events and after:
                    bought[event_id][0] += 1
                    bought[event_id][1] += sum(after)
    for key, value in want.items():
        assert got[key] == value, (key, got[key], value)
    assert got["sessions_per_visitor"] == dict(sorted(per_visitor.items(), key=lambda kv: int(kv[0])))
    assert got["stitched_digest"] == _digest(stitched) and got["first_session_digest"] == _digest(first)
    assert got["page_event_sessions"] == dict(fired)
    assert {k: v["sessions"] for k, v in got["bought_after_event"].items()} == {k: n for k, (n, _) in bought.items()}
    for event_id, (_, value) in bought.items():  # float sums in another order: equal to the cent
        assert got["bought_after_event"][event_id]["value"] == pytest.approx(value, abs=0.006), event_id
    assert 0 < len(bought) and all(n < fired[k] for k, (n, _) in bought.items())
    assert 0 < want["conflicting_visitors"] < want["identified_visitors"] < want["visitors"]
    assert 0 < want["returning_buyers"] < want["returning_visitors"]


def test_new_vendor_fields_are_opt_in_and_counted(tmp_path: Path) -> None:
    """new_vendor_field_share adds a scalar and an array the vendor table lacks, without moving any other byte."""
    base = {k: v for _, v in iter_sessions(GeneratorConfig(sessions_per_day=400, seed=3)) for k in [v["session_id"]]}
    truth = generate(tmp_path, sessions_per_day=400, seed=3, new_vendor_field_share=0.2)
    sessions, with_field, items = 0, 0, 0
    for _, s in iter_sessions(GeneratorConfig(sessions_per_day=400, seed=3, new_vendor_field_share=0.2)):
        sessions += 1
        tier, codes = s.pop("loyalty_tier", None), s.pop("coupon_codes", None)
        assert s == base[s["session_id"]]  # everything else unchanged
        assert (tier is None) == (codes is None)
        if tier is not None:
            assert tier in ("bronze", "silver", "gold") and codes and all(isinstance(c, str) for c in codes)
            with_field += 1
            items += len(codes)
    assert sessions == len(base) == truth["dedup"]["sessions"]  # no re-emits: one line per session
    assert truth["extra"]["new_vendor_field_sessions"] == with_field > 0
    assert truth["extra"]["new_vendor_child_items"] == items > with_field
    assert "new_vendor_field_sessions" not in generate(tmp_path / "plain", sessions_per_day=50, seed=3)["extra"]


def check_helpers() -> None:
    from dlt_pipeline.synthetic.generator import (
        GeneratorConfig,
        iter_files,
        iter_sessions,
        make_session,
        read_tree,
        write_session_file,
    )

    cfg = GeneratorConfig(sessions_per_day=300, seed=11)
    sessions = list(iter_sessions(cfg))
    assert len(sessions) == 300 and sum(len(f.lines) for f in iter_files(cfg)) == 300
    s = make_session(1234, 1_793_491_200_000, seed=1)
    assert s["start_time"] == 1_793_491_200_000 and s["is_closed"] == "t"
    assert make_session(closed=False)["is_closed"] == "f"
    with tempfile.TemporaryDirectory() as tmp:
        p = write_session_file(tmp, 1234, "20261102T010000.000Z_PT15M-1793581234567.json.gz", [s, s])
        assert p.relative_to(tmp).as_posix().startswith("1234/raw_data/session_stream/2026/11/02/")
        rows = list(read_tree(tmp, 1234))
        assert [r[1] for r in rows] == [1, 2] and rows[0][2] == s
        bad = write_session_file(tmp, 1234, "20261102T011500.000Z_PT15M-1793582234567.json.gz", b"not gzip")
        assert bad.read_bytes() == b"not gzip"
    print("OK helpers")


def check_determinism(spd: int) -> None:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        generate(a, 99, "2026-11-01", 1, spd, 2, 3, redeliver=2, reemit=0.1)
        generate(b, 99, "2026-11-01", 1, spd, 2, 3, redeliver=2, reemit=0.1)
        fa = {p.relative_to(a): p.read_bytes() for p in Path(a).rglob("*") if p.is_file()}
        fb = {p.relative_to(b): p.read_bytes() for p in Path(b).rglob("*") if p.is_file()}
        assert Path("metadata_catalog.json") in fa
        assert fa == fb and fa
    print("OK determinism")


def test_generator_truth_matches_files(tmp_path: Path) -> None:
    """Re-read every generated file independently and check every truth number and consistency rule."""
    verify(tmp_path, 1234, 1500, 1, 2)


def test_generator_is_deterministic() -> None:
    check_determinism(300)


def test_generator_helpers() -> None:
    check_helpers()


# ---- experiments: stickiness, shares, planted effects (visitor level, demo size) ----------------------------------

DEMO = GeneratorConfig(sessions_per_day=20_000, files_per_window=2, seed=7, redeliver=1, reemit=0.05)
"""What `./dev demo` generates (dlt_pipeline/command.py: run_demo)."""


@dataclass
class Visitors:
    """The demo's deduplicated sessions grouped by visitor (guid), without stealth and capped sessions."""

    sessions: dict[str, list[dict]]
    all_sessions: list[dict]


@pytest.fixture(scope="module")
def demo_visitors() -> Visitors:
    best: dict[tuple[str, int], dict] = {}
    for _, s in iter_sessions(DEMO):
        key = (s["guid"], s["start_time"])
        cur = best.get(key)
        if cur is None or (s["is_closed"] == "t", s["end_time"]) > (cur["is_closed"] == "t", cur["end_time"]):
            best[key] = s
    by_visitor: dict[str, list[dict]] = defaultdict(list)
    for s in sorted(best.values(), key=lambda s: s["start_time"]):
        capped = any(len(s[k]) >= CAP for k in ("offers", "page_event_ids", "view_lines"))
        capped |= any(len(p["items"]) >= CAP for p in s["purchase_lines"].values())
        if s["has_stealth"] == "f" and not capped:
            by_visitor[s["guid"]].append(s)
    return Visitors(dict(by_visitor), list(best.values()))


def exposures(v: Visitors, exp: ExperienceDesign) -> dict[str, list[tuple]]:
    """Per split id: one row per exposed visitor, (converted, revenue, pre_converted, pre_revenue) where
    post = purchases at/after the visitor's first exposure (offer first-seen time), pre = before it."""
    ids = {str(s.split_id) for s in exp.splits}
    out: dict[str, list[tuple]] = defaultdict(list)
    for sessions in v.sessions.values():
        seen = [(s["offers"][k], k) for s in sessions for k in s["offers"] if k in ids]
        if not seen:
            continue
        splits = {k for _, k in seen}
        assert len(splits) == 1, f"visitor in two splits of {exp.experience_id}: {splits}"
        t0 = min(t for t, _ in seen)
        buys = [(p["time"], p["value"]) for s in sessions for p in s["purchase_lines"].values()]
        post = [x for t, x in buys if t >= t0]
        pre = [x for t, x in buys if t < t0]
        out[splits.pop()].append((float(bool(post)), sum(post), float(bool(pre)), sum(pre)))
    return out


def compare(rows: dict[str, list[tuple]], treatment: SplitDesign, control: SplitDesign) -> tuple[float, float, float,
                                                                                                    float]:
    """(relative conversion lift, two-proportion p, relative revenue-per-visitor lift, Welch p) per visitor."""
    t = np.array(rows[str(treatment.split_id)])
    c = np.array(rows[str(control.split_id)])
    p1, p0 = t[:, 0].mean(), c[:, 0].mean()
    pooled = (t[:, 0].sum() + c[:, 0].sum()) / (len(t) + len(c))
    z = (p1 - p0) / np.sqrt(pooled * (1 - pooled) * (1 / len(t) + 1 / len(c)))
    welch = stats.ttest_ind(t[:, 1], c[:, 1], equal_var=False)
    return p1 / p0 - 1, 2 * stats.norm.sf(abs(z)), t[:, 1].mean() / c[:, 1].mean() - 1, float(welch.pvalue)


def test_design_is_well_formed() -> None:
    design = experience_design(DEMO)
    assert [e.experience_id for e in design] == sorted({e.experience_id for e in design})
    split_ids = [s.split_id for e in design for s in e.splits]
    assert len(split_ids) == len(set(split_ids)) and not set(split_ids) & set(OLD_SPLIT_IDS)
    kinds = {e.kind for e in design}
    assert {"effect", "aa", "srm", "no_control"} <= kinds
    for e in design:
        assert 2 <= len(e.splits) <= 4
        assert math.isclose(sum(s.share for s in e.splits), 1.0) and math.isclose(
            sum(s.assigned_share for s in e.splits), 1.0)
        assert (e.control is None) == (e.kind == "no_control")
        assert e.planted_effect == (e.kind == "effect")
    srm = next(e for e in design if e.kind == "srm")
    assert [s.share for s in srm.splits] == [0.5, 0.5] and [s.assigned_share for s in srm.splits] == [0.55, 0.45]


def test_assignment_is_sticky_and_follows_shares(demo_visitors: Visitors) -> None:
    """A visitor never sees two splits of one experience; visitors per split follow the real shares."""
    n_exposed = 0
    for exp in experience_design(DEMO):
        rows = exposures(demo_visitors, exp)  # asserts stickiness
        if exp.exposure == 0:
            assert not rows
            continue
        counts = np.array([len(rows.get(str(s.split_id), [])) for s in exp.splits])
        n_exposed += counts.sum()
        if counts.sum() < 500:
            continue
        assigned = np.array([s.assigned_share for s in exp.splits])
        assert np.abs(counts / counts.sum() - assigned).max() < 0.03, (exp.experience_id, counts)
        assert stats.chisquare(counts, counts.sum() * assigned).pvalue > 0.001, (exp.experience_id, counts)
        designed = stats.chisquare(counts, counts.sum() * np.array([s.share for s in exp.splits])).pvalue
        assert (designed < 1e-6) == (exp.kind == "srm"), (exp.experience_id, counts, designed)
    assert n_exposed > 10_000
    # The assignment is a pure function of (monetate id, experience id).
    for guid, sessions in list(demo_visitors.sessions.items())[:300]:
        mid = guid.split(":", 1)[1]
        for exp in experience_design(DEMO):
            ids = {str(s.split_id) for s in exp.splits}
            seen = {k for s in sessions for k in s["offers"] if k in ids}
            assert seen <= {str(exp.assign(mid).split_id)}


def test_planted_effect_and_aa_at_demo_size(demo_visitors: Visitors) -> None:
    """Visitor level, outcomes from first exposure on: B beats control significantly; the A/A does not."""
    design = {e.kind: e for e in experience_design(DEMO)}
    effect, aa = design["effect"], design["aa"]
    treated = next(s for s in effect.splits if s.has_effect)
    conv_lift, conv_p, rpv_lift, rpv_p = compare(exposures(demo_visitors, effect), treated, effect.control)
    print(f"planted effect: conversion {conv_lift:+.1%} p={conv_p:.2g}, revenue/visitor {rpv_lift:+.1%} p={rpv_p:.2g}")
    assert conv_lift > 0.15 and conv_p < 0.01
    assert rpv_lift > 0.15 and rpv_p < 0.05
    a = next(s for s in aa.splits if not s.is_control)
    conv_lift, conv_p, rpv_lift, rpv_p = compare(exposures(demo_visitors, aa), a, aa.control)
    print(f"A/A: conversion {conv_lift:+.1%} p={conv_p:.2g}, revenue/visitor {rpv_lift:+.1%} p={rpv_p:.2g}")
    assert conv_p > 0.05 and rpv_p > 0.05


def test_effect_starts_at_exposure(demo_visitors: Visitors) -> None:
    """In the session of a visitor's first exposure to the planted effect, every purchase follows the offer,
    in every split alike (so pre-exposure outcomes carry no treatment effect)."""
    effect = next(e for e in experience_design(DEMO) if e.planted_effect)
    ids = {str(s.split_id) for s in effect.splits}
    checked = 0
    for sessions in demo_visitors.sessions.values():
        first = next((s for s in sessions if ids & set(s["offers"])), None)
        if first is None or not first["purchase_lines"]:
            continue
        t0 = min(first["offers"][k] for k in ids & set(first["offers"]))
        assert all(p["time"] >= t0 for p in first["purchase_lines"].values())
        checked += 1
    assert checked > 100


def test_returning_visitors_have_a_propensity(demo_visitors: Visitors) -> None:
    """Visitors come back (pre-exposure sessions exist) and their earlier outcomes predict later ones."""
    multi = [v for v in demo_visitors.sessions.values() if len(v) > 1]
    assert len(multi) > 0.25 * len(demo_visitors.sessions)
    first = np.array([v[0]["purchase_count"] > 0 for v in multi], dtype=float)
    later = np.array([any(s["purchase_count"] for s in v[1:]) for v in multi], dtype=float)
    assert later[first == 1].mean() > 1.5 * later[first == 0].mean()
    assert np.corrcoef(first, later)[0, 1] > 0


def test_stealth_is_per_visitor(demo_visitors: Visitors) -> None:
    flags: dict[str, set[str]] = defaultdict(set)
    for s in demo_visitors.all_sessions:
        flags[s["guid"]].add(s["has_stealth"])
    assert all(len(f) == 1 for f in flags.values())
    share = sum("t" in f for f in flags.values()) / len(flags)
    assert 0.01 < share < 0.06, share


def test_unknown_split_ids_are_a_few_percent(demo_visitors: Visitors) -> None:
    known = {str(s.split_id) for e in experience_design(DEMO) for s in e.splits}
    offers = [k for s in demo_visitors.all_sessions if len(s["offers"]) < CAP for k in s["offers"]]
    unknown = [k for k in offers if k not in known]
    assert set(unknown) <= {str(i) for i in OLD_SPLIT_IDS}
    assert 0.005 < len(unknown) / len(offers) < 0.05
