"""Drop an onboarding event on the `onboarding-events` queue, as the MSP's platform would.

    python -m devtools.enqueue '{"event_id": "hire-1", ...}'     # the JSON body itself
    python -m devtools.enqueue event.json --base64                # a file, base64-encoded

The storage account is AzureWebJobsStorage when set, else the local Azurite
(UseDevelopmentStorage=true), which is what `scripts/run-local` starts.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
from pathlib import Path

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient

from shared.names import ONBOARDING_EVENTS_QUEUE


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Put an onboarding event on the queue.")
    parser.add_argument("event", help="the event as JSON text, or a path to a JSON file")
    parser.add_argument("--base64", action="store_true", help="send it base64-encoded")
    args = parser.parse_args(argv)

    path = Path(args.event)
    text = path.read_text() if not args.event.lstrip().startswith("{") and path.exists() \
        else args.event
    if args.base64:
        text = base64.b64encode(text.encode()).decode()
    connection = os.environ.get("AzureWebJobsStorage") or "UseDevelopmentStorage=true"
    queue = QueueClient.from_connection_string(connection, ONBOARDING_EVENTS_QUEUE)
    with contextlib.suppress(ResourceExistsError):
        queue.create_queue()
    sent = queue.send_message(text)
    print(f"queued message {sent.id} on {ONBOARDING_EVENTS_QUEUE}")


if __name__ == "__main__":
    main()
