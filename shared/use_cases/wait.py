"""`license-waits`: phases `bought` (assign the seat bought for this hire once the tenant shows
it) and `held` (wait while the free seats are held for hires who bought them)."""

from __future__ import annotations

from shared.core.purchase import expired
from shared.errors import NoFreeSeat, Transient, UpstreamError, UpstreamNotFound
from shared.use_cases.job import Job
from shared.use_cases.receive import decide_to_buy
from shared.use_cases.seats import NoUsageLocation, assign, has_or_takes_seat


def assign_bought(job: Job) -> None:
    """Phase `bought`: assign the seat, or look again with backoff until the deadline."""
    deps, org = job.deps, job.org
    if org is None or not org.m365_tenant_id or not job.event.user:
        job.fail("org_not_found", "assign", f"org {job.event.org_id!r} is gone or has no "
                 "tenant")
        return
    graph = deps.graph()
    try:
        user = graph.get_user(org.m365_tenant_id, job.event.user)
        if job.row.sku_id not in user.assigned_sku_ids:
            # A buyer takes any free seat: every held seat is a buyer's, and each buyer
            # bought one, so no hire that did not buy can lose its seat to this one.
            assign(job, user)
    except NoFreeSeat:
        if expired("bought", job.age_in_phase(), deps.policy.times):
            job.fail("seat_not_provisioned", "wait", f"the bought seat did not show in the "
                     f"tenant within {deps.policy.deadline}")
        else:
            # No second purchase, ever: a seat taken by someone else is waited for too.
            job.look_again(deps.backoff(job.row.looks + 1), "wait")
        return
    except UpstreamNotFound as exc:
        job.fail("user_not_found", "assign", str(exc))
        return
    except Transient as exc:
        if expired("bought", job.age_in_phase(), deps.policy.times):
            job.fail("seat_not_provisioned", "wait", f"Graph unavailable until the deadline: "
                     f"{exc}")
        else:
            job.look_again(exc.retry_after or deps.backoff(job.row.looks + 1), "wait")
        return
    except (UpstreamError, NoUsageLocation) as exc:
        job.fail("graph_error", "assign", str(exc))
        return
    job.move("done", "assign", state="purchased_and_assigned")


def wait_for_held(job: Job) -> None:
    """Phase `held`: take a seat once one is free for this hire, buy when none is free."""
    deps, org = job.deps, job.org
    if expired("held", job.age_in_phase(), deps.policy.times):
        job.fail("seat_not_provisioned", "wait for held seats", "the free seats stayed held "
                 f"for other hires for {deps.policy.deadline}")
        return
    if org is None or not org.m365_tenant_id:
        job.fail("org_not_found", "check org", f"org {job.event.org_id!r} is gone or has no "
                 "tenant")
        return
    try:
        taken = has_or_takes_seat(job)
    except Transient as exc:
        job.look_again(exc.retry_after or deps.backoff(job.row.looks + 1), "wait for held seats")
        return
    except (UpstreamError, NoUsageLocation) as exc:
        job.fail("graph_error", "assign", str(exc))
        return
    if taken == "has_it":
        job.move("done", "check user", state="already_assigned")
    elif taken == "taken":
        job.move("done", "assign", state="assigned")
    elif taken == "none":
        decide_to_buy(job)
    else:
        job.look_again(deps.backoff(job.row.looks + 1), "wait for held seats")
