"""`license-purchases`: phases `deciding` and `changing` of `shared.core.purchase`.

deciding: under the subscription's lease, every check of guarantee 3 (a freed seat, the choice,
the subscription, the product, dry run, the caps), an approval where required (R9), the intent
(R2), the floor (R3), the hold, `changeSeats`. changing: confirm it, or decide again (R4, R5).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from shared.core import products
from shared.core import variables as org_vars
from shared.core.purchase import (
    FLOOR_SECONDS,
    LEASE_SECONDS,
    MAX_CHANGE_SENDS,
    PURCHASE_LOOK_MAX_SECONDS,
    PurchaseFacts,
    expired,
    judge_change,
    plan_target,
    purchase_refusal,
)
from shared.core.subscriptions import is_active, is_microsoft
from shared.errors import StaleRecord, Throttled, Transient, UpstreamError, UpstreamNotFound
from shared.models import EffectiveVariable, Subscription
from shared.use_cases import approvals, caps
from shared.use_cases.credentials import load_credentials
from shared.use_cases.job import Job, purchase_now, wait_then
from shared.use_cases.orgs import effective_variables, lineage
from shared.use_cases.ports import Lease, StellrApi
from shared.use_cases.seats import NoUsageLocation, has_or_takes_seat

log = logging.getLogger(__name__)

ALLOW_UNMATCHED = "licencing_allow_unmatched_subscription"


def decide(job: Job) -> None:
    """Phase `deciding`: check everything again, then request the change."""
    deps = job.deps
    if expired("deciding", job.age_in_phase(), deps.policy.times):
        job.fail("synnex_error", "decide", f"no seat could be bought within {deps.policy.deadline}")
        return
    if job.fails_on_org():
        return
    lease = None if job.subscription_busy() else deps.leases.acquire(
        job.subscription_lease, job.holder, LEASE_SECONDS)
    if lease is None:
        busy = "another purchase through this subscription is in progress; waiting for it"
        job.look_again(min(deps.backoff(job.row.looks, initial=5.0), PURCHASE_LOOK_MAX_SECONDS),
                       "wait for subscription", detail=busy if job.row.looks == 0 else None)
        return
    try:
        _decide_under_lease(job, lease)
    except StaleRecord:
        raise  # another delivery moved the licence on: what the lease covers is its now
    except BaseException:
        if job.row.phase != "changing":
            deps.leases.release(job.subscription_lease, job.holder)
        raise
    if job.row.phase != "changing":
        deps.leases.release(job.subscription_lease, job.holder)


def _decide_under_lease(job: Job, lease: Lease) -> None:
    deps, org = job.deps, job.org
    assert org is not None and org.m365_tenant_id
    try:
        # Never buy while a seat is free: one may have been freed since the last look.
        taken = has_or_takes_seat(job)
    except Transient as exc:
        job.look_again(exc.retry_after or deps.backoff(job.row.looks, initial=15.0), "assign")
        return
    except (UpstreamError, NoUsageLocation) as exc:
        job.fail("graph_error", "assign", str(exc))
        return
    if taken == "has_it":
        job.move("done", "check user", state="already_assigned")
        return
    if taken == "taken":
        job.move("done", "assign", state="assigned", detail="a seat was free after all; "
                 "nothing bought")
        return
    if taken == "busy":
        job.look_again(5.0 * (1 + deps.jitter()), "assign")
        return
    if taken == "held":
        job.move("held", "wait for held seats", detail="the free seats are held for hires "
                 "who bought them; looking again", then=wait_then(deps.backoff(0)))
        return
    effective = effective_variables(deps.orgs, org)
    credentials = load_credentials(deps.secrets, lineage(deps.orgs, org)[-1].org_id)
    if credentials is None:
        job.fail("synnex_error", "decide", "no Synnex credentials stored for the org's MSP root")
        return
    stellr = deps.stellr_for(credentials)
    customer_no = org.synnex_customer_no or ""
    sub_id = job.row.synnex_subscription_id or ""
    try:
        subscription = stellr.get_subscription(customer_no, sub_id) if customer_no else None
        confirmed = _owner_confirmed(stellr, customer_no, subscription)
    except UpstreamNotFound:
        subscription, confirmed = None, False
    except Transient as exc:
        job.look_again(exc.retry_after or deps.backoff(job.row.looks, initial=15.0),
                       "read subscription")
        return
    except UpstreamError as exc:
        job.fail("synnex_error", "read subscription", str(exc))
        return
    refusal = purchase_refusal(_facts(job, effective, customer_no, subscription, confirmed))
    if refusal is not None:
        job.fail(refusal.reason, "check subscription", refusal.detail)
        return
    assert subscription is not None
    _note_unknown_product(job, subscription)
    _reserve_and_change(job, stellr, subscription, lease, effective)


def _owner_confirmed(stellr: StellrApi, customer_no: str, sub: Subscription | None) -> bool:
    """A record that names no customer is the customer's only if its list shows it."""
    if sub is None or sub.customer_no is not None:
        return False
    return any(item.id == sub.id for item in stellr.list_subscriptions(customer_no))


