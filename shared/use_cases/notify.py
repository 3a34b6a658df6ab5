"""Notifications: raised by the workflow onto their own queue, delivered by their own function.

Raising one is a queue message (`enqueue`), never an HTTP call, and never fails the step that
raised it: a slow or failing webhook cannot delay a hire. `deliver` (queue `notifications`)
POSTs it; a failure is tried again by a delayed copy of the message (backoff, Retry-After),
and given up (logged) `GIVE_UP_AFTER` after it was raised. The kinds: `purchase` (a seat
change confirmed), `failure` (a licence ended failed), `approval_needed` (with the approve and
deny routes) and `reconciliation` (for the reconciliation timer: call `enqueue`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from shared import names
from shared.core.notifications import GIVE_UP_AFTER, KINDS, NotificationKind, retry_delay
from shared.errors import Transient, UpstreamError
from shared.models import OnboardingStatus
from shared.use_cases.ports import Sender

if TYPE_CHECKING:
    from shared.use_cases.job import Job

log = logging.getLogger(__name__)


class Webhook(Protocol):
    def post(self, message: dict[str, Any]) -> None: ...


def enqueue(
    sender: Sender, kind: NotificationKind, *, event_id: str | None, org_id: str | None,
    summary: str, now: datetime, status: OnboardingStatus | dict[str, Any] | None = None,
    links: dict[str, str] | None = None,
) -> None:
    """Put one notification on the `notifications` queue. Raises Unavailable."""
    if isinstance(status, OnboardingStatus):
        status = status.model_dump(mode="json")
    sender.send(names.NOTIFICATIONS_QUEUE, {
        "kind": kind, "event_id": event_id, "org_id": org_id, "summary": summary,
        "status": status, "links": links, "raised_at": now.isoformat(), "attempt": 0,
    })


class Notifications:
    """What the workflow raises notifications through (`Deps.notifications`; None: off)."""

    def __init__(self, sender: Sender, *, base_url: str) -> None:
        self.sender = sender
        self.base_url = base_url.rstrip("/")

    def links(self, event_id: str, sku_id: str) -> dict[str, str]:
        path = (f"{self.base_url}/api/onboarding/{quote(event_id, safe='')}/licenses/"
                f"{quote(sku_id, safe='')}")
        return {"approve": f"{path}/approve", "deny": f"{path}/deny"}


def on_move(job: Job, previous: str) -> None:
    """After a licence's move was written: raise the notification it calls for, if any.
    Best effort: a notification that cannot be queued is logged and the step goes on."""
    notifications, row = job.deps.notifications, job.row
    if notifications is None or row.phase == previous:
        return
    who = f"{job.event.user or '?'} ({job.event.event_id}, licence {row.sku_id})"
    links = None
    if row.phase == "bought" and previous == "changing":  # confirmed (not a retry's return)
        kind: NotificationKind = "purchase"
        summary = (f"Bought one seat for {who} through subscription "
                   f"{row.synnex_subscription_id}: {row.quantity_before} -> "
                   f"{row.quantity_target}")
    elif row.phase == "done" and row.state == "failed":
        kind, summary = "failure", f"Failed for {who}: {row.reason}: {row.detail or ''}"
    elif row.phase == "approving":
        kind = "approval_needed"
        summary = (f"A seat for {who} through subscription {row.synnex_subscription_id} "
                   f"waits for approval for {row.approval_hours:g} h")
        links = notifications.links(job.event.event_id, row.sku_id)
    else:
        return
    try:
        status = job.deps.ledger.find_status(job.event.event_id)
        enqueue(notifications.sender, kind, event_id=job.event.event_id, org_id=job.org_id,
                summary=summary, now=job.deps.now(), status=status, links=links)
    except Exception as exc:  # never fail the step over a notification
        log.warning("notification kind=%s event=%s not queued (%s)", kind,
                    job.event.event_id, type(exc).__name__)


def deliver(body: bytes | str, *, webhook: Webhook | None, sender: Sender,
            now: Callable[[], datetime]) -> None:
    """One message of `notifications`: POST it, or send it again later, or give it up.
    Raises only when even the delayed copy cannot be queued (the host delivers again)."""
    try:
        message = json.loads(body)
        kind, attempt = message["kind"], int(message.get("attempt", 0))
        raised = datetime.fromisoformat(message["raised_at"])
        if kind not in KINDS:
            raise ValueError(kind)
    except (ValueError, KeyError, TypeError):
        log.error("notification unreadable; dropped")
        return
    event_id = message.get("event_id")
    if webhook is None:
        log.info("notification kind=%s event=%s dropped: NOTIFY_WEBHOOK_URL is not set", kind,
                 event_id)
        return
    try:
        webhook.post(message)
    except Transient as exc:
        if now() - raised >= GIVE_UP_AFTER:
            log.warning("notification kind=%s event=%s given up after %d tries (%s)", kind,
                        event_id, attempt + 1, exc.detail)
            return
        delay = retry_delay(attempt, exc.retry_after)
        log.info("notification kind=%s event=%s not delivered (%s); again in %.0fs", kind,
                 event_id, exc.detail, delay)
        sender.send(names.NOTIFICATIONS_QUEUE, {**message, "attempt": attempt + 1},
                    delay_seconds=delay)
        return
    except UpstreamError as exc:
        log.warning("notification kind=%s event=%s refused by the webhook (%s); dropped", kind,
                    event_id, exc.detail)
        return
    log.info("notification kind=%s event=%s delivered", kind, event_id)
