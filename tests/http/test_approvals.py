"""POST /api/onboarding/{event_id}/licenses/{sku_id}/approve and /deny (contract section 6)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

import function_app
from shared.bootstrap import Container
from shared.models import EventRecord, LicenseRecord
from tests.http.conftest import Answer, Api

SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"


def _waiting(app: Container, *, hours: float = 24, asked_ago: timedelta = timedelta(0),
             phase: str = "approving") -> str:
    """An event whose one licence awaits approval (asked `asked_ago`)."""
    event_id = f"hire-2026-{uuid.uuid4().hex[:8]}"
    asked = (datetime.now(UTC) - asked_ago).isoformat()
    record = EventRecord(event_id=event_id, org_id="contoso", user="new.hire@contoso.com",
                         sku_ids=[SPB], created_at=asked, updated_at=asked)
    state = "awaiting_approval" if phase == "approving" else "purchasing"
    row = LicenseRecord(sku_id=SPB, synnex_subscription_id="411833_1", state=state,
                        phase=phase, phase_since=asked, purchasing_since=asked,
                        approval_hours=hours, ticket=1)  # type: ignore[arg-type]
    assert app.ledger.create_event(record, [row])
    return event_id


def _answer(api: Api, verb: str, event_id: str, sku_id: str = SPB,
            approver: str | None = None) -> Answer:
    function = function_app.approve_license if verb == "approve" else function_app.deny_license
    headers = {"content-type": "application/json"}
    if approver is not None:
        headers["X-Approver"] = approver
    request = func.HttpRequest(
        "POST", f"http://localhost:7071/api/onboarding/{event_id}/licenses/{sku_id}/{verb}",
        headers=headers, params={}, route_params={"event_id": event_id, "sku_id": sku_id},
        body=b"")
    response: func.HttpResponse = function.build().get_user_function()(request)
    return Answer(status=response.status_code, mimetype=response.mimetype,
                  headers=dict(response.headers), text=response.get_body().decode())


class TestApprove:
    def test_answers_200_with_the_status_and_records_the_approver(
        self, api: Api, app: Container
    ) -> None:
        """200, the licence purchasing again, "approved by <X-Approver>" in its history."""
        event_id = _waiting(app)
        answer = _answer(api, "approve", event_id, approver="Alice Smith")
        assert answer.status == 200
        [licence] = answer.json["licenses"]
        assert licence["state"] == "purchasing"
        assert "approved by Alice Smith" in licence["history"][-1]["detail"]
        assert licence["history"][-1]["at"]

    def test_names_the_function_key_without_a_header(self, api: Api, app: Container) -> None:
        """No X-Approver: the history says "function key"."""
        answer = _answer(api, "approve", _waiting(app))
        assert "approved by function key" in answer.json["licenses"][0]["history"][-1]["detail"]

    def test_answers_409_the_second_time(self, api: Api, app: Container) -> None:
        """Approved already: 409 problem."""
        event_id = _waiting(app)
        assert _answer(api, "approve", event_id).status == 200
        assert _answer(api, "approve", event_id).is_problem(409)
        assert _answer(api, "deny", event_id).is_problem(409)

    def test_answers_409_for_a_licence_not_awaiting_approval(
        self, api: Api, app: Container
    ) -> None:
        """A licence in another state: 409."""
        answer = _answer(api, "approve", _waiting(app, phase="deciding"))
        assert answer.is_problem(409)
        assert "not awaiting_approval" in answer.detail

    def test_answers_409_and_ends_expired_past_the_deadline(
        self, api: Api, app: Container
    ) -> None:
        """Asked 2 h ago with 1.5 h to answer: 409; the licence is failed / approval_expired."""
        event_id = _waiting(app, hours=1.5, asked_ago=timedelta(hours=2))
        assert _answer(api, "approve", event_id).is_problem(409)
        [licence] = api.onboarding(event_id).json["licenses"]
        assert (licence["state"], licence["reason"]) == ("failed", "approval_expired")

    @pytest.mark.parametrize("verb", ["approve", "deny"])
    def test_answers_404_for_an_unknown_event_or_sku(self, api: Api, app: Container,
                                                     verb: str) -> None:
        """Unknown event, or a SKU the event does not have: 404."""
        assert _answer(api, verb, f"hire-2026-{uuid.uuid4().hex[:8]}").is_problem(404)
        other = "6fd2c87f-b296-42f0-b197-1e91e994b900"
        assert _answer(api, verb, _waiting(app), sku_id=other).is_problem(404)


class TestDeny:
    def test_answers_200_with_the_licence_failed_denied(self, api: Api, app: Container) -> None:
        """200; failed / denied, "denied by <name>" (the licence's own message closes the
        event within a minute)."""
        event_id = _waiting(app)
        answer = _answer(api, "deny", event_id, approver="bob@northwind.test")
        assert answer.status == 200
        [licence] = answer.json["licenses"]
        assert (licence["state"], licence["reason"]) == ("failed", "denied")
        assert "denied by bob@northwind.test" in licence["detail"]
        assert _answer(api, "approve", event_id).is_problem(409)
