"""Wrappers that make an adapter fail at a chosen call, injected into the workflow under test.

Each wraps the real (or fake) adapter and passes every call through, except the one it is
told to break: it raises before the call takes effect, or after (the change is made, but the
caller never hears of it: a timeout, or the worker dying right after).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

from shared.errors import Throttled, Unavailable


class WorkerCrash(Exception):
    """The worker died at this point: to the host, an unhandled exception."""


class FailOnce:
    """Passes calls to `inner`; the first `times` calls of `method` for which `when(*args)`
    holds raise `error`, after the call took effect when `after` is true."""

    def __init__(
        self, inner: Any, method: str, *, error: Exception | None = None, after: bool = False,
        when: Callable[..., bool] = lambda *args, **kwargs: True, times: int = 1,
    ) -> None:
        self._inner = inner
        self._method = method
        self._error = error or WorkerCrash(f"worker died in {method}")
        self._after = after
        self._when = when
        self._left = times
        self._lock = threading.Lock()
        self.fired = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name != self._method:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                fire = self._left > 0 and self._when(*args, **kwargs)
                if fire:
                    self._left -= 1
                    self.fired += 1
            if not fire:
                return attr(*args, **kwargs)
            if self._after:
                try:
                    attr(*args, **kwargs)
                except Exception:
                    with self._lock:  # the call failed by itself: the fault is still to come
                        self._left += 1
                        self.fired -= 1
                    raise
            raise self._error

        return call


class Flaky:
    """Passes calls to `inner`; each call of a method in `methods` fails with probability
    `rate` (seeded), with an error made by `error(name, rng)`; writes in `after_methods` fail
    after taking effect half of the time they fail."""

    def __init__(
        self, inner: Any, *, rng: random.Random, rate: float, methods: set[str],
        error: Callable[[str, random.Random], Exception], after_methods: set[str] = frozenset(),
    ) -> None:
        self._inner = inner
        self._rng = rng
        self._rate = rate
        self._methods = methods
        self._error = error
        self._after_methods = after_methods
        self._lock = threading.Lock()
        self.fired = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self._methods:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                fire = self._rng.random() < self._rate
                after = fire and name in self._after_methods and self._rng.random() < 0.5
                error = self._error(name, self._rng) if fire else None
                self.fired += fire
            if error is None:
                return attr(*args, **kwargs)
            if after:
                attr(*args, **kwargs)
            raise error

        return call


def storage_outage(name: str, rng: random.Random) -> Exception:
    """What the storage adapters raise when Azure Storage cannot be reached or answers 503."""
    return Unavailable("storage", f"{name}: storage answered 503", status_code=503)


def upstream_trouble(service: str) -> Callable[[str, random.Random], Exception]:
    """A 429 (with or without Retry-After) or a 503/timeout from Graph or Synnex."""

    def make(name: str, rng: random.Random) -> Exception:
        if rng.random() < 0.5:
            return Throttled(service, f"{name}: 429 too many requests", status_code=429,
                             retry_after=rng.choice([None, 1.0, 30.0, 120.0]))
        return Unavailable(service, f"{name}: 503 service unavailable", status_code=503)

    return make


class RandomFaults:
    """A fault hook for FakeGraph/FakeStellr (`faults`): each call fails with probability
    `rate`, raising what `error` makes, before the call takes effect."""

    def __init__(self, *, rng: random.Random, rate: float,
                 error: Callable[[str, random.Random], Exception]) -> None:
        self._rng = rng
        self._rate = rate
        self._error = error
        self._lock = threading.Lock()
        self.fired = 0

    def __call__(self, name: str) -> None:
        with self._lock:
            if self._rng.random() >= self._rate:
                return
            self.fired += 1
            error = self._error(name, self._rng)
        raise error
