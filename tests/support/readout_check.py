"""The experiment readout computed independently in Python (numpy/scipy on per-visitor values, never on sums).

Reads the sessions from the Session Stream files themselves (``generator.read_tree``, a plain gzip + JSON reader),
takes experiences, controls and traffic shares from the generator's design (what the Metadata API says), builds
one row per (experience, visitor) with the rules of docs/experiment_readout.md, and computes every figure of
``experiment_results`` / ``experiment_results_daily`` with numpy and scipy (``ttest_ind(equal_var=False)``,
``chisquare``, ``norm``, ``t.ppf``, ``binomtest(...).proportion_ci(method="wilson")``, ``np.cov``), with the guards of
docs/experiment_readout.md (a comparison is None below the minimums of units and events per arm, or without
variance). :func:`compare` checks the marts' rows against it to a relative tolerance.

Also the grid of the statistics macros (macros/statistics.sql) and scipy's values on it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from dlt_pipeline.synthetic.design import experience_design
from dlt_pipeline.synthetic.generator import read_tree
from support.sql_macros import render

ALPHA = 0.05
"""dbt var experiment_alpha (default)."""
MIN_UNITS = 100
"""dbt var experiment_min_units_per_arm (default)."""
MIN_EVENTS = 5
"""dbt var experiment_min_events_per_arm (default): conversions for conversion rate, orders for the order metrics."""
PRIMARY = ("conversion_rate", "revenue_per_visitor")
"""dbt var experiment_primary_metrics (default): the metrics whose p-values are corrected for multiplicity."""
CAPPABLE = ("revenue", "orders", "sessions")
CAPPING = {"revenue": ("percentile", 0.999)}
"""dbt var experiment_capping (default): revenue at its 99.9th percentile per experience."""
GUARD = {"conversion_rate": "converted", "revenue_per_visitor": "orders", "orders_per_visitor": "orders",
         "sessions_per_visitor": None, "average_order_value": "orders"}
"""The events each metric's comparison needs (None: units only)."""
DAY_MS = 86_400_000
CAP = 1000
METRICS = ("conversion_rate", "revenue_per_visitor", "orders_per_visitor", "sessions_per_visitor",
           "average_order_value")
MEANS = {"revenue_per_visitor": "revenue", "orders_per_visitor": "orders", "sessions_per_visitor": "sessions"}
CUPED = {"revenue_per_visitor": ("revenue", "pre_revenue"), "conversion_rate": ("converted", "pre_converted")}


# ------------------------------------------------------------------------------------------------ sessions


@dataclass
class Session:
    session_id: str
    visitor: str
    start: int
    page_views: int
    time_on_site: int
    offers: dict[int, int]  # split id -> first seen (ms)
    purchases: list[tuple[int, float]]  # (time ms, value rounded to cents)
    included: bool  # not stealth, not capped
    session_value: float = 0.0

    @property
    def day(self) -> date:
        return _day(self.start)


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def _capped(doc: dict[str, Any]) -> bool:
    """The loader's 1,000-item cap on any variable-size field (or the items of one purchase)."""
    if any(isinstance(v, dict | list) and len(v) >= CAP for v in doc.values()):
        return True
    return any(len((p or {}).get("items") or ()) >= CAP for p in (doc.get("purchase_lines") or {}).values())


def read_sessions(out_dir: Path, account: int) -> list[Session]:
    """One Session per (guid, start): the surviving version by the marts' rule (closed, latest end, file, line)."""
    best: dict[tuple[str, int], tuple[tuple, dict]] = {}
    for rel, line, doc in read_tree(out_dir, account):
        key = (doc["guid"], int(doc["start_time"]))
        rank = (doc.get("is_closed") == "t", int(doc.get("end_time") or 0), rel.rsplit("/", 1)[-1], line)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, doc)
    out = []
    for (guid, start), (_, doc) in best.items():
        offers = {}
        for sid, ms in (doc.get("offers") or {}).items():
            if str(sid).isdigit():
                offers[int(sid)] = int(ms)
        purchases = [(int(p["time"]), round(float(p["value"]), 2))
                     for p in (doc.get("purchase_lines") or {}).values() if p.get("time") is not None]
        out.append(Session(doc["session_id"], guid.split(":", 1)[1], start, int(doc.get("page_views") or 0),
                           int(doc.get("time_on_site") or 0), offers, purchases,
                           doc.get("has_stealth") != "t" and not _capped(doc),
                           round(float(doc.get("session_value") or 0), 2)))
    return out


