"""Pseudonyms for pupils: keyed HMAC-SHA256 of the identifier.

Pupil identifiers from the school's export never travel past the Panel: they are replaced
by ``P`` + the first 12 hex digits of HMAC-SHA256(key, student_id) (RFC 2104). The key
comes from the ``MUT_EVAL_KEY`` environment variable or ``pseudonym_key`` in study.yaml;
without one a built-in default key is used and a warning says so — with the default key
anyone holding the toolkit can re-identify a pupil from a list of candidate identifiers.
"""
from __future__ import annotations

import hashlib
import hmac
import os

DEFAULT_KEY = "mut-eval-default-key"


def pseudonym_key(config: dict | None = None) -> tuple[str, bool]:
    """The key to use and whether it is the default one."""
    key = os.environ.get("MUT_EVAL_KEY") or (config or {}).get("pseudonym_key")
    return (str(key), False) if key else (DEFAULT_KEY, True)


def pseudonym(student_id: str, key: str) -> str:
    digest = hmac.new(key.encode("utf-8"), str(student_id).encode("utf-8"), hashlib.sha256).hexdigest()
    return "P" + digest[:12]


def pseudonymise(ids, key: str) -> list[str]:
    """Pseudonyms for a sequence of identifiers (same id and key → same pseudonym)."""
    return [pseudonym(i, key) for i in ids]