def _facts(job: Job, effective: Mapping[str, EffectiveVariable], customer_no: str,
           sub: Subscription | None, confirmed: bool) -> PurchaseFacts:
    mismatch = None
    if sub is not None and products.match_subscription(job.row.sku_id, sub.product_name) == (
            "none"):
        wanted = products.find_product(job.row.sku_id)
        named = products.subscription_product(sub.product_name)
        wanted_name = wanted.product_name if wanted else job.row.sku_id
        named_name = named.product_name if named else sub.product_name
        mismatch = (f"subscription {sub.id} is {named_name!r}, but the licence is "
                    f"{wanted_name!r}; set licencing_allow_unmatched_subscription to 1 to "
                    "buy through it anyway")
    allow = effective.get(ALLOW_UNMATCHED)
    return PurchaseFacts(
        choice_enabled=org_vars.choice_enabled(effective),
        subscription_id=job.row.synnex_subscription_id, customer_no=customer_no or None,
        found=sub is not None, owner=sub.customer_no if sub else None,
        owner_confirmed=confirmed, vendor_microsoft=sub is None or is_microsoft(sub),
        active=sub is None or is_active(sub), status=sub.status if sub else "",
        product_mismatch=mismatch,
        allow_unmatched=allow is not None and allow.value.strip() == "1",
    )


def _note_unknown_product(job: Job, sub: Subscription) -> None:
    if products.match_subscription(job.row.sku_id, sub.product_name) == "unknown":
        job.move("deciding", "check subscription", detail=f"subscription {sub.id} "
                 f"({sub.product_name!r}) names no known Microsoft product; buying through it "
                 "as chosen")


def _reserve_and_change(job: Job, stellr: StellrApi, sub: Subscription, lease: Lease,
                        effective: Mapping[str, EffectiveVariable]) -> None:
    deps = job.deps
    assert job.org is not None
    day = job.cap_day()
    target = plan_target(sub.quantity, lease.floor)
    if org_vars.dry_run(effective):
        if full := caps.full(job, effective, day):
            job.fail("cap_reached", "check cap", full)
        else:
            job.move("done", "dry run", state="dry_run", quantity_before=sub.quantity,
                     quantity_target=target, detail=f"would raise {sub.id} from "
                     f"{sub.quantity} to {target}")
        return
    if job.row.sends >= MAX_CHANGE_SENDS:
        job.fail("synnex_error", "change seats", f"Synnex accepted the seat change "
                 f"{job.row.sends} times without applying it; look at the subscription in "
                 "the Synnex portal")
        return
    if approvals.waits(job, effective, day):
        return  # R9: lease, seat and cap are given back while a person decides
    if refused := caps.reserve(job, effective, day):
        job.fail("cap_reached", "check cap", refused)
        return
    # R2: the intent is written before anything is sent (with the lease's holder, which the
    # licence's chain keeps from now on); R3: then the floor.
    job.move("changing", "change seats", detail=f"raising from {sub.quantity} to {target}",
             quantity_before=sub.quantity, quantity_target=target, reserved_day=day,
             change_requested_at=deps.now().isoformat(), operation_id=None,
             floor_before=lease.floor, lease_holder=job.holder)
    if not deps.leases.set_floor(job.subscription_lease, job.holder, target,
                                 valid_for=FLOOR_SECONDS):
        job.move("deciding", "change seats", detail="the subscription's lease lapsed before "
                 "sending; deciding again", change_requested_at=None, then=purchase_now(5.0))
        return
    job.hold_seat()
    try:
        operation_id = stellr.change_seats(job.org.synnex_customer_no or "", sub.id, target)
    except Throttled as exc:
        # R8: a 429 changed nothing: decide again once Synnex allows it.
        _unsent(job, "Synnex throttled the seat change; nothing changed")
        job.look_again(exc.retry_after or deps.backoff(0, initial=30.0), "change seats")
        return
    except Transient:
        # Unknown whether it landed: confirm by its operation and the quantity.
        job.look_again(15.0, "confirm seat change")
        return
    except UpstreamError as exc:
        _unsent(job, None)
        job.fail("synnex_error", "change seats", str(exc))
        return
    # Synnex took it (a 5xx or a timeout says nothing either way, and does not count).
    job.move("changing", "seat change sent",
             detail=f"operation {operation_id}" if operation_id else None,
             operation_id=operation_id, sends=job.row.sends + 1)
    confirm(job, stellr)


