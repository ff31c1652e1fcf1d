"""The personal-data policy for `custom_targets` in process (`dlt_pipeline.session_stream.pii.PiiPolicy`).

The end-to-end proofs (nothing personal reaches any file or table) are in tests/e2e/test_security.py; here the
policy's rules themselves: what keep, hash and drop do to each value, and what they refuse.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from dlt_pipeline.session_stream.options import LoadOptions
from dlt_pipeline.session_stream.pii import PiiPolicy

TARGETS = {"9001": "mary@example.com", "9002": "Mary Smith", "42": "gold", "7": None, "8": 12, "9": {"a": [1]}}


def _hmac(salt: bytes, text: str) -> str:
    return hmac.new(salt, text.encode(), hashlib.sha256).hexdigest()


def test_keep_is_the_default_and_inactive() -> None:
    """keep: the policy is inactive, so the parser and the reshape leave custom targets as delivered."""
    assert PiiPolicy() == PiiPolicy("keep", None, b"")
    assert not PiiPolicy().active and not PiiPolicy("keep", frozenset({"9001"})).active
    assert PiiPolicy("hash", salt=b"s").active and PiiPolicy("drop").active


def test_hash_is_a_salted_hmac_of_every_value() -> None:
    """HMAC-SHA256 under the salt: equal values still match, other salts give other hashes, None stays None,
    and values that are not text are hashed as their JSON."""
    policy = PiiPolicy("hash", None, b"s1")
    assert policy.active
    out = policy.apply(TARGETS)
    assert set(out) == set(TARGETS)
    assert out["9001"] == _hmac(b"s1", "mary@example.com") and out["42"] == _hmac(b"s1", "gold")
    assert out["8"] == _hmac(b"s1", "12") and out["9"] == _hmac(b"s1", '{"a":[1]}')
    assert out["7"] is None
    assert policy.apply({"x": "mary@example.com"})["x"] == out["9001"]
    assert PiiPolicy("hash", None, b"s2").apply(TARGETS)["9001"] != out["9001"]
    assert all(len(v) == 64 for v in out.values() if v is not None)


def test_drop_keeps_the_target_ids_but_not_their_values() -> None:
    out = PiiPolicy("drop").apply(TARGETS)
    assert out == dict.fromkeys(TARGETS)


@pytest.mark.parametrize("mode", ["hash", "drop"])
def test_target_ids_limit_the_policy(mode: str) -> None:
    """With target ids, only their values change; every other target stays as delivered."""
    policy = PiiPolicy(mode, frozenset({"9001", "9002", "absent"}), b"salt")  # type: ignore[arg-type]
    out = policy.apply(TARGETS)
    for target, value in TARGETS.items():
        if target in ("9001", "9002"):
            assert out[target] == (None if mode == "drop" else _hmac(b"salt", value))
        else:
            assert out[target] == value


def test_bad_policies_are_refused() -> None:
    """An unknown mode, and hash without a salt (a hash anyone could recompute), stop the run before it starts."""
    with pytest.raises(ValueError, match="keep, hash, drop"):
        PiiPolicy("mask")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="SESSION_STREAM__PII_SALT"):
        PiiPolicy("hash")
    PiiPolicy("drop")  # needs no salt


def test_load_options_build_the_policy() -> None:
    """The source's options: target ids as a set, the salt as bytes; hash without a salt is refused here too."""
    policy = LoadOptions(pii_mode="hash", pii_target_ids=["9001", "9001", "9002"], pii_salt="pepper").pii_policy()
    assert policy == PiiPolicy("hash", frozenset({"9001", "9002"}), b"pepper")
    assert LoadOptions().pii_policy() == PiiPolicy()
    assert LoadOptions(pii_mode="drop", pii_target_ids=[]).pii_policy().target_ids is None
    with pytest.raises(ValueError, match="salt"):
        LoadOptions(pii_mode="hash").pii_policy()
