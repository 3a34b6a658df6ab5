"""A crash at every step boundary, then the host's redelivery: still exactly one seat per hire."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from shared import names
from shared.adapters.ledger import escape_key
from shared.errors import Unavailable
from shared.models import LicenseRecord
from tests.workflow.conftest import World
from tests.workflow.faults import FailOnce, WorkerCrash
from tests.workflow.world import CUSTOMER_NO, E3, SPB, SPB_ANNUAL, Sku

LEASE = f"{CUSTOMER_NO}/{SPB_ANNUAL}"
HOLDER = f"hire-2026-000123/{SPB}"


def _sending_to(queue: str) -> Callable[..., bool]:
    return lambda name, body, **kwargs: name == queue


def _writing(predicate: Callable[[LicenseRecord], bool]) -> Callable[..., bool]:
    return lambda event_id, record, etag: predicate(record)


@dataclass(frozen=True)
class CrashPoint:
    """Where the worker dies: which adapter call fails, and whether it took effect first."""

    adapter: str
    method: str
    after: bool = False
    when: Callable[..., bool] = lambda *args, **kwargs: True
    error: Exception | None = None

    def install(self, world: World) -> FailOnce:
        inner: Any = {"stellr": world.stellr, "graph": world.graph, "ledger": world.ledger,
                      "sender": world.queues, "leases": world.leases}[self.adapter]
        wrapper = FailOnce(inner, self.method, after=self.after, when=self.when,
                           error=self.error)
        world.inject(**{self.adapter: wrapper})
        return wrapper


CRASH_POINTS = {
    "after the purchasing state, before the purchase message": CrashPoint(
        "sender", "send", when=_sending_to(names.LICENSE_PURCHASES_QUEUE)),
    "purchase message lost to a storage outage": CrashPoint(
        "sender", "send", when=_sending_to(names.LICENSE_PURCHASES_QUEUE),
        error=Unavailable("storage", "send to license-purchases: storage answered 503")),
    "after the day's cap is reserved, before the intent is written": CrashPoint(
        "ledger", "reserve_purchase", after=True),
    "after the intent is written, before change_seats": CrashPoint(
        "ledger", "update_license", after=True,
        when=_writing(lambda r: r.change_requested_at is not None and not r.operation_id)),
    "after the seat is held, before change_seats": CrashPoint(
        "ledger", "hold_seat", after=True),
    "inside change_seats, before it reaches Synnex": CrashPoint("stellr", "change_seats"),
    "after change_seats applied, before its answer": CrashPoint(
        "stellr", "change_seats", after=True),
    "after change_seats applied, before the operation id is written": CrashPoint(
        "ledger", "update_license", when=_writing(lambda r: r.operation_id is not None)),
    "change_seats times out after applying": CrashPoint(
        "stellr", "change_seats", after=True,
        error=Unavailable("synnex", "change seats: read timed out")),
    "change_seats times out without applying": CrashPoint(
        "stellr", "change_seats", error=Unavailable("synnex", "change seats: connect timeout")),
    "while polling the operation": CrashPoint("stellr", "get_operation_status", after=True),
    "after the change is confirmed, before waiting_for_seat is written": CrashPoint(
        "ledger", "update_license", when=_writing(lambda r: r.state == "waiting_for_seat")),
    "after waiting_for_seat is written, before the wait message": CrashPoint(
        "sender", "send", when=_sending_to(names.LICENSE_WAITS_QUEUE)),
    "after the lease is taken": CrashPoint("leases", "acquire", after=True),
    "after the lease is given back": CrashPoint("leases", "release", after=True),
    "after the bought seat is assigned, before it is recorded": CrashPoint(
        "graph", "assign_license", after=True,
        when=lambda tenant_id, user_id, sku_id: sku_id == SPB),
    "after the held seat is given back, before purchased_and_assigned is written": CrashPoint(
        "ledger", "update_license",
        when=_writing(lambda r: r.state == "purchased_and_assigned")),
    "after purchased_and_assigned is written": CrashPoint(
        "ledger", "update_license", after=True,
        when=_writing(lambda r: r.state == "purchased_and_assigned")),
    "after result=sending is written, before the result message": CrashPoint(
        "sender", "send", when=_sending_to(names.ONBOARDING_RESULTS_QUEUE)),
}


class TestCrashBetweenSteps:
    @pytest.mark.parametrize("point", CRASH_POINTS.values(), ids=CRASH_POINTS.keys())
    def test_redelivery_after_the_crash_buys_and_assigns_exactly_one_seat(
        self, world: World, point: CrashPoint
    ) -> None:
        """The host delivers the message again; one seat bought, assigned, one result."""
        world.stellr.provisioning_delay = 90
        wrapper = point.install(world)
        world.queues.put_event(world.event())

        world.run()

        assert wrapper.fired == 1
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.stellr.quantity(SPB_ANNUAL) == 13
        assert world.graph.holders(SPB) == ["new.hire@contoso.com"]
        assert world.graph.skus[SPB].consumed == 13
        assert world.state("hire-2026-000123") == "purchased_and_assigned"
        assert world.ledger.purchases_on("contoso", "2026-11-27") == 1
        [result] = world.queues.results()
        assert result["licenses"][0]["state"] == "purchased_and_assigned"
        assert world.poisoned == []
        assert world.ledger.seats_held("contoso", SPB, world.clock.now(), excluding="") == 0

    def test_a_free_seat_assigned_before_the_crash_is_not_assigned_twice(
        self, world: World
    ) -> None:
        """Assigned, then the worker died: the redelivery finds the licence on the user."""
        world.graph.skus[E3] = Sku(enabled=25, consumed=22)
        world.inject(graph=FailOnce(world.graph, "assign_license", after=True))
        world.queues.put_event(world.event(licenses=[{"sku_id": E3}]))
        world.run()
        assert world.graph.holders(E3) == ["new.hire@contoso.com"]
        assert world.graph.skus[E3].consumed == 23
        # The ledger cannot tell its own assignment from an earlier one: it says what it saw.
        assert world.state("hire-2026-000123", E3) == "already_assigned"
        assert world.stellr.changes == []
        assert len(world.queues.results()) == 1

    def test_an_invalid_event_whose_result_was_lost_is_answered_on_redelivery(
        self, world: World
    ) -> None:
        """Recorded as invalid, then the result send failed: the redelivery sends it."""
        world.inject(sender=FailOnce(world.queues, "send"))
        world.queues.put_event(world.event(user="not a user"))
        world.run()
        [result] = world.queues.results()
        assert (result["reason"], result["field"]) == ("invalid_event", "user")
        # The crash, then redeliveries that wait until the dead worker's claim on the result
        # is old enough to take over (it might have been sending it still).
        crash, *waits = world.errors
        assert isinstance(crash, WorkerCrash)
        assert waits and {type(error).__name__ for error in waits} == {"ResultPending"}

    def test_a_crash_after_the_result_is_sent_sends_the_same_result_again(
        self, world: World
    ) -> None:
        """Results are at least once: the copy after a crash carries the same outcome, and
        says what failed."""
        world.inject(ledger=FailOnce(world.ledger, "update_event",
                                     when=lambda record, etag, **kwargs: record.result == "sent"))
        world.queues.put_event(world.event())
        world.run()
        first, second = world.queues.results()
        assert first["last_error"] is None
        assert second.pop("last_error")
        assert first == {**second, "last_error": None}
        assert first["licenses"][0]["state"] == "purchased_and_assigned"
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]


class TestCrashInsideTheLease:
    def test_the_lease_outlives_the_crash_and_the_same_purchase_resumes_it(
        self, world: World
    ) -> None:
        """Died with a change sent: the lease stays taken until the same holder resumes."""
        world.stellr.provisioning_delay = 90
        world.graph.add_user("second.hire@contoso.com")
        world.inject(stellr=FailOnce(world.stellr, "change_seats", after=True))
        world.queues.put_event(world.event())

        world.run(until=world.clock.now())

        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.state("hire-2026-000123") == "purchasing"
        lease = world.table(names.SUBSCRIPTION_LOCKS_TABLE).get_entity("lease", escape_key(LEASE))
        assert lease["holder"].startswith(f"{HOLDER}#")
        assert not world.leases.acquire(LEASE, "someone-else", 60)

        world.queues.put_event(world.event("hire-2026-000124", user="second.hire@contoso.com"))
        world.run()

        assert world.stellr.changes == [(SPB_ANNUAL, 13), (SPB_ANNUAL, 14)]
        assert world.graph.holders(SPB) == ["new.hire@contoso.com", "second.hire@contoso.com"]
        assert world.state("hire-2026-000123") == "purchased_and_assigned"
        assert world.state("hire-2026-000124") == "purchased_and_assigned"
        assert world.leases.acquire(LEASE, "someone-else", 60)

    def test_a_crash_before_the_intent_is_written_gives_the_lease_back(
        self, world: World
    ) -> None:
        """Nothing was sent to Synnex: the lease is released for the next buyer at once."""
        world.inject(stellr=FailOnce(world.stellr, "get_subscription"))
        world.queues.put_event(world.event())
        world.run(until=world.clock.now())
        assert world.stellr.changes == []
        assert world.leases.acquire(LEASE, "someone-else", 60)


class TestSeatChangeInFlight:
    def test_an_asynchronous_change_confirmed_later_is_bought_once(self, world: World) -> None:
        """The operation completes after the inline polls: confirmed by a later message."""
        world.stellr.completes_after = 12
        world.queues.put_event(world.event())
        world.run()
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.stellr.calls.count("get_operation_status") >= 12
        assert world.graph.holders(SPB) == ["new.hire@contoso.com"]
        assert world.state("hire-2026-000123") == "purchased_and_assigned"

    def test_a_slow_change_keeps_other_buyers_out_until_it_lands(self, world: World) -> None:
        """A change that takes longer than the lease: the next buyer still sees its result."""
        world.stellr.completes_after = 17
        world.stellr.provisioning_delay = 600
        world.graph.add_user("second.hire@contoso.com")
        world.queues.put_event(world.event())
        world.run(until=world.clock.now() + timedelta(seconds=700))
        assert world.stellr.quantity(SPB_ANNUAL) == 12, "still in flight"
        world.queues.put_event(world.event("hire-2026-000124", user="second.hire@contoso.com"))
        world.run()
        assert [target for _, target in world.stellr.changes] == [13, 14]
        assert world.stellr.quantity(SPB_ANNUAL) == 14
        assert world.graph.holders(SPB) == ["new.hire@contoso.com", "second.hire@contoso.com"]
        assert world.state("hire-2026-000124") == "purchased_and_assigned"

    def test_a_change_lost_without_trace_is_sent_again_with_the_same_total(
        self, world: World
    ) -> None:
        """Lost with its operation id, not landed in 5 minutes: resent with the same total."""
        world.stellr.completes_after = 3  # the lost operation is never polled: never lands
        world.inject(stellr=FailOnce(world.stellr, "change_seats", after=True,
                                     error=Unavailable("synnex", "read timeout")))
        world.queues.put_event(world.event())
        world.run()
        assert world.stellr.changes == [(SPB_ANNUAL, 13), (SPB_ANNUAL, 13)]
        assert world.stellr.quantity(SPB_ANNUAL) == 13
        assert world.graph.holders(SPB) == ["new.hire@contoso.com"]
        assert world.state("hire-2026-000123") == "purchased_and_assigned"

    def test_a_change_answered_by_a_timeout_is_compared_before_it_is_sent_again(
        self, world: World
    ) -> None:
        """Timed out before reaching Synnex: re-read for a while, then one resend, one change."""
        world.inject(stellr=FailOnce(world.stellr, "change_seats",
                                     error=Unavailable("synnex", "connect timeout")))
        world.queues.put_event(world.event())
        world.run(until=world.clock.now())
        assert world.stellr.changes == []
        reads = world.stellr.calls.count("get_subscription")
        world.run()
        assert world.stellr.calls.count("get_subscription") > reads + 1
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.graph.holders(SPB) == ["new.hire@contoso.com"]
