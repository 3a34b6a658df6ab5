"""Every outcome of contract section 5, each with what was (not) bought and assigned."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.adapters.secret_store import synnex_secret_name
from shared.errors import NoApiAccess, UpstreamRejected
from shared.models import Org
from tests.workflow.conftest import World
from tests.workflow.faults import FailOnce
from tests.workflow.world import CUSTOMER_NO, E3, SPB, SPB_ANNUAL, TENANT, FakeStellr, Sku

EVENT = "hire-2026-000123"
TODAY = "2026-11-27"


def _assert_failed_and_nothing_bought(world: World, reason: str, sku_id: str = SPB) -> None:
    assert world.state(EVENT, sku_id) == "failed"
    assert world.reason(EVENT, sku_id) == reason
    assert world.stellr.changes == []
    assert world.graph.holders(sku_id) == []
    [result] = world.queues.results(EVENT)
    assert result["status"] == "failed"
    assert result["licenses"][0]["reason"] == reason


class FailedOperations:
    """Stellr that accepts seat changes and later reports each operation failed."""

    def __init__(self, inner: FakeStellr) -> None:
        self._inner = inner
        inner.completes_after = 10**6

    def get_operation_status(self, operation_id: str) -> str:
        self._inner.get_operation_status(operation_id)
        return "failed"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TestChoiceDisabled:
    def test_fails_when_no_org_sets_the_variable(self, world: World) -> None:
        """Unset everywhere: no free seat means choice_disabled, nothing bought."""
        world.orgs.delete_variable("northwind", "licencing_choose_subscription")
        world.queues.put_event(world.event())
        world.run()
        _assert_failed_and_nothing_bought(world, "choice_disabled")

    @pytest.mark.parametrize("value", ["0", "true", "yes", ""])
    def test_fails_when_the_customer_sets_it_to_anything_but_one(
        self, world: World, value: str
    ) -> None:
        """The org's own value wins over the MSP's cascading 1."""
        world.set_variable("contoso", "licencing_choose_subscription", value)
        world.queues.put_event(world.event())
        world.run()
        _assert_failed_and_nothing_bought(world, "choice_disabled")

    def test_fails_when_the_msp_value_does_not_cascade(self, world: World) -> None:
        """Northwind's 1 without the default tick applies to Northwind only."""
        world.set_variable("northwind", "licencing_choose_subscription", "1", cascade=False)
        world.queues.put_event(world.event())
        world.run()
        _assert_failed_and_nothing_bought(world, "choice_disabled")

    def test_is_checked_again_when_the_purchase_runs(self, world: World) -> None:
        """Switched off between the event and its purchase: nothing is bought."""
        world.queues.put_event(world.event())
        [event_message] = list(world.queues.take_due())
        world.deliver(event_message)
        assert world.state(EVENT) == "purchasing"
        world.set_variable("contoso", "licencing_choose_subscription", "0")
        world.run()
        _assert_failed_and_nothing_bought(world, "choice_disabled")


class TestNoSubscriptionChosen:
    def test_fails_when_the_licence_names_no_subscription(self, world: World) -> None:
        """No free seat and no synnex_subscription_id: nothing to buy through."""
        world.queues.put_event(world.event(licenses=[{"sku_id": SPB}]))
        world.run()
        _assert_failed_and_nothing_bought(world, "no_subscription_chosen")


class TestSubscriptionNotFound:
    @pytest.mark.parametrize(("subscription", "arrange"), [
        ("999999_1", lambda s: None),
        ("522901_1", lambda s: s.add_subscription("522901_1", quantity=40, sku_id=SPB,
                                                  customer_no="100777")),
        ("411833_2", lambda s: s.add_subscription("411833_2", quantity=5, sku_id=None,
                                                  vendor="Cisco", product="Webex Meetings")),
        ("411833_3", lambda s: s.add_subscription("411833_3", quantity=12, sku_id=SPB,
                                                  status="suspended")),
    ], ids=["unknown id", "another customer's", "not Microsoft", "suspended"])
    def test_fails_for_a_subscription_that_is_not_the_org_s_to_raise(
        self, world: World, subscription: str, arrange: Any
    ) -> None:
        """Nothing is bought through a line the org cannot buy through."""
        arrange(world.stellr)
        world.queues.put_event(world.event(
            licenses=[{"sku_id": SPB, "synnex_subscription_id": subscription}]))
        world.run()
        _assert_failed_and_nothing_bought(world, "subscription_not_found")
        assert world.ledger.purchases_on("contoso", TODAY) == 0

    def test_fails_for_an_org_without_a_synnex_customer(self, world: World) -> None:
        """A customer org with no synnex_customer_no has no subscription to raise."""
        world.orgs.put_org(Org(org_id="contoso", name="Contoso Ltd", parent_id="northwind",
                               m365_tenant_id=TENANT))
        world.queues.put_event(world.event())
        world.run()
        _assert_failed_and_nothing_bought(world, "subscription_not_found")


