"""Taking a free seat in the tenant for a hire, and assigning it (Graph)."""

from __future__ import annotations

import logging
from typing import Literal

from shared.core import variables as org_vars
from shared.core.licenses import find_sku, free_seats
from shared.core.purchase import SEAT_GUARD_SECONDS, seat_decision
from shared.errors import AppError, NoFreeSeat, UsageLocationMissing
from shared.models import GraphUser
from shared.use_cases.job import Job
from shared.use_cases.orgs import effective_variables

log = logging.getLogger(__name__)

Taken = Literal["taken", "held", "none", "busy"]


class NoUsageLocation(AppError):
    """Graph needs a usage location and nothing gives one."""


def has_or_takes_seat(job: Job, user: GraphUser | None = None) -> Taken | Literal["has_it"]:
    """The user's licence state: `has_it` (already assigned), or `take_free_seat`'s answer.
    Looks the user up unless given. Raises UpstreamNotFound, NoUsageLocation, UpstreamError
    (Transient included), Unavailable."""
    assert job.org is not None and job.org.m365_tenant_id
    if user is None:
        user = job.deps.graph().get_user(job.org.m365_tenant_id, job.event.user or "")
    if job.row.sku_id in user.assigned_sku_ids:
        return "has_it"
    return take_free_seat(job, user)


def take_free_seat(job: Job, user: GraphUser) -> Taken:
    """Assign a free seat of the job's SKU that is not held for another hire (rule R7).

    taken: assigned; held: seats are free, but no more than are held for others; none: no
    seat is free; busy: another hire is deciding on this SKU's seats (look again shortly).
    Raises NoUsageLocation, UpstreamError (Transient included), Unavailable.
    """
    deps, sku_id = job.deps, job.row.sku_id
    held = deps.ledger.seats_held(job.org_id, sku_id, deps.now(), excluding=job.key)
    if not held:
        # No seat is anyone's: Graph's own accounting decides who gets the last one.
        return _assign_or_none(job, user)
    guard = f"seat/{job.org_id}/{sku_id}"
    if deps.leases.acquire(guard, job.holder, SEAT_GUARD_SECONDS) is None:
        return "busy"
    try:
        held = deps.ledger.seats_held(job.org_id, sku_id, deps.now(), excluding=job.key)
        assert job.org is not None and job.org.m365_tenant_id
        sku = find_sku(deps.graph().list_subscribed_skus(job.org.m365_tenant_id), sku_id)
        decision = seat_decision(free_seats(sku) if sku else 0, held)
        if decision == "take":
            return _assign_or_none(job, user)
        return decision
    finally:
        deps.leases.release(guard, job.holder)


def _assign_or_none(job: Job, user: GraphUser) -> Taken:
    try:
        assign(job, user)
    except NoFreeSeat:
        return "none"
    return "taken"


def assign(job: Job, user: GraphUser) -> None:
    """Assign the job's SKU, fixing a missing usage location once.
    Raises NoFreeSeat, NoUsageLocation, UpstreamError."""
    assert job.org is not None and job.org.m365_tenant_id
    tenant, graph = job.org.m365_tenant_id, job.deps.graph()
    try:
        graph.assign_license(tenant, user.id, job.row.sku_id)
        return
    except UsageLocationMissing:
        pass
    location = job.event.usage_location or org_vars.usage_location(
        effective_variables(job.deps.orgs, job.org))
    if not location:
        raise NoUsageLocation("the user has no usage location, and neither the event nor "
                              "licencing_usage_location gives one")
    graph.set_usage_location(tenant, user.id, location)
    log.info("onboarding event=%s org=%s usage location set to %s",
             job.event.event_id, job.org_id, location)
    graph.assign_license(tenant, user.id, job.row.sku_id)
