"""Retries of upstream calls: explicit, decided by a predicate, honouring Retry-After.

Tests switch stamina to testing mode (`stamina.set_testing(True)`) instead of patching sleeps.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import ParamSpec, TypeVar

import stamina

from shared.errors import Transient

# An upstream that asks for a longer pause than this is not waited for inside one call:
# the error goes up, so an HTTP caller gets 503 + Retry-After and a queue message is retried
# later by the workflow.
MAX_INLINE_RETRY_AFTER = 10.0

P = ParamSpec("P")
T = TypeVar("T")


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (delay-seconds or an HTTP date); None when absent or
    unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def transient_backoff(exc: Exception) -> bool | float:
    """Retry `Transient` errors; wait what Retry-After asked for when it is short enough."""
    if not isinstance(exc, Transient):
        return False
    if exc.retry_after is None:
        return True
    if exc.retry_after > MAX_INLINE_RETRY_AFTER:
        return False
    return max(exc.retry_after, 0.0)


def retry_transient(
    *, attempts: int = 4, timeout: float = 30.0
) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Decorator: retry the call on `Transient`, with exponential backoff and jitter."""
    return stamina.retry(
        on=transient_backoff, attempts=attempts, timeout=timeout, wait_initial=0.5, wait_max=5.0
    )
