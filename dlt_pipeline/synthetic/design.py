"""The experiment design behind the synthetic data: experiences, splits, page events, custom targets.

Why a module of its own: the session generator (``generator.py``) and the Metadata API catalog
(``metadata_catalog.py``) must agree on every id, share and name, and tests must be able to read
the *true* design (including what the metadata gets wrong: a broken 55/45 allocation on a 50/50
design, an experience without a control) without generating anything.  Both import from here;
this module imports neither.

Planted truths (see :func:`experience_design`):

* 210101 "Sitewide free shipping banner" (seen in 90 % of sessions): Control/B 50/50, B buys
  ``1.40×`` as often and its orders hold ``1.15×`` the items, only in sessions at/after the
  visitor's first exposure.  Sized so the demo (20,000 sessions, one day) shows it significant
  per visitor: a one-day Session Stream sample holds only ~300 post-exposure buyers per split,
  too few for a 15 % lift (p ~0.2 on the demo data when it was 1.15-1.30×).
* 210102 A/A "Checkout button colour": Control/A 50/50, no effect.
* 210103 "PDP recommendations carousel": metadata 50/50, real assignment 55/45 (SRM).
* 210104 "Returning visitor personalization": A/B 60/40, no control in the metadata.
* 210105 "Search results layout": four splits at 25 %; its ``is_control`` is a *string* in the API.
* 210106 "Gift guide landing page": tiny traffic (a handful of visitors per split).
* 210107 "Mobile navigation menu": Control/A/B 50/25/25, no effect.
* 210108 "Black Friday countdown 2025": ended and archived, in the catalog only (no sessions).

Ids in sessions the catalog does not know: :data:`OLD_SPLIT_IDS` (deleted experiences), the
capped bot sessions' offer/page-event ids, three page events and custom target ``1008``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from bisect import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from dlt_pipeline.synthetic.generator_config import GeneratorConfig

__all__ = [
    "ACCOUNT_DOMAIN",
    "CUSTOM_TARGETS",
    "ExperienceDesign",
    "OLD_SPLIT_IDS",
    "PII_TARGET_IDS",
    "PageEventDesign",
    "SplitDesign",
    "TARGET_VALUES",
    "assignment_uniform",
    "experience_design",
    "page_event_design",
]

ACCOUNT_DOMAIN = "demo-retailer.example"
PII_TARGET_IDS = ("9001", "9002")
"""Custom target ids that carry an e-mail address and a full name in PII sessions."""

OLD_SPLIT_IDS = (2_905_113, 2_905_114, 2_911_870, 2_911_871, 2_911_872, 2_934_006)
"""Split ids of experiences deleted before the catalog was read: in sessions, never in the API."""

TARGET_VALUES: dict[str, list[str]] = {
    "1001": ["gold", "silver", "bronze", "none"],
    "1002": ["true", "false"],
    "1003": ["segment_a", "segment_b", "segment_c"],
    "1004": ["email", "paid_search", "organic", "social", "direct"],
    "1005": ["0", "1", "2", "3", "5", "8"],
    "1006": ["summer_sale", "black_friday", "holiday"],
    "1007": ["en-US", "en-GB", "de-DE", "fr-FR"],
    "1008": ["high", "medium", "low"],
}
"""Non-PII custom targets seen in sessions and the values they take."""

CUSTOM_TARGETS: dict[int, tuple[str, str, bool, bool]] = {
    # id: (title, description, is_identifier, collects_person_id); 1008 is deliberately absent.
    1001: ("Loyalty tier", "Tier from the loyalty programme cookie", False, False),
    1002: ("Logged in", "Whether the visitor is signed in", False, False),
    1003: ("CRM segment", "Segment uploaded from the CRM", False, False),
    1004: ("Acquisition channel", "First-touch marketing channel", False, False),
    1005: ("Orders last 12 months", "Order count from the order history feed", False, False),
    1006: ("Campaign", "Active campaign landing parameter", False, False),
    1007: ("Site locale", "Locale of the storefront", False, False),
    1009: ("Wishlist size", "Items in the wishlist (not collected yet)", False, False),
    9001: ("Email address", "ID collector: e-mail address typed at checkout", True, True),
    9002: ("Full name", "ID collector: name on the account", False, True),
}
"""The Metadata API's custom targets: 9001/9002 are personal data (``--pii-target-ids auto``)."""


