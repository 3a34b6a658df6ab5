"""`POST /api/onboarding`: the queue message's body over HTTP, for platforms that cannot put a
message on a Storage Queue. Validated by the queue's own parser; idempotent on `event_id`.

The message goes on `onboarding-events` first and the ledger row is written after: should the
write fail, the message still creates it when handled, and the caller's retry finds it. The
queue stays the one way into the workflow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared import names
from shared.adapters.ledger import event_status
from shared.core.workflow import InvalidEvent, parse_event
from shared.errors import InvalidInput
from shared.models import OnboardingStatus
from shared.use_cases.ports import Ledger, Sender
from shared.use_cases.receive import new_records

log = logging.getLogger(__name__)


class EventConflict(Exception):
    """Another body was already received under this event_id."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event_id {event_id!r} was already used for another onboarding")
        self.event_id = event_id


@dataclass(frozen=True)
class Submitted:
    status: OnboardingStatus
    created: bool


def submit_event(*, ledger: Ledger, sender: Sender, body: bytes, now: str) -> Submitted:
    """Accept one onboarding event. Raises InvalidInput (the field at fault), EventConflict,
    Unavailable."""
    try:
        event = parse_event(body)
    except InvalidEvent as exc:
        raise InvalidInput(exc.field, exc.detail,
                           status=400 if exc.field == "body" else 422) from None
    record, licenses = new_records(event, now)
    found = ledger.find_event(event.event_id)
    if found is not None and not (found[0].reason == "invalid_event" and not found[0].sku_ids):
        if found[0].request != record.request:
            raise EventConflict(event.event_id)
        status = ledger.find_status(event.event_id)
        assert status is not None
        return Submitted(status, created=False)
    sender.send(names.ONBOARDING_EVENTS_QUEUE, event.model_dump(mode="json", exclude={"attempt"}))
    if found is None:
        ledger.create_event(record, licenses)  # None: the queue's handler was first
    log.info("onboarding event=%s org=%s received over HTTP", event.event_id, event.org_id)
    status = ledger.find_status(event.event_id)
    if status is None or status.reason == "invalid_event":
        # An invalid copy stays until the handler replaces it: answer what was accepted.
        status = event_status(record, licenses)
    return Submitted(status, created=True)
