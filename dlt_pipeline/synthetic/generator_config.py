"""What determines a generated tree (the generator's one input): its own module so that the experience design
(design.py) and the metadata catalog (metadata_catalog.py) can read it without importing the generator.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that determines the generated tree; same config → byte-identical files.

    ``reemit`` is the probability that a session which spans more than one window and has at
    least two page views ALSO appears as an earlier open version (is_closed "f") in an
    earlier window's file; single-window or bounce sessions cannot have one.
    """

    account_id: int = 1234
    start_date: dt.date = dt.date(2026, 11, 1)
    days: int = 1
    sessions_per_day: int = 2000
    files_per_window: int = 1
    seed: int = 7
    redeliver: int = 0
    reemit: float = 0.0
    compresslevel: int = 6
    conversion_rate: float = 0.03
    pii_share: float = 0.02
    unknown_field_share: float = 0.03
    open_share: float = 0.005
    capped_share: float = 0.0003
    customer_id_share: float = 0.2
    customer_link_share: float = 0.12
    new_vendor_field_share: float = 0.0

    def __post_init__(self) -> None:
        if self.days < 1 or self.sessions_per_day < 0 or self.files_per_window < 1:
            raise ValueError("days >= 1, sessions_per_day >= 0 and files_per_window >= 1 required")
        if not 0.0 <= self.reemit <= 1.0:
            raise ValueError("reemit must be a probability in [0, 1]")
        if self.redeliver < 0:
            raise ValueError("redeliver must be >= 0")