# ------------------------------------------------------------------------------------------------ design


@dataclass(frozen=True)
class SplitInfo:
    experience_key: str
    experience_id: int | None
    share: float | None
    is_control: bool


def split_info(config: Any = None) -> dict[int, SplitInfo]:  # noqa: ANN401
    """What the metadata says about each split of the design (control only where the metadata has one)."""
    out = {}
    for exp in experience_design(config):
        for s in exp.splits:
            out[s.split_id] = SplitInfo(str(exp.experience_id), exp.experience_id, s.share,
                                        s.is_control and exp.control_in_metadata)
    return out


def _info(splits: dict[int, SplitInfo], split_id: int) -> SplitInfo:
    return splits.get(split_id) or SplitInfo(f"split-{split_id}", None, None, False)


# ------------------------------------------------------------------------------------------------ exposures


@dataclass
class Visitor:
    experience_key: str
    visitor: str
    split_id: int
    first_exposed: int
    first_session_start: int
    split_count: int
    sessions: list[Session] = field(default_factory=list)
    pre_days: int = 14
    window_hours: int | None = None  # dbt var experiment_window_hours

    def outcomes(self, until: date | None = None) -> dict[str, float]:
        """Post-exposure outcomes (up to the end of `until`, by session start / purchase date) and pre-period ones."""
        out = dict.fromkeys(("sessions", "orders", "revenue", "page_views", "time_on_site", "pre_sessions",
                             "pre_orders", "pre_revenue"), 0.0)
        pre_start = self.first_exposed - self.pre_days * DAY_MS
        end = None if self.window_hours is None else self.first_exposed + self.window_hours * 3_600_000
        for s in self.sessions:
            if s.start >= self.first_session_start and (until is None or s.day <= until) \
                    and (end is None or s.start < end):
                out["sessions"] += 1
                out["page_views"] += s.page_views
                out["time_on_site"] += s.time_on_site
            elif pre_start <= s.start < self.first_session_start:
                out["pre_sessions"] += 1
            for t, value in s.purchases:
                if t >= self.first_exposed and (until is None or _day(t) <= until) and (end is None or t < end):
                    out["orders"] += 1
                    out["revenue"] += value
                elif pre_start <= t < self.first_exposed:
                    out["pre_orders"] += 1
                    out["pre_revenue"] += value
        out["converted"] = float(out["orders"] > 0)
        out["pre_converted"] = float(out["pre_orders"] > 0)
        return out


def exposures(sessions: list[Session], splits: dict[int, SplitInfo], pre_days: int = 14,
              window_hours: int | None = None) -> dict[tuple, Visitor]:
    """(experience_key, visitor) -> Visitor, from the included sessions only (outcomes within `window_hours`)."""
    by_visitor: dict[str, list[Session]] = defaultdict(list)
    seen: dict[tuple[str, str], list[tuple[int, int, int]]] = defaultdict(list)
    for s in sessions:
        if not s.included:
            continue
        by_visitor[s.visitor].append(s)
        for sid, ms in s.offers.items():
            seen[(_info(splits, sid).experience_key, s.visitor)].append((ms, s.start, sid))
    out = {}
    for (key, visitor), rows in seen.items():
        first_seen, first_start, split_id = min(rows)
        out[(key, visitor)] = Visitor(key, visitor, split_id, first_seen, first_start,
                                      len({r[2] for r in rows}), by_visitor[visitor], pre_days, window_hours)
    return out


# ------------------------------------------------------------------------------------------------ statistics


