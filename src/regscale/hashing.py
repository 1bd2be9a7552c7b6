"""Short, stable digests of settings, for provenance and staleness."""

from __future__ import annotations

import hashlib
import json


def digest(value) -> str:
    """A short, stable hash of a JSON-serialisable value: key order does not matter."""
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