class TestCapReached:
    def test_a_cap_of_zero_forbids_buying(self, world: World) -> None:
        """licencing_max_seats_per_day 0: cap_reached, nothing bought."""
        world.set_variable("contoso", "licencing_max_seats_per_day", "0")
        world.queues.put_event(world.event())
        world.run()
        _assert_failed_and_nothing_bought(world, "cap_reached")

    def test_a_malformed_cap_fails_closed(self, world: World) -> None:
        """A cap that is not a whole number buys nothing."""
        world.set_variable("northwind", "licencing_max_seats_per_day", "five", cascade=True)
        world.queues.put_event(world.event())
        world.run()
        _assert_failed_and_nothing_bought(world, "cap_reached")

    def test_the_second_seat_of_a_one_seat_day_is_refused(self, world: World) -> None:
        """Cap 1 with one bought today: the next hire fails with cap_reached."""
        world.set_variable("contoso", "licencing_max_seats_per_day", "1")
        world.graph.add_user("second.hire@contoso.com")
        world.queues.put_event(world.event("hire-2026-000122", user="second.hire@contoso.com"))
        world.run()
        world.queues.put_event(world.event())
        world.run()
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.graph.holders(SPB) == ["second.hire@contoso.com"]
        assert world.state(EVENT) == "failed"
        assert world.reason(EVENT) == "cap_reached"

    def test_the_cap_counts_per_utc_day(self, world: World) -> None:
        """Cap 1: a hire the next day buys again."""
        world.set_variable("contoso", "licencing_max_seats_per_day", "1")
        world.graph.add_user("second.hire@contoso.com")
        world.queues.put_event(world.event("hire-2026-000122", user="second.hire@contoso.com"))
        world.run()
        world.clock.advance(86_400)
        world.queues.put_event(world.event())
        world.run()
        assert world.stellr.changes == [(SPB_ANNUAL, 13), (SPB_ANNUAL, 14)]
        assert world.state(EVENT) == "purchased_and_assigned"


class TestOrgNotFound:
    def test_fails_for_an_unknown_org(self, world: World) -> None:
        """An event for an org nobody created: org_not_found."""
        world.queues.put_event(world.event(org_id="fabrikam"))
        world.run()
        _assert_failed_and_nothing_bought(world, "org_not_found")


class TestUserNotFound:
    def test_fails_once_the_lookup_deadline_has_passed(self, world: World) -> None:
        """Graph never finds the user: retried with backoff for 300 s, then user_not_found."""
        started = world.clock.now()
        world.queues.put_event(world.event(user="no.such.hire@contoso.com"))
        world.run()
        _assert_failed_and_nothing_bought(world, "user_not_found")
        assert world.graph.calls.count("get_user") > 2
        assert world.clock.now() - started >= world.policy.user_lookup_deadline

    def test_a_user_who_appears_after_two_minutes_is_given_the_licence(
        self, world: World
    ) -> None:
        """Directory replication: the user shows up after 2 minutes and gets the seat."""
        world.graph.skus[E3] = Sku(enabled=25, consumed=22)
        world.queues.put_event(world.event(user="late.hire@contoso.com",
                                           licenses=[{"sku_id": E3}]))
        world.run(until=world.clock.now() + timedelta(minutes=2))
        assert world.state(EVENT, E3) == "pending"
        world.graph.add_user("late.hire@contoso.com")
        world.run()
        assert world.state(EVENT, E3) == "assigned"
        assert world.graph.holders(E3) == ["late.hire@contoso.com"]


class TestSeatNotProvisioned:
    def test_gives_up_after_the_deadline_having_bought_exactly_one_seat(
        self, world: World
    ) -> None:
        """The tenant never shows the seat: one purchase, a day of looks, no second buy."""
        world.stellr.sku_of.clear()  # the line raises a quantity the tenant never sees
        started = world.clock.now()
        world.queues.put_event(world.event())
        world.run()
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.stellr.quantity(SPB_ANNUAL) == 13
        assert world.graph.holders(SPB) == []
        assert world.state(EVENT) == "failed"
        assert world.reason(EVENT) == "seat_not_provisioned"
        assert world.clock.now() - started >= world.policy.deadline
        assert world.ledger.seats_held("contoso", SPB, world.clock.now(), excluding="") == 0


