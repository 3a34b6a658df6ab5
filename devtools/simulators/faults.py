"""Injected failures: throttling, server errors and latency, per route prefix, seeded.

A rule applies to requests whose path starts with `route` (or matches it as an `fnmatch`
pattern when it contains `*`, e.g. `/*/oauth2/v2.0/token` for every tenant's token endpoint).
Every matching rule that fires adds its latency; the first one that fires with a `status`
decides the answer. With the same seed and the same order of requests the same requests fail,
which is what makes retry tests repeatable (concurrent requests are ordered by arrival).
"""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class FaultRule:
    route: str = "/"
    method: str | None = None
    status: int | None = None
    probability: float = 1.0
    count: int | None = None
    retry_after: int | None = None
    latency_ms: int = 0

    def __post_init__(self) -> None:
        # 200 is Stellr's "business error in a 2xx body" (`errorMessage`), the rest are errors.
        if self.status is not None and self.status != 200 and not 400 <= self.status <= 599:
            raise ValueError(f"status must be 200, 4xx or 5xx, got {self.status}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be within 0..1, got {self.probability}")
        if self.count is not None and self.count < 0:
            raise ValueError("count must be >= 0")
        if self.latency_ms < 0 or (self.retry_after is not None and self.retry_after < 0):
            raise ValueError("latency_ms and retry_after must be >= 0")
        if self.method is not None:
            self.method = self.method.upper()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from the admin endpoint's JSON; unknown keys are an error, not ignored."""
        known = {item.name for item in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault rule keys: {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        if "*" in self.route:
            pattern = self.route if self.route.endswith("*") else self.route + "*"
            return fnmatch.fnmatchcase(path, pattern)
        return path.startswith(self.route)


@dataclass(frozen=True)
class FaultDecision:
    latency_seconds: float = 0.0
    status: int | None = None
    retry_after: int | None = None


class FaultInjector:
    """Decides per request. Not locked itself: callers hold the simulator lock around `decide`."""

    def __init__(self, rules: Iterable[FaultRule] = (), seed: int = 0) -> None:
        self._seed = seed
        self._rng = random.Random(seed)
        self._rules = list(rules)

    def configure(self, rules: Iterable[FaultRule], seed: int | None = None) -> None:
        """Replace every rule and restart the random sequence (from `seed` when given)."""
        if seed is not None:
            self._seed = seed
        self._rng = random.Random(self._seed)
        self._rules = list(rules)

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    def decide(self, method: str, path: str) -> FaultDecision:
        latency_ms = 0
        status: int | None = None
        retry_after: int | None = None
        for rule in self._rules:
            if rule.count == 0 or not rule.matches(method, path):
                continue
            if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                continue
            latency_ms += rule.latency_ms
            if rule.status is not None and status is None:
                status, retry_after = rule.status, rule.retry_after
                if rule.count is not None:
                    rule.count -= 1
            elif rule.status is None and rule.count is not None:
                rule.count -= 1
        return FaultDecision(latency_ms / 1000.0, status, retry_after)