def _winsorised(values: dict[tuple[str, int], dict[str, np.ndarray]], capping: dict[str, tuple[str, float]]
                ) -> tuple[dict[tuple[str, int], dict[str, np.ndarray]], dict[tuple[str, str], tuple[float, dict]]]:
    """Winsorised arm values: each capped outcome at min(value, cap), the cap per experience over its pooled arms
    (``np.percentile``, linear, rounded up for counts) or absolute; pre_revenue at revenue's cap. Also
    (experience, outcome) -> (cap, {split: visitors above it}). The percentile is over the values above 0
    (Statsig's definition); without any, nothing is capped."""
    caps: dict[tuple[str, str], tuple[float, dict]] = {}
    out = {k: dict(a) for k, a in values.items()}
    for key in {k for k, _ in values}:
        arms = {sid: a for (k, sid), a in values.items() if k == key}
        for y, (kind, value) in capping.items():
            pooled = np.concatenate([a[y] for a in arms.values()])
            pooled = pooled[pooled > 0]
            if kind == "percentile" and not len(pooled):
                continue
            cap = float(value) if kind == "absolute" else float(np.percentile(pooled, value * 100))
            if kind == "percentile" and y != "revenue":
                cap = float(math.ceil(cap))
            caps[(key, y)] = (cap, {sid: int((a[y] > cap).sum()) for sid, a in arms.items()})
            for sid, a in arms.items():
                out[(key, sid)][y] = np.minimum(a[y], cap)
                if y == "revenue":
                    out[(key, sid)]["pre_revenue"] = np.minimum(a["pre_revenue"], cap)
    return out, caps


def _arm_values(visitors: list[Visitor], until: date | None) -> dict[str, np.ndarray]:
    rows = [v.outcomes(until) for v in visitors]
    return {k: np.array([r[k] for r in rows], dtype=float) for k in rows[0]}


def _mean_stats(x: np.ndarray, proportion: bool = False, alpha: float = ALPHA) -> dict[str, float | None]:
    """Mean, sd, se and the per-split interval: Wilson for a proportion, mean ± t(n-1)·se from MIN_UNITS on."""
    n = len(x)
    m = float(np.mean(x))
    if proportion:
        var = m * (1 - m)
        se = math.sqrt(var / n)
        ci = stats.binomtest(int(x.sum()), n).proportion_ci(confidence_level=1 - alpha, method="wilson")
        lo, hi = float(ci.low), float(ci.high)
    else:
        var = float(np.var(x, ddof=1)) if n >= 2 else None
        se = math.sqrt(var / n) if var is not None else None
        q = float(stats.t.ppf(1 - alpha / 2, n - 1)) if n >= MIN_UNITS else None
        lo, hi = (m - q * se, m + q * se) if q is not None and se is not None else (None, None)
    return {"mean": m, "sd": math.sqrt(var) if var is not None else None, "se": se, "ci_low": lo, "ci_high": hi}


def _ratio_stats(num: np.ndarray, den: np.ndarray, alpha: float = ALPHA) -> dict[str, float | None]:
    """Average order value: sum(revenue)/sum(orders), delta-method SE from the visitor-level covariance."""
    n = len(num)
    if den.sum() == 0:
        return {"mean": None, "se": None, "ci_low": None, "ci_high": None}
    r = float(num.sum() / den.sum())
    if n < 2:
        return {"mean": r, "se": None, "ci_low": None, "ci_high": None}
    cov = np.cov(num, den, ddof=1)
    my = den.mean()
    num = cov[0, 0] - 2 * r * cov[0, 1] + r**2 * cov[1, 1]
    # one value for every order: the terms cancel in theory, float noise in practice (the marts' rule too)
    se = 0.0 if num <= 1e-10 * (cov[0, 0] + r**2 * cov[1, 1]) else math.sqrt(num / my**2 / n)
    ok = n >= MIN_UNITS and den.sum() >= MIN_EVENTS
    z = float(stats.norm.ppf(1 - alpha / 2))
    return {"mean": r, "se": se, "ci_low": r - z * se if ok else None, "ci_high": r + z * se if ok else None}