class TestSynnexError:
    def test_a_rejected_seat_change_gives_the_day_s_reservation_back(
        self, world: World
    ) -> None:
        """Synnex refuses the change: synnex_error, the cap's seat released, no seat held."""
        world.inject(stellr=FailOnce(world.stellr, "change_seats", error=UpstreamRejected(
            "synnex", "change seats: quantity exceeds the offer's limit", status_code=400)))
        world.queues.put_event(world.event())
        world.run()
        _assert_failed_and_nothing_bought(world, "synnex_error")
        assert world.ledger.purchases_on("contoso", TODAY) == 0
        assert world.ledger.seats_held("contoso", SPB, world.clock.now(), excluding="") == 0

    def test_an_operation_that_fails_gives_the_day_s_reservation_back(
        self, world: World
    ) -> None:
        """The change is accepted, then its operation fails: synnex_error, cap released."""
        world.inject(stellr=FailedOperations(world.stellr))
        world.queues.put_event(world.event())
        world.run()
        assert world.state(EVENT) == "failed"
        assert world.reason(EVENT) == "synnex_error"
        assert world.stellr.quantity(SPB_ANNUAL) == 12
        assert world.graph.holders(SPB) == []
        assert world.ledger.purchases_on("contoso", TODAY) == 0

    def test_fails_when_the_msp_has_no_credentials(self, world: World) -> None:
        """No Synnex credentials stored for Northwind: synnex_error."""
        world.secrets.delete_secret(synnex_secret_name("northwind"))
        world.queues.put_event(world.event())
        world.run()
        _assert_failed_and_nothing_bought(world, "synnex_error")

    def test_fails_when_the_subscription_cannot_be_read(self, world: World) -> None:
        """The API refuses the subscription read (403): synnex_error, nothing bought."""
        world.inject(stellr=FailOnce(world.stellr, "get_subscription", error=NoApiAccess(
            "synnex", "read subscription: 403 forbidden", status_code=403)))
        world.queues.put_event(world.event())
        world.run()
        _assert_failed_and_nothing_bought(world, "synnex_error")


class TestGraphError:
    def test_a_refused_assignment_is_recorded(self, world: World) -> None:
        """Graph refuses the assignment for another reason than seats: graph_error."""
        world.graph.skus[E3] = Sku(enabled=25, consumed=22)
        world.inject(graph=FailOnce(world.graph, "assign_license", error=UpstreamRejected(
            "graph", "assign license: 403 Authorization_RequestDenied", status_code=403)))
        world.queues.put_event(world.event(licenses=[{"sku_id": E3}]))
        world.run()
        _assert_failed_and_nothing_bought(world, "graph_error", E3)

    def test_a_refusal_while_checking_before_buying_is_recorded(self, world: World) -> None:
        """Refused at the purchase's last free-seat check: graph_error, nothing bought."""
        world.inject(graph=FailOnce(
            world.graph, "assign_license", times=1,
            when=lambda *args: world.state(EVENT) == "purchasing",
            error=UpstreamRejected("graph", "assign license: 403 denied", status_code=403)))
        world.queues.put_event(world.event())
        world.run()
        _assert_failed_and_nothing_bought(world, "graph_error")
        assert world.errors == []

    def test_an_org_without_a_tenant_is_recorded(self, world: World) -> None:
        """A customer org with no m365_tenant_id: graph_error."""
        world.orgs.put_org(Org(org_id="contoso", name="Contoso Ltd", parent_id="northwind",
                               synnex_customer_no=CUSTOMER_NO))
        world.queues.put_event(world.event())
        world.run()
        _assert_failed_and_nothing_bought(world, "graph_error")

    def test_a_user_without_usage_location_and_no_default_is_recorded(
        self, world: World
    ) -> None:
        """Neither the user, the event nor the org gives a usage location: graph_error."""
        world.graph.skus[E3] = Sku(enabled=25, consumed=22)
        world.graph.users["new.hire@contoso.com"].usage_location = None
        world.queues.put_event(world.event(usage_location=None, licenses=[{"sku_id": E3}]))
        world.run()
        _assert_failed_and_nothing_bought(world, "graph_error", E3)


