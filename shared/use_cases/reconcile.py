"""The daily reconciliation (timer `reconcile_purchases`, or `POST /api/reconciliation`): seats
bought whose hire does not hold them, while they can still be reduced.

A seat bought is "not held" when its licence ended failed after the purchase (e.g.
`seat_not_provisioned`), when Graph no longer finds its user (deleted), or when the user no
longer has the licence (removed). Each is logged once per run at WARNING in the line the
operator alert catches (`state=failed`, see `alertQuery` in infra/main.bicep), and marked on
the seat's purchase row, so the console shows it as "can still be reduced" until its
`cancellable_until`. Nothing here changes a quantity: reducing is a person's decision, in the
Synnex portal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from shared.core.seats_bought import REDUCTION_WINDOW, as_purchase, cancellable_until
from shared.errors import Transient, UpstreamError, UpstreamNotFound
from shared.models import BoughtSeat, Org, Reconciliation
from shared.use_cases import notify
from shared.use_cases.notify import Notifications
from shared.use_cases.orgs import OrgStore
from shared.use_cases.ports import GraphApi, Ledger

log = logging.getLogger(__name__)

# Licences still at work on their seat: not judged until they end.
_AT_WORK = frozenset({"pending", "purchasing", "awaiting_approval", "waiting_for_seat"})


class OrgDirectory(OrgStore, Protocol):
    def list_orgs(self) -> list[Org]: ...


def reconcile(
    *, ledger: Ledger, orgs: OrgDirectory, graph: Callable[[], GraphApi], now: datetime,
    notifications: Notifications | None = None,
) -> Reconciliation:
    """Check every seat bought that can still be reduced; log and mark those not held (and
    raise a `reconciliation` notification for each, when notifications are on). Raises
    Unavailable (storage); Graph trouble skips the seat until the next run."""
    now = now.astimezone(UTC)
    first = (now - REDUCTION_WINDOW).date().isoformat()
    checked, unheld = 0, []
    for org in orgs.list_orgs():
        seats = [s for s in ledger.list_purchases(org.org_id, first, now.date().isoformat())
                 if now < cancellable_until(s.purchased_at) and s.state not in _AT_WORK]
        for seat in seats:
            try:
                cause = _why_not_held(seat, org, graph)
            except (Transient, UpstreamError) as exc:
                log.info("reconcile event=%s sku=%s not checked (%s); next run",
                         seat.event_id, seat.sku_id, exc)
                continue
            checked += 1
            ledger.mark_purchase(seat, cause, now.isoformat())
            if cause is None:
                continue
            until = cancellable_until(seat.purchased_at)
            log.warning(
                "reconcile event=%s org=%s sku=%s subscription=%s state=failed "
                "reason=seat_not_held cause=%s cancellable_until=%s: a seat bought for this "
                "hire is not held by it; it can still be reduced (Synnex portal, quantity %s "
                "-> %s) until then", seat.event_id, org.org_id, seat.sku_id,
                seat.synnex_subscription_id or "-", cause,
                until.isoformat(), seat.quantity_target, seat.quantity_before)
            marked = seat.model_copy(update={"unheld": cause, "checked_at": now.isoformat()})
            unheld.append(as_purchase(marked, now))
            if notifications is not None:
                _notify(notifications, seat, cause, until, now)
    log.info("reconcile checked=%d not_held=%d", checked, len(unheld))
    return Reconciliation(checked=checked, unheld=unheld)


def _notify(notifications: Notifications, seat: BoughtSeat, cause: str, until: datetime,
            now: datetime) -> None:
    """Best effort: the WARNING line above is the record; a queue down now loses this one."""
    try:
        notify.enqueue(
            notifications.sender, "reconciliation", event_id=seat.event_id, org_id=seat.org_id,
            summary=(f"The seat bought for {seat.user or '?'} ({seat.event_id}, licence "
                     f"{seat.sku_id}) through subscription {seat.synnex_subscription_id} is "
                     f"not held ({cause}); it can still be reduced until {until.isoformat()}"),
            now=now)
    except Transient as exc:
        log.warning("reconcile event=%s notification not queued (%s)", seat.event_id, exc)


def _why_not_held(seat: BoughtSeat, org: Org, graph: Callable[[], GraphApi]) -> str | None:
    """None when the hire holds the seat; else why not (`seat_not_provisioned` or another
    failure reason, `user_deleted`, `license_removed`). Raises Transient, UpstreamError."""
    if seat.state != "purchased_and_assigned":
        return seat.reason or seat.state  # e.g. seat_not_provisioned
    if not org.m365_tenant_id or not seat.user:
        return None  # nothing to ask Graph: the assignment stands as recorded
    try:
        user = graph().get_user(org.m365_tenant_id, seat.user)
    except UpstreamNotFound:
        return "user_deleted"
    if seat.sku_id.lower() not in {sku.lower() for sku in user.assigned_sku_ids}:
        return "license_removed"
    return None
