"""Approvals (rule R9): where `licencing_approval_required` is 1, a purchase waits for a person.

- `waits` (the hook in `purchase.decide`, after every check passed, before the cap unit and
  the intent): ask, and park the licence in `approving` (lease, seat and cap given back);
- `look` (the licence's own message while it waits): expire it after the org's
  `licencing_approval_hours` (`approval_expired`), or look again later;
- `approve` / `deny` (the routes): back to `deciding`, where every check runs again before
  the seat change (a seat may have been freed), or `failed` / `denied`.

Each is a `Job.move`, ETag-guarded. The routes only write; the licence's own message, which
looks at it every LOOK_SECONDS while it waits, acts on the answer (R1: the chain stays one), so
an approval that arrives twice, races the expiry, or meets a crash acts at most once and is
never lost.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import timedelta

from shared.core import variables as org_vars
from shared.core.purchase import expired
from shared.errors import AppError, NotFound, StaleRecord
from shared.models import EffectiveVariable, OnboardingStatus
from shared.use_cases import caps
from shared.use_cases.finish import finish_event
from shared.use_cases.job import Deps, Job, purchase_now, wait_then

log = logging.getLogger(__name__)

# How often a licence waiting for approval looks at itself. The routes only write the answer
# (R1: a route is no message of the licence's chain, so it neither starts nor sends one); the
# licence's own message finds it within this long and goes on: buys, or ends.
LOOK_SECONDS = 60.0
# Who approved when the form names nobody (header APPROVER_HEADER).
APPROVER_HEADER = "X-Approver"
DEFAULT_APPROVER = "function key"
MAX_APPROVER_CHARS = 128
# An answer that finds the licence's row changed under it reads it again this many times.
STALE_TRIES = 5


class NotAwaitingApproval(AppError):
    """The licence is not (or no longer) awaiting approval: a 409."""


def waits(job: Job, effective: Mapping[str, EffectiveVariable], day: str) -> bool:
    """In `decide`, with every check passed: True when the licence went to wait for an
    approval (the caller stops); False when none is needed, it was approved, or a cap is
    reached (nobody is asked to approve what cannot be bought: the caller fails it)."""
    if not org_vars.approval_required(effective) or job.row.approved_at:
        return False
    if caps.full(job, effective, day):
        return False
    hours = org_vars.approval_hours(effective)
    job.move("approving", "ask approval", detail=f"every check passed; waiting up to "
             f"{hours:g} h for an approval", approval_hours=hours,
             then=purchase_now(min(hours * 3600.0, LOOK_SECONDS)))
    return True


def look(job: Job) -> None:
    """Phase `approving`, on the licence's own message: expire it, or look again later."""
    left = _left(job)
    try:
        if left <= timedelta(0):
            job.fail("approval_expired", "wait for approval", f"no approval within "
                     f"{job.row.approval_hours or org_vars.DEFAULT_APPROVAL_HOURS:g} h")
        else:
            job.look_again(min(left.total_seconds() + 1.0, LOOK_SECONDS), "wait for approval",
                           queue=purchase_now().queue)
    except StaleRecord:
        _answered_meanwhile(job)


def _answered_meanwhile(job: Job) -> None:
    """This message lost its write to an answer written meanwhile. The routes only write,
    so the chain is still this message's (the row keeps its ticket): send it again at once
    to act on the answer, or, when the answer ended the licence, close the event (the routes
    leave that to the chain). A newer ticket: the chain itself moved it on."""
    found = job.deps.ledger.find_license(job.event.event_id, job.row.sku_id)
    if found is None:
        return
    if found[0].phase == "done":  # denied or expired by a route: this message closes it
        wait = finish_event(job.deps, job.event.event_id, by=job.row.sku_id)
        if wait is not None:
            job.send(wait_then(wait))
    elif found[0].ticket == job.row.ticket:
        job.send(purchase_now())


def approve(deps: Deps, event_id: str, sku_id: str, *, by: str) -> OnboardingStatus:
    """Send a licence awaiting approval back to deciding. Raises NotFound,
    NotAwaitingApproval (also once expired: it ends `approval_expired`), Unavailable."""
    return _answer(deps, event_id, sku_id, by=by, approved=True)


def deny(deps: Deps, event_id: str, sku_id: str, *, by: str) -> OnboardingStatus:
    """End a licence awaiting approval `failed` / `denied`. Raises like `approve`."""
    return _answer(deps, event_id, sku_id, by=by, approved=False)


def approver(header: str | None) -> str:
    """Who the history names: the form's header, printable and bounded, else the key."""
    text = "".join(c for c in (header or "") if c.isprintable()).strip()
    return text[:MAX_APPROVER_CHARS] or DEFAULT_APPROVER


def _answer(deps: Deps, event_id: str, sku_id: str, *, by: str,
            approved: bool) -> OnboardingStatus:
    verb = "approved" if approved else "denied"
    for _ in range(STALE_TRIES):
        job = _job(deps, event_id, sku_id)
        if job.row.phase != "approving":
            raise NotAwaitingApproval(f"licence {sku_id} of event {event_id!r} is "
                                      f"{job.row.state}, not awaiting_approval")
        try:
            _act(job, by=by, approved=approved, verb=verb)
            break
        except StaleRecord:
            continue  # its own message looked at it meanwhile (or another answer won): again
    else:
        raise NotAwaitingApproval(f"licence {sku_id} of event {event_id!r} keeps changing; "
                                  "look at its status")
    log.info("onboarding event=%s sku=%s %s by %s", event_id, sku_id, verb, by)
    # A licence ended here is closed (event status, result) by its own message within
    # LOOK_SECONDS: a route closing it too could send the result twice, racing that message.
    if job.row.reason == "approval_expired":
        raise NotAwaitingApproval(f"the approval of licence {sku_id} of event {event_id!r} "
                                  "expired")
    status = deps.ledger.find_status(event_id)
    assert status is not None
    return status


def _act(job: Job, *, by: str, approved: bool, verb: str) -> None:
    if _left(job) <= timedelta(0):
        hours = job.row.approval_hours or org_vars.DEFAULT_APPROVAL_HOURS
        job.fail("approval_expired", "wait for approval", f"no approval within {hours:g} h; "
                 f"{verb} too late by {by}")
    elif approved:
        now = job.deps.now().isoformat()
        # The purchase's deadline counts from now: the wait for a person is not Synnex's.
        # R1: only the write; the licence's own message (due within LOOK_SECONDS, or its
        # watcher should a crash have lost it) finds the licence deciding and decides. A
        # message sent from here could be lost to a crash with nothing left to watch it.
        job.move("deciding", "approve", detail=f"approved by {by}; checking everything "
                 "again before buying", approved_by=by, approved_at=now,
                 purchasing_since=now)
    else:
        job.fail("denied", "deny", f"denied by {by}")


def _job(deps: Deps, event_id: str, sku_id: str) -> Job:
    found = deps.ledger.find_event(event_id) if len(event_id) <= 128 else None
    row = deps.ledger.find_license(event_id, sku_id.lower()) if found else None
    if found is None or row is None:
        raise NotFound("licence of onboarding event", f"{event_id}/{sku_id}")
    event = found[0]
    return Job(deps, event, deps.orgs.get_org(event.org_id or ""), *row)


def _left(job: Job) -> timedelta:
    """How long the licence may still wait for its approval."""
    hours = job.row.approval_hours or org_vars.DEFAULT_APPROVAL_HOURS
    times = dataclasses.replace(job.deps.policy.times, approval=timedelta(hours=hours))
    if expired("approving", job.age_in_phase(), times):
        return timedelta(0)
    return times.approval - job.age_in_phase()
