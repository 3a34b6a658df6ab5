"""HTTP: `POST /api/onboarding`, the queue message's body over HTTP (contract section 6)."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import function_app
from shared import names
from shared.bootstrap import Container
from tests.http.conftest import Answer, Api

SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"


def _event(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": f"hire-2026-{uuid.uuid4().hex[:10]}", "org_id": "contoso",
        "user": "new.hire@contoso.com", "usage_location": "US",
        "licenses": [{"sku_id": SPB, "synnex_subscription_id": "411833_1"}],
    }
    body.update(overrides)
    return body


def _post(api: Api, body: dict[str, Any] | bytes) -> Answer:
    return api.call(function_app.post_onboarding, "POST", "onboarding", {}, body)


def _queued(app: Container, event_id: str) -> list[dict[str, Any]]:
    """The messages on onboarding-events for this event (peeked, left in place)."""
    queue = app.queue_service.get_queue_client(names.ONBOARDING_EVENTS_QUEUE)
    found = [json.loads(m.content) for m in queue.peek_messages(max_messages=32)]
    return [m for m in found if m.get("event_id") == event_id]


class TestPostOnboarding:
    def test_accepts_an_event_with_202_location_and_its_status(
        self, api: Api, app: Container
    ) -> None:
        """202, Location of the status route, the status body, and the message queued."""
        body = _event()
        answer = _post(api, body)
        assert answer.status == 202, answer.text
        assert answer.headers["Location"] == f"/api/onboarding/{body['event_id']}"
        status = answer.json
        assert status["event_id"] == body["event_id"]
        assert status["status"] == "in_progress"
        assert [item["state"] for item in status["licenses"]] == ["pending"]
        [queued] = _queued(app, body["event_id"])
        assert queued["licenses"] == body["licenses"]
        assert api.onboarding(body["event_id"]).status == 200

    def test_the_same_body_again_answers_200_and_queues_nothing_more(
        self, api: Api, app: Container
    ) -> None:
        """Idempotent on event_id: a repeat gets the status, not a second message."""
        body = _event()
        assert _post(api, body).status == 202
        again = _post(api, body)
        assert again.status == 200
        assert again.json["event_id"] == body["event_id"]
        assert len(_queued(app, body["event_id"])) == 1

    def test_another_body_under_a_used_id_is_a_409(self, api: Api, app: Container) -> None:
        """A different hire under a used event_id: 409 naming event_id, nothing queued."""
        body = _event()
        assert _post(api, body).status == 202
        other = _post(api, {**body, "user": "someone.else@contoso.com"})
        assert other.is_problem(409)
        assert other.json["field"] == "event_id"
        assert len(_queued(app, body["event_id"])) == 1

    def test_an_invalid_event_names_the_field_and_stores_nothing(
        self, api: Api, app: Container
    ) -> None:
        """The queue's own validator: 422 naming the field; no record, no message."""
        body = _event(licenses=[{"sku_id": "not-a-guid"}])
        answer = _post(api, body)
        assert answer.is_problem(422)
        assert "licenses.0.sku_id" in answer.detail
        assert api.onboarding(body["event_id"]).status == 404
        assert _queued(app, body["event_id"]) == []

    def test_a_body_that_is_not_json_is_a_400(self, api: Api) -> None:
        """Neither JSON nor base64 of it: 400 naming the body."""
        answer = _post(api, b"event_id=hire-1")
        assert answer.is_problem(400)
        assert "body" in answer.detail

    def test_base64_of_the_event_is_accepted_like_on_the_queue(
        self, api: Api, app: Container
    ) -> None:
        """The queue accepts base64 of the JSON, so does the route."""
        body = _event()
        answer = _post(api, base64.b64encode(json.dumps(body).encode()))
        assert answer.status == 202, answer.text
        assert answer.json["event_id"] == body["event_id"]
