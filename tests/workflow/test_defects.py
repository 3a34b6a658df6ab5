"""One test per defect of the old purchase workflow, named after its scenario.

Each class is one defect, numbered as in the issue; each scenario broke the contract's
guarantees before the workflow became a state machine (`shared.core.purchase`) and keeps them
now. The rule that fixes it (R1 to R8) is named in the class docstring.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from pydantic import SecretStr

from shared import names
from shared.adapters.stellr import StellrClient, StellrEndpoints, StellrTokenCache
from shared.adapters.storage import storage_errors
from shared.errors import Throttled, Unavailable, UpstreamNotFound, UpstreamRejected
from tests.workflow.conftest import World
from tests.workflow.faults import FailOnce, WorkerCrash
from tests.workflow.world import CUSTOMER_NO, SPB, SPB_ANNUAL, FakeClock

EVENT = "hire-2026-000123"
SECOND = "hire-2026-000124"
THIRD = "hire-2026-000125"
TODAY = "2026-11-27"


# --- helpers ---------------------------------------------------------------------------------


def _short_deadline(world: World, hours: float = 2) -> timedelta:
    """LICENSE_WAIT_DEADLINE_HOURS set to `hours`, so that a scenario reaches its deadline fast."""
    world.policy = dataclasses.replace(world.policy, deadline=timedelta(hours=hours))
    return world.policy.deadline


def _run_to(world: World, start: datetime, seconds: float, *, max_steps: int = 20_000) -> None:
    """Deliver every message due until `seconds` after `start`, then move the clock there."""
    until = start + timedelta(seconds=seconds)
    world.run(until=until, max_steps=max_steps)
    if world.clock.now() < until:
        world.clock.advance((until - world.clock.now()).total_seconds())
        world.stellr.tick()


def _hire(world: World, event_id: str, upn: str) -> dict[str, Any]:
    """Another hire of Contoso asking for Business Premium through the chosen subscription."""
    world.graph.add_user(upn)
    return world.event(event_id, user=upn)


def _sent(world: World, queue: str) -> int:
    return sum(message.queue == queue for message in world.queues.sent)


def _held(world: World) -> int:
    return world.ledger.seats_held("contoso", SPB, world.clock.now(), excluding="")


def _storage_refusal(error: Exception) -> Exception:
    """What the table adapters raise when the Azure SDK raises `error`."""
    try:
        with storage_errors("update entity"):
            raise error
    except Exception as translated:  # whatever the mapping made of it
        return translated
    raise AssertionError("storage_errors swallowed the error")


def _forbidden() -> HttpResponseError:
    """A 403 from the storage account while the app's role assignment propagates."""
    error = HttpResponseError(message="This request is not authorized to perform this "
                              "operation using this permission.")
    error.status_code = 403
    return error


def _no_token() -> ClientAuthenticationError:
    """The managed-identity endpoint could not issue a token."""
    return ClientAuthenticationError(message="ManagedIdentityCredential authentication "
                                     "unavailable, no response from the IMDS endpoint")


class RefusedUntil:
    """An adapter whose every call raises `error` until the clock reaches `until`."""

    def __init__(self, inner: Any, clock: FakeClock, until: datetime, error: Exception) -> None:
        self._inner = inner
        self._clock = clock
        self._until = until
        self._error = error
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._clock.now() < self._until:
                self.refused += 1
                raise self._error
            return attr(*args, **kwargs)

        return call


# --- the defects -----------------------------------------------------------------------------


