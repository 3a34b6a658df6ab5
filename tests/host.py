"""The host's queue settings, read from host.json, for tests that deliver messages like it."""

from __future__ import annotations

import json
from pathlib import Path

_QUEUES = json.loads((Path(__file__).resolve().parent.parent / "host.json").read_text())[
    "extensions"]["queues"]


def _seconds(span: str) -> float:
    hours, minutes, seconds = (float(part) for part in span.split(":"))
    return hours * 3600 + minutes * 60 + seconds


# A message whose function raised is visible again after this long...
VISIBILITY_SECONDS = _seconds(_QUEUES["visibilityTimeout"])
# ...and moves to `<queue>-poison` after this many deliveries.
MAX_DEQUEUE_COUNT = int(_QUEUES["maxDequeueCount"])
