"""What the source does with the files it finds: the look-back, retries, personal data, parsing limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from dlt_pipeline.session_stream.pii import PiiPolicy


@dataclass
class LoadOptions:
    """Options of one extraction (the command line checks their ranges; see `dlt_pipeline/settings.py`)."""

    start_date: date | None = None
    end_date: date | None = None
    lookback_days: int = 2
    min_file_age_seconds: int = 120
    retry_quarantined: bool = False
    reload: bool = False
    strict: bool = False
    workers: int = 2
    batch_size: int = 5_000
    max_line_bytes: int = 16 << 20
    pii_mode: str = "keep"
    pii_target_ids: list[str] | None = None
    pii_salt: str | None = field(default=None, repr=False)
    completeness_days: int = 7  # day folders beyond the look-back listed hourly for late files (0: off)
    retention_warn_days: int = 30  # warn when unloaded files expire from the server within this many days
    archive: str | None = None
    """Folder or fsspec URL that keeps every loaded file in the vendor's layout (archive.py); None: no archive."""

    def pii_policy(self) -> PiiPolicy:
        """The personal-data policy for `custom_targets` (raises ValueError for hash without a salt)."""
        targets = frozenset(self.pii_target_ids) if self.pii_target_ids else None
        return PiiPolicy(self.pii_mode, targets, (self.pii_salt or "").encode())  # type: ignore[arg-type]