class TestDefect01OperationThatNeverEnds:
    """R5 deadline: whatever Synnex says of a change, `purchasing` ends by its deadline."""

    @pytest.mark.parametrize("word", ["cancelled", "rejected", "expired", "on_hold",
                                      "in_progress"])
    def test_an_operation_status_it_does_not_know_ends_the_purchase_by_its_deadline(
        self, world: World, word: str
    ) -> None:
        """Changes never applied, reported as `word`: both hires end by the deadline, each
        with one result, in a bounded number of looks, giving back every hold and cap unit."""
        deadline = _short_deadline(world)
        world.stellr.completes_after = 10**9
        world.stellr.pending_status = word
        start = world.clock.now()
        world.queues.put_event(world.event(EVENT))
        world.queues.put_event(_hire(world, SECOND, "second.hire@contoso.com"))

        _run_to(world, start, (deadline + timedelta(minutes=30)).total_seconds())

        for event_id in (EVENT, SECOND):
            assert (world.state(event_id), world.reason(event_id)) == ("failed", "synnex_error")
            [result] = world.queues.results(event_id)
            assert result["status"] == "failed"
        # About one look every two minutes for each hire until the deadline; the old
        # workflow looked on for days (11,113 purchase messages in four).
        assert _sent(world, names.LICENSE_PURCHASES_QUEUE) <= 200
        assert world.stellr.quantity(SPB_ANNUAL) == 12
        assert _held(world) == 0
        assert world.ledger.purchases_on("contoso", TODAY) == 0


class TestDefect02ResendSkippingTheChecks:
    """R4 settle: a change that did not land is sent again only after every check passed
    again."""

    @pytest.mark.parametrize(("change", "state", "reason"), [
        ("dry run switched on", "dry_run", None),
        ("a seat freed", "assigned", None),
        ("the choice switched off", "failed", "choice_disabled"),
    ])
    def test_a_lost_change_that_never_lands_is_not_sent_again_when_the_checks_now_refuse(
        self, world: World, change: str, state: str, reason: str | None
    ) -> None:
        """The answer of the change is lost and it never lands; meanwhile `change`: the
        licence ends `state`, with the change sent once and its hold and cap unit given back."""
        world.stellr.landing = {1: None}
        world.inject(stellr=FailOnce(world.stellr, "change_seats", after=True,
                                     error=Unavailable("synnex", "change seats: read timed out")))
        start = world.clock.now()
        world.queues.put_event(world.event(EVENT))
        _run_to(world, start, 120)
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        if change == "dry run switched on":
            world.set_variable("contoso", "licencing_dry_run", "1")
        elif change == "a seat freed":
            world.graph.skus[SPB].consumed -= 1  # a leaver's seat, removed in the admin center
        else:
            world.set_variable("contoso", "licencing_choose_subscription", "0")

        world.run()

        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.stellr.quantity(SPB_ANNUAL) == 12
        assert (world.state(EVENT), world.reason(EVENT)) == (state, reason)
        [result] = world.queues.results(EVENT)
        assert result["licenses"][0]["state"] == state
        assert _held(world) == 0
        assert world.ledger.purchases_on("contoso", TODAY) == 0


class TestDefect03LeaseShorterThanACrashedBuyer:
    """R3 floor, and a lease that outlasts a crashed buyer's redelivery plus a slow change."""

    def test_a_buyer_redelivered_after_ten_minutes_keeps_the_next_hire_from_sending_its_total(
        self, world: World
    ) -> None:
        """The change is sent and the worker dies; the host hides the message 12 minutes; the
        change lands after 11; a hire arriving at 10.5 minutes buys the 14th seat, not the 13th
        again."""
        world.stellr.completes_after = 10**9
        world.stellr.completes_in = 660
        world.inject(stellr=FailOnce(world.stellr, "change_seats", after=True))
        start = world.clock.now()
        world.queues.put_event(world.event(EVENT))
        [event_message] = list(world.queues.take_due())
        world.deliver(event_message)
        [purchase] = list(world.queues.take_due())
        with pytest.raises(WorkerCrash):
            world.deliver(purchase)
        # The host hides a message for the function's timeout (10 min) after a dead worker.
        world.queues.put_back(purchase, delay_seconds=720)
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        _run_to(world, start, 630)
        world.queues.put_event(_hire(world, SECOND, "second.hire@contoso.com"))

        world.run()

        assert world.stellr.changes == [(SPB_ANNUAL, 13), (SPB_ANNUAL, 14)]
        assert world.stellr.quantity(SPB_ANNUAL) == 14
        assert world.state(EVENT) == "purchased_and_assigned"
        assert world.state(SECOND) == "purchased_and_assigned"
        assert world.graph.holders(SPB) == ["new.hire@contoso.com", "second.hire@contoso.com"]


