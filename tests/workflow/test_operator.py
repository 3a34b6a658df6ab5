"""The operator's view on Azurite: the event index, the seats bought, retry and the
reconciliation, driven through the real workflow."""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shared import names
from shared.adapters.memory import InMemoryLedger
from shared.errors import InvalidInput, NotFound
from shared.models import EventRecord
from shared.use_cases import operator, reconcile, retry
from shared.use_cases.notify import Notifications
from tests.workflow.conftest import World
from tests.workflow.world import SPB, SPB_ANNUAL

EVENT = "hire-2026-000123"
ROOT = Path(__file__).resolve().parents[2]


def _list(world: World, **query: str | None) -> tuple[list[str], str | None]:
    page = operator.list_events(
        ledger=world.ledger, orgs=world.orgs, org_id=query.get("org_id"),
        status=query.get("status"), since=query.get("since"), limit=query.get("limit"),
        page=query.get("next"))
    return [e.event_id for e in page.events], page.next


def _events(world: World, count: int, *, org: str = "contoso") -> list[str]:
    """`count` events a minute apart (the last one newest), each ending choice_disabled."""
    world.set_variable(org, "licencing_choose_subscription", "0")
    ids = []
    for n in range(count):
        event_id = f"hire-2026-{n:06d}"
        world.queues.put_event(world.event(event_id, org_id=org))
        world.run()
        world.clock.advance(60)
        ids.append(event_id)
    return ids


class TestEventIndex:
    def test_lists_events_newest_first_in_pages(self, world: World) -> None:
        """Five events, pages of two: newest first, every event once, then no token."""
        ids = _events(world, 5)
        seen: list[str] = []
        token: str | None = None
        for _ in range(3):
            page, token = _list(world, limit="2", next=token)
            seen += page
            if token is None:
                break
        assert seen == list(reversed(ids))
        assert token is None

    def test_filters_by_status_and_org(self, world: World) -> None:
        """status=failed lists the failed ones; completed none; another org's none."""
        ids = _events(world, 2)
        world.graph.skus[SPB].enabled += 1  # a free seat: the next one is assigned
        world.set_variable("contoso", "licencing_choose_subscription", "1")
        world.queues.put_event(world.event("hire-2026-ok"))
        world.run()
        assert _list(world, status="failed")[0] == list(reversed(ids))
        assert _list(world, status="completed")[0] == ["hire-2026-ok"]
        assert _list(world, org_id="contoso")[0] == ["hire-2026-ok", *reversed(ids)]
        assert _list(world, org_id="northwind")[0] == []

    def test_since_keeps_events_created_at_or_after_it(self, world: World) -> None:
        """since = the second event's creation: the second and the third."""
        ids = _events(world, 3)
        second = world.ledger.find_event(ids[1])
        assert second is not None
        assert _list(world, since=second[0].created_at)[0] == [ids[2], ids[1]]

    def test_follows_a_status_change(self, world: World) -> None:
        """A retried event is listed as in progress, no longer as failed."""
        [event_id] = _events(world, 1)
        world.set_variable("contoso", "licencing_choose_subscription", "1")
        retry.retry_event(world.workflow().deps, event_id)
        assert _list(world, status="failed")[0] == []
        assert _list(world, status="in_progress")[0] == [event_id]

    @pytest.mark.parametrize(("name", "value"), [
        ("limit", "0"), ("limit", "101"), ("limit", "ten"), ("status", "done"),
        ("since", "yesterday"), ("next", "bm90IGEga2V5"), ("next", "%%%"), ("org_id", "a/b"),
    ])
    def test_names_the_parameter_at_fault(self, world: World, name: str, value: str) -> None:
        """Each malformed parameter is refused, naming itself."""
        with pytest.raises(InvalidInput) as caught:
            _list(world, **{name: value})
        assert caught.value.field == name

    def test_an_unknown_org_is_not_found(self, world: World) -> None:
        """org_id of no org: NotFound."""
        with pytest.raises(NotFound):
            _list(world, org_id="tailwind")


class TestInMemoryIndexKeepsStep:
    def test_lists_like_the_table_ledger(self) -> None:
        """The in-memory ledger pages, filters and orders like Table Storage."""
        ledger = InMemoryLedger()
        start = datetime.fromisoformat("2026-11-27T09:00:00+00:00")
        for n in range(5):
            at = (start + timedelta(minutes=n)).isoformat()
            ledger.create_event(EventRecord(event_id=f"e{n}", org_id="contoso", created_at=at,
                                            updated_at=at,
                                            status="failed" if n % 2 else "completed"), [])
        ids, after = ledger.list_events("contoso", status=None, since=None, after=None, limit=2)
        assert ids == ["e4", "e3"] and after is not None
        ids, after = ledger.list_events("contoso", status=None, since=None, after=after, limit=2)
        assert ids == ["e2", "e1"]
        failed, _ = ledger.list_events(None, status="failed", since=None, after=None, limit=9)
        assert failed == ["e3", "e1"]
        recent, _ = ledger.list_events(None, status=None, since=start + timedelta(minutes=3),
                                       after=None, limit=9)
        assert recent == ["e4", "e3"]


