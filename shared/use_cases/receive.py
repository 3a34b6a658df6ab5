"""`onboarding-events`: record the event, then take each licence its first step.

The first step (phases `received`, and `looking` when taken again later): the user already has
the licence; or a free seat that no other hire is waiting for is assigned; or, when buying is
allowed, the licence goes to `deciding` and the purchase queue.
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared.core import variables as org_vars
from shared.core.workflow import InvalidEvent, OnboardingEvent
from shared.errors import Transient, UpstreamError, UpstreamNotFound
from shared.models import EventRecord, GraphUser, LicenseRecord
from shared.use_cases.job import Deps, Job, purchase_now, wait_then
from shared.use_cases.orgs import effective_variables
from shared.use_cases.seats import NoUsageLocation, has_or_takes_seat

log = logging.getLogger(__name__)

# A seat guard held by another hire is usually free again within seconds.
BUSY_DELAY_SECONDS = 5.0


def record_invalid(deps: Deps, exc: InvalidEvent, message_id: str) -> str:
    """Record an invalid message as a failed event (never retried, nothing bought); its id."""
    event_id = exc.event_id or f"invalid-{message_id or deps.now().timestamp()}"
    now = deps.now().isoformat()
    record = EventRecord(
        event_id=event_id, status="failed", reason="invalid_event", field=exc.field,
        detail=exc.detail, created_at=now, updated_at=now,
    )
    log.warning("onboarding event=%s state=failed reason=invalid_event field=%s detail=%s",
                event_id, exc.field, exc.detail)
    # An event id already in the ledger keeps its record: a malformed copy of a good event
    # must not overwrite it.
    deps.ledger.create_event(record, [])
    return event_id


def new_records(event: OnboardingEvent, now: str) -> tuple[EventRecord, list[LicenseRecord]]:
    """The ledger rows of an event on first sight."""
    record = EventRecord(
        event_id=event.event_id, org_id=event.org_id, user=event.user,
        usage_location=event.usage_location, request=event.request_key(),
        sku_ids=[item.sku_id for item in event.licenses], created_at=now, updated_at=now,
    )
    licenses = [
        LicenseRecord(sku_id=item.sku_id, synnex_subscription_id=item.synnex_subscription_id,
                      phase_since=now)
        for item in event.licenses
    ]
    return record, licenses


Opened = tuple[EventRecord, str, list[tuple[LicenseRecord, str]], bool]


def open_event(deps: Deps, event: OnboardingEvent) -> Opened | None:
    """The event's record, ETag and licence rows, created on first sight (then True);
    None when this delivery has nothing to do (a reused id, or a replaced invalid copy)."""
    record, licenses = new_records(event, deps.now().isoformat())
    # Indexed by the caller once it knows whether the event ended at once (whose close
    # indexes it): a free-seat hire costs one index write, not two.
    created = deps.ledger.create_event(record, licenses, index=False)
    if created is not None:
        log.info("onboarding event=%s org=%s state=received licenses=%d",
                 event.event_id, event.org_id, len(licenses))
        return record, created[0], created[1], True
    found = deps.ledger.find_event(event.event_id)
    if found is None:
        return None
    existing, etag = found
    if existing.reason == "invalid_event" and not existing.sku_ids:
        # The platform corrected a message it got wrong and sent it again under the same id.
        if not deps.ledger.replace_invalid_event(record, licenses, etag):
            return None  # another delivery replaced it first and carries on
        log.info("onboarding event=%s org=%s state=received licenses=%d (replaces an invalid "
                 "copy)", event.event_id, event.org_id, len(licenses))
        return open_event(deps, event)
    if existing.request != record.request:
        log.warning("onboarding event=%s reused with a different body; the first one stands",
                    event.event_id)
        return None
    return existing, etag, deps.ledger.list_licenses(event.event_id), False


def first_step(job: Job, user: GraphUser | None = None) -> None:
    """Phases `received` and `looking`: already assigned, a free seat, or buy."""
    deps, row = job.deps, job.row
    times = deps.policy.times
    if job.fails_on_org():
        return
    try:
        taken = has_or_takes_seat(job, user)
    except UpstreamNotFound:
        # R10: a retried licence looks for its user as long again from the retry.
        looking_since = row.retried_at or job.event.created_at
        if deps.now() - datetime.fromisoformat(looking_since) >= times.user_lookup:
            job.fail("user_not_found", "find user",
                     f"user {job.event.user!r} not found in the tenant")
        else:
            _look_later(job, "find user", "user not found yet (directory replication)",
                        deps.backoff(row.looks, initial=min(deps.policy.initial_seconds, 15.0)))
        return
    except Transient as exc:
        if job.age_in_phase() >= times.lookup:
            job.fail("graph_error", "assign", f"Graph unavailable until the deadline: {exc}")
        else:
            _look_later(job, "assign", None, exc.retry_after or deps.backoff(row.looks))
        return
    except (UpstreamError, NoUsageLocation) as exc:
        job.fail("graph_error", "assign", str(exc))
        return
    if taken == "has_it":
        job.move("done", "check user", state="already_assigned")
    elif taken == "taken":
        job.move("done", "assign", state="assigned")
    elif taken == "busy":
        _look_later(job, "assign", None, BUSY_DELAY_SECONDS * (1 + deps.jitter()))
    elif taken == "held":
        job.move("held", "wait for held seats",
                 detail="the free seats are held for hires who bought them; looking again",
                 then=wait_then(deps.backoff(0)))
    else:
        decide_to_buy(job)


def decide_to_buy(job: Job) -> None:
    """No seat is free: hand the licence to the purchase queue when buying is allowed."""
    assert job.org is not None
    if not org_vars.choice_enabled(effective_variables(job.deps.orgs, job.org)):
        job.fail("choice_disabled", "decide",
                 "no free seat, and licencing_choose_subscription is not 1")
    elif not job.row.synnex_subscription_id:
        job.fail("no_subscription_chosen", "decide",
                 "no free seat, and the event names no synnex_subscription_id")
    else:
        # A hire back from waiting for held seats keeps its first purchasing time (R5).
        since = job.row.purchasing_since or job.deps.now().isoformat()
        job.move("deciding", "decide", detail="no free seat; buying one through the chosen "
                 "subscription", purchasing_since=since, then=purchase_now())


def _look_later(job: Job, step: str, detail: str | None, delay: float) -> None:
    if job.row.phase == "looking":
        job.look_again(delay, step)
    else:
        job.move("looking", step, detail=detail, then=wait_then(delay))