class TestDryRun:
    def test_decides_and_records_without_changing_a_quantity(self, world: World) -> None:
        """licencing_dry_run 1: state dry_run, before and target recorded, nothing bought."""
        world.set_variable("contoso", "licencing_dry_run", "1")
        world.queues.put_event(world.event())
        world.run()
        assert world.stellr.changes == []
        assert world.stellr.quantity(SPB_ANNUAL) == 12
        assert world.graph.holders(SPB) == []
        [result] = world.queues.results()
        assert result["status"] == "completed"
        [license_] = result["licenses"]
        assert (license_["state"], license_["quantity_before"], license_["quantity_target"]) == (
            "dry_run", 12, 13)
        assert world.ledger.purchases_on("contoso", TODAY) == 0


class TestAlreadyAssigned:
    def test_a_user_who_has_the_licence_is_left_alone(self, world: World) -> None:
        """The user holds SPB already: already_assigned, nothing bought or assigned."""
        world.graph.users["new.hire@contoso.com"].skus.add(SPB)
        world.queues.put_event(world.event())
        world.run()
        assert world.state(EVENT) == "already_assigned"
        assert world.stellr.changes == []
        assert world.graph.calls.count("assign_license") == 0


class TestUsageLocation:
    def test_is_set_from_the_event(self, world: World) -> None:
        """A user without usage location gets the event's, then the licence."""
        world.graph.skus[E3] = Sku(enabled=25, consumed=22)
        world.graph.users["new.hire@contoso.com"].usage_location = None
        world.set_variable("northwind", "licencing_usage_location", "GB", cascade=True)
        world.queues.put_event(world.event(usage_location="DE", licenses=[{"sku_id": E3}]))
        world.run()
        assert world.graph.users["new.hire@contoso.com"].usage_location == "DE"
        assert world.state(EVENT, E3) == "assigned"

    def test_is_set_from_the_org_variable_when_the_event_has_none(self, world: World) -> None:
        """No usage location in the event: licencing_usage_location (cascaded) is used."""
        world.graph.skus[E3] = Sku(enabled=25, consumed=22)
        world.graph.users["new.hire@contoso.com"].usage_location = None
        world.set_variable("northwind", "licencing_usage_location", "gb", cascade=True)
        world.queues.put_event(world.event(usage_location=None, licenses=[{"sku_id": E3}]))
        world.run()
        assert world.graph.users["new.hire@contoso.com"].usage_location == "GB"
        assert world.graph.holders(E3) == ["new.hire@contoso.com"]

    def test_is_set_before_a_bought_seat_is_assigned(self, world: World) -> None:
        """The wait step fixes a missing usage location too."""
        world.graph.users["new.hire@contoso.com"].usage_location = None
        world.queues.put_event(world.event(usage_location="US"))
        world.run()
        assert world.state(EVENT) == "purchased_and_assigned"
        assert world.graph.users["new.hire@contoso.com"].usage_location == "US"


class TestSeatHolds:
    def test_a_hold_counts_until_released_and_releasing_twice_is_harmless(
        self, world: World
    ) -> None:
        """Held seats are counted for everyone but their holder, and go on release."""
        now = world.clock.now()
        world.ledger.hold_seat("contoso", SPB, f"{EVENT}/{SPB}", now + timedelta(days=2))
        assert world.ledger.seats_held("contoso", SPB, now, excluding="hire-2026-9/x") == 1
        assert world.ledger.seats_held("contoso", SPB, now, excluding=f"{EVENT}/{SPB}") == 0
        assert world.ledger.seats_held("contoso", E3, now, excluding="") == 0
        world.ledger.release_seat("contoso", SPB, f"{EVENT}/{SPB}")
        world.ledger.release_seat("contoso", SPB, f"{EVENT}/{SPB}")
        assert world.ledger.seats_held("contoso", SPB, now, excluding="") == 0

    def test_an_expired_hold_no_longer_keeps_a_free_seat_from_a_hire(
        self, world: World
    ) -> None:
        """A hold left by a lost event expires: the free seat goes to the next hire."""
        world.ledger.hold_seat("contoso", SPB, "hire-2026-000001/" + SPB,
                               world.clock.now() - timedelta(seconds=1))
        world.graph.skus[SPB].enabled = 13
        world.queues.put_event(world.event())
        world.run()
        assert world.state(EVENT) == "assigned"
        assert world.stellr.changes == []