def _compare(t: dict, c: dict, q: float | None) -> dict[str, float | None]:
    """Difference, its SE and interval (± q·se), relative lift and its interval on the log of the ratio."""
    out: dict[str, float | None] = dict.fromkeys(("abs_lift", "se_diff", "abs_lift_ci_low", "abs_lift_ci_high",
                                                  "rel_lift", "rel_lift_ci_low", "rel_lift_ci_high"))
    out["abs_lift"] = t["mean"] - c["mean"]
    out["se_diff"] = math.sqrt(t["se"] ** 2 + c["se"] ** 2)
    out["abs_lift_ci_low"] = out["abs_lift"] - q * out["se_diff"]
    out["abs_lift_ci_high"] = out["abs_lift"] + q * out["se_diff"]
    if c["mean"] == 0:
        return out
    ratio = t["mean"] / c["mean"]
    out["rel_lift"] = ratio - 1
    if t["mean"] > 0 and c["mean"] > 0:
        se_log = math.sqrt(t["se"] ** 2 / t["mean"] ** 2 + c["se"] ** 2 / c["mean"] ** 2)
        out["rel_lift_ci_low"] = ratio * math.exp(-q * se_log) - 1
        out["rel_lift_ci_high"] = ratio * math.exp(q * se_log) - 1
    return out


def _guard_ok(t: dict[str, np.ndarray], c: dict[str, np.ndarray], events: str | None) -> bool:
    """Both arms have MIN_UNITS visitors and, for metrics with events, MIN_EVENTS of them."""
    if len(t["converted"]) < MIN_UNITS or len(c["converted"]) < MIN_UNITS:
        return False
    return events is None or (t[events].sum() >= MIN_EVENTS and c[events].sum() >= MIN_EVENTS)


def _cuped(t: dict[str, np.ndarray], c: dict[str, np.ndarray], y: str, x: str,
           alpha: float = ALPHA) -> dict[str, float | None]:
    """CUPED with theta from the pooled arms (GrowthBook's compute_theta and relative-lift variance)."""
    yy, xx = np.concatenate([t[y], c[y]]), np.concatenate([t[x], c[x]])
    var_x = float(np.var(xx, ddof=1)) if len(xx) >= 2 else 0.0
    theta = float(np.cov(xx, yy, ddof=1)[0, 1] / var_x) if var_x > 0 else 0.0
    nt, nc = len(t[y]), len(c[y])
    if nt < 2 or nc < 2:
        return {"theta": theta}

    def arm(a: dict[str, np.ndarray]) -> tuple[float, float, float, float, float, float]:
        cov = np.cov(a[x], a[y], ddof=1)
        v_adj = max(cov[1, 1] + theta**2 * cov[0, 0] - 2 * theta * cov[0, 1], 0.0)
        return float(a[y].mean()), float(a[x].mean()), float(cov[1, 1]), float(cov[0, 0]), float(cov[0, 1]), v_adj

    myt, mxt, vyt, vxt, covt, vat = arm(t)
    myc, mxc, vyc, vxc, covc, vac = arm(c)
    diff = (myt - theta * mxt) - (myc - theta * mxc)
    se = math.sqrt(vat / nt + vac / nc)
    z = float(stats.norm.ppf(1 - alpha / 2))
    if se == 0:
        return {}
    out: dict[str, float | None] = {"theta": theta, "abs_lift": diff, "se_diff": se,
                                    "abs_lift_ci_low": diff - z * se, "abs_lift_ci_high": diff + z * se,
                                    "p_value": float(2 * stats.norm.sf(abs(diff / se))),
                                    "variance_reduction": 1 - (vat / nt + vac / nc) / (vyt / nt + vyc / nc)
                                    if (vyt / nt + vyc / nc) > 0 else None}
    out["is_significant"] = out["p_value"] < alpha
    if myc == 0:
        return out
    v_ctrl = vyc * myt**2 / myc**2 - 2 * theta * covc * myt / myc + theta**2 * vxc
    se_rel = math.sqrt(max(vat / (nt * myc**2) + v_ctrl / (nc * myc**2), 0.0))
    out["rel_lift"] = diff / myc
    ratio = 1 + diff / myc
    out["rel_lift_ci_low"] = ratio * math.exp(-z * se_rel / ratio) - 1 if ratio > 0 else None
    out["rel_lift_ci_high"] = ratio * math.exp(z * se_rel / ratio) - 1 if ratio > 0 else None
    return out


