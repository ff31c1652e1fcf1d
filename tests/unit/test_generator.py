"""The generator's ground truth is what every other test compares against, so it is checked independently.

Generates a tree, then re-reads every file with plain gzip + orjson (no generator code
except path helpers) and checks every truth number and every consistency rule.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import re
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import orjson

from dlt_pipeline.synthetic.generator import generate

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
    for vs in versions.values():
        uniq = {v[3]["session_id"]: v for v in vs}  # exact repeats collapse
        n_multi += len(uniq) > 1
        best = max(uniq.values(), key=lambda v: (v[0] == "t", v[1], v[2]))[3]
        if len(uniq) > 1:  # re-emit: the open version sits in an earlier window's file
            assert best["is_closed"] == "t" or best["end_time"] == max(v[1] for v in uniq.values())
            assert max(uniq.values(), key=lambda v: v[2])[3] is best
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
        fa = {p.relative_to(a): p.read_bytes() for p in Path(a).rglob("*.gz")}
        fb = {p.relative_to(b): p.read_bytes() for p in Path(b).rglob("*.gz")}
        assert fa == fb and fa
    print("OK determinism")


def test_generator_truth_matches_files(tmp_path: Path) -> None:
    """Re-read every generated file independently and check every truth number and consistency rule."""
    verify(tmp_path, 1234, 1500, 1, 2)


def test_generator_is_deterministic() -> None:
    check_determinism(300)


def test_generator_helpers() -> None:
    check_helpers()
