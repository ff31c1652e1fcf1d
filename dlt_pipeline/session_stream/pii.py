"""Personal-data policy for `custom_targets`, applied in memory before anything is written.

Monetate's ID collectors can put names and e-mail addresses into custom target values. The policy runs
while lines are reshaped, so raw values never reach dlt's working files or the warehouse.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Literal

import orjson

PiiMode = Literal["keep", "hash", "drop"]
MODES: tuple[PiiMode, ...] = ("keep", "hash", "drop")


@dataclass(frozen=True)
class PiiPolicy:
    """What to do with custom target values: keep them, replace them by a salted hash, or drop them.

    `target_ids` limits the policy to those target ids (None means every target). `drop` keeps the row
    (the target id matched, which is not personal) but removes its value.
    """

    mode: PiiMode = "keep"
    target_ids: frozenset[str] | None = None
    salt: bytes = b""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"custom_targets policy must be one of {', '.join(MODES)}, not '{self.mode}'")
        if self.mode == "hash" and not self.salt:
            raise ValueError(
                "custom_targets policy 'hash' needs a secret salt: set pii_salt in .dlt/secrets.toml "
                "or the environment variable SESSION_STREAM__PII_SALT")

    @property
    def active(self) -> bool:
        return self.mode != "keep"

    def apply(self, targets: dict[str, Any]) -> dict[str, Any]:
        """Return the targets with values hashed or removed as configured (keep: unchanged)."""
        if not self.active:
            return dict(targets)
        out = {}
        for target_id, value in targets.items():
            if value is not None and (self.target_ids is None or target_id in self.target_ids):
                value = None if self.mode == "drop" else self.hash(value)
            out[target_id] = value
        return out

    def hash(self, value: Any) -> str:
        """HMAC-SHA256: equal values still match each other, but cannot be reversed without the salt.

        Refuses an empty salt whatever the mode: an unsalted hash of an e-mail address is reversible by
        hashing a list of addresses, i.e. no protection at all.
        """
        if not self.salt:
            raise ValueError("refusing to hash a custom target value without a secret salt (SESSION_STREAM__PII_SALT)")
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        return hmac.new(self.salt, text.encode(), hashlib.sha256).hexdigest()
