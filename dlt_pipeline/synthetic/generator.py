"""Synthetic Monetate Session Stream generator with exact ground truth.

Why this exists: the real export cannot be shared, yet the loader, the dbt models and the
benchmarks all need files that look and misbehave like the vendor's (late sessions in the
next day's folder, several files per window, re-deliveries, open-then-closed re-emits,
capped bot sessions, unknown fields, PII in custom targets).  Every number a loader or a
model should produce is accumulated while writing, so tests can compare against a truth
that was not computed by the code under test.

Layout written (see ``docs/raw_tables.md``, "Source file format")::

    OUT/ACCOUNT/raw_data/session_stream/YYYY/MM/DD/YYYYMMDDTHHMMSS.000Z_PT15M-<token>.json.gz

Design notes:

* Sessions are generated in start-window order and buffered by the window in which they
  END; a window is flushed as soon as generation has moved past it (no session can end
  before it starts), so memory stays bounded by the sessions still "in flight" (most
  sessions are short; long ones are rare).
* Three independent ``random.Random`` streams (sessions, re-emits, file tokens) keep the
  base sessions identical whatever ``redeliver``/``reemit`` are set to.
* Offers come from the experiences of ``design.py``: each session sees each live experience with
  its own probability, in the split a hash of (monetate id, experience id) assigns (sticky per
  visitor); visitors return (a keen visitor more often) and carry a lognormal propensity to buy,
  so pre-exposure outcomes predict post-exposure ones; a planted effect acts from the visitor's
  first exposure on.  ``generate`` also writes the matching Metadata API catalog.
* Gzip uses ``mtime=0`` so the same seed gives byte-identical files; compression and the
  disk write run in one background thread (zlib releases the GIL) to use the second core.
"""

from __future__ import annotations

import datetime as dt
import gzip
import math
import random
from bisect import bisect
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from dlt_pipeline.synthetic.design import (
    OLD_SPLIT_IDS,
    PII_TARGET_IDS,
    TARGET_VALUES,
    ExperienceDesign,
    SplitDesign,
    assignment_uniform,
    experience_design,
    page_event_design,
)
from dlt_pipeline.synthetic.generator_config import GeneratorConfig
from dlt_pipeline.synthetic.visitor_truth import VisitorTruth, new_visitor_record, visitor_digest

__all__ = [
    "CHILD_TABLES",
    "ExperienceDesign",
    "GeneratedFile",
    "GeneratorConfig",
    "PII_TARGET_IDS",
    "SIZE_CAP",
    "SplitDesign",
    "VARIABLE_FIELDS",
    "experience_design",
    "file_name",
    "generate",
    "iter_files",
    "iter_sessions",
    "make_session",
    "parse_file_name",
    "read_tree",
    "session_stream_root",
    "visitor_digest",
    "write_session_file",
]

WINDOW_MS = 900_000
"""Length of one Session Stream window (PT15M) in milliseconds."""
DAY_MS = 86_400_000
MAX_SESSION_MS = 43_200_000
"""Vendor: a session persists at most 12 hours."""
SIZE_CAP = 1000
"""Vendor: variable-size fields at or over this many items may be incomplete."""
VARIABLE_FIELDS = (
    "custom_targets",
    "offers",
    "page_event_ids",
    "purchases",
    "cart_lines",
    "view_lines",
    "purchase_lines",
)
CHILD_TABLES = (
    "sessions__offers",
    "sessions__page_event_ids",
    "sessions__custom_targets",
    "sessions__purchases",
    "sessions__purchase_lines",
    "sessions__purchase_lines__items",
    "sessions__cart_lines",
    "sessions__view_lines",
)
UNKNOWN_FIELDS = ("visitor_score", "experiment_flags", "search_terms")
"""Top-level fields absent from the vendor table; the loader must keep them, not drop them."""
NEW_VENDOR_FIELDS = ("loyalty_tier", "coupon_codes")
"""Opt-in fields (``new_vendor_field_share``) a vendor "adds later": a scalar and an array of strings, so tests
can prove that a field nobody declared surfaces in the marts (``extra_loyalty_tier``, ``session_extra_items``)."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_RETURNING_SHARE = 0.45
"""Probability that a session belongs to a visitor seen before (if one is idle for 30 min)."""
_PROPENSITY_SIGMA = 1.0
"""Lognormal sigma of a visitor's purchase-probability multiplier (mean 1)."""
_BUY_SCALE = 1 / (0.62 * 1.19)
"""Per non-bounce session purchase probability per unit of ``conversion_rate``: 62 % of sessions
are not bounces, and keen visitors return more often (measured: x1.19 on the session rate), so
the rate without planted effects stays near ``conversion_rate``."""
_SPEND_SIGMA = 0.3
"""Lognormal sigma of a visitor's basket-size multiplier (mean 1, same latent draw)."""
_STEALTH_SHARE = 0.03
"""Share of visitors in Stealth Mode (``has_stealth`` "t" on all their sessions)."""
_OLD_SPLIT_SHARE = 0.06
"""Share of sessions with a split id of a deleted experience (unknown to the Metadata API)."""

# --------------------------------------------------------------------------------------
# Reference data (weights are rough shares of traffic; only realism matters, not accuracy)
# --------------------------------------------------------------------------------------

