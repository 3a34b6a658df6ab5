"""Approval and notifications end to end: the webhook receiver of the local stack
gets each notification signed; a purchase waits for its approval."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.simulators import seed
from shared import names
from tests.e2e.conftest import App

pytestmark = pytest.mark.e2e

SPB = seed.SPB_SKU_ID
SPB_ANNUAL = seed.SPB_ANNUAL_SUBSCRIPTION_ID
CUSTOMER = seed.CONTOSO_CUSTOMER_NO
APPROVAL = "licencing_approval_required"


@pytest.fixture(autouse=True)
def approval_required(app: App) -> Iterator[None]:
    """Contoso requires approval; the seeded world, the webhook's inbox emptied. (Not
    `wait_until_idle`: a licence that was approved leaves its waiting message behind, due
    within the hour, where it collapses as a duplicate.)"""
    app.simulators.reset()
    app.clear_table(names.SUBSCRIPTION_LOCKS_TABLE)
    assert app.stack.webhook is not None
    app.stack.webhook.received.clear()
    assert app.http.put(f"/orgs/contoso/variables/{APPROVAL}", json={"value": "1"}).is_success
    yield
    app.http.delete(f"/orgs/contoso/variables/{APPROVAL}")


def _event() -> dict[str, Any]:
    return {"event_id": f"hire-e2e-{uuid.uuid4().hex[:12]}", "org_id": "contoso",
            "user": seed.NEW_HIRE_UPN, "usage_location": "US",
            "licenses": [{"sku_id": SPB, "synnex_subscription_id": SPB_ANNUAL}]}


def _until(app: App, event_id: str, state: str, seconds: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = app.http.get(f"/onboarding/{event_id}")
        if answer.status_code == 200 and answer.json()["licenses"][0]["state"] == state:
            body: dict[str, Any] = answer.json()
            return body
        time.sleep(0.25)
    raise AssertionError(f"{event_id} not {state} within {seconds}s")


def _notification(app: App, kind: str, event_id: str, seconds: float = 15.0) -> dict[str, Any]:
    """The first `kind` notification for the event; its signature checked by the receiver."""
    assert app.stack.webhook is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for ok, body in list(app.stack.webhook.received):
            if body.get("kind") == kind and body.get("event_id") == event_id:
                assert ok, "the X-Signature did not check out"
                return body
        time.sleep(0.25)
    raise AssertionError(f"no {kind} notification for {event_id} within {seconds}s")


class TestApprovalEndToEnd:
    def test_buys_only_after_the_approval(self, app: App) -> None:
        """awaiting_approval and a signed approval_needed; approved: one seat, a purchase."""
        event = _event()
        event_id = event["event_id"]
        app.drop_event(event)
        _until(app, event_id, "awaiting_approval")
        asked = _notification(app, "approval_needed", event_id)
        assert asked["links"]["approve"].endswith(f"/licenses/{SPB}/approve")
        assert app.simulators.stellr.seat_change_count(CUSTOMER) == 0

        answer = app.http.post(f"/onboarding/{event_id}/licenses/{SPB}/approve",
                               headers={"X-Approver": "Alice (Northwind IT)"})
        assert answer.status_code == 200, answer.text
        status = app.wait_for_event(event_id, seconds=120)  # it looks every minute
        [licence] = status["licenses"]
        assert licence["state"] == "purchased_and_assigned", status
        assert any("approved by Alice (Northwind IT)" in (line["detail"] or "")
                   for line in licence["history"])
        assert app.simulators.stellr.subscription_quantity(CUSTOMER, SPB_ANNUAL) == 13
        assert app.simulators.stellr.seat_change_count(CUSTOMER) == 1
        bought = _notification(app, "purchase", event_id)
        assert bought["status"]["event_id"] == event_id
        again = app.http.post(f"/onboarding/{event_id}/licenses/{SPB}/approve")
        assert again.status_code == 409

    def test_buys_nothing_when_denied(self, app: App) -> None:
        """Denied: failed / denied, no seat change, a signed failure notification."""
        event = _event()
        event_id = event["event_id"]
        app.drop_event(event)
        _until(app, event_id, "awaiting_approval")
        answer = app.http.post(f"/onboarding/{event_id}/licenses/{SPB}/deny")
        assert answer.status_code == 200, answer.text
        status = app.wait_for_event(event_id, seconds=120)  # closed by the licence's look
        assert (status["licenses"][0]["state"], status["licenses"][0]["reason"]) == (
            "failed", "denied")
        assert app.simulators.stellr.seat_change_count(CUSTOMER) == 0
        failure = _notification(app, "failure", event_id)
        assert "denied" in failure["summary"]