class TestDefect04ReadLaggingACompletedChange:
    """R3 floor: the lease remembers the highest total requested; a target is never below."""

    def test_a_read_lagging_a_completed_change_does_not_make_the_next_buyer_send_the_same_total(
        self, world: World
    ) -> None:
        """Reads of the quantity lag five minutes: the second hire targets 14, not 13."""
        world.stellr.read_lag = 300
        world.queues.put_event(world.event(EVENT))
        world.queues.put_event(_hire(world, SECOND, "second.hire@contoso.com"))

        world.run()

        assert world.stellr.changes == [(SPB_ANNUAL, 13), (SPB_ANNUAL, 14)]
        assert world.stellr.quantity(SPB_ANNUAL) == 14
        assert world.state(EVENT) == "purchased_and_assigned"
        assert world.state(SECOND) == "purchased_and_assigned"
        assert world.graph.skus[SPB].consumed == 14


class TestDefect05TwoHiresTakingTheUnheldSeat:
    """R7 seat guard: the free-and-held check and the assignment run under one guard."""

    def test_two_hires_arriving_together_take_one_unheld_seat_and_leave_the_buyers_seat(
        self, world: World
    ) -> None:
        """A buyer's seat shows and one more is freed (free 2, held 1); two hires arrive, the
        second while the first assigns: one takes a seat, the buyer gets its own."""
        _short_deadline(world)
        start = world.clock.now()
        world.queues.put_event(world.event(EVENT))
        _run_to(world, start, 10)
        assert world.state(EVENT) == "waiting_for_seat"  # bought; its seat shows already
        world.graph.skus[SPB].consumed -= 1  # a leaver's seat: free 2, held 1
        third = _hire(world, THIRD, "third.hire@contoso.com")
        interleaved: list[str] = []

        def second_arrives_while_the_first_assigns(call: str) -> None:
            if call == "assign_license" and not interleaved:
                interleaved.append(call)
                world.workflow().handle_event(json.dumps(third), message_id="msg-third")

        world.graph.faults.append(second_arrives_while_the_first_assigns)
        world.queues.put_event(_hire(world, SECOND, "second.hire@contoso.com"))

        world.run()

        assert interleaved
        assert world.state(EVENT) == "purchased_and_assigned"
        assert world.state(SECOND) == "assigned"
        assert world.state(THIRD) == "purchased_and_assigned"
        assert world.stellr.changes == [(SPB_ANNUAL, 13), (SPB_ANNUAL, 14)]
        assert world.graph.skus[SPB].consumed == 14


class TestDefect06StorageRefusingForMinutes:
    """Storage trouble (a 403 while a role assignment propagates, no identity token) is
    transient and handled like upstream trouble: the message comes back later."""

    @pytest.mark.parametrize("error", [_forbidden, _no_token], ids=["403", "no token"])
    def test_storage_refusing_the_app_is_reported_as_unavailable(
        self, error: Callable[[], Exception]
    ) -> None:
        """`storage_errors` maps a 403 and a failed managed-identity token to Unavailable."""
        assert isinstance(_storage_refusal(error()), Unavailable)

    @pytest.mark.parametrize("error", [_forbidden, _no_token], ids=["403", "no token"])
    def test_a_ledger_refusing_for_ten_minutes_delays_the_event_and_poisons_nothing(
        self, world: World, error: Callable[[], Exception]
    ) -> None:
        """Every ledger call refused for the first ten minutes: the hire still gets one
        bought seat, one result, and no message goes to a poison queue."""
        start = world.clock.now()
        refusing = RefusedUntil(world.ledger, world.clock, start + timedelta(minutes=10),
                                _storage_refusal(error()))
        world.inject(ledger=refusing)
        world.queues.put_event(world.event(EVENT))

        world.run()

        assert refusing.refused > 0
        assert world.poisoned == []
        assert world.state(EVENT) == "purchased_and_assigned"
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        [result] = world.queues.results(EVENT)
        assert result["status"] == "completed"


