"""The queue trigger as the host calls it: real container on Azurite, then the HTTP status.

Also the poison path: a handler that keeps failing raises on every delivery (so the host moves
the message to `-poison` after maxDequeueCount), and the ledger says why.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueClient

import function_app
from shared import names
from shared.bootstrap import container, reset_container
from shared.errors import Unavailable
from shared.models import Org
from tests.azurite import Azurite
from tests.workflow.conftest import HOST_MAX_DEQUEUE_COUNT, World
from tests.workflow.world import CUSTOMER_NO, E3, TENANT, Sku

process_onboarding_event = function_app.process_onboarding_event.build().get_user_function()
get_onboarding = function_app.get_onboarding.build().get_user_function()


@pytest.fixture
def app_on_azurite(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The function app's own container, on the session's Azurite, with no Graph settings."""
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    for name in ("KEY_VAULT_URI", "WEBSITE_INSTANCE_ID", "GRAPH_CLIENT_ID",
                 "GRAPH_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    reset_container()
    yield
    reset_container()


def _status(event_id: str) -> tuple[int, dict[str, Any]]:
    response = get_onboarding(func.HttpRequest(
        "GET", f"/api/onboarding/{event_id}", route_params={"event_id": event_id}, body=b""))
    return response.status_code, json.loads(response.get_body())


def _results_for(azurite: Azurite, event_id: str) -> list[dict[str, Any]]:
    queue = QueueClient.from_connection_string(azurite.connection_string,
                                               names.ONBOARDING_RESULTS_QUEUE)
    bodies = [json.loads(m.content) for m in queue.peek_messages(max_messages=32)]
    return [b for b in bodies if b.get("event_id") == event_id]


class TestOnboardingEventTrigger:
    @pytest.mark.parametrize("encoding", ["plain", "base64"])
    def test_an_invalid_event_is_recorded_and_readable_over_http(
        self, app_on_azurite: None, azurite: Azurite, encoding: str
    ) -> None:
        """A body without `user` is recorded as invalid_event (field user), answered by GET."""
        event_id = f"hire-{encoding}-{uuid.uuid4().hex[:8]}"
        text = json.dumps({"event_id": event_id, "org_id": "contoso",
                           "licenses": [{"sku_id": E3}]})
        body = base64.b64encode(text.encode()).decode() if encoding == "base64" else text

        process_onboarding_event(QueueMessage(id=f"msg-{event_id}", body=body,
                                              dequeue_count=1))

        status, answer = _status(event_id)
        assert status == 200
        assert (answer["status"], answer["reason"], answer["field"]) == (
            "failed", "invalid_event", "user")
        [result] = _results_for(azurite, event_id)
        assert result == answer

    def test_an_unknown_event_is_a_404_problem(self, app_on_azurite: None) -> None:
        """GET of an event nobody sent: 404 problem+json."""
        status, answer = _status(f"hire-{uuid.uuid4().hex[:8]}")
        assert status == 404
        assert answer["status"] == 404

    def test_a_handler_that_keeps_failing_raises_every_time_and_notes_why(
        self, app_on_azurite: None
    ) -> None:
        """No Graph settings: each delivery raises (so the host poisons it), the ledger says why."""
        org_id = f"contoso-{uuid.uuid4().hex[:8]}"
        container().orgs.put_org(Org(org_id=org_id, name="Contoso Ltd", m365_tenant_id=TENANT,
                                     synnex_customer_no=CUSTOMER_NO))
        event_id = f"hire-{uuid.uuid4().hex[:8]}"
        body = json.dumps({"event_id": event_id, "org_id": org_id,
                           "user": "new.hire@contoso.com", "licenses": [{"sku_id": E3}]})

        for dequeue_count in range(1, HOST_MAX_DEQUEUE_COUNT + 1):
            with pytest.raises(Exception, match="GRAPH_CLIENT_ID"):
                process_onboarding_event(QueueMessage(id="msg-1", body=body,
                                                      dequeue_count=dequeue_count))

        found = container().ledger.find_event(event_id)
        assert found is not None
        assert found[0].status == "in_progress"
        assert "GRAPH_CLIENT_ID" in (found[0].last_error or "")
        status, answer = _status(event_id)
        assert (status, answer["status"]) == (200, "in_progress")


class TestPoisonedMessages:
    def test_a_storage_outage_on_every_send_ends_in_poison_with_the_error_noted(
        self, world: World
    ) -> None:
        """Results cannot be sent: five deliveries raise, the message is poisoned, noted."""
        world.graph.skus[E3] = Sku(enabled=25, consumed=22)

        def storage_down(queue: str) -> None:
            raise Unavailable("storage", f"send to {queue}: storage answered 503",
                              status_code=503)

        world.queues.faults.append(storage_down)
        world.queues.put_event(world.event(licenses=[{"sku_id": E3}]))

        world.run()

        [poisoned] = world.poisoned
        assert poisoned.dequeue_count == HOST_MAX_DEQUEUE_COUNT
        assert len(world.errors) == HOST_MAX_DEQUEUE_COUNT
        found = world.ledger.find_event("hire-2026-000123")
        assert found is not None
        assert "Unavailable" in (found[0].last_error or "")
        # The result's send, then (its claim too young to take over) the event's own re-send.
        assert "send to onboarding-" in (found[0].last_error or "")
        assert world.state("hire-2026-000123", E3) == "assigned"
        assert world.graph.skus[E3].consumed == 23