_COUNTRIES: list[tuple[str, int, list[tuple[str, str]]]] = [
    (
        "US",
        45,
        [
            ("CA", "Los Angeles"),
            ("CA", "San Francisco"),
            ("NY", "New York"),
            ("TX", "Houston"),
            ("TX", "Austin"),
            ("IL", "Chicago"),
            ("PA", "Philadelphia"),
            ("WA", "Seattle"),
            ("FL", "Miami"),
            ("MA", "Boston"),
            ("GA", "Atlanta"),
        ],
    ),
    (
        "GB",
        12,
        [
            ("ENG", "London"),
            ("ENG", "Manchester"),
            ("ENG", "Birmingham"),
            ("SCT", "Glasgow"),
            ("SCT", "Edinburgh"),
            ("WLS", "Cardiff"),
        ],
    ),
    ("DE", 8, [("BE", "Berlin"), ("BY", "Munich"), ("HH", "Hamburg"), ("NW", "Cologne"), ("HE", "Frankfurt am Main")]),
    ("CA", 7, [("ON", "Toronto"), ("QC", "Montreal"), ("BC", "Vancouver"), ("AB", "Calgary")]),
    ("FR", 6, [("IDF", "Paris"), ("ARA", "Lyon"), ("PAC", "Marseille"), ("OCC", "Toulouse")]),
    ("AU", 4, [("NSW", "Sydney"), ("VIC", "Melbourne"), ("QLD", "Brisbane")]),
    ("NL", 3, [("NH", "Amsterdam"), ("ZH", "Rotterdam")]),
    ("ES", 3, [("MD", "Madrid"), ("CT", "Barcelona")]),
    ("IT", 3, [("LAZ", "Rome"), ("LOM", "Milan")]),
    ("JP", 2, [("13", "Tokyo"), ("27", "Osaka")]),
    ("BR", 2, [("SP", "Sao Paulo"), ("RJ", "Rio de Janeiro")]),
    ("MX", 2, [("CMX", "Mexico City"), ("JAL", "Guadalajara")]),
    ("IE", 1, [("D", "Dublin")]),
    ("SE", 1, [("AB", "Stockholm")]),
    ("IN", 1, [("MH", "Mumbai"), ("KA", "Bengaluru")]),
]

# device -> weight, [(browser, [versions], os, [os versions], weight)], [(w, h)]
_DEVICES: list[tuple[str, int, list[tuple[str, list[str], str, list[str], int]], list[tuple[int, int]]]] = [
    (
        "desktop",
        45,
        [
            ("Chrome", ["120.0", "121.0", "122.0", "123.0"], "Windows", ["10", "11"], 40),
            ("Chrome", ["121.0", "122.0", "123.0"], "Mac OS X", ["13.6", "14.2", "14.4"], 15),
            ("Safari", ["16.6", "17.2", "17.4"], "Mac OS X", ["13.6", "14.2", "14.4"], 14),
            ("Edge", ["120.0", "121.0", "122.0"], "Windows", ["10", "11"], 16),
            ("Firefox", ["121.0", "122.0", "123.0"], "Windows", ["10", "11"], 8),
            ("Firefox", ["122.0", "123.0"], "Linux", [""], 2),
            ("Chrome", ["122.0"], "Chrome OS", ["15633.69"], 5),
        ],
        [(1920, 1080), (1536, 864), (1366, 768), (1440, 900), (2560, 1440), (1280, 720)],
    ),
    (
        "mobile",
        47,
        [
            ("Mobile Safari", ["16.6", "17.2", "17.3", "17.4"], "iOS", ["16.7", "17.2", "17.3", "17.4"], 50),
            ("Chrome Mobile", ["120.0", "121.0", "122.0"], "Android", ["12", "13", "14"], 38),
            ("Samsung Internet", ["23.0", "24.0"], "Android", ["13", "14"], 9),
            ("Facebook", ["449.0"], "iOS", ["17.3"], 3),
        ],
        [(390, 844), (393, 852), (414, 896), (375, 667), (412, 915), (360, 800)],
    ),
    (
        "tablet",
        8,
        [
            ("Mobile Safari", ["16.6", "17.2", "17.4"], "iOS", ["16.7", "17.2", "17.4"], 70),
            ("Chrome", ["121.0", "122.0"], "Android", ["13", "14"], 30),
        ],
        [(820, 1180), (810, 1080), (768, 1024), (800, 1280)],
    ),
]

_TARGET_VALUES = TARGET_VALUES
_TARGET_IDS = list(_TARGET_VALUES)
_FIRST = [
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "Anna",
    "Lukas",
    "Emma",
    "Oliver",
    "Sophie",
    "Liam",
    "Chloe",
    "Noah",
    "Mia",
    "Lucas",
]
_LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Muller",
    "Schmidt",
    "Martin",
    "Bernard",
    "Taylor",
    "Wilson",
    "Thomas",
    "Moore",
    "Clark",
    "Lewis",
    "Walker",
]
_DOMAINS = ["example.com", "mail.example.org", "example.net", "inbox.example.co.uk"]
_SIZES = ["XS", "S", "M", "L", "XL", "OS", "32", "34", "36", "9", "10"]


def _cum(weights: Iterable[float]) -> list[float]:
    """Cumulative weights normalised to 1, for ``bisect`` picks (much cheaper than choices())."""
    out: list[float] = []
    total = 0.0
    for w in weights:
        total += w
        out.append(total)
    return [c / total for c in out]


_COUNTRY_CUM = _cum(c[1] for c in _COUNTRIES)
_DEVICE_CUM = _cum(d[1] for d in _DEVICES)
_BROWSER_CUM = [_cum(b[4] for b in d[2]) for d in _DEVICES]


# --------------------------------------------------------------------------------------
# Names and paths
# --------------------------------------------------------------------------------------


def session_stream_root(out_dir: str | Path, account_id: int) -> Path:
    """``OUT/ACCOUNT/raw_data/session_stream`` — the folder the loader lists."""
    return Path(out_dir) / str(account_id) / "raw_data" / "session_stream"


def file_name(window_start_ms: int, token: int | str) -> str:
    """Vendor file name for a window start (Unix ms, UTC) and a uniqueness token."""
    t = _EPOCH + dt.timedelta(milliseconds=window_start_ms)
    return f"{t:%Y%m%dT%H%M%S}.000Z_PT15M-{token}.json.gz"


def parse_file_name(name: str) -> tuple[int, str]:
    """Return (window start in Unix ms, token) for a vendor file name; ValueError if malformed."""
    stamp, _, rest = name.partition(".000Z_PT15M-")
    if not rest.endswith(".json.gz"):
        raise ValueError(f"not a Session Stream file name: {name!r}")
    t = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    return int((t - _EPOCH).total_seconds()) * 1000, rest[: -len(".json.gz")]


def _rel_path(window_start_ms: int, name: str) -> str:
    t = _EPOCH + dt.timedelta(milliseconds=window_start_ms)
    return f"{t:%Y/%m/%d}/{name}"