def results(visitors: dict[tuple, Visitor], splits: dict[int, SplitInfo], until: date | None = None,
            capping: dict[str, tuple[str, float]] | None = CAPPING, primary: tuple[str, ...] = PRIMARY,
            method: str = "holm", alpha: float = ALPHA) -> dict[tuple[str, int], dict[str, Any]]:
    """(experience_key, split_id) -> every column of experiment_results that the check compares."""
    arms: dict[tuple[str, int], list[Visitor]] = defaultdict(list)
    multi: dict[str, int] = defaultdict(int)
    for v in visitors.values():
        if until is not None and _day(v.first_session_start) > until:
            continue
        if v.split_count > 1:
            multi[v.experience_key] += 1
        else:
            arms[(v.experience_key, v.split_id)].append(v)
    values, caps = _winsorised({k: _arm_values(vs, until) for k, vs in arms.items()}, capping or {})
    per_arm = {}
    for k, a in values.items():
        per_arm[k] = {
            "conversion_rate": _mean_stats(a["converted"], proportion=True, alpha=alpha),
            **{m: _mean_stats(a[col], alpha=alpha) for m, col in MEANS.items()},
            "average_order_value": _ratio_stats(a["revenue"], a["orders"], alpha=alpha),
        }
    controls: dict[str, int] = {}
    for sid, info in sorted(splits.items()):
        if info.is_control and info.experience_key not in controls:
            controls[info.experience_key] = sid
    srm = _srm(values, splits)
    out = {}
    for (key, sid), a in values.items():
        row: dict[str, Any] = {"n_visitors": len(a["converted"]), "sum_converted": a["converted"].sum(),
                               "sum_revenue": a["revenue"].sum(), "sum_revenue_sq": (a["revenue"] ** 2).sum(),
                               "sum_orders": a["orders"].sum(), "sum_sessions": a["sessions"].sum(),
                               "sum_pre_revenue": a["pre_revenue"].sum(), "sum_pre_converted": a["pre_converted"].sum(),
                               "sum_revenue_x_pre_revenue": (a["revenue"] * a["pre_revenue"]).sum(),
                               "experience_multi_split_visitors": multi.get(key, 0)}
        for y in CAPPABLE:
            cap, was = caps.get((key, y), (None, {}))
            row[f"{y}_cap"], row[f"{y}_capped_visitors"] = cap, int(was.get(sid, 0))
        for m in METRICS:
            st = per_arm[(key, sid)][m]
            row[m] = st["mean"]
            row[f"{m}_se"] = st["se"]
            if "sd" in st:
                row[f"{m}_sd"] = st["sd"]
            row[f"{m}_ci_low"], row[f"{m}_ci_high"] = st["ci_low"], st["ci_high"]
        ctrl = controls.get(key)
        if ctrl is not None and ctrl != sid and (key, ctrl) in values:
            row.update(_comparisons(a, values[(key, ctrl)], per_arm[(key, sid)], per_arm[(key, ctrl)], alpha))
        row.update(srm.get(key, {}))
        out[(key, sid)] = row
    return adjust_p_values(out, primary, method, alpha)


