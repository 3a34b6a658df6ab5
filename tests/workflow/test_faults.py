"""Transient trouble everywhere (Graph, Synnex, storage), at random: delayed, never lost or
bought twice."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from shared import names
from tests.workflow.conftest import World
from tests.workflow.faults import Flaky, RandomFaults, storage_outage, upstream_trouble
from tests.workflow.world import E3, SPB, SPB_ANNUAL, Sku

LEDGER_READS = {"find_event", "find_license", "list_licenses", "find_status", "purchases_on"}
LEDGER_WRITES = {"create_event", "update_event", "update_license", "reserve_purchase",
                 "release_purchase"}
BUYERS = [f"hire-2026-{n:06d}" for n in range(1, 5)]
FREE_SEAT_TAKERS = [f"hire-2026-{n:06d}" for n in range(5, 7)]


def _hire_everyone(world: World) -> None:
    world.graph.skus[E3] = Sku(enabled=25, consumed=22)
    for n, event_id in enumerate(BUYERS + FREE_SEAT_TAKERS, start=1):
        upn = f"hire{n:02d}@contoso.com"
        world.graph.add_user(upn, usage_location=None if n % 2 else "US")
        licenses = ([{"sku_id": SPB, "synnex_subscription_id": SPB_ANNUAL}]
                    if event_id in BUYERS else [{"sku_id": E3}])
        world.queues.put_event(world.event(event_id, user=upn, licenses=licenses))


def _make_storage_flaky(world: World, rng: random.Random, rate: float) -> None:
    world.inject(
        ledger=Flaky(world.ledger, rng=rng, rate=rate, methods=LEDGER_READS | LEDGER_WRITES,
                     after_methods=LEDGER_WRITES, error=storage_outage),
        leases=Flaky(world.leases, rng=rng, rate=rate, methods={"acquire", "release"},
                     after_methods={"acquire", "release"}, error=storage_outage),
        orgs=Flaky(world.orgs, rng=rng, rate=rate, methods={"get_org", "list_variables"},
                   error=storage_outage),
        sender=Flaky(world.queues, rng=rng, rate=rate, methods={"send"},
                     after_methods={"send"}, error=storage_outage),
    )


class TestTransientFaults:
    @pytest.mark.parametrize(("seed", "completes_after"), [(1, 0), (2, 2), (3, 0)])
    def test_every_hire_completes_and_nothing_is_bought_twice(
        self, world: World, seed: int, completes_after: int
    ) -> None:
        """30% of Graph and Synnex calls and 10% of storage calls fail: all still complete."""
        rng = random.Random(seed)
        world.stellr.provisioning_delay = 120
        world.stellr.completes_after = completes_after
        world.stellr.completes_in = 120  # within SETTLE_SECONDS, polled or not
        graph_faults = RandomFaults(rng=rng, rate=0.3, error=upstream_trouble("graph"))
        synnex_faults = RandomFaults(rng=rng, rate=0.3, error=upstream_trouble("synnex"))
        world.graph.faults.append(graph_faults)
        world.stellr.faults.append(synnex_faults)
        if completes_after == 0:
            # Seat changes also time out after taking effect: the answer is lost, not the change.
            world.inject(stellr=Flaky(world.stellr, rng=rng, rate=0.3, methods={"change_seats"},
                                      after_methods={"change_seats"},
                                      error=upstream_trouble("synnex")))
        _make_storage_flaky(world, rng, 0.1)
        _hire_everyone(world)
        started = world.clock.now()

        world.run(max_dequeue=None)

        assert graph_faults.fired and synnex_faults.fired and world.errors
        assert world.clock.now() - started < timedelta(hours=24)
        assert sorted(target for _, target in world.stellr.changes) == [13, 14, 15, 16]
        assert world.stellr.quantity(SPB_ANNUAL) == 16
        assert world.graph.skus[SPB].consumed == 16
        assert [world.state(e) for e in BUYERS] == ["purchased_and_assigned"] * 4
        assert {world.state(e, E3) for e in FREE_SEAT_TAKERS} <= {"assigned", "already_assigned"}
        assert world.graph.skus[E3].consumed == 24
        assert world.ledger.purchases_on("contoso", "2026-11-27") == 4
        results = world.queues.results()
        assert {r["event_id"] for r in results} == set(BUYERS + FREE_SEAT_TAKERS)
        assert {r["status"] for r in results} == {"completed"}

    def test_a_storage_outage_on_every_send_is_redelivered_until_it_passes(
        self, world: World
    ) -> None:
        """Sends fail for ten minutes: handlers raise, the host redelivers, one seat is bought."""
        outage_ends = world.clock.now() + timedelta(minutes=10)

        def down_for_ten_minutes(queue: str) -> None:
            if world.clock.now() < outage_ends and queue != names.ONBOARDING_RESULTS_QUEUE:
                raise storage_outage("send", random.Random())

        world.queues.faults.append(down_for_ten_minutes)
        world.queues.put_event(world.event())

        world.run(max_dequeue=None)

        assert world.errors
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.graph.holders(SPB) == ["new.hire@contoso.com"]
        assert world.state("hire-2026-000123") == "purchased_and_assigned"
        assert len(world.queues.results()) == 1