def write_session_file(
    out_dir: str | Path,
    account_id: int,
    name: str,
    content: Iterable[Mapping[str, Any]] | bytes,
    *,
    day_folder: str | None = None,
    compresslevel: int = 6,
) -> Path:
    """Write one file into the account tree and return its path.

    Why: tests inject late files, re-deliveries and broken files next to generated ones.
    ``content`` is either session dicts (serialised one per line with orjson, gzipped) or
    raw ``bytes`` written verbatim (use that for corrupt gzip, bad JSON lines, empty files).
    The day folder is taken from the name's window start unless ``day_folder`` ("YYYY/MM/DD")
    is given (e.g. to put a file in the wrong folder on purpose).
    """
    if day_folder is None:
        day_folder = f"{name[0:4]}/{name[4:6]}/{name[6:8]}"
    path = session_stream_root(out_dir, account_id) / day_folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, (bytes, bytearray, memoryview)):
        data = bytes(content)
    else:
        payload = b"".join(orjson.dumps(s) + b"\n" for s in content)
        data = gzip.compress(payload, compresslevel=compresslevel, mtime=0)
    path.write_bytes(data)
    return path


def read_tree(out_dir: str | Path, account_id: int) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Yield (path relative to ``session_stream``, 1-based line, session) for every file on disk.

    Independent of the generator's internals (plain gzip + orjson), so it doubles as a
    reference reader in tests.  Files are visited in path order; a corrupt file raises
    (``gzip.BadGzipFile`` / ``orjson.JSONDecodeError``) — this reader is for checking good trees.
    """
    root = session_stream_root(out_dir, account_id)
    for path in sorted(root.rglob("*.json.gz")):
        rel = path.relative_to(root).as_posix()
        with gzip.open(path, "rb") as fh:
            for i, line in enumerate(fh, 1):
                if line.strip():
                    yield rel, i, orjson.loads(line)


# --------------------------------------------------------------------------------------
# Truth
# --------------------------------------------------------------------------------------


@dataclass
class GeneratedFile:
    """One file ready to write: its name, path relative to ``session_stream`` and lines."""

    name: str
    rel_path: str
    window_start_ms: int
    lines: list[bytes]
    redelivery_of: str | None = None

    def payload(self) -> bytes:
        """Uncompressed file body: one compact JSON object per line, newline-terminated."""
        return b"\n".join(self.lines) + b"\n"


# Per-line statistics, positions in the tuple returned by _assemble().
_S_OFFERS, _S_EVENTS, _S_TARGETS, _S_PURCH, _S_ITEMS, _S_CART, _S_VIEWS = range(7)
_S_SV, _S_PV_VAL, _S_IV, _S_IQ, _S_CAPPED, _S_UNKNOWN, _S_PAGE_VIEWS = range(7, 14)


@dataclass
class _Truth:
    """Plain-number accumulators; the dedup part is fed only with each session's final version."""

    files: int = 0
    sessions: int = 0
    child: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHILD_TABLES, 0))
    session_value: float = 0.0
    purchases_value: float = 0.0
    items_value: float = 0.0
    items_quantity: int = 0
    capped_sessions: int = 0
    unknown_field_sessions: int = 0
    d_sessions: int = 0
    d_converted: int = 0
    d_revenue: float = 0.0
    d_offers: int = 0
    d_items: int = 0
    d_items_value: float = 0.0
    d_page_views: int = 0
    by_day: dict[str, list[float]] = field(default_factory=dict)
    extra: dict[str, int] = field(default_factory=dict)
    file_list: list[tuple[str, int]] = field(default_factory=list)
    visitors: VisitorTruth = field(default_factory=VisitorTruth)

    def add_file(self, f: GeneratedFile, stats: list[tuple]) -> None:
        self.files += 1
        self.file_list.append((f.rel_path, len(stats)))
        self.sessions += len(stats)
        c = self.child
        for s in stats:
            c["sessions__offers"] += s[_S_OFFERS]
            c["sessions__page_event_ids"] += s[_S_EVENTS]
            c["sessions__custom_targets"] += s[_S_TARGETS]
            c["sessions__purchases"] += s[_S_PURCH]
            c["sessions__purchase_lines"] += s[_S_PURCH]
            c["sessions__purchase_lines__items"] += s[_S_ITEMS]
            c["sessions__cart_lines"] += s[_S_CART]
            c["sessions__view_lines"] += s[_S_VIEWS]
            self.session_value += s[_S_SV]
            self.purchases_value += s[_S_PV_VAL]
            self.items_value += s[_S_IV]
            self.items_quantity += s[_S_IQ]
            self.capped_sessions += s[_S_CAPPED]
            self.unknown_field_sessions += s[_S_UNKNOWN]

    def add_final(self, start_ms: int, s: tuple) -> None:
        self.d_sessions += 1
        converted = s[_S_PURCH] > 0
        self.d_converted += converted
        self.d_revenue += s[_S_SV]
        self.d_offers += s[_S_OFFERS]
        self.d_items += s[_S_ITEMS]
        self.d_items_value += s[_S_IV]
        self.d_page_views += s[_S_PAGE_VIEWS]
        day = (_EPOCH + dt.timedelta(milliseconds=start_ms)).date().isoformat()
        acc = self.by_day.get(day)
        if acc is None:
            acc = self.by_day[day] = [0, 0.0]
        acc[0] += 1
        acc[1] += s[_S_SV]

    def bump(self, key: str, n: int = 1) -> None:
        self.extra[key] = self.extra.get(key, 0) + n

    def as_dict(self, config: GeneratorConfig) -> dict[str, Any]:
        params = asdict(config)
        params["start_date"] = config.start_date.isoformat()
        return {
            "params": params,
            "raw": {
                "files": self.files,
                "sessions": self.sessions,
                **self.child,
                "session_value": round(self.session_value, 2),
                "purchases_value": round(self.purchases_value, 2),
                "purchase_lines_value": round(self.purchases_value, 2),
                "items_value": round(self.items_value, 2),
                "items_quantity": self.items_quantity,
                "capped_sessions": self.capped_sessions,
                "unknown_field_sessions": self.unknown_field_sessions,
            },
            "dedup": {
                "sessions": self.d_sessions,
                "converted_sessions": self.d_converted,
                "revenue": round(self.d_revenue, 2),
                "offer_exposures": self.d_offers,
                "purchase_items": self.d_items,
                "items_value": round(self.d_items_value, 2),
                "page_views": self.d_page_views,
                "by_day": {
                    day: {"sessions": int(v[0]), "revenue": round(v[1], 2)} for day, v in sorted(self.by_day.items())
                },
            },
            "visitors": self.visitors.as_dict(),
            "extra": dict(sorted(self.extra.items())),
            "files": [{"path": p, "sessions": n} for p, n in self.file_list],
        }