def adjust_p_values(rows: dict[tuple[str, int], dict[str, Any]], primary: tuple[str, ...],
                    method: str, alpha: float = ALPHA) -> dict[tuple[str, int], dict[str, Any]]:
    """Holm (numpy, from the definition) or Benjamini-Hochberg (scipy's false_discovery_control) over each
    experience's family: the non-None p-values of the primary metrics over its splits."""
    for row in rows.values():
        row["multiple_testing_method"], row["multiple_testing_family_size"] = method, None
        for m in METRICS:
            row[f"{m}_p_value_adjusted"] = row[f"{m}_is_significant_adjusted"] = None
    for key in {k for k, _ in rows}:
        family = [((key, sid), m) for (k, sid), row in rows.items() if k == key for m in primary
                  if row.get(f"{m}_p_value") is not None]
        if not family:
            continue
        p = np.array([rows[k][f"{m}_p_value"] for k, m in family])
        if method == "bh":
            adjusted = stats.false_discovery_control(p, method="bh")
        elif method == "holm":
            order = np.argsort(p, kind="stable")
            stepped = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
            adjusted = np.empty_like(p)
            adjusted[order] = np.minimum(stepped, 1.0)
        else:
            adjusted = p
        for ((k, m), a) in zip(family, adjusted, strict=True):
            rows[k][f"{m}_p_value_adjusted"], rows[k][f"{m}_is_significant_adjusted"] = float(a), a < alpha
        for (k, _), row in rows.items():
            if k == key:
                row["multiple_testing_family_size"] = len(family)
    return rows


def _comparisons(t: dict[str, np.ndarray], c: dict[str, np.ndarray], st: dict, sc: dict,
                 alpha: float = ALPHA) -> dict[str, Any]:
    """Every comparison column of one treatment row: None where a guard fails, else lift, intervals, p-value."""
    row: dict[str, Any] = {}
    cols = ("abs_lift", "se_diff", "abs_lift_ci_low", "abs_lift_ci_high", "rel_lift", "rel_lift_ci_low",
            "rel_lift_ci_high", "p_value", "is_significant")
    nt, nc = len(t["converted"]), len(c["converted"])
    for m in METRICS:
        for col in cols + (("welch_df",) if m in MEANS else ()):
            row[f"{m}_{col}"] = None
        a, b = st[m], sc[m]
        if not _guard_ok(t, c, GUARD[m]) or not (a["se"] ** 2 + b["se"] ** 2) > 0:
            continue
        if m in MEANS:
            res = stats.ttest_ind(t[MEANS[m]], c[MEANS[m]], equal_var=False)
            vt, vc = np.var(t[MEANS[m]], ddof=1) / nt, np.var(c[MEANS[m]], ddof=1) / nc
            df = float((vt + vc) ** 2 / (vt**2 / (nt - 1) + vc**2 / (nc - 1)))
            q, p = float(stats.t.ppf(1 - alpha / 2, df)), float(res.pvalue)
            row[f"{m}_welch_df"] = df
        else:
            q = float(stats.norm.ppf(1 - alpha / 2))
            p = float(2 * stats.norm.sf(abs(a["mean"] - b["mean"]) / math.sqrt(a["se"] ** 2 + b["se"] ** 2)))
        for name, v in _compare(a, b, q).items():
            row[f"{m}_{name}"] = v
        row[f"{m}_p_value"], row[f"{m}_is_significant"] = p, p < alpha
    for m, (y, x) in CUPED.items():
        for col in cols + ("theta", "variance_reduction"):
            row[f"{m}_cuped_{col}"] = None
        if _guard_ok(t, c, GUARD[m]):
            row.update({f"{m}_cuped_{k}": v for k, v in _cuped(t, c, y, x, alpha).items()})
    return row


def _srm(values: dict[tuple[str, int], dict[str, np.ndarray]], splits: dict[int, SplitInfo]) -> dict[str, dict]:
    """Chi-square of visitors per split against the metadata's traffic shares (splits without visitors count 0)."""
    out = {}
    for key in {k for k, _ in values}:
        shares = {sid: i.share for sid, i in splits.items() if i.experience_key == key and i.share}
        if not shares:
            continue
        observed = np.array([len(values[(key, sid)]["converted"]) if (key, sid) in values else 0 for sid in shares])
        expected = np.array(list(shares.values())) / sum(shares.values()) * observed.sum()
        if len(shares) < 2:
            out[key] = {"srm_chi_square": 0.0, "srm_df": 0, "srm_p_value": None, "srm_detected": None}
            continue
        chi2, p = stats.chisquare(observed, expected)
        out[key] = {"srm_chi_square": float(chi2), "srm_df": len(shares) - 1, "srm_p_value": float(p),
                    "srm_detected": bool(p < 0.001)}
    return out


