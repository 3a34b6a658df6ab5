"""What both simulators share: routing, request counting, fault injection and admin routes.

Admin routes (`/_sim/...`) are simulator-only and unauthenticated: they exist so tests and
benchmarks can read counters, inject faults and reset the world. They are never counted and
never faulted, so they do not disturb what they measure.
"""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

from .faults import FaultInjector, FaultRule
from .scheduler import Scheduler
from .transport import BadRequestBody, Request, Response, RouteHandler, Router, json_response

StateT = TypeVar("StateT")

UNMATCHED = "(unmatched)"


class SimulatorBase(Generic[StateT]):
    name: str = "simulator"
    surfaces: frozenset[str] = frozenset()

    def __init__(
        self,
        state: StateT,
        *,
        scheduler: Scheduler | None = None,
        faults: Iterable[FaultRule] = (),
        seed: int = 0,
    ) -> None:
        self._scheduler = scheduler or Scheduler()
        self._initial_state = copy.deepcopy(state)
        self._state = state
        self._faults = FaultInjector(faults, seed)
        self._counts: Counter[str] = Counter()
        self._fault_counts: Counter[str] = Counter()
        self._router = Router()
        self._admin("GET", "/_sim/stats", self._admin_stats)
        self._admin("POST", "/_sim/reset", self._admin_reset)
        self._admin("POST", "/_sim/faults", self._admin_faults)
        self._admin("GET", "/_sim/faults", self._admin_get_faults)

    # --- wiring used by subclasses ---------------------------------------------------------

    def _route(self, method: str, template: str, surface: str, handler: RouteHandler) -> None:
        self._router.add(method, template, handler, surfaces=frozenset({surface}))

    def _admin(self, method: str, template: str, handler: RouteHandler) -> None:
        self._router.add(method, template, handler, surfaces=self.surfaces, admin=True)

    def _error(self, request: Request, status: int, code: str, message: str) -> Response:
        """An error in the simulated service's own shape."""
        raise NotImplementedError

    def _fault_response(self, request: Request, surface: str, status: int) -> Response:
        """The body of an injected failure, in the shape the surface's clients expect."""
        raise NotImplementedError

    def _finish(self, request: Request, response: Response) -> Response:
        """Hook for headers every answer carries (e.g. Graph's `request-id`)."""
        return response

    def _on_reset(self) -> None:
        """Hook: forget simulator-side bookkeeping that is not part of the state."""

    # --- request entry point ---------------------------------------------------------------

    def handle(self, surface: str, request: Request) -> Response:
        match = self._router.match(surface, request.method, request.path)
        if match is not None and match.route.admin:
            with self._scheduler.lock:
                self._scheduler.advance()
                try:
                    return match.route.handler(request, **match.params)
                except BadRequestBody as exc:
                    return json_response(400, {"error": "invalid_json", "detail": str(exc)})
        key = match.route.key if match else f"{request.method} {UNMATCHED}"
        with self._scheduler.lock:
            self._counts[key] += 1
            fault = self._faults.decide(request.method, request.path)
            if fault.status is not None:
                self._fault_counts[key] += 1
        if fault.latency_seconds:
            time.sleep(fault.latency_seconds)  # outside the lock: latency must not serialize
        if fault.status is not None:
            response = self._fault_response(request, surface, fault.status)
            if fault.retry_after is not None:
                response.headers["Retry-After"] = str(fault.retry_after)
            return self._finish(request, response)
        if match is None:
            return self._finish(request, self._not_found(request, surface))
        with self._scheduler.lock:
            self._scheduler.advance()
            try:
                response = match.route.handler(request, **match.params)
            except BadRequestBody as exc:
                response = self._error(request, 400, "BadRequest", f"Malformed body: {exc}")
        return self._finish(request, response)

    def _not_found(self, request: Request, surface: str) -> Response:
        return self._error(request, 404, "NotFound", f"No route for {request.path}")

    # --- in-process accessors shared by both simulators ------------------------------------

    def request_counts(self) -> dict[str, int]:
        """Requests per route key (`METHOD /template`), faulted ones included; admin excluded."""
        with self._scheduler.lock:
            return dict(self._counts)

    def fault_counts(self) -> dict[str, int]:
        with self._scheduler.lock:
            return dict(self._fault_counts)

    def set_faults(self, rules: Iterable[FaultRule], *, seed: int | None = None) -> None:
        """Replace the fault rules (an empty list clears them) and restart the random sequence."""
        with self._scheduler.lock:
            self._faults.configure(rules, seed)

    def reset(self) -> None:
        """Back to the initial world; counters and faults cleared; pending events dropped."""
        with self._scheduler.lock:
            self._scheduler.cancel(self.name)
            self._state = copy.deepcopy(self._initial_state)
            self._counts.clear()
            self._fault_counts.clear()
            self._faults.configure([])
            self._on_reset()

    def snapshot(self) -> StateT:
        """A deep copy of the current state, with every due event applied."""
        with self._scheduler.lock:
            self._scheduler.advance()
            return copy.deepcopy(self._state)

    # --- admin routes ----------------------------------------------------------------------

    def _admin_stats(self, request: Request) -> Response:
        return json_response(
            200,
            {
                "simulator": self.name,
                "requests": dict(self._counts),
                "faultsInjected": dict(self._fault_counts),
                "totalRequests": sum(self._counts.values()),
                "pendingEvents": self._scheduler.pending(self.name),
            },
        )

    def _admin_reset(self, request: Request) -> Response:
        self.reset()
        return json_response(200, {"simulator": self.name, "reset": True})

    def _admin_faults(self, request: Request) -> Response:
        try:
            payload: Any = request.json()
            if not isinstance(payload, dict) or not isinstance(payload.get("rules", []), list):
                raise ValueError('expected {"rules": [...], "seed": n}')
            rules = [FaultRule.from_json(item) for item in payload.get("rules", [])]
            seed = payload.get("seed")
            if seed is not None and not isinstance(seed, int):
                raise ValueError("seed must be an integer")
        except (BadRequestBody, TypeError, ValueError) as exc:
            return json_response(400, {"error": "invalid_faults", "detail": str(exc)})
        self.set_faults(rules, seed=seed)
        return self._admin_get_faults(request)

    def _admin_get_faults(self, request: Request) -> Response:
        return json_response(200, {"rules": [rule.to_json() for rule in self._faults.rules]})