# --------------------------------------------------------------------------------------
# Session construction
# --------------------------------------------------------------------------------------


def _assemble(
    account_id: int,
    guid: str,
    static: tuple,
    start: int,
    end: int,
    page_views: int,
    closed: str,
    offers: list[tuple[str, int]],
    events: list[tuple[str, int]],
    targets: dict[str, str],
    purchases: list[tuple[str, int, list[dict[str, Any]], float, float, int]],
    cart: list[dict[str, Any]],
    views: list[dict[str, Any]],
    extra: dict[str, Any] | None,
) -> tuple[dict[str, Any], tuple]:
    """Build one vendor-shaped session dict plus its statistics tuple.

    Every derived field (flags, counts, *_ss, session_id, time_on_site) is computed here
    and only here, so the closed version and any open re-emit obey the same rules.
    """
    (
        browser,
        browser_version,
        city,
        country,
        customer_id,
        customer_link,
        device,
        new_cust,
        rec_imp,
        rec_click,
        rec_cart,
        rec_purch,
        stealth,
        os_name,
        os_version,
        region,
        sh,
        sw,
    ) = static
    purchases_obj: dict[str, float] = {}
    lines_obj: dict[str, dict[str, Any]] = {}
    sv = ss = iv = 0.0
    iq = ni = 0
    capped = False
    for pid, t, items, val, ivsum, qsum in purchases:
        purchases_obj[pid] = val
        lines_obj[pid] = {"value": val, "time": t, "items": items}
        sv += val
        ss += val * val
        iv += ivsum
        iq += qsum
        ni += len(items)
        if len(items) >= SIZE_CAP:
            capped = True
    pc = len(purchases)
    session_value = round(sv, 2)
    tos = (end - start) // 1000
    n_views = len(views)
    d: dict[str, Any] = {
        "account_id": account_id,
        "browser": browser,
        "browser_version": browser_version,
        "cart_lines": cart,
        "city": city,
        "country_code": country,
        "custom_targets": targets,
        "customer_id": customer_id,
        "customer_link": customer_link,
        "device_type": device,
        "end_time": end,
        "guid": guid,
        "has_cart": "t" if cart else "f",
        "has_new_customer": new_cust,
        "has_product_view": "t" if n_views else "f",
        "has_purchase": "t" if pc else "f",
        "has_recommendation_cart": "t" if rec_cart and cart else "f",
        "has_recommendation_click": rec_click,
        "has_recommendation_impression": rec_imp,
        "has_recommendation_purchase": "t" if rec_purch and pc else "f",
        "has_stealth": stealth,
        "is_bounce": "t" if page_views == 1 else "f",
        "is_closed": closed,
        "offers": dict(offers),
        "os": os_name,
        "os_version": os_version,
        "page_event_ids": dict(events),
        "page_views": page_views,
        "page_views_ss": page_views * page_views,
        "product_view_count": n_views,
        "purchase_count": pc,
        "purchase_lines": lines_obj,
        "purchase_value_ss": round(ss, 4),
        "purchases": purchases_obj,
        "region": region,
        "screen_height": sh,
        "screen_width": sw,
        "session_count": 1,
        "session_id": f"{guid}:{pc}:{start}:{end}",
        "session_value": session_value,
        "session_value_ss": round(session_value * session_value, 4),
        "start_time": start,
        "time_on_site": tos,
        "time_on_site_ss": tos * tos,
        "view_lines": views,
    }
    if extra:
        d.update(extra)
    n_off, n_ev, n_cart = len(offers), len(events), len(cart)
    if not capped:
        capped = (
            n_off >= SIZE_CAP
            or n_ev >= SIZE_CAP
            or n_views >= SIZE_CAP
            or n_cart >= SIZE_CAP
            or len(targets) >= SIZE_CAP
            or pc >= SIZE_CAP
        )
    stats = (
        n_off,
        n_ev,
        len(targets),
        pc,
        ni,
        n_cart,
        n_views,
        session_value,
        sv,
        iv,
        iq,
        int(capped),
        int(bool(extra)),
        page_views,
    )
    return d, stats