class TestFreeSeats:
    def test_a_seat_freed_before_the_purchase_is_assigned_instead(self, world: World) -> None:
        """A seat frees up between the event and its purchase: assigned, nothing bought."""
        world.graph.add_user("leaver@contoso.com")
        world.graph.users["leaver@contoso.com"].skus.add(SPB)
        world.queues.put_event(world.event())
        [event_message] = list(world.queues.take_due())
        world.deliver(event_message)
        world.graph.take_back("leaver@contoso.com", SPB)
        world.run()
        assert world.state(EVENT) == "assigned"
        assert world.stellr.changes == []

    def test_a_seat_taken_by_someone_else_while_waiting_is_waited_for_not_bought(
        self, world: World
    ) -> None:
        """An admin hands the bought seat to someone else: the hire waits, never buys again."""
        world.graph.add_user("contractor@contoso.com")
        world.queues.put_event(world.event())
        world.run(until=world.clock.now())
        assert world.state(EVENT) == "waiting_for_seat"
        world.graph.give("contractor@contoso.com", SPB)
        world.run(until=world.clock.now() + timedelta(hours=6))
        assert world.state(EVENT) == "waiting_for_seat"
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        world.graph.take_back("contractor@contoso.com", SPB)
        world.run()
        assert world.state(EVENT) == "purchased_and_assigned"
        assert world.graph.holders(SPB) == ["new.hire@contoso.com"]
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]

    def test_a_seat_bought_for_one_hire_is_not_taken_by_the_next(self, world: World) -> None:
        """The bought seat shows before its buyer looks: the next hire buys its own."""
        world.graph.add_user("second.hire@contoso.com")
        world.queues.put_event(world.event())
        world.run(until=world.clock.now())
        assert world.graph.skus[SPB].enabled == 13  # shown, not yet assigned
        world.clock.advance(10)
        world.queues.put_event(world.event("hire-2026-000124", user="second.hire@contoso.com"))
        world.run()
        assert world.stellr.changes == [(SPB_ANNUAL, 13), (SPB_ANNUAL, 14)]
        assert world.graph.holders(SPB) == ["new.hire@contoso.com", "second.hire@contoso.com"]
        assert world.state(EVENT) == "purchased_and_assigned"
        assert world.state("hire-2026-000124") == "purchased_and_assigned"

    def test_a_free_seat_beyond_the_held_ones_goes_to_the_next_hire(self, world: World) -> None:
        """One seat bought and shown, one more freed: the next hire takes it, buys nothing."""
        world.graph.add_user("second.hire@contoso.com")
        world.graph.add_user("leaver@contoso.com")
        world.graph.users["leaver@contoso.com"].skus.add(SPB)
        world.queues.put_event(world.event())
        world.run(until=world.clock.now())
        world.graph.take_back("leaver@contoso.com", SPB)
        world.queues.put_event(world.event("hire-2026-000124", user="second.hire@contoso.com"))
        world.run()
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.state("hire-2026-000124") == "assigned"
        assert world.state(EVENT) == "purchased_and_assigned"

    def test_a_hire_waits_while_the_free_seat_may_be_another_s(self, world: World) -> None:
        """A shown seat may be a waiting buyer's: the next hire waits, then buys its own."""
        world.graph.add_user("second.hire@contoso.com")
        world.queues.put_event(world.event())
        world.run(until=world.clock.now())
        world.queues.put_event(world.event("hire-2026-000124", user="second.hire@contoso.com"))
        world.run(until=world.clock.now())
        # Contract 6: waiting_for_seat also covers a hire waiting for a seat held for another.
        assert world.state("hire-2026-000124") == "waiting_for_seat"
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        world.run()
        assert world.stellr.changes == [(SPB_ANNUAL, 13), (SPB_ANNUAL, 14)]
        assert world.graph.holders(SPB) == ["new.hire@contoso.com", "second.hire@contoso.com"]


class TestCorrectedEvents:
    def test_a_valid_event_replaces_an_invalid_one_with_the_same_id(self, world: World) -> None:
        """A message first rejected as invalid and then sent again corrected is processed."""
        world.queues.put_event({"event_id": "hire-2026-000200", "org_id": "contoso"})
        world.run()
        first = world.ledger.find_status("hire-2026-000200")
        assert first is not None and first.reason == "invalid_event"
        world.graph.skus[E3] = Sku(enabled=25, consumed=22)
        world.queues.put_event(world.event("hire-2026-000200", licenses=[{"sku_id": E3}]))
        world.run()
        status = world.ledger.find_status("hire-2026-000200")
        assert status is not None
        assert status.status == "completed" and status.reason is None
        assert [item.state for item in status.licenses] == ["assigned"]
        assert world.graph.holders(E3) == ["new.hire@contoso.com"]
        assert world.stellr.changes == []
