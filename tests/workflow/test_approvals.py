"""Approvals (contract section 6): wait, approve, deny, expire; never two seats."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from shared import names
from shared.errors import NotFound, Unavailable
from shared.use_cases import approvals
from shared.use_cases.approvals import NotAwaitingApproval
from shared.use_cases.notify import Notifications
from tests.workflow.conftest import World
from tests.workflow.world import SPB, SPB_ANNUAL

EVENT = "hire-2026-000123"
BASE_URL = "https://msplic-func.azurewebsites.test"


@pytest.fixture
def approving(world: World) -> World:
    """The world with contoso requiring approval and notifications on."""
    inner = world.build

    def build(**adapters: Any) -> Any:
        workflow = inner(**adapters)
        workflow.deps.notifications = Notifications(world.queues, base_url=BASE_URL)
        return workflow

    world.build = build
    world.set_variable("contoso", "licencing_approval_required", "1")
    return world


def _until_waiting(world: World) -> None:
    world.queues.put_event(world.event())
    world.run(until=world.clock.now() + timedelta(minutes=10))
    assert world.state(EVENT) == "awaiting_approval"


def _notifications(world: World, kind: str | None = None) -> list[dict[str, Any]]:
    found = [json.loads(m.body) for m in world.queues.sent
             if m.queue == names.NOTIFICATIONS_QUEUE]
    return [n for n in found if kind is None or n["kind"] == kind]


def _answer(world: World, verb: Callable[..., Any], by: str = "alice@northwind.test") -> Any:
    return verb(world.workflow().deps, EVENT, SPB, by=by)


class TestAwaitingApproval:
    def test_waits_after_every_check_and_buys_nothing(self, approving: World) -> None:
        """No free seat and approval required: awaiting_approval, no seat change, no lease."""
        _until_waiting(approving)
        assert approving.stellr.changes == []
        found = approving.ledger.find_license(EVENT, SPB)
        assert found is not None
        row = found[0]
        assert (row.phase, row.owed, row.lease_holder) == ("approving", None, None)
        assert row.history[-1].step == "ask approval"
        assert approving.ledger.purchases_on("contoso", "2026-11-27") == 0

    def test_raises_an_approval_needed_notification_with_both_links(
        self, approving: World
    ) -> None:
        """One approval_needed notification, linking the approve and deny routes."""
        _until_waiting(approving)
        [note] = _notifications(approving, "approval_needed")
        path = f"{BASE_URL}/api/onboarding/{EVENT}/licenses/{SPB}"
        assert note["links"] == {"approve": f"{path}/approve", "deny": f"{path}/deny"}
        assert note["status"]["licenses"][0]["state"] == "awaiting_approval"
        assert (note["event_id"], note["org_id"]) == (EVENT, "contoso")

    def test_does_not_ask_when_approval_is_not_required(self, world: World) -> None:
        """Without the variable the purchase goes straight on."""
        world.queues.put_event(world.event())
        world.run()
        assert world.state(EVENT) == "purchased_and_assigned"

    def test_does_not_ask_in_dry_run(self, approving: World) -> None:
        """Dry run buys nothing, so nobody is asked."""
        approving.set_variable("contoso", "licencing_dry_run", "1")
        approving.queues.put_event(approving.event())
        approving.run()
        assert approving.state(EVENT) == "dry_run"
        assert _notifications(approving, "approval_needed") == []

    def test_does_not_ask_when_the_cap_is_reached(self, approving: World) -> None:
        """Nobody approves what the cap forbids: cap_reached at once."""
        approving.set_variable("contoso", "licencing_max_seats_per_day", "0")
        approving.queues.put_event(approving.event())
        approving.run()
        assert (approving.state(EVENT), approving.reason(EVENT)) == ("failed", "cap_reached")
        assert _notifications(approving, "approval_needed") == []


class TestApprove:
    def test_buys_one_seat_and_records_who_approved(self, approving: World) -> None:
        """Approved: every check again, one seat bought and assigned; the history names who."""
        _until_waiting(approving)
        status = _answer(approving, approvals.approve)
        assert status.licenses[0].state == "purchasing"
        approving.run()
        assert approving.state(EVENT) == "purchased_and_assigned"
        assert approving.stellr.changes == [(SPB_ANNUAL, 13)]
        found = approving.ledger.find_license(EVENT, SPB)
        assert found is not None
        [line] = [h for h in found[0].history if h.step == "approve"]
        assert "alice@northwind.test" in (line.detail or "")
        assert found[0].approved_by == "alice@northwind.test"
        assert len(_notifications(approving, "purchase")) == 1

    def test_a_second_approval_is_refused_and_buys_nothing_more(self, approving: World) -> None:
        """Approve twice: 409 the second time, one seat."""
        _until_waiting(approving)
        _answer(approving, approvals.approve)
        with pytest.raises(NotAwaitingApproval):
            _answer(approving, approvals.approve)
        approving.run(redeliver=2)
        with pytest.raises(NotAwaitingApproval):
            _answer(approving, approvals.approve)
        assert approving.stellr.changes == [(SPB_ANNUAL, 13)]

    def test_buys_nothing_when_a_seat_was_freed_meanwhile(self, approving: World) -> None:
        """The checks run again after the approval: a freed seat is assigned, none bought."""
        _until_waiting(approving)
        approving.graph.skus[SPB].consumed -= 1
        _answer(approving, approvals.approve)
        approving.run()
        assert approving.state(EVENT) == "assigned"
        assert approving.stellr.changes == []

    def test_an_approval_after_a_lost_message_still_buys_once(self, approving: World) -> None:
        """The waiting licence's own message was lost (the queue failed as it was asked):
        the approval is only written, the chain's watcher finds it; one seat."""
        sends = {"purchases": 0}

        def lose_the_second_purchase_message(queue: str) -> None:
            if queue == names.LICENSE_PURCHASES_QUEUE:
                sends["purchases"] += 1
                if sends["purchases"] == 2:
                    raise Unavailable("storage", "queue: 503")

        approving.queues.faults.append(lose_the_second_purchase_message)
        _until_waiting(approving)
        approving.queues.faults.clear()
        _answer(approving, approvals.approve)
        approving.run()
        assert approving.state(EVENT) == "purchased_and_assigned"
        assert approving.stellr.changes == [(SPB_ANNUAL, 13)]

    @pytest.mark.parametrize("verb", ["approve", "deny"])
    def test_an_answer_racing_the_licences_own_look_is_not_lost(
        self, approving: World, verb: str
    ) -> None:
        """The answer is written between the look's read and its write: the look loses,
        sends itself again, and the licence buys once (or ends denied, its result sent)."""
        _until_waiting(approving)
        answered = {"done": False}
        real = approving.ledger

        class AnswerFirst:
            def update_license(self, event_id: str, record: Any, etag: str) -> str:
                if record.phase == "approving" and not answered["done"]:
                    answered["done"] = True
                    answer = approvals.approve if verb == "approve" else approvals.deny
                    answer(approving.build().deps, EVENT, SPB, by="alice")
                return real.update_license(event_id, record, etag)

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        approving.inject(ledger=AnswerFirst())
        approving.run()
        assert answered["done"]
        if verb == "approve":
            assert approving.state(EVENT) == "purchased_and_assigned"
            assert approving.stellr.changes == [(SPB_ANNUAL, 13)]
        else:
            assert approving.reason(EVENT) == "denied"
            assert approving.stellr.changes == []
        assert len(approving.queues.results(EVENT)) == 1

    def test_the_approval_is_acted_on_within_a_minute(self, approving: World) -> None:
        """The route writes; the licence's own message picks it up within LOOK_SECONDS."""
        _until_waiting(approving)
        _answer(approving, approvals.approve)
        approving.run(until=approving.clock.now() + timedelta(seconds=approvals.LOOK_SECONDS))
        assert approving.stellr.changes == [(SPB_ANNUAL, 13)]

    def test_answers_not_found_for_an_unknown_licence(self, approving: World) -> None:
        """Unknown event or SKU: NotFound."""
        with pytest.raises(NotFound):
            _answer(approving, approvals.approve)

    def test_refuses_a_licence_that_never_waited(self, world: World) -> None:
        """A licence that bought without approval: 409."""
        world.queues.put_event(world.event())
        world.run()
        with pytest.raises(NotAwaitingApproval):
            _answer(world, approvals.approve)


