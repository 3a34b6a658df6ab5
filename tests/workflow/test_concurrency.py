"""Many hires at once, on several workers sharing the tables: N purchases raise by exactly N.

The workers share Azurite, the fakes and the fake clock (which only moves while no message is
being handled), but take the subscription lease by real time and sleep for real while it is
busy, as instances in Azure do: a fake clock that sleeping pushes forward would let one
worker's wait expire another worker's lease.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared import names
from shared.adapters.locks import TableLeases
from shared.models import Subscription
from tests.workflow.conftest import World
from tests.workflow.world import E3, SPB, SPB_ANNUAL, FakeStellr, Sku

WORKERS = 8


class SlowReads:
    """Stellr whose subscription reads take a few milliseconds: read-then-write races that a
    missing lease would let through show up as a quantity raised too little."""

    def __init__(self, inner: FakeStellr) -> None:
        self._inner = inner

    def get_subscription(self, customer_no: str, subscription_id: str) -> Subscription:
        found = self._inner.get_subscription(customer_no, subscription_id)
        time.sleep(0.005)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def run_concurrently(world: World, *, workers: int = WORKERS, timeout: float = 60.0) -> None:
    """Pump every queue from `workers` threads, each with its own workflow, until all is
    done; a handler that raises gets its message back as on the host."""
    leases = TableLeases(table=lambda: world.table(names.SUBSCRIPTION_LOCKS_TABLE),
                         clock=time.time)
    lock = threading.Lock()
    in_flight = 0
    done = threading.Event()
    deadline = time.monotonic() + timeout

    def worker() -> None:
        nonlocal in_flight
        flow = world.build(**{**world.injected, "leases": leases, "sleep": time.sleep})
        while not done.is_set():
            assert time.monotonic() < deadline, "the workers did not settle"
            with lock:
                message = world.queues.take_one()
                if message is not None:
                    in_flight += 1
                elif in_flight == 0:
                    upcoming = world.queues.next_visible()
                    if upcoming is None:
                        done.set()
                        return
                    world.clock.advance(max(0.0, (upcoming - world.clock.now()).total_seconds()))
                    world.stellr.tick()
                    continue
            if message is None:
                time.sleep(0.005)
                continue
            try:
                world.deliver_like_host(message, workflow=flow, max_dequeue=None)
            finally:
                with lock:
                    in_flight -= 1

    with ThreadPoolExecutor(workers) as pool:
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()


def _hires(world: World, count: int, **overrides: Any) -> list[str]:
    event_ids = []
    for n in range(1, count + 1):
        upn = f"hire{n:02d}@contoso.com"
        world.graph.add_user(upn)
        event_id = f"hire-2026-{n:06d}"
        world.queues.put_event(world.event(event_id, user=upn, **overrides))
        event_ids.append(event_id)
    return event_ids


class TestConcurrentPurchases:
    def test_twenty_hires_at_once_raise_the_quantity_by_twenty(self, world: World) -> None:
        """20 events, one subscription, no free seat, 8 workers: 20 bought, 20 assigned."""
        world.set_variable("contoso", "licencing_max_seats_per_day", "50")
        world.stellr.provisioning_delay = 90
        world.inject(stellr=SlowReads(world.stellr))
        event_ids = _hires(world, 20)

        run_concurrently(world)

        assert world.stellr.quantity(SPB_ANNUAL) == 32
        assert sorted(target for _, target in world.stellr.changes) == list(range(13, 33))
        assert len(world.graph.holders(SPB)) == 20
        assert world.graph.skus[SPB].consumed == 32
        assert [world.state(e) for e in event_ids] == ["purchased_and_assigned"] * 20
        assert sorted(r["event_id"] for r in world.queues.results()) == event_ids
        assert world.ledger.purchases_on("contoso", "2026-11-27") == 20

    def test_the_day_s_cap_holds_across_workers(self, world: World) -> None:
        """Cap 3, six hires at once on six subscription lines: exactly 3 bought."""
        world.set_variable("contoso", "licencing_max_seats_per_day", "3")
        world.stellr.provisioning_delay = 90
        for line in range(1, 7):
            world.stellr.add_subscription(f"411833_{line}", quantity=12, sku_id=SPB)
        event_ids = []
        for n in range(1, 7):
            upn = f"hire{n:02d}@contoso.com"
            world.graph.add_user(upn)
            event_ids.append(f"hire-2026-{n:06d}")
            world.queues.put_event(world.event(event_ids[-1], user=upn, licenses=[
                {"sku_id": SPB, "synnex_subscription_id": f"411833_{n}"}]))

        run_concurrently(world, workers=6)

        assert len(world.stellr.changes) == 3
        assert len(world.graph.holders(SPB)) == 3
        states = sorted((world.state(e), world.reason(e)) for e in event_ids)
        assert states == [("failed", "cap_reached")] * 3 + [("purchased_and_assigned", None)] * 3
        assert world.ledger.purchases_on("contoso", "2026-11-27") == 3

    def test_the_cap_holds_on_one_subscription_too(self, world: World) -> None:
        """Cap 3, six hires at once through one subscription: exactly 3 bought."""
        world.set_variable("contoso", "licencing_max_seats_per_day", "3")
        world.stellr.provisioning_delay = 90
        event_ids = _hires(world, 6)

        run_concurrently(world, workers=6)

        assert world.stellr.changes == [(SPB_ANNUAL, 13), (SPB_ANNUAL, 14), (SPB_ANNUAL, 15)]
        reasons = sorted(str(world.reason(e)) for e in event_ids)
        assert reasons == ["None"] * 3 + ["cap_reached"] * 3

    def test_licences_of_one_hire_finishing_at_once_send_one_result(
        self, world: World
    ) -> None:
        """Two bought licences per hire, done on two workers at once: one result per hire."""
        world.set_variable("contoso", "licencing_max_seats_per_day", "50")
        world.stellr.provisioning_delay = 90
        world.graph.skus[E3] = Sku(enabled=25, consumed=25)
        world.stellr.add_subscription("411833_7", quantity=25, sku_id=E3,
                                      product="Office 365 E3 (NCE Annual)")
        event_ids = _hires(world, 8, licenses=[
            {"sku_id": SPB, "synnex_subscription_id": SPB_ANNUAL},
            {"sku_id": E3, "synnex_subscription_id": "411833_7"},
        ])

        run_concurrently(world)

        assert world.stellr.quantity(SPB_ANNUAL) == 20
        assert world.stellr.quantity("411833_7") == 33
        for event_id in event_ids:
            assert world.state(event_id) == world.state(event_id, E3) == "purchased_and_assigned"
            [result] = world.queues.results(event_id)
            assert result["status"] == "completed"