@dataclass(frozen=True)
class SplitDesign:
    """One split (a Monetate "variant" row) and the truth about it.

    ``share`` is what the metadata says; ``assigned_share`` is how visitors are really assigned
    (they differ only for the SRM experience).  ``is_control`` is the design truth, also for the
    experience whose metadata has no control (there it is False everywhere).  ``conversion_lift``
    multiplies a visitor's purchase probability and ``value_lift`` the size of its orders, from its
    first exposure on (1.0 = no effect).
    """

    split_id: int
    variant: str
    share: float
    assigned_share: float
    is_control: bool
    name: str
    original_name: str
    description: str
    original_description: str
    conversion_lift: float = 1.0
    value_lift: float = 1.0

    @property
    def has_effect(self) -> bool:
        """True when this split changes behaviour (a planted effect)."""
        return self.conversion_lift != 1.0 or self.value_lift != 1.0


@dataclass(frozen=True)
class ExperienceDesign:
    """One experience: its splits, per-session exposure probability and metadata quirks.

    ``kind`` names its role in the demo: ``effect``, ``aa``, ``srm``, ``no_control``, ``multi``,
    ``low_traffic``, ``standard`` or ``catalog_only`` (never in sessions).  ``exposure`` is the
    probability that a session sees it.  ``name``/``status`` are the current (revision 1) values,
    ``original_*`` those of revision 0.
    """

    experience_id: int
    name: str
    original_name: str
    experience_type: str
    kind: str
    exposure: float
    splits: tuple[SplitDesign, ...]
    status: str = "active"
    original_status: str = "active"
    archived: bool = False
    control_in_metadata: bool = True
    is_control_as_string: bool = False
    integration_type: str = "js-tag"
    tags: tuple[str, ...] = ()
    goals: tuple[tuple[str, str, str], ...] = ()
    created_days_before: int = 30
    started_days_before: int = 14
    ended_days_before: int | None = None

    @property
    def control(self) -> SplitDesign | None:
        """The design's control split (None for the experience without one)."""
        return next((s for s in self.splits if s.is_control), None)

    @property
    def planted_effect(self) -> bool:
        """True when some split of this experience has a true effect."""
        return any(s.has_effect for s in self.splits)

    @property
    def split_ids(self) -> tuple[int, ...]:
        return tuple(s.split_id for s in self.splits)

    def cumulative_assigned(self) -> list[float]:
        """Cumulative real assignment shares, for ``bisect`` on a uniform draw."""
        out, total = [], 0.0
        for s in self.splits:
            total += s.assigned_share
            out.append(total)
        out[-1] = 1.0  # guard against float round-off: u < 1 always lands in a split
        return out

    def assign(self, monetate_id: str) -> SplitDesign:
        """The split a visitor is in: sticky, a pure function of (monetate id, experience id)."""
        u = assignment_uniform(monetate_id, self.experience_id)
        return self.splits[min(bisect(self.cumulative_assigned(), u), len(self.splits) - 1)]