def by_session(sessions: list[Session], splits: dict[int, SplitInfo]) -> dict[tuple[str, int], dict[str, Any]]:
    """experiment_results_by_session's per-split figures from the sessions that saw each split."""
    groups: dict[tuple[str, int], list[Session]] = defaultdict(list)
    for s in sessions:
        if s.included:
            for sid in s.offers:
                groups[(_info(splits, sid).experience_key, sid)].append(s)
    out = {}
    for k, ss in groups.items():
        conv = np.array([float(len(s.purchases) > 0) for s in ss])
        value = np.array([s.session_value for s in ss])
        pv = np.array([s.page_views for s in ss], dtype=float)
        row = {"n_sessions": len(ss), "conversion_rate": conv.mean(), "session_value": value.mean(),
               "page_views": pv.mean()}
        if len(ss) >= 2:
            row["session_value_se"] = float(np.std(value, ddof=1) / math.sqrt(len(ss)))
            row["page_views_se"] = float(np.std(pv, ddof=1) / math.sqrt(len(ss)))
        out[k] = row
    return out


# ------------------------------------------------------------------------------------------------ comparison


def compare(got: dict[tuple[str, int], dict[str, Any]], want: dict[tuple[str, int], dict[str, Any]],
            rel: float = 1e-6) -> list[str]:
    """Differences between the marts' rows and the reference (empty when every compared figure agrees)."""
    problems = []
    if set(got) != set(want):
        problems.append(f"rows differ: only in marts {sorted(set(got) - set(want))[:5]}, "
                        f"only in reference {sorted(set(want) - set(got))[:5]}")
    for k in sorted(set(got) & set(want)):
        for col, w in want[k].items():
            g = got[k].get(col, "<missing column>")
            if not _same(g, w, rel, col, _width(want[k], col)):
                problems.append(f"{k} {col}: marts {g!r} != reference {w!r}")
    return problems


def max_difference(got: dict[tuple, dict[str, Any]], want: dict[tuple, dict[str, Any]]) -> tuple[float, float, str]:
    """Largest absolute and relative difference over every numeric figure both sides have (for the record; an
    interval's bound relative to the interval's width, as :func:`compare` judges it; values below 1e-9 only
    count absolutely)."""
    worst_abs = worst_rel = 0.0
    where = ""
    for k in set(got) & set(want):
        for col, w in want[k].items():
            g = got[k].get(col)
            if g is None or w is None or isinstance(w, bool | np.bool_) or isinstance(g, str | bool):
                continue
            d = abs(float(g) - float(w))
            worst_abs = max(worst_abs, d)
            scale = max(abs(float(w)), _width(want[k], col) or 0.0)  # a bound: relative to its interval
            if scale > 1e-9 and d / scale > worst_rel:
                worst_rel, where = d / scale, f"{k} {col}: {g!r} vs {w!r}"
    return worst_abs, worst_rel, where


def _width(row: dict[str, Any], col: str) -> float | None:
    """Width of the interval `col` bounds (None when `col` is no bound or the interval is missing)."""
    for end, other in (("_ci_low", "_ci_high"), ("_ci_high", "_ci_low")):
        if col.endswith(end):
            lo, hi = row.get(col), row.get(col[: -len(end)] + other)
            return abs(float(hi) - float(lo)) if lo is not None and hi is not None else None
    return None


def _same(g: Any, w: Any, rel: float, col: str, width: float | None = None) -> bool:  # noqa: ANN401
    if isinstance(g, str) or isinstance(w, str):
        return g == w
    if w is None or g is None:
        return g is None and w is None
    if isinstance(w, bool | np.bool_):
        return bool(g) == bool(w)
    if width is not None:
        # an interval's bound: its error is relative to the interval (a bound near 0 has no relative precision)
        return math.isclose(float(g), float(w), rel_tol=rel, abs_tol=rel * width)
    g, w = float(g), float(w)
    # p-values: relative only; average order value: a degenerate delta-method variance (one order, equal ratios)
    # is 0 up to float cancellation (~1e-6 dollars after the square root) in either computation
    tiny = 1e-300 if col.endswith("p_value") else 1e-5 if col.startswith("average_order_value") else 1e-9
    return math.isclose(g, w, rel_tol=rel, abs_tol=tiny)


