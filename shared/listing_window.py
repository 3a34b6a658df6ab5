"""A short freshness window for the form's Synnex subscription lookups, per instance.

The form asks for the subscription dropdown each time someone opens it, often several times a
minute for the same customer, and every answer costs a Stellr call (one per page). Within
`DEFAULT_TTL_SECONDS` the same reseller credentials and customer get the listing already
fetched, without calling Stellr.

Kept short on purpose, and per instance: Flex Consumption runs several instances, each with
its own window, so a quantity changed through Stellr's portal (or bought by another instance)
shows up at the latest one window later. A purchase made by this instance clears the
customer's window as soon as its seat change is confirmed (`invalidate`). Concurrent misses for
one key share a single upstream call; a load that overlaps an `invalidate` is returned to its
caller but not kept, since it may predate the change.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.models import Subscription, SynnexCredentials

DEFAULT_TTL_SECONDS = 60.0
# Enough for every customer an MSP's form is used for within one window; the oldest go first.
DEFAULT_MAX_ENTRIES = 1024

CacheKey = tuple[tuple[str, str, str, str], str]


def credentials_identity(credentials: SynnexCredentials) -> tuple[str, str, str, str]:
    """What tells one reseller's credentials from another's, without keeping the secret."""
    digest = hashlib.sha256(credentials.client_secret.get_secret_value().encode()).hexdigest()
    return (credentials.environment, credentials.region, credentials.client_id, digest)


@dataclass
class _Entry:
    subscriptions: list[Subscription]
    expires_at: float


@dataclass
class _Load:
    """One upstream call in flight; waiters take its outcome."""

    done: threading.Event = field(default_factory=threading.Event)
    result: list[Subscription] | None = None
    error: BaseException | None = None


class ListingWindow:
    """Subscription listings by (reseller credentials, customer number), fresh for `ttl`.

    Thread-safe. `ttl` 0 turns the window off (every lookup calls `load`).
    """

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or max_entries < 1:
            raise ValueError("ttl must be >= 0 and max_entries >= 1")
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._loads: dict[CacheKey, _Load] = {}
        # Bumped by `invalidate`: a load that started under an older generation is not kept.
        self._generations: dict[str, int] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ListingWindow(ttl={self._ttl}, entries={len(self._entries)})"

    def get_or_load(
        self, credentials: SynnexCredentials, customer_no: str,
        load: Callable[[], list[Subscription]],
    ) -> list[Subscription]:
        """The customer's listing as these credentials see it: the one kept within the window,
        else `load()`'s. Raises whatever `load` raises (nothing is kept then).
        """
        key: CacheKey = (credentials_identity(credentials), customer_no)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.expires_at > self._clock():
                return list(entry.subscriptions)
            generation = self._generations.get(customer_no, 0)
            pending = self._loads.get(key)
            owner = pending is None
            if pending is None:
                pending = self._loads[key] = _Load()
        if not owner:
            pending.done.wait()
            if pending.error is not None:
                raise pending.error
            assert pending.result is not None
            return list(pending.result)
        try:
            result = load()
        except BaseException as exc:
            pending.error = exc
            raise
        else:
            pending.result = result
            self._keep(key, generation, result)
            return list(result)
        finally:
            with self._lock:
                self._loads.pop(key, None)
            pending.done.set()

    def invalidate(self, customer_no: str) -> None:
        """Forget the customer's listings (under every credentials), also one being loaded."""
        with self._lock:
            self._generations[customer_no] = self._generations.get(customer_no, 0) + 1
            for key in [k for k in self._entries if k[1] == customer_no]:
                del self._entries[key]

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()
            for customer_no in list(self._generations):
                self._generations[customer_no] += 1

    def _keep(self, key: CacheKey, generation: int, result: list[Subscription]) -> None:
        if self._ttl <= 0:
            return
        with self._lock:
            if self._generations.get(key[1], 0) != generation:
                return  # invalidated while loading: the answer may predate the change
            now = self._clock()
            self._entries[key] = _Entry(list(result), now + self._ttl)
            self._entries.move_to_end(key)
            for stale in [k for k, e in self._entries.items() if e.expires_at <= now]:
                del self._entries[stale]
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