class TestPurchases:
    def test_lists_the_seat_bought_with_its_window_and_the_caps(self, world: World) -> None:
        """One purchase: product, quantities, assigned, cancellable 7 days on; caps 1 of 5."""
        world.queues.put_event(world.event())
        world.run()
        answer = operator.list_purchases(ledger=world.ledger, orgs=world.orgs, org_id="contoso",
                                         first=None, last=None, now=world.clock.now())
        [bought] = answer.purchases
        assert (bought.event_id, bought.sku_id, bought.synnex_subscription_id) == (
            EVENT, SPB, SPB_ANNUAL)
        assert bought.product_name == "Microsoft 365 Business Premium"
        assert (bought.quantity_before, bought.quantity_after, bought.assigned) == (12, 13, True)
        until = datetime.fromisoformat(bought.cancellable_until)
        assert until - datetime.fromisoformat(bought.purchased_at) == timedelta(days=7)
        assert answer.cap.model_dump() == {"day": {"used": 1, "limit": 5},
                                           "month": {"used": 1, "limit": None}}

    def test_a_range_without_the_day_lists_nothing(self, world: World) -> None:
        """from/to the week before: empty; the month's cap as the variable says."""
        world.set_variable("contoso", "licencing_max_seats_per_month", "20")
        world.queues.put_event(world.event())
        world.run()
        answer = operator.list_purchases(ledger=world.ledger, orgs=world.orgs, org_id="contoso",
                                         first="2026-11-01", last="2026-11-26",
                                         now=world.clock.now())
        assert answer.purchases == []
        assert answer.cap.month.limit == 20

    @pytest.mark.parametrize(("first", "last", "field"), [
        ("2026-13-01", None, "from"), (None, "soon", "to"), ("2026-11-27", "2026-11-01", "from"),
        ("2020-01-01", "2026-11-27", "from"),
    ])
    def test_names_the_date_at_fault(self, world: World, first: str | None, last: str | None,
                                     field: str) -> None:
        """A bad date, a reversed or an overlong range: refused, naming the field."""
        with pytest.raises(InvalidInput) as caught:
            operator.list_purchases(ledger=world.ledger, orgs=world.orgs, org_id="contoso",
                                    first=first, last=last, now=world.clock.now())
        assert caught.value.field == field


class TestRetry:
    def test_works_a_failed_licence_again_once_the_cause_is_fixed(self, world: World) -> None:
        """choice_disabled, switched on, retried: bought, assigned, a second result sent."""
        world.set_variable("contoso", "licencing_choose_subscription", "0")
        world.queues.put_event(world.event())
        world.run()
        assert world.reason(EVENT) == "choice_disabled"
        world.set_variable("contoso", "licencing_choose_subscription", "1")
        status = retry.retry_event(world.workflow().deps, EVENT)
        assert status.status == "in_progress"
        world.run()
        assert world.state(EVENT) == "purchased_and_assigned"
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        results = world.queues.results(EVENT)
        assert [r["status"] for r in results] == ["failed", "completed"]
        steps = [t["step"] for t in results[-1]["licenses"][0]["history"]]
        assert "retry" in steps
        [event] = [world.ledger.find_event(EVENT)]
        assert event is not None and event[0].retries == 1 and event[0].retried_at

    def test_never_buys_a_second_seat_for_a_licence_whose_change_landed(
        self, world: World
    ) -> None:
        """seat_not_provisioned, retried after the seat shows: assigned, still one change."""
        world.stellr.sku_of.clear()  # the tenant never shows the seat bought
        world.queues.put_event(world.event())
        world.run()
        assert world.reason(EVENT) == "seat_not_provisioned"
        world.graph.skus[SPB].enabled += 1  # Microsoft catches up
        retry.retry_event(world.workflow().deps, EVENT)
        world.run()
        assert world.state(EVENT) == "purchased_and_assigned"
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]
        assert world.ledger.purchases_on("contoso", "2026-11-27") == 1
        assert world.ledger.seats_held("contoso", SPB, world.clock.now(), excluding="") == 0

    def test_waits_a_whole_deadline_again_for_a_retried_seat(self, world: World) -> None:
        """Retried a day after failing: the wait starts anew, not past its deadline."""
        world.stellr.sku_of.clear()
        world.queues.put_event(world.event())
        world.run()
        world.clock.advance(3600)
        retry.retry_event(world.workflow().deps, EVENT)
        [message] = list(world.queues.take_due())
        world.deliver(message)
        assert world.state(EVENT) == "waiting_for_seat"

    def test_refuses_while_in_progress(self, world: World) -> None:
        """A licence still at work: RetryConflict."""
        world.queues.put_event(world.event())
        [message] = list(world.queues.take_due())
        world.deliver(message)
        with pytest.raises(retry.RetryConflict, match="in progress"):
            retry.retry_event(world.workflow().deps, EVENT)

    def test_refuses_an_event_with_nothing_failed(self, world: World) -> None:
        """Completed: nothing to retry; unknown: NotFound."""
        world.graph.skus[SPB].enabled += 1
        world.queues.put_event(world.event())
        world.run()
        with pytest.raises(retry.RetryConflict, match="nothing to retry"):
            retry.retry_event(world.workflow().deps, EVENT)
        with pytest.raises(NotFound):
            retry.retry_event(world.workflow().deps, "hire-unknown")

    def test_a_second_retry_at_once_is_refused(self, world: World) -> None:
        """Retried twice before any message runs: the second finds it in progress."""
        world.set_variable("contoso", "licencing_choose_subscription", "0")
        world.queues.put_event(world.event())
        world.run()
        retry.retry_event(world.workflow().deps, EVENT)
        with pytest.raises(retry.RetryConflict):
            retry.retry_event(world.workflow().deps, EVENT)