# ------------------------------------------------------------------------------------------------ macro grid


def t_grid() -> list[tuple[float, float, float]]:
    """(t, df, scipy two-sided p) over small, non-integer and large df and far tails."""
    out = []
    for df in (0.7, 1.0, 2.5, 3.0, 7.3, 15.0, 29.9, 30.0, 64.5, 99.9, 100.0, 100.1, 250.0, 1234.5, 5e4, 1e6):
        for t in (0.0, 0.05, -0.7, 1.0, 1.96, -2.5, 3.3, 5.0, 8.0, 12.0):
            p = float(2 * stats.t.sf(abs(t), df))
            if p > 1e-280:
                out.append((t, df, p))
    return out


def normal_grid() -> list[tuple[float, float, float]]:
    """(z, scipy cdf, scipy two-sided p)."""
    return [(z, float(stats.norm.cdf(z)), float(2 * stats.norm.sf(abs(z))))
            for z in (-8.0, -5.0, -3.1, -1.959963984540054, -1.0, -0.2, 0.0, 0.3, 1.5, 2.7, 4.0, 6.5, 9.0)]


def chi2_grid() -> list[tuple[float, int, float]]:
    """(x, df, scipy survival function) for df 1..20."""
    return [(x, df, float(stats.chi2.sf(x, df))) for df in range(1, 21)
            for x in (0.0, 0.01, 0.5, 1.0, 3.84, 7.5, 15.0, 30.0, 60.0, 120.0)]


def grid_values(con_execute: Any, adapter: str) -> dict[str, list[tuple[float, float]]]:  # noqa: ANN401
    """(got, want) pairs of every macro on its grid, evaluated by `con_execute(sql) -> rows` on `adapter`'s SQL."""
    double = render(adapter, "stat_double_type")
    out: dict[str, list[tuple[float, float]]] = {}
    rows = t_grid()
    values = ", ".join(f"(cast({t!r} as {double}), cast({df!r} as {double}), {i})" for i, (t, df, _) in enumerate(rows))
    p_sql = render(adapter, "stat_t_two_sided_p", "t", "df")
    got = con_execute(f"select i, {p_sql} from (values {values}) as g(t, df, i) order by i")
    out["t"] = [(g, rows[i][2]) for i, g in got]
    rows_n = normal_grid()
    values = ", ".join(f"(cast({z!r} as {double}), {i})" for i, (z, _, _) in enumerate(rows_n))
    cdf_sql, p_sql = render(adapter, "stat_normal_cdf", "z"), render(adapter, "stat_normal_two_sided_p", "z")
    got = con_execute(f"select i, {cdf_sql}, {p_sql} from (values {values}) as g(z, i) order by i")
    out["normal_cdf"] = [(cdf, rows_n[i][1]) for i, cdf, _ in got]
    out["normal_p"] = [(p, rows_n[i][2]) for i, _, p in got]
    rows_c = chi2_grid()
    values = ", ".join(f"(cast({x!r} as {double}), {df}, {i})" for i, (x, df, _) in enumerate(rows_c))
    got = con_execute(f"select i, {render(adapter, 'stat_chi2_sf', 'x', 'df')} from (values {values}) as g(x, df, i)"
                      " order by i")
    out["chi2"] = [(g, rows_c[i][2]) for i, g in got]
    return out


def assert_grid(values: dict[str, list[tuple[float, float]]], rel: float = 1e-6) -> None:
    """Every macro value within `rel` (relative) of scipy's."""
    for name, pairs in values.items():
        bad = [(g, w) for g, w in pairs if not math.isclose(float(g), w, rel_tol=rel, abs_tol=1e-300)]
        assert not bad, f"{name}: {len(bad)} of {len(pairs)} off by more than {rel}: {bad[:5]}"
