"""`POST /api/onboarding/{event_id}/retry`: an operator works an ended event's failed licences
again, once the cause is fixed (rule R10 of `shared.core.purchase`).

Each licence that ended `failed` leaves `done` through `Job.move`, like any step (ETag,
ticket, history line with its time, one message): back to the first step, or, when its seat
change landed, back to waiting for that seat (its hold and cap unit taken again); never to
buying a second seat. The event goes back to `in_progress` with its result unsent, so the
result is sent again when it ends again.

Crash-safe in this order: the event row first (in progress, result unsent, the retry's time:
the ETag also makes two retries at once one), then each licence, then the event is closed
should every licence have ended meanwhile. A retry that died half way is finished by the
next: an event `in_progress` whose licences have all ended may be retried.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime

from shared.adapters.ledger import event_status
from shared.core.purchase import retry_phase
from shared.errors import NotFound, StaleRecord
from shared.models import EventRecord, LicenseRecord, OnboardingStatus
from shared.use_cases.finish import finish_event
from shared.use_cases.job import Deps, Job, Next, wait_then

log = logging.getLogger(__name__)

# Retrying a bought licence takes its cap unit again whatever the cap is now: the seat was
# bought that day, and the count must say so.
_NO_CAP = sys.maxsize


class RetryConflict(Exception):
    """The event cannot be retried now (in progress, or nothing failed)."""


def retry_event(deps: Deps, event_id: str) -> OnboardingStatus:
    """Work the event's failed licences again; its status after. Raises NotFound,
    RetryConflict, Unavailable."""
    found = deps.ledger.find_event(event_id) if len(event_id) <= 128 else None
    if found is None:
        raise NotFound("onboarding event", event_id)
    record, etag = found
    rows = deps.ledger.list_licenses(event_id)
    busy = [(row, row_etag) for row, row_etag in rows if row.phase != "done"]
    if busy:
        _resend_restarts(deps, record, busy)
        raise RetryConflict(f"event {event_id!r} is in progress (licence {busy[0][0].sku_id} "
                            "has not ended); retry once it has")
    failed = [(row, row_etag) for row, row_etag in rows
              if retry_phase(row.state, row.purchased_at) is not None]
    if not failed:
        if record.status == "in_progress" or record.result == "sending":
            # A retry that died before the event was closed: a message of one of its
            # licences closes it (and sends its result), as any chain's last message does.
            row, _ = rows[0]
            Job(deps, record, None, row, "").send(wait_then(0.0))
        why = ("it was recorded as invalid (reason invalid_event); send a corrected message "
               "with the same event_id" if record.reason == "invalid_event"
               else "no licence of it ended failed")
        raise RetryConflict(f"event {event_id!r} has nothing to retry: {why}")
    now = deps.now().isoformat()
    reopened = record.model_copy(update={
        "status": "in_progress", "result": "none", "result_by": None, "updated_at": now,
        "retried_at": now, "retries": record.retries + 1, "last_error": None,
    })
    try:
        deps.ledger.update_event(reopened, etag)
    except StaleRecord:
        raise RetryConflict(f"event {event_id!r} changed while being retried (another retry?);"
                            " look at it again") from None
    log.info("onboarding event=%s org=%s retried by an operator: %d licence(s)", event_id,
             record.org_id, len(failed))
    org = deps.orgs.get_org(record.org_id or "")
    for row, row_etag in failed:
        try:
            restart(Job(deps, reopened, org, row, row_etag), now)
        except StaleRecord:
            log.info("onboarding event=%s sku=%s already restarted", event_id, row.sku_id)
    _reopen_if_closed(deps, event_id, now)
    finish_event(deps, event_id, by="retry")
    status = deps.ledger.find_status(event_id)
    return status if status is not None else event_status(reopened, [r for r, _ in rows])


def restart(job: Job, now: str) -> None:
    """R10: one failed licence back to work: waiting for the seat it bought, or the first
    step. Its deadlines count from `now`."""
    row = job.row
    phase = retry_phase(row.state, row.purchased_at)
    if phase is None:
        return
    if row.owed:
        job.pay_back()  # what the failure still owed goes back before the retry takes anew
    if phase == "bought":
        # No second purchase: the seat bought is held for this hire again, and counted.
        job.deps.ledger.reserve_purchase(job.org_id, job.cap_day(), job.key, _NO_CAP)
        job.hold_seat()
        job.move("bought", "retry", detail=f"retried by an operator after {row.reason}; "
                 f"waiting for the seat bought at {row.purchased_at} (no second purchase)",
                 retried_at=now, then=wait_then(0.0))
        return
    job.move("looking", "retry", detail=f"retried by an operator after {row.reason}",
             retried_at=now, purchasing_since=None, reserved_day=None,
             change_requested_at=None, operation_id=None, floor_before=None, sends=0,
             lease_holder=None, then=wait_then(0.0))


def _resend_restarts(deps: Deps, record: EventRecord,
                     busy: list[tuple[LicenseRecord, str]]) -> None:
    """A retry that died between restarting a licence and sending its message left it
    waiting for a message that never comes: this retry call sends it (R1: should the first
    have gone after all, the copy collapses into it)."""
    now = deps.now()
    for row, row_etag in busy:
        last = row.history[-1] if row.history else None
        due = row.next_at is not None and datetime.fromisoformat(row.next_at) <= now
        if last is not None and last.step == "retry" and due and row.next_queue:
            log.info("onboarding event=%s sku=%s restart message sent again",
                     record.event_id, row.sku_id)
            Job(deps, record, None, row, row_etag).send(Next(row.next_queue))


def _reopen_if_closed(deps: Deps, event_id: str, now: str) -> None:
    """A message of a licence that had ended may have closed the event between its reopening
    and the licences' restart; while a licence is at work again, it is in progress."""
    found = deps.ledger.find_event(event_id)
    if found is None or found[0].status == "in_progress":
        return
    if all(row.phase == "done" for row, _ in deps.ledger.list_licenses(event_id)):
        return
    record: EventRecord = found[0]
    try:
        deps.ledger.update_event(record.model_copy(update={
            "status": "in_progress", "result": "none", "result_by": None, "updated_at": now,
        }), found[1])
    except StaleRecord:
        log.info("onboarding event=%s changed while reopening; its licences close it",
                 event_id)