def _unsent(job: Job, detail: str | None) -> None:
    """The change is known not to have landed: the floor goes back, the licence decides."""
    job.deps.leases.set_floor(job.subscription_lease, job.holder, job.row.floor_before,
                              valid_for=FLOOR_SECONDS)
    if job.row.phase == "changing":
        job.move("deciding", "change seats", detail=detail, change_requested_at=None,
                 operation_id=None)


def resume(job: Job) -> None:
    """Phase `changing` on a later message: renew the lease, then confirm."""
    deps = job.deps
    assert job.org is not None
    credentials = load_credentials(deps.secrets, lineage(deps.orgs, job.org)[-1].org_id)
    if credentials is None:
        job.fail("synnex_error", "confirm seat change", "the MSP root's credentials are gone")
        return
    # Renewed while the change may land; held by another only if it lapsed (the floor holds).
    deps.leases.acquire(job.subscription_lease, job.holder, LEASE_SECONDS)
    confirm(job, deps.stellr_for(credentials))


def confirm(job: Job, stellr: StellrApi) -> None:
    """Judge the change in flight (R4, R5) and act on the verdict."""
    deps, row = job.deps, job.row
    assert row.quantity_target is not None and row.change_requested_at is not None
    status = quantity = None
    if row.operation_id:
        try:
            status = stellr.get_operation_status(row.operation_id)
        except UpstreamError as exc:  # the operation path is assumed: the quantity decides
            log.info("onboarding event=%s operation %s unreadable (%s)", job.event.event_id,
                     row.operation_id, exc)
    try:
        quantity = stellr.get_subscription(job.org.synnex_customer_no or "" if job.org else "",
                                           row.synnex_subscription_id or "").quantity
    except UpstreamError as exc:
        log.info("onboarding event=%s subscription unreadable (%s)", job.event.event_id, exc)
    sent = deps.now() - datetime.fromisoformat(row.change_requested_at)
    verdict = judge_change(status=status, quantity=quantity, target=row.quantity_target,
                           since_sent=sent)
    if verdict == "landed":
        _bought(job)
    elif verdict == "failed":
        _unsent(job, None)
        job.fail("synnex_error", "confirm seat change",
                 f"Synnex reports seat change operation {row.operation_id} {status}")
    elif verdict == "not_landed":
        _unsent(job, f"the change to {row.quantity_target} did not land within the settle "
                f"window (quantity {quantity}, operation {status}); checking everything again")
        decide(job)
    elif expired("changing", job.age_in_phase(), deps.policy.times):
        # R5: a change not seen landing by the deadline is taken as never landing.
        _unsent(job, None)
        job.fail("synnex_error", "confirm seat change", f"the seat change was not confirmed "
                 f"within {deps.policy.deadline} (operation {status or 'unknown'})")
    else:
        job.look_again(min(deps.backoff(row.looks, initial=10.0), PURCHASE_LOOK_MAX_SECONDS),
                       "confirm seat change", queue=purchase_now().queue)


def _bought(job: Job) -> None:
    deps, row = job.deps, job.row
    assert job.org is not None
    if deps.window is not None:  # the form's dropdown must show the new quantity
        deps.window.invalidate(job.org.synnex_customer_no or "")
    if deps.history is not None:
        deps.history.record(job.org_id, row.sku_id, row.synnex_subscription_id or "")
    job.move("bought", "seat change confirmed",
             detail=f"quantity {row.quantity_before} -> {row.quantity_target}",
             purchased_at=deps.now().isoformat(), then=wait_then(deps.policy.initial_seconds))
    # R3: the floor stays at the target, so a read that lags the change cannot undercut it.
    deps.leases.release(job.subscription_lease, job.holder)