class TestDefect07OperationStatusThatCannotBeRead:
    """R4: an operation status that cannot be read leaves the quantity to decide."""

    @pytest.mark.parametrize("error", [
        UpstreamNotFound("synnex", "operation op-1 not found", status_code=404),
        UpstreamRejected("synnex", "operation status: unreadable body", status_code=200),
    ], ids=["404", "unreadable"])
    def test_an_operation_status_answering_404_or_garbage_does_not_poison_the_purchase(
        self, world: World, error: Exception
    ) -> None:
        """Every status read fails while the change lands after five minutes: the licence
        completes, nothing is poisoned, the hold is given back."""
        world.stellr.completes_after = 10**9
        world.stellr.completes_in = 300

        def status_unreadable(call: str) -> None:
            if call == "get_operation_status":
                raise error

        world.stellr.faults.append(status_unreadable)
        world.queues.put_event(world.event(EVENT))

        world.run()

        assert world.poisoned == []
        assert world.state(EVENT) == "purchased_and_assigned"
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert _held(world) == 0


class TestDefect08FirstRequestLandingLate:
    """R4 settle window longer than a slow change, and R3 floor: never a lower total."""

    def test_a_first_request_landing_late_after_another_buyer_never_lowers_the_quantity(
        self, world: World
    ) -> None:
        """The first change's answer is lost and it lands ten minutes later, within the
        settle window; a second hire follows: the quantity only ever goes up, to 14."""
        world.stellr.landing = {1: 600}
        world.inject(stellr=FailOnce(world.stellr, "change_seats", after=True,
                                     error=Unavailable("synnex", "change seats: read timed out")))
        start = world.clock.now()
        world.queues.put_event(world.event(EVENT))
        _run_to(world, start, 30)
        world.queues.put_event(_hire(world, SECOND, "second.hire@contoso.com"))

        world.run()
        _run_to(world, world.clock.now(), 3600)  # every change sent has landed by now

        quantities = world.stellr.quantities(SPB_ANNUAL)
        assert quantities == sorted(quantities), f"the quantity went down: {quantities}"
        assert world.stellr.quantity(SPB_ANNUAL) == 14
        assert world.state(EVENT) == "purchased_and_assigned"
        assert world.state(SECOND) == "purchased_and_assigned"


