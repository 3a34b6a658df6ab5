"""Sending to the app's queues, now or after a delay (the message's visibility timeout)."""

from __future__ import annotations

import contextlib
import json
import threading
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceExistsError

from shared.adapters.storage import storage_errors

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient, QueueServiceClient

# A queue message stays at most 7 days invisible.
MAX_DELAY_SECONDS = 7 * 24 * 3600


class QueueSender:
    """Plain-text JSON messages (host.json sets messageEncoding to none); queues are made on
    first use."""

    def __init__(self, service: QueueServiceClient) -> None:
        self._service = service
        self._ready: dict[str, QueueClient] = {}
        self._lock = threading.Lock()

    def _queue(self, name: str) -> QueueClient:
        with self._lock:
            client = self._ready.get(name)
            if client is None:
                client = self._service.get_queue_client(name)
                with storage_errors(f"create queue {name}"), contextlib.suppress(
                    ResourceExistsError
                ):
                    client.create_queue()
                self._ready[name] = client
            return client

    def send(self, queue: str, body: dict[str, Any], *, delay_seconds: float = 0) -> None:
        """Put `body` on `queue`, visible after `delay_seconds`; raises Unavailable."""
        delay = int(min(max(delay_seconds, 0), MAX_DELAY_SECONDS))
        with storage_errors(f"send to {queue}"):
            self._queue(queue).send_message(
                json.dumps(body), visibility_timeout=delay or None
            )
