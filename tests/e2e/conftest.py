"""The whole app over real sockets: Azurite, the HTTPS simulators and the functions.

Each test module gets its own stack (devtools/stack.py): Azurite in memory on free ports, the
Stellr/Entra/Graph simulators on free ports with a private CA, and the functions served by the
local runner in this process (HTTP on a free port, queue triggers polling Azurite as host.json
says), seeded with the MSP `northwind` over the customer `contoso`. A module's writes stay in
its own Azurite; the app settings the stack puts in the environment are restored afterwards.
Azurite that cannot start fails the module; it is never skipped.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient, QueueServiceClient

from devtools.simulators.server import Simulators
from devtools.stack import Stack, run_stack
from shared import names

# Waits in seconds rather than the production minutes, so that a bought seat is found within
# a few looks; the simulators provision a seat 1 + 2 seconds after `changeSeats`.
E2E_SETTINGS = {
    "LICENSE_WAIT_INITIAL_SECONDS": "1",
    "LICENSE_WAIT_MAX_SECONDS": "3",
    "LICENSE_WAIT_DEADLINE_HOURS": "1",
    "USER_LOOKUP_DEADLINE_SECONDS": "10",
}
SEAT_CHANGE_DELAY = 1.0
PROVISIONING_DELAY = 2.0

# Long enough for a purchase (poll, buy, provision, a few looks), short enough to fail fast.
EVENT_DEADLINE_SECONDS = 60.0


@dataclass
class App:
    """The running stack as a caller sees it: the HTTP API, the queues, the simulators."""

    stack: Stack
    http: httpx.Client
    queues: QueueServiceClient

    @property
    def simulators(self) -> Simulators:
        return self.stack.simulators

    @property
    def root_url(self) -> str:
        """Scheme, host and port of the functions (the API is under `/api`)."""
        return self.stack.api.removesuffix("/api")

    def queue(self, name: str) -> QueueClient:
        return self.queues.get_queue_client(name)

    def drop_event(self, event: dict[str, Any] | str, *, encode_base64: bool = False) -> str:
        """Put one message on `onboarding-events` as the MSP's platform does; its message id."""
        text = event if isinstance(event, str) else json.dumps(event)
        if encode_base64:
            text = base64.b64encode(text.encode()).decode()
        return str(self.queue(names.ONBOARDING_EVENTS_QUEUE).send_message(text).id)

    def wait_for_event(
        self, event_id: str, *, seconds: float = EVENT_DEADLINE_SECONDS
    ) -> dict[str, Any]:
        """`GET /api/onboarding/{event_id}` once the event has reached an end."""
        deadline = time.monotonic() + seconds
        last: httpx.Response | None = None
        while time.monotonic() < deadline:
            last = self.http.get(f"/onboarding/{event_id}")
            if last.status_code == 200 and last.json()["status"] != "in_progress":
                body: dict[str, Any] = last.json()
                return body
            assert last.status_code in (200, 404), last.text
            time.sleep(0.25)
        detail = f"{last.status_code} {last.text}" if last is not None else "no answer"
        raise AssertionError(f"event {event_id} did not end within {seconds}s: {detail}")

    def results_for(self, event_id: str, *, at_least: int = 1, seconds: float = 10.0) -> list[Any]:
        """The bodies on `onboarding-results` for `event_id`, once `at_least` are there."""
        deadline = time.monotonic() + seconds
        while True:
            found = [
                body
                for message in self.queue(names.ONBOARDING_RESULTS_QUEUE).peek_messages(
                    max_messages=32
                )
                if (body := json.loads(message.content)).get("event_id") == event_id
            ]
            if len(found) >= at_least or time.monotonic() > deadline:
                return found
            time.sleep(0.25)

    def clear_table(self, name: str) -> None:
        """Delete every row of one of the app's tables (when it exists)."""
        table = TableServiceClient.from_connection_string(self.stack.storage).get_table_client(name)
        with contextlib.suppress(ResourceNotFoundError):
            for entity in list(table.list_entities()):
                table.delete_entity(entity["PartitionKey"], entity["RowKey"])

    def wait_until_idle(self, seconds: float = 30.0) -> None:
        """Until no triggered queue holds a message (visible, delayed or running)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            counts = {
                name: self.queue(name).get_queue_properties().approximate_message_count
                for name in names.TRIGGERED_QUEUES
            }
            if not any(counts.values()):
                return
            time.sleep(0.25)
        raise AssertionError(f"the app is still busy after {seconds}s: {counts}")


@pytest.fixture(scope="session")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One private CA for the session's simulators."""
    return tmp_path_factory.mktemp("pki")


@pytest.fixture(scope="module")
def app(pki_dir: Path) -> Iterator[App]:
    """A fresh stack for the module: Azurite, simulators and functions, seeded."""
    with (
        run_stack(
            port=0,
            sim_port=None,
            in_memory=True,
            provisioning_delay=PROVISIONING_DELAY,
            seat_change_delay=SEAT_CHANGE_DELAY,
            settings=E2E_SETTINGS,
            host="runner",
            free_storage_ports=True,
            pki_dir=pki_dir,
        ) as stack,
        httpx.Client(base_url=stack.api, timeout=30) as http,
    ):
        queues = QueueServiceClient.from_connection_string(stack.storage)
        # The runner makes its queues when it first polls them; a test may send before that.
        for name in (names.ONBOARDING_EVENTS_QUEUE, names.ONBOARDING_RESULTS_QUEUE):
            with contextlib.suppress(ResourceExistsError):
                queues.get_queue_client(name).create_queue()
        yield App(stack=stack, http=http, queues=queues)
        queues.close()
