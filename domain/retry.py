"""When to try a failed delivery again: exponential backoff with a ceiling."""

from __future__ import annotations

BASE_SECONDS = 5.0
MAX_SECONDS = 3600.0
MAX_ATTEMPTS = 12


def retry_delay(attempts: int) -> float:
    """Seconds to wait after `attempts` failed tries: 5 s, 10 s, 20 s … at most an hour (DESIGN 9)."""
    return float(min(BASE_SECONDS * 2 ** max(attempts - 1, 0), MAX_SECONDS))