class TestDeny:
    def test_fails_denied_and_sends_the_result(self, approving: World) -> None:
        """Denied: failed / denied, nothing bought, the result and a failure notification."""
        _until_waiting(approving)
        status = _answer(approving, approvals.deny, by="bob")
        assert (status.licenses[0].state, status.licenses[0].reason) == ("failed", "denied")
        approving.run()
        assert approving.stellr.changes == []
        [result] = approving.queues.results(EVENT)
        assert result["licenses"][0]["reason"] == "denied"
        assert "denied by bob" in (result["licenses"][0]["detail"] or "")
        assert len(_notifications(approving, "failure")) == 1

    def test_an_approval_after_a_denial_is_refused(self, approving: World) -> None:
        """Deny, then approve: 409, nothing bought."""
        _until_waiting(approving)
        _answer(approving, approvals.deny)
        with pytest.raises(NotAwaitingApproval):
            _answer(approving, approvals.approve)
        approving.run()
        assert approving.stellr.changes == []


class TestExpiry:
    def test_expires_after_the_orgs_approval_hours(self, approving: World) -> None:
        """licencing_approval_hours 0.5: approval_expired after 30 minutes, nothing bought."""
        approving.set_variable("contoso", "licencing_approval_hours", "0.5")
        approving.queues.put_event(approving.event())
        started = approving.clock.now()
        approving.run()
        assert (approving.state(EVENT), approving.reason(EVENT)) == ("failed",
                                                                     "approval_expired")
        ended = approving.clock.now() - started
        assert timedelta(minutes=30) <= ended < timedelta(minutes=35)
        assert approving.stellr.changes == []
        [result] = approving.queues.results(EVENT)
        assert result["licenses"][0]["reason"] == "approval_expired"

    def test_defaults_to_24_hours(self, approving: World) -> None:
        """Unset: still waiting after 23 hours, expired after 24."""
        _until_waiting(approving)
        approving.clock.advance(23 * 3600)
        approving.run(until=approving.clock.now() + timedelta(minutes=5))
        assert approving.state(EVENT) == "awaiting_approval"
        approving.clock.advance(3600)
        approving.run()
        assert approving.reason(EVENT) == "approval_expired"

    def test_an_approval_after_the_deadline_is_refused(self, approving: World) -> None:
        """Past the deadline, before the licence's own message: 409, and it ends expired."""
        approving.set_variable("contoso", "licencing_approval_hours", "0.5")
        _until_waiting(approving)
        approving.clock.advance(31 * 60)
        with pytest.raises(NotAwaitingApproval):
            _answer(approving, approvals.approve)
        approving.run()
        assert approving.reason(EVENT) == "approval_expired"
        assert approving.stellr.changes == []
        assert len(approving.queues.results(EVENT)) == 1


class TestApprover:
    @pytest.mark.parametrize(("header", "expected"), [
        (None, "function key"), ("", "function key"), ("  ", "function key"),
        ("Alice Smith", "Alice Smith"), ("a\nb", "ab"), ("x" * 300, "x" * 128),
    ])
    def test_names_the_header_or_the_function_key(self, header: str | None,
                                                  expected: str) -> None:
        """The form's header, printable and bounded; else "function key"."""
        assert approvals.approver(header) == expected