class TestReconciliation:
    def _alert_needle(self) -> str:
        bicep = (ROOT / "infra" / "main.bicep").read_text()
        query = re.search(r"var alertQuery = '''(.*?)'''", bicep, re.DOTALL)
        assert query is not None
        needle = re.search(r'Message contains "(state=failed)"', query.group(1))
        assert needle is not None
        return needle.group(1)

    def test_logs_a_seat_whose_licence_was_removed_in_the_alerts_line(
        self, world: World, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Bought, assigned, then removed: one WARNING the alert catches; marked reducible."""
        world.queues.put_event(world.event())
        world.run()
        world.graph.take_back("new.hire@contoso.com", SPB)
        with caplog.at_level(logging.WARNING, logger="shared.use_cases.reconcile"):
            found = reconcile.reconcile(ledger=world.ledger, orgs=world.orgs,
                                        graph=lambda: world.graph, now=world.clock.now())
        [seat] = found.unheld
        assert (seat.event_id, seat.unheld, seat.reducible) == (EVENT, "license_removed", True)
        [line] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert self._alert_needle() in line and f"event={EVENT}" in line
        listed = operator.list_purchases(ledger=world.ledger, orgs=world.orgs, org_id="contoso",
                                         first=None, last=None, now=world.clock.now())
        assert listed.purchases[0].reducible
        assert world.stellr.changes == [(SPB_ANNUAL, 13)]  # nothing reduced by the app

    def test_finds_a_seat_never_provisioned_and_not_one_past_its_window(
        self, world: World
    ) -> None:
        """seat_not_provisioned: found; eight days on: no longer reducible, not reported."""
        world.stellr.sku_of.clear()
        world.queues.put_event(world.event())
        world.run()
        found = reconcile.reconcile(ledger=world.ledger, orgs=world.orgs,
                                    graph=lambda: world.graph, now=world.clock.now())
        assert [s.unheld for s in found.unheld] == ["seat_not_provisioned"]
        later = world.clock.now() + timedelta(days=8)
        assert reconcile.reconcile(ledger=world.ledger, orgs=world.orgs,
                                   graph=lambda: world.graph, now=later).unheld == []

    def test_a_held_seat_is_not_reported(self, world: World) -> None:
        """Bought and still assigned: checked, nothing found."""
        world.queues.put_event(world.event())
        world.run()
        found = reconcile.reconcile(ledger=world.ledger, orgs=world.orgs,
                                    graph=lambda: world.graph, now=world.clock.now())
        assert (found.checked, found.unheld) == (1, [])

    def test_raises_a_reconciliation_notification_per_seat_not_held(self, world: World) -> None:
        """Notifications on: one `reconciliation` message naming the event."""
        world.queues.put_event(world.event())
        world.run()
        world.graph.take_back("new.hire@contoso.com", SPB)
        reconcile.reconcile(ledger=world.ledger, orgs=world.orgs, graph=lambda: world.graph,
                            now=world.clock.now(),
                            notifications=Notifications(world.queues,
                                                        base_url="https://msplic.test"))
        sent = [json.loads(m.body) for m in world.queues.sent
                if m.queue == names.NOTIFICATIONS_QUEUE]
        [found] = [n for n in sent if n["kind"] == "reconciliation"]
        assert found["event_id"] == EVENT and "license_removed" in found["summary"]
