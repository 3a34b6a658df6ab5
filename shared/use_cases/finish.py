"""Closing an event: when every licence is done, its result goes on `onboarding-results` once.

"Once" per final state: the handler that claims the result (ETag-guarded) is the one that
sends it, and a claim is taken over only once it is older than a handler can run; a crash
between sending and recording it as sent sends it again, so consumers treat results as
at-least-once and keep the latest per `event_id`.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime

from shared import names
from shared.adapters.ledger import event_status
from shared.core.purchase import RESULT_CLAIM_SECONDS
from shared.core.workflow import event_outcome
from shared.errors import StaleRecord, Transient
from shared.models import EventRecord, LicenseRecord, OnboardingStatus
from shared.use_cases.job import Deps

log = logging.getLogger(__name__)


def finish_event(
    deps: Deps, event_id: str, *, by: str,
    known: tuple[EventRecord, str, list[LicenseRecord]] | None = None,
) -> float | None:
    """When every licence is done or failed: close the event and send its result once.

    `by` names the handler's part of the event ("event", "retry", or the sku_id of a
    licence's chain): the handler that claims the result (ETag-guarded, with the time) is the
    one that sends it. A claim younger than a handler can run may be being sent right now:
    then the answer is how many seconds to wait before calling this again (the caller puts
    its message back for that long), so that a claimer that died is taken over, once, and a
    live one is not doubled. None otherwise. `known`: the event and every licence row as
    this handler just wrote them, to finish without reading them back; should the event row
    have changed meanwhile, the ledger is read instead.
    """
    if known is not None and _finish_known(deps, *known, by=by):
        return None
    while True:
        found = deps.ledger.find_event(event_id)
        if found is None:
            return None
        record, etag = found
        if record.result == "sent":
            return None
        if record.result == "sending":
            claimed = datetime.fromisoformat(record.result_claimed_at or record.updated_at)
            age = (deps.now() - claimed).total_seconds()
            if age < RESULT_CLAIM_SECONDS:
                return RESULT_CLAIM_SECONDS - age + 1.0
        if record.status == "in_progress":
            outcome = event_outcome([row.state for row, _ in deps.ledger.list_licenses(event_id)])
            if outcome == "in_progress":
                return None
            record = record.model_copy(update={"status": outcome,
                                               "updated_at": deps.now().isoformat()})
        try:
            etag = deps.ledger.update_event(record.model_copy(update={
                "result": "sending", "result_by": by,
                "result_claimed_at": deps.now().isoformat()}), etag)
        except StaleRecord:
            continue
        status = deps.ledger.find_status(event_id)
        assert status is not None
        _send_result(deps, record, etag, status)
        return None


def _finish_known(
    deps: Deps, record: EventRecord, etag: str, rows: list[LicenseRecord], *, by: str
) -> bool:
    """`finish_event` from rows this handler wrote itself; False to read the ledger."""
    outcome = event_outcome([row.state for row in rows])
    if outcome == "in_progress":
        return True  # a licence still open finishes the event when it is done
    record = record.model_copy(update={"status": outcome, "updated_at": deps.now().isoformat()})
    try:
        etag = deps.ledger.update_event(record.model_copy(update={
            "result": "sending", "result_by": by,
            "result_claimed_at": deps.now().isoformat()}), etag)
    except StaleRecord:
        return False
    _send_result(deps, record, etag, event_status(record, rows))
    return True


def _send_result(deps: Deps, record: EventRecord, etag: str, status: OnboardingStatus) -> None:
    """Send the event's result (marked as sending under `etag`), then mark it as sent."""
    deps.sender.send(names.ONBOARDING_RESULTS_QUEUE, status.model_dump(mode="json"))
    # Sent: recording it is bookkeeping, and storage trouble now must not make the host
    # deliver this message again (which would send the result a second time).
    with contextlib.suppress(StaleRecord, Transient):
        deps.ledger.update_event(record.model_copy(update={"result": "sent"}), etag,
                                 reindex=False)
    log.info("onboarding event=%s org=%s state=%s result sent",
             record.event_id, record.org_id, record.status)