def assignment_uniform(monetate_id: str, experience_id: int) -> float:
    """Uniform [0, 1) from a hash of the visitor and experience ids (deterministic across runs).

    blake2b rather than ``hash()`` (salted per process) or CRC32 (linear: two experiences'
    assignments would be correlated).
    """
    h = hashlib.blake2b(f"{monetate_id}:{experience_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 18_446_744_073_709_551_616


def _split(
    split_id: int,
    variant: str,
    share: float,
    *,
    assigned: float | None = None,
    control: bool | None = None,
    name: str | None = None,
    renamed: str | None = None,
    description: str = "",
    redescribed: str | None = None,
    conversion_lift: float = 1.0,
    value_lift: float = 1.0,
) -> SplitDesign:
    original = name if name is not None else variant
    return SplitDesign(
        split_id=split_id,
        variant=variant,
        share=share,
        assigned_share=share if assigned is None else assigned,
        is_control=(variant == "Control") if control is None else control,
        name=renamed if renamed is not None else original,
        original_name=original,
        description=redescribed if redescribed is not None else description,
        original_description=description,
        conversion_lift=conversion_lift,
        value_lift=value_lift,
    )


_GOALS = {
    "conv": ("conversion", "Conversion rate", "Share of sessions with a purchase"),
    "rpv": ("revenue_per_visitor", "Revenue per visitor", "Purchase value per visitor"),
    "aov": ("average_order_value", "Average order value", "Revenue per order"),
    "pdp": ("product_views", "Product views", "Product detail pages per session"),
}

_EXPERIENCES: tuple[ExperienceDesign, ...] = (
    ExperienceDesign(
        210101, "Sitewide free shipping banner", "Free shipping banner test", "Standard", "effect", 0.9,
        (
            _split(3_101_001, "Control", 0.5, description="No banner"),
            _split(3_101_002, "B", 0.5, description="Banner: free shipping over $75",
                   redescribed="Banner: free shipping over $50", conversion_lift=1.40, value_lift=1.15),
        ),
        tags=("sitewide", "promotion"), goals=(_GOALS["conv"], _GOALS["rpv"]),
        created_days_before=35, started_days_before=20,
    ),
    ExperienceDesign(
        210102, "Checkout button colour (A/A)", "Checkout button colour (A/A)", "Standard", "aa", 0.5,
        (
            _split(3_102_001, "Control", 0.5, description="Green button"),
            _split(3_102_002, "A", 0.5, description="Green button (identical)"),
        ),
        tags=("checkout", "qa"), goals=(_GOALS["conv"],), started_days_before=10,
    ),
    ExperienceDesign(
        210103, "PDP recommendations carousel", "Product page recs v1", "Standard", "srm", 0.45,
        (
            _split(3_103_001, "Control", 0.5, assigned=0.55, description="No carousel"),
            _split(3_103_002, "Experiment", 0.5, assigned=0.45, description="Carousel under the buy box"),
        ),
        tags=("product-page", "recommendations"), goals=(_GOALS["conv"], _GOALS["aov"]),
        started_days_before=12,
    ),
    ExperienceDesign(
        210104, "Returning visitor personalization", "Returning visitor personalization",
        "Automated Personalization", "no_control", 0.3,
        (
            _split(3_104_001, "A", 0.6, description="Recently viewed strip"),
            _split(3_104_002, "B", 0.4, description="Loyalty tier hero"),
        ),
        control_in_metadata=False, integration_type="engine-api",
        tags=("personalization",), goals=(_GOALS["rpv"],), started_days_before=40, created_days_before=60,
    ),
    ExperienceDesign(
        210105, "Search results layout", "Search results layout", "Standard", "multi", 0.25,
        (
            _split(3_105_001, "Control", 0.25, description="List view"),
            _split(3_105_002, "A", 0.25, description="Grid view"),
            _split(3_105_003, "B", 0.25, description="Grid view with quick add"),
            _split(3_105_004, "C", 0.25, description="List view with filters open"),
        ),
        is_control_as_string=True, tags=("search",), goals=(_GOALS["conv"], _GOALS["pdp"]),
        started_days_before=7,
    ),
    ExperienceDesign(
        210106, "Gift guide landing page", "Gift guide landing page (draft)", "Standard", "low_traffic", 0.003,
        (
            _split(3_106_001, "Control", 0.9, description="Standard category page"),
            _split(3_106_002, "A", 0.1, description="Editorial gift guide"),
        ),
        status="paused", original_status="active", tags=("seasonal",), goals=(_GOALS["conv"],),
        started_days_before=3,
    ),
    ExperienceDesign(
        210107, "Mobile navigation menu", "Mobile navigation menu", "Standard", "multi", 0.2,
        (
            _split(3_107_001, "Control", 0.5, description="Hamburger menu"),
            _split(3_107_002, "A", 0.25, name="A", renamed="A - bottom tabs", description="Bottom tab bar"),
            _split(3_107_003, "B", 0.25, description="Sticky search bar"),
        ),
        integration_type="js-tag", tags=("mobile", "navigation"), goals=(_GOALS["conv"], _GOALS["pdp"]),
        started_days_before=18,
    ),
    ExperienceDesign(
        210108, "Black Friday countdown 2025", "Black Friday countdown", "Standard", "catalog_only", 0.0,
        (
            _split(3_108_001, "Control", 0.5, description="No countdown"),
            _split(3_108_002, "A", 0.5, description="Countdown timer in header"),
        ),
        status="ended", original_status="ended", archived=True, tags=("seasonal", "promotion"),
        goals=(_GOALS["conv"], _GOALS["rpv"]), created_days_before=400, started_days_before=375,
        ended_days_before=340,
    ),
)


def experience_design(config: GeneratorConfig | None = None) -> list[ExperienceDesign]:
    """Every experience of the synthetic account, in id order (the same for every config).

    ``config`` is accepted so the design may depend on it later without changing callers;
    today it does not.  Experiences with ``exposure == 0`` appear in the catalog only.
    """
    return list(_EXPERIENCES)


@dataclass(frozen=True)
class PageEventDesign:
    """A page event id seen in sessions, its API titles, and whether the API knows it."""

    event_id: int
    title: str
    original_title: str
    in_catalog: bool
    in_sessions: bool = True


_EVENT_TITLES = (
    "Add to cart click", "Newsletter signup", "Size guide opened", "Store locator search", "Wishlist add",
    "Checkout step 1", "Checkout step 2", "Checkout step 3", "Promo code applied", "Video played",
    "Review section viewed", "Chat opened", "Compare products", "Free shipping bar seen", "Account created",
    "Login", "Search submitted", "Filter applied", "Sort changed", "Quick view opened",
    "Gift card viewed", "Returns policy viewed", "Back in stock signup", "Share clicked", "Exit intent shown",
)
_EVENT_RENAMES = {1: "Newsletter signup (footer)", 8: "Promo code applied successfully"}
_EVENTS_UNKNOWN = (22, 23, 24)
"""Positions of page events that are in sessions but not in the API (deleted events)."""


def page_event_design(config: GeneratorConfig) -> list[PageEventDesign]:
    """The 25 page event ids sessions use plus two the API has but sessions never show.

    Ids depend on the seed only (their own random stream, so the session stream is not shifted).
    """
    r = random.Random(f"{config.seed}:page-events")
    ids = r.sample(range(10_000, 99_999), len(_EVENT_TITLES) + 2)
    out = []
    for i, eid in enumerate(ids[: len(_EVENT_TITLES)]):
        title = _EVENT_TITLES[i]
        out.append(PageEventDesign(eid, _EVENT_RENAMES.get(i, title), title, i not in _EVENTS_UNKNOWN))
    out.append(PageEventDesign(ids[-2], "Legacy banner click", "Legacy banner click", True, False))
    out.append(PageEventDesign(ids[-1], "Holiday quiz completed", "Holiday quiz completed", True, False))
    return out


def iso_days_before(start_date: dt.date, days: int, hour: int = 9) -> str:
    """ISO-8601 UTC string (``...Z``) ``days`` before the first data day, at ``hour``:30."""
    t = dt.datetime.combine(start_date - dt.timedelta(days=days), dt.time(hour, 30), dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