class TestDefect09RecordWithoutCustomerNumber:
    """A subscription record that names no customer proves no owner: the customer's listing
    must show it."""

    def test_a_subscription_record_without_customer_no_leaves_the_owner_unknown(self) -> None:
        """`get_subscription` does not fill in the customer number it was asked for."""
        api, token_url = "https://api-uat.us.tdsynnex.com", "https://sso.us.tdsynnex.com/token"
        record = {"id": SPB_ANNUAL, "vendorName": "Microsoft", "quantity": 12,
                  "productName": "Microsoft 365 Business Premium (NCE Annual)",
                  "status": "active"}
        with respx.mock(assert_all_called=True, assert_all_mocked=True) as router, \
                httpx.Client(timeout=5.0) as http:
            router.post(token_url).respond(200, json={
                "access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600})
            router.get(f"{api}/api/v1/customers/{CUSTOMER_NO}/subscriptions/{SPB_ANNUAL}"
                       ).respond(200, json={"requestId": "req-1", "data": record})
            client = StellrClient(
                http=http, endpoints=StellrEndpoints(api_base_url=api, token_url=token_url),
                client_id="northwind-sandbox", client_secret=SecretStr("sandbox-secret"),
                token_cache=StellrTokenCache(clock=lambda: 1000.0))
            assert client.get_subscription(CUSTOMER_NO, SPB_ANNUAL).customer_no is None

    def test_a_subscription_the_customers_listing_does_not_show_is_not_bought_through(
        self, world: World
    ) -> None:
        """The record names no customer and Contoso's listing lacks it: subscription_not_found,
        nothing bought."""
        world.stellr.add_subscription(SPB_ANNUAL, quantity=12, sku_id=SPB, customer_no=None)
        world.queues.put_event(world.event(EVENT))

        world.run()

        assert (world.state(EVENT), world.reason(EVENT)) == ("failed", "subscription_not_found")
        assert world.stellr.changes == []
        [result] = world.queues.results(EVENT)
        assert result["licenses"][0]["reason"] == "subscription_not_found"


class TestDefect10RedeliveriesStartingChains:
    """R1 one chain: only the message of the licence's current ticket acts."""

    def test_ten_deliveries_of_an_event_whose_licence_is_purchasing_make_one_chain(
        self, world: World
    ) -> None:
        """The event delivered ten times while its change takes ten minutes: a bounded number
        of purchase and wait messages, one seat, one result."""
        world.stellr.completes_after = 10**9
        world.stellr.completes_in = 600
        world.stellr.provisioning_delay = 300
        start = world.clock.now()
        for delivery in range(10):
            _run_to(world, start, 60 * delivery)
            world.queues.put_event(world.event(EVENT))

        world.run()

        purchases = _sent(world, names.LICENSE_PURCHASES_QUEUE)
        waits = _sent(world, names.LICENSE_WAITS_QUEUE)
        # One chain looks at a ten-minute change about ten times, then waits a few times for
        # the seat; the old workflow sent 77 purchase and 60 wait messages.
        assert purchases <= 25, purchases
        assert waits <= 25, waits
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.state(EVENT) == "purchased_and_assigned"
        assert len(world.queues.results(EVENT)) == 1


class TestDefect11Minor:
    """R6 give back, and `waiting_for_seat` for a hire waiting for seats held for others."""

    def test_a_crash_after_reserving_the_cap_then_a_freed_seat_gives_the_cap_unit_back(
        self, world: World
    ) -> None:
        """The worker dies after reserving the day's cap; a seat is freed before the
        redelivery: assigned, and the day's count is back to 0."""
        world.set_variable("contoso", "licencing_max_seats_per_day", "1")
        world.inject(ledger=FailOnce(world.ledger, "reserve_purchase", after=True))
        world.queues.put_event(world.event(EVENT))
        [event_message] = list(world.queues.take_due())
        world.deliver(event_message)
        [purchase] = list(world.queues.take_due())
        assert not world.deliver_like_host(purchase)
        world.graph.skus[SPB].consumed -= 1  # a leaver's seat, removed in the admin center

        world.run()

        assert world.state(EVENT) == "assigned"
        assert world.stellr.changes == []
        assert world.ledger.purchases_on("contoso", TODAY) == 0
        assert _held(world) == 0

    def test_a_hire_waiting_for_a_seat_held_for_another_shows_waiting_for_seat(
        self, world: World
    ) -> None:
        """The only free seat is the one bought for a hire not yet assigned: the next hire is
        `waiting_for_seat`, not `purchasing`, then buys its own."""
        start = world.clock.now()
        world.queues.put_event(world.event(EVENT))
        _run_to(world, start, 10)
        assert world.state(EVENT) == "waiting_for_seat"  # bought; its seat shows already
        world.queues.put_event(_hire(world, SECOND, "second.hire@contoso.com"))
        _run_to(world, start, 20)

        assert world.state(SECOND) == "waiting_for_seat"

        world.run()
        assert world.state(EVENT) == "purchased_and_assigned"
        assert world.state(SECOND) == "purchased_and_assigned"
        assert world.stellr.changes == [(SPB_ANNUAL, 13), (SPB_ANNUAL, 14)]


class TestDefect12ThrottledChange:
    """R8: a 429 changed nothing; the change goes back to deciding at once."""

    def test_a_throttled_change_is_sent_again_within_a_minute_and_raises_by_one(
        self, world: World
    ) -> None:
        """`changeSeats` answers 429 without Retry-After: the change is decided and sent
        again within a minute, not after the settle window; exactly +1."""
        start = world.clock.now()
        sent_at: list[datetime] = []
        world.stellr.faults.append(
            lambda call: sent_at.append(world.clock.now()) if call == "change_seats" else None)
        world.inject(stellr=FailOnce(world.stellr, "change_seats", error=Throttled(
            "synnex", "change seats: 429 too many requests", status_code=429)))
        world.queues.put_event(world.event(EVENT))

        world.run()

        [sent] = sent_at
        assert sent - start <= timedelta(minutes=1)
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.stellr.quantity(SPB_ANNUAL) == 13
        assert world.state(EVENT) == "purchased_and_assigned"