class _Factory:
    """Holds the random streams and pools; makes one session (and its optional re-emit)."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.cfg = config
        self.rng = random.Random(config.seed)
        self.rng_re = random.Random(f"{config.seed}:reemit")
        # own stream: the opt-in vendor fields never shift the sessions of the same seed
        self.rng_vendor = random.Random(f"{config.seed}:vendor-fields")
        r = self.rng
        # Experiences that sessions see: (id, exposure probability, cumulative assigned shares,
        # [(split id str, conversion lift, value lift)], has a planted effect).
        self.experiences = [
            (
                e.experience_id,
                e.exposure,
                e.cumulative_assigned(),
                [(str(sp.split_id), sp.conversion_lift, sp.value_lift) for sp in e.splits],
                e.planted_effect,
            )
            for e in experience_design(config)
            if e.exposure > 0
        ]
        self.old_split_ids = [str(n) for n in OLD_SPLIT_IDS]
        self.event_ids = [str(e.event_id) for e in page_event_design(config) if e.in_sessions]
        self.event_id_set = frozenset(self.event_ids)
        # Pools drawn once so ids repeat across sessions like real product ids.
        self.products: list[tuple[str, str, float]] = []
        for n in r.sample(range(100_000, 999_999), 3000):
            pid = str(n)
            price = round(int(math.exp(r.gauss(3.3, 0.8))) + 0.99, 2)
            self.products.append((pid, f"{pid}-{r.choice(_SIZES)}", price))
        # [monetate_id, last_end, customer_id, conversion propensity, spend propensity, stealth,
        #  {experience id: assigned split tuple}, {experience id: (conv lift, value lift)} once exposed,
        #  visitor ground-truth record (visitor_truth.py)]
        self.visitors: deque[list] = deque(maxlen=5000)
        self.on_retire: Any = None
        """Called with a visitor that leaves the pool of returning visitors (it never comes back)."""
        self.last_final: tuple = ()
        """(visitor, start, customer_id, customer_link, converted, page event ids) of the last session made."""
        self.new_field_sessions = 0
        self.new_field_items = 0
        self.visitor_seq = 0
        self.purchase_seq = 0
        self.unknown_seq = 0
        # A 1,000-item bot purchase buys cheap items, so it does not swamp a small day's revenue.
        self.cheap = sorted(self.products, key=lambda p: p[2])[:50]
        self.mix = (config.seed * 2_654_435_761 + 1_234_567_891) % 10**10

    # -- small helpers -------------------------------------------------------------------

    def _product(self) -> tuple[str, str, float]:
        # Squared uniform skews towards the head of the catalogue (a few best sellers).
        p = self.rng.random()
        return self.products[int(p * p * len(self.products))]

    def _new_monetate_id(self, start: int) -> str:
        self.visitor_seq += 1
        # Bijective in the counter modulo 10**10 (multiplier coprime to 10) → never repeats.
        mid = (self.visitor_seq * 7_919_000_003 + self.mix) % 10**10
        return f"5.{mid:010d}.{start}"

    def _new_visitor(self, start: int, end: int) -> list:
        """A first-time visitor with a latent propensity (lognormal, mean 1) to buy and to spend.

        Why: the same visitor's sessions before and after an experiment exposure then share
        a level, so pre-exposure outcomes predict post-exposure ones (what CUPED uses).
        """
        z = self.rng.gauss(0.0, 1.0)
        conv = math.exp(_PROPENSITY_SIGMA * z - _PROPENSITY_SIGMA**2 / 2)
        spend = math.exp(_SPEND_SIGMA * z - _SPEND_SIGMA**2 / 2)
        stealth = "t" if self.rng.random() < _STEALTH_SHARE else "f"
        return [self._new_monetate_id(start), end, None, conv, spend, stealth, {}, {}, new_visitor_record()]

    def _offers(self, visitor: list, start: int, span: int) -> tuple[list[tuple[str, int]], float, float, list[int]]:
        """Experiment offers of one session and the planted effect the visitor is under.

        Each live experience is seen with its own probability; the split comes from the
        visitor's sticky assignment (hash of monetate id and experience id, cached on the
        visitor).  Returns (offers, conversion lift, value lift, positions in ``offers`` of
        first exposures to experiences with a planted effect).  A visitor stays under an
        effect from its first exposure on, also in later sessions without the offer.
        """
        r = self.rng.random
        assigned: dict[int, tuple[str, float, float]] = visitor[6]
        exposed: dict[int, tuple[float, float]] = visitor[7]
        offers: list[tuple[str, int]] = []
        first_effect: list[int] = []
        for eid, p, cum, splits, effect in self.experiences:
            if r() < p:
                sp = assigned.get(eid)
                if sp is None:  # cum[-1] == 1.0 > u, so bisect always lands on a split
                    sp = assigned[eid] = splits[bisect(cum, assignment_uniform(visitor[0], eid))]
                if effect and eid not in exposed:
                    first_effect.append(len(offers))
                    exposed[eid] = (sp[1], sp[2])
                offers.append((sp[0], start + int(r() * span)))
        if r() < _OLD_SPLIT_SHARE:
            offers.append((self.old_split_ids[int(r() * len(self.old_split_ids))], start + int(r() * span)))
        conv_lift = value_lift = 1.0
        if exposed:
            for cl, vl in exposed.values():
                conv_lift *= cl
                value_lift *= vl
        return offers, conv_lift, value_lift, first_effect

    def _new_vendor_fields(self) -> dict[str, Any]:
        """The opt-in fields of NEW_VENDOR_FIELDS for one session (counted for the truth's ``extra``)."""
        rv = self.rng_vendor.random
        codes = [f"SAVE{5 * (1 + int(rv() * 4))}-{int(rv() * 1000):03d}" for _ in range(1 + int(rv() * 3))]
        self.new_field_sessions += 1
        self.new_field_items += len(codes)
        return {"loyalty_tier": ("bronze", "silver", "gold")[int(rv() * 3)], "coupon_codes": codes}

    # -- one session ----------------------------------------------------------------------

    def make(self, start: int, cap_kind: str | None, open_primary: bool) -> tuple[list, list]:
        """Return ([(end, line bytes, stats), ...] for the closed/primary version and any
        open re-emit, [final stats]) — the caller files each line under its end window."""
        cfg = self.cfg
        r = self.rng.random
        rng = self.rng

        # Duration and page views: ~38% bounces, lognormal body (median ~5 min), 1% long tail.
        u = r()
        if cap_kind is not None:
            dur = 3_600_000 + int(r() * 5 * 3_600_000)
            page_views = 1000 + int(r() * 500)
        elif u < 0.38:
            dur = int(r() * r() * 60_000)
            page_views = 1
        elif u < 0.99:
            dur = min(int(math.exp(rng.gauss(12.6, 1.0))), MAX_SESSION_MS)
            page_views = 2 + int(r() * min(dur / 45_000.0, 60.0))
        else:
            dur = 3_600_000 + int(r() * (MAX_SESSION_MS - 3_600_000))
            page_views = 20 + int(r() * 200)
        end = start + dur
        span = dur + 1
        bounce = page_views == 1

        # Visitor: a share are returning visitors seen earlier (same monetate id, later session).
        customer_id: str | None = None
        visitor: list | None = None
        if self.visitors and r() < _RETURNING_SHARE:
            # Of two random earlier visitors the keener one returns: frequent visitors buy more.
            n_v = len(self.visitors)
            v = self.visitors[int(r() * n_v)]
            v2 = self.visitors[int(r() * n_v)]
            if v2[3] > v[3]:
                v = v2
            if start > v[1] + 1_800_000:  # a new session needs 30 min of inactivity
                visitor = v
                v[1] = end
                customer_id = v[2]
        if visitor is None:
            visitor = self._new_visitor(start, end)
            if self.on_retire is not None and len(self.visitors) == self.visitors.maxlen:
                self.on_retire(self.visitors[0])
            self.visitors.append(visitor)
        mid = visitor[0]
        guid = f"{cfg.account_id}:{mid}"

        # Geography and device.
        ci = bisect(_COUNTRY_CUM, r())
        country, _, places = _COUNTRIES[min(ci, len(_COUNTRIES) - 1)]
        region, city = places[int(r() * len(places))]
        di = min(bisect(_DEVICE_CUM, r()), len(_DEVICES) - 1)
        device, _, browsers, screens = _DEVICES[di]
        bi = min(bisect(_BROWSER_CUM[di], r()), len(browsers) - 1)
        browser, bvers, os_name, overs, _ = browsers[bi]
        sw, sh = screens[int(r() * len(screens))]

        # Offers (experiment splits) and page events, first-seen within the session.
        conv_lift = value_lift = 1.0
        first_effect: list[int] = []
        if cap_kind == "offers":
            base = 20_000_000 + int(r() * 1_000_000)
            offers = [(str(base + j), start + int(r() * span)) for j in range(SIZE_CAP + int(r() * 4))]
        else:
            offers, conv_lift, value_lift, first_effect = self._offers(visitor, start, span)
        if cap_kind == "page_event_ids":
            base = 500_000 + int(r() * 100_000)
            events = [(str(base + j), start + int(r() * span)) for j in range(SIZE_CAP + int(r() * 4))]
        else:
            k = int(r() * (2 if bounce else 6))
            events = [(s, start + int(r() * span)) for s in rng.sample(self.event_ids, k)] if k else []

        # Custom targets, with a PII share (e-mail + full name) under 9001/9002.
        targets: dict[str, str] = {}
        k = int(r() * 4)
        if k:
            for t in rng.sample(_TARGET_IDS, k):
                vals = _TARGET_VALUES[t]
                targets[t] = vals[int(r() * len(vals))]
        if r() < cfg.pii_share:
            first = _FIRST[int(r() * len(_FIRST))]
            last = _LAST[int(r() * len(_LAST))]
            targets["9001"] = f"{first.lower()}.{last.lower()}{int(r() * 100)}@{_DOMAINS[int(r() * 4)]}"
            targets["9002"] = f"{first} {last}"

        # Product views.
        if cap_kind == "view_lines":
            nv = SIZE_CAP + int(r() * 4)
        elif bounce:
            nv = 1 if r() < 0.3 else 0
        else:
            nv = int(r() * min(page_views, 12))
        views = []
        if nv:
            for t in sorted(start + int(r() * span) for _ in range(nv)):
                pid, sku, _ = self._product()
                views.append({"product_id": pid, "sku": sku, "time": t})

        # Purchases: conversion only among non-bounces, scaled so the overall rate ≈ target,
        # times the visitor's propensity and any planted effect it is exposed to.
        purchases: list[tuple[str, int, list[dict[str, Any]], float, float, int]] = []
        cart: list[dict[str, Any]] = []
        p_buy = cfg.conversion_rate * _BUY_SCALE * visitor[3] * conv_lift
        converts = cap_kind == "purchase_items" or (not bounce and r() < min(p_buy, 0.9))
        spend = 5.0 * visitor[4] * value_lift
        if converts:
            n_purch = 2 if r() < 0.08 else 1
            for _ in range(n_purch):
                self.purchase_seq += 1
                ptime = end - int(r() * min(span, 120_000))
                n_items = SIZE_CAP + int(r() * 3) if cap_kind == "purchase_items" else 1 + int(r() * r() * spend)
                items = []
                ivsum = 0.0
                qsum = 0
                for _ in range(n_items):
                    if cap_kind == "purchase_items":
                        pid, sku, price = self.cheap[int(r() * len(self.cheap))]
                    else:
                        pid, sku, price = self._product()
                    q = 1 if (cap_kind or r() < 0.8) else 2 + int(r() * 2)
                    items.append({"product_id": pid, "sku": sku, "unit_price": price, "quantity": q})
                    ivsum += price * q
                    qsum += q
                    if len(cart) < 50:
                        cart.append({"product_id": pid, "sku": sku, "time": start + int(r() * (ptime - start + 1))})
                pid_str = f"ORD{self.cfg.seed % 100:02d}{self.purchase_seq:09d}"
                purchases.append((pid_str, ptime, items, round(ivsum, 2), ivsum, qsum))
            cart.sort(key=lambda c: c["time"])
            if first_effect:
                # First exposure to an experience with a planted effect: its effect counts only
                # from the offer on, so place the offer before the first purchase (all splits alike).
                first_buy = min(p[1] for p in purchases)
                for j in first_effect:
                    offers[j] = (offers[j][0], start + int(r() * (first_buy - start + 1)))
        elif not bounce and r() < 0.1:
            for t in sorted(start + int(r() * span) for _ in range(1 + int(r() * 3))):
                pid, sku, _ = self._product()
                cart.append({"product_id": pid, "sku": sku, "time": t})

        # Customer ids: logged-in share, all buyers; customer_link from earlier sessions.
        if customer_id is None and (converts or r() < cfg.customer_id_share):
            customer_id = f"C{int(r() * 10**8):08d}"
            visitor[2] = customer_id
        customer_link: str | None = None
        if r() < cfg.customer_link_share:
            customer_link = customer_id if (customer_id and r() < 0.7) else f"C{int(r() * 10**8):08d}"

        rec_imp = "t" if r() < 0.35 else "f"
        rec_click = "t" if rec_imp == "t" and r() < 0.2 else "f"
        rec_cart = rec_click == "t" and r() < 0.4
        rec_purch = rec_cart and r() < 0.5
        static = (
            browser,
            bvers[int(r() * len(bvers))],
            city,
            country,
            customer_id,
            customer_link,
            device,
            "t" if r() < 0.28 else "f",
            rec_imp,
            rec_click,
            rec_cart,
            rec_purch,
            visitor[5],
            os_name,
            overs[int(r() * len(overs))],
            region,
            sh,
            sw,
        )

        extra: dict[str, Any] | None = None
        if r() < cfg.unknown_field_share:
            self.unknown_seq += 1
            kind = self.unknown_seq % 3
            extra = {"visitor_score": round(r(), 2)}
            if kind != 1:
                extra["experiment_flags"] = {"a": 1, "b": int(r() * 3), "beta_ui": r() < 0.5}
            if kind != 2:
                extra["search_terms"] = ["boots", "red dress", "gift card", "sale"][: 1 + int(r() * 4)]
        if cfg.new_vendor_field_share and self.rng_vendor.random() < cfg.new_vendor_field_share:
            extra = {**(extra or {}), **self._new_vendor_fields()}
        # page events of the design only (a capped bot session fires ~1,000 made-up ids)
        designed = [e for e in events if e[0] in self.event_id_set]
        bought = [(p[1], p[3]) for p in purchases]  # (time, value) of each purchase line
        self.last_final = (visitor, start, customer_id, customer_link, bool(purchases), designed, bought)

        closed = "f" if open_primary else "t"
        d, stats = _assemble(
            cfg.account_id,
            guid,
            static,
            start,
            end,
            page_views,
            closed,
            offers,
            events,
            targets,
            purchases,
            cart,
            views,
            extra,
        )
        # orjson's result keeps its over-sized output buffer (~17 KiB each); a compact copy
        # is what keeps buffered windows small (680 MB -> ~100 MB RSS for 1M sessions/day).
        out = [(end, bytes(memoryview(orjson.dumps(d))), stats)]

        # Optional earlier open version: ends in an earlier window, so only multi-window,
        # multi-page-view sessions qualify; everything after its end is cut off.
        ws_end = end - end % WINDOW_MS
        if cfg.reemit and page_views >= 2 and start < ws_end and self.rng_re.random() < cfg.reemit:
            rr = self.rng_re.random
            oend = start + int(rr() * (ws_end - start))
            opv = 1 + int(rr() * (page_views - 1))
            d2, st2 = _assemble(
                cfg.account_id,
                guid,
                static,
                start,
                oend,
                opv,
                "f",
                [o for o in offers if o[1] <= oend],
                [e for e in events if e[1] <= oend],
                targets,
                [p for p in purchases if p[1] <= oend],
                [c for c in cart if c["time"] <= oend],
                [v for v in views if v["time"] <= oend],
                extra,
            )
            out.append((oend, bytes(memoryview(orjson.dumps(d2))), st2))
        return out, [stats]


def make_session(
    account_id: int = 1234,
    start_ms: int = 1_793_491_200_000,
    *,
    seed: int = 0,
    closed: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """One realistic, internally consistent session starting at ``start_ms``.

    Why: tests that inject late or hand-crafted files need valid lines without knowing the
    field list.  ``overrides`` replace fields afterwards (consistency is then the caller's
    business — useful for deliberately broken lines).
    """
    f = _Factory(GeneratorConfig(account_id=account_id, seed=seed))
    out, _ = f.make(start_ms, None, not closed)
    d = orjson.loads(out[0][1])
    d.update(overrides)
    return d


# --------------------------------------------------------------------------------------
# Streaming over windows
# --------------------------------------------------------------------------------------


def _day_counts(n: int) -> list[int]:
    """Split ``n`` sessions over the 96 windows of a day with a diurnal curve (exact total).

    Peak around 20:00 UTC (US afternoon/EU evening), trough around 08:00 UTC.
    """
    weights = [1.0 + 0.75 * math.sin(2 * math.pi * ((i / 4.0) - 14.0) / 24.0) for i in range(96)]
    total = sum(weights)
    raw = [n * w / total for w in weights]
    counts = [int(x) for x in raw]
    rest = n - sum(counts)
    for i in sorted(range(96), key=lambda i: raw[i] - counts[i], reverse=True)[:rest]:
        counts[i] += 1
    return counts


def _split(lines: list, k: int) -> list[list]:
    """Round-robin a window's lines over ``k`` files, never producing an empty file."""
    k = max(1, min(k, len(lines)))
    return [lines[i::k] for i in range(k)]


def _day_quirks(cfg: GeneratorConfig, rng: random.Random) -> tuple[dict[int, str], set[int]]:
    """Which of a day's sessions (by start order) are capped bots, and of which kind, and which stay open."""
    n = cfg.sessions_per_day
    # Capped (bot) sessions: one of each kind per day when the rate allows, plus a share.
    cap_at: dict[int, str] = {}
    kinds = ("view_lines", "offers", "page_event_ids", "purchase_items")
    if n >= 1000:
        # First half of the day's starts: a 1-6 h bot session then also ENDS that day,
        # so the day's own folder holds one capped session of each kind.
        for kind, idx in zip(kinds, rng.sample(range(n // 2), len(kinds)), strict=True):
            cap_at[idx] = kind
    for _ in range(int(n * cfg.capped_share)):
        # The random share leaves out purchase_items: one giant order per day is enough.
        cap_at.setdefault(rng.randrange(n), kinds[rng.randrange(len(kinds) - 1)])
    n_open = int(n * cfg.open_share)
    return cap_at, set(rng.sample(range(n), n_open)) if n_open else set()


def _session(fac: _Factory, truth: _Truth, start: int, cap: str | None, is_open: bool) -> list:
    """One session's lines [(end, line bytes, stats), ...], its final version and quirks counted in `truth`."""
    lines, finals = fac.make(start, cap, is_open)
    truth.add_final(start, finals[0])
    visitor, *final = fac.last_final
    truth.visitors.record(visitor[8], *final)
    if cap:
        truth.bump(f"capped_{cap}")
    if is_open:
        truth.bump("open_primary_sessions")
    if len(lines) > 1:
        truth.bump("reemitted_sessions")
    return lines


def _redeliver(rng_tok: random.Random, truth: _Truth, src: GeneratedFile, st: list, used: set[int]) -> GeneratedFile:
    """A second copy of `src` under a new token in the same window (the vendor re-delivering a file)."""
    token = _token(rng_tok, src.window_start_ms, used)
    name = file_name(src.window_start_ms, token)
    f = GeneratedFile(
        name, _rel_path(src.window_start_ms, name), src.window_start_ms, src.lines, redelivery_of=src.rel_path
    )
    truth.add_file(f, st)
    truth.bump("redelivered_files")
    return f


def _iter_files(cfg: GeneratorConfig, truth: _Truth) -> Iterator[GeneratedFile]:
    fac = _Factory(cfg)
    fac.on_retire = lambda v: truth.visitors.retire(v[0], v[8])
    rng_tok = random.Random(f"{cfg.seed}:tokens")
    base_ms = int((dt.datetime.combine(cfg.start_date, dt.time(), dt.UTC) - _EPOCH).total_seconds()) * 1000
    redeliver_targets = sorted(base_ms + rng_tok.randrange(cfg.days * 96) * WINDOW_MS for _ in range(cfg.redeliver))
    counts = _day_counts(cfg.sessions_per_day)
    buffer: dict[int, list] = {}
    last_emitted: list[GeneratedFile] = []
    last_stats: list[list] = []
    last_used: set[int] = set()

    def emit(ws: int) -> Iterator[GeneratedFile]:
        nonlocal last_emitted, last_stats, last_used
        entries = buffer.pop(ws)
        entries.sort(key=lambda e: e[0])
        used: set[int] = set()
        files: list[GeneratedFile] = []
        stats_per_file: list[list] = []
        for chunk in _split(entries, cfg.files_per_window):
            token = _token(rng_tok, ws, used)
            name = file_name(ws, token)
            f = GeneratedFile(name, _rel_path(ws, name), ws, [e[1] for e in chunk])
            st = [e[2] for e in chunk]
            truth.add_file(f, st)
            files.append(f)
            stats_per_file.append(st)
            yield f
        while redeliver_targets and redeliver_targets[0] <= ws:
            redeliver_targets.pop(0)
            j = int(rng_tok.random() * len(files))
            yield _redeliver(rng_tok, truth, files[j], stats_per_file[j], used)
        last_emitted, last_stats, last_used = files, stats_per_file, used

    for d in range(cfg.days):
        day_ms = base_ms + d * DAY_MS
        rng = fac.rng
        cap_at, open_at = _day_quirks(cfg, rng)
        i = 0
        for w in range(96):
            ws = day_ms + w * WINDOW_MS
            for done in sorted(k for k in buffer if k < ws):
                yield from emit(done)
            for _ in range(counts[w]):
                start = ws + int(rng.random() * WINDOW_MS)
                cap = cap_at.get(i)
                for end, line, st in _session(fac, truth, start, cap, i in open_at):
                    buffer.setdefault(end - end % WINDOW_MS, []).append((end, line, st))
                i += 1
    for done in sorted(buffer):
        yield from emit(done)
    for visitor in fac.visitors:
        truth.visitors.retire(visitor[0], visitor[8])
    if cfg.new_vendor_field_share:
        truth.bump("new_vendor_field_sessions", fac.new_field_sessions)
        truth.bump("new_vendor_child_items", fac.new_field_items)
    # Targets whose windows (and all later ones) were empty: re-deliver the last files seen.
    while redeliver_targets and last_emitted:
        redeliver_targets.pop(0)
        yield _redeliver(rng_tok, truth, last_emitted[0], last_stats[0], last_used)


def _token(rng: random.Random, ws: int, used: set[int]) -> int:
    """13-digit token that looks like a delivery timestamp (ms) and is unique in its window."""
    while True:
        tok = ws + WINDOW_MS + 60_000 + rng.randrange(600_000)
        if tok not in used:
            used.add(tok)
            return tok


def iter_files(config: GeneratorConfig) -> Iterator[GeneratedFile]:
    """Stream the files of a config in window order without touching the disk.

    Why: the benchmark and unit tests can feed a loader from memory.  The truth is not
    returned here; use :func:`generate` for that.
    """
    yield from _iter_files(config, _Truth())


def iter_sessions(config: GeneratorConfig) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (path relative to ``session_stream``, session dict) for every line of every file."""
    loads = orjson.loads
    for f in _iter_files(config, _Truth()):
        for line in f.lines:
            yield f.rel_path, loads(line)


def _write_files(cfg: GeneratorConfig, root: Path, truth: _Truth) -> None:
    """Gzip every generated file under `root`, filling `truth` as the sessions are built.

    One worker: zlib releases the GIL, so compression overlaps with session building; at most a few files are in
    flight, which bounds memory.
    """
    made_dirs: set[Path] = set()
    pending: deque[Future] = deque()

    def write(path: Path, payload: bytes) -> None:
        path.write_bytes(gzip.compress(payload, compresslevel=cfg.compresslevel, mtime=0))

    with ThreadPoolExecutor(max_workers=1) as pool:
        for f in _iter_files(cfg, truth):
            path = root / f.rel_path
            if path.parent not in made_dirs:
                path.parent.mkdir(parents=True, exist_ok=True)
                made_dirs.add(path.parent)
            pending.append(pool.submit(write, path, f.payload()))
            while len(pending) > 4:
                pending.popleft().result()
        while pending:
            pending.popleft().result()


def generate(
    out_dir: str | Path,
    account_id: int = 1234,
    start_date: dt.date | str = dt.date(2026, 11, 1),
    days: int = 1,
    sessions_per_day: int = 2000,
    files_per_window: int = 1,
    seed: int = 7,
    *,
    redeliver: int = 0,
    reemit: float = 0.0,
    compresslevel: int = 6,
    truth_path: str | Path | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Write the account tree under ``out_dir`` and return the ground truth.

    Also writes ``out_dir/metadata_catalog.json``: the Metadata API's current (revision 1)
    catalog for these sessions, keyed by resource (see ``metadata_catalog.py``).

    ``options`` are further :class:`GeneratorConfig` fields (``conversion_rate``,
    ``pii_share``, ``unknown_field_share``, ``open_share``, ``capped_share``, ...).
    The truth (also written to ``truth_path`` as JSON when given) has ``params``, ``raw``
    (every line of every file loaded once), ``dedup`` (after the documented dedup rule),
    ``extra`` (counts of injected quirks) and ``files`` (relative paths and line counts).
    """
    if isinstance(start_date, str):
        start_date = dt.date.fromisoformat(start_date)
    cfg = GeneratorConfig(
        account_id=account_id,
        start_date=start_date,
        days=days,
        sessions_per_day=sessions_per_day,
        files_per_window=files_per_window,
        seed=seed,
        redeliver=redeliver,
        reemit=reemit,
        compresslevel=compresslevel,
        **options,
    )
    truth = _Truth()
    _write_files(cfg, session_stream_root(out_dir, account_id), truth)
    result = truth.as_dict(cfg)
    if truth_path is not None:
        Path(truth_path).write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    from dlt_pipeline.synthetic.metadata_catalog import metadata_catalog  # imports design only; no circle

    Path(out_dir, "metadata_catalog.json").write_bytes(
        orjson.dumps(metadata_catalog(cfg, revision=1), option=orjson.OPT_INDENT_2)
    )
    return result
