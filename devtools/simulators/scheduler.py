"""One lock and one timeline shared by the simulators of a process.

Things that happen "later" (a seat change completing, bought seats showing up in a tenant,
a new user replicating) are queued with a due time and applied lazily, in due order, before
any request or accessor reads the state. There is no timer thread to stop or to race with a
request, and an event runs with the time it was due, so a late look gives the same world as a
punctual one. Both simulators share one re-entrant lock, so a Stellr event that calls into the
Graph simulator can never deadlock on lock order.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

Action = Callable[[float], None]
"""Called with the time the event was due (scheduler clock)."""


@dataclass(order=True)
class _Event:
    due: float
    seq: int
    owner: str = field(compare=False)
    action: Action = field(compare=False)


class Scheduler:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = threading.RLock()
        self._clock = clock
        self._events: list[_Event] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._clock()

    def at(self, due: float, owner: str, action: Action) -> None:
        with self.lock:
            heapq.heappush(self._events, _Event(due, next(self._seq), owner, action))

    def advance(self) -> None:
        """Run every event due by now, oldest first (events may queue further events)."""
        with self.lock:
            now = self._clock()
            while self._events and self._events[0].due <= now:
                event = heapq.heappop(self._events)
                event.action(event.due)

    def run_all(self) -> None:
        """Fast-forward: run every queued event whatever its due time (used before saving)."""
        with self.lock:
            while self._events:
                event = heapq.heappop(self._events)
                event.action(event.due)

    def cancel(self, owner: str) -> None:
        with self.lock:
            self._events = [event for event in self._events if event.owner != owner]
            heapq.heapify(self._events)

    def pending(self, owner: str | None = None) -> int:
        with self.lock:
            return sum(1 for event in self._events if owner is None or event.owner == owner)
