"""The onboarding workflow (contract sections 5 and 6): exactly one seat per hire, under any
failure. The three queue functions land here; the state machine is `shared.core.purchase`.

- `handle_event` (`onboarding-events`): record the event, take each new licence its first
  step (`receive`);
- `handle_purchase` (`license-purchases`) and `handle_wait` (`license-waits`): one message of
  a licence's chain: `{event_id, sku_id, ticket}`. Only the message of the licence's current
  ticket acts (rule R1), by the licence's phase: `purchase` (deciding, changing), `wait`
  (bought, held), `receive` (looking).

Upstream trouble is handled inside each step (look again later, until the phase's deadline).
Storage trouble is handled here like it: the message is sent again with a delay; only when
even that fails does the handler raise, and the host delivers the message again.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from shared import names
from shared.core.purchase import RESEND_GRACE_SECONDS, MessageRole, message_role
from shared.core.workflow import InvalidEvent, parse_event
from shared.errors import AppError, StaleRecord, Transient
from shared.models import SynnexCredentials
from shared.use_cases import approvals, purchase, receive, wait
from shared.use_cases.finish import finish_event
from shared.use_cases.job import Deps, Job, Next, WaitPolicy
from shared.use_cases.notify import Notifications
from shared.use_cases.orgs import OrgStore
from shared.use_cases.ports import (
    GraphApi,
    Leases,
    Ledger,
    ListingWindow,
    PurchaseHistory,
    Sender,
    StellrApi,
)

log = logging.getLogger(__name__)

__all__ = ["OnboardingWorkflow", "WaitPolicy"]

# The longest `last_error` kept on an event's row.
MAX_ERROR_CHARS = 500
# Storage trouble: the message comes back after this long (doubling, capped), and after this
# many tries the handler raises and lets the host retry, then poison it.
STORAGE_RETRY_SECONDS = 30.0
STORAGE_RETRY_MAX_SECONDS = 300.0
STORAGE_RETRIES = 50
# The longest event id a Table Storage key can hold, escaped, is far below 1 KiB.
MAX_EVENT_ID_CHARS = 128


class OnboardingWorkflow:
    """The queue handlers. Dependencies come in; nothing here reads the environment."""

    def __init__(
        self, *, orgs: OrgStore, ledger: Ledger, secrets: Any,
        graph: Callable[[], GraphApi], stellr_for: Callable[[SynnexCredentials], StellrApi],
        sender: Sender, leases: Leases, policy: WaitPolicy,
        window: ListingWindow | None = None, history: PurchaseHistory | None = None,
        notifications: Notifications | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] | None = None,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        self.deps = Deps(orgs=orgs, ledger=ledger, graph=graph, stellr_for=stellr_for,
                         secrets=secrets, sender=sender, leases=leases, policy=policy,
                         window=window, history=history, notifications=notifications,
                         now=now)
        if jitter is not None:
            self.deps.jitter = jitter
        if sleep is not None:
            self.deps.sleep = sleep

    # --- onboarding-events ---------------------------------------------------------------

    def handle_event(self, body: bytes | str, *, message_id: str = "") -> None:
        """Process one `onboarding-events` message. Raises only what the host should retry."""
        try:
            event = parse_event(body)
        except InvalidEvent as exc:
            event_id = receive.record_invalid(self.deps, exc, message_id)
            with self._errors_noted(event_id):
                if finish_event(self.deps, event_id, by="event") is not None:
                    # Another copy of this message claimed the result a moment ago: should
                    # it have died, the host's redelivery of this one takes it over.
                    raise ResultPending(f"event {event_id!r}: its result is being sent") from None
            return
        retries = _retries(body)
        with self._errors_noted(event.event_id), self._storage_retry(
                names.ONBOARDING_EVENTS_QUEUE, {**event.model_dump(mode="json"),
                                                "storage_retries": retries + 1}, retries):
            self._work_event(event)

    def _work_event(self, event: Any) -> None:
        deps = self.deps
        opened = receive.open_event(deps, event)
        if opened is None:
            return
        record, etag, rows, created = opened
        org = deps.orgs.get_org(event.org_id)
        jobs = [Job(deps, record, org, row, row_etag) for row, row_etag in rows]
        fresh = [job for job in jobs if job.row.phase == "received" and job.row.ticket == 0]
        for job in jobs:
            if job not in fresh and job.row.phase != "done":
                self._follow(job, 0, names.LICENSE_WAITS_QUEUE)  # a redelivered event
        user = None
        if fresh and org is not None and org.m365_tenant_id:
            try:
                user = deps.graph().get_user(org.m365_tenant_id, event.user)
            except Exception:  # the first step of each licence meets it again and decides
                user = None
        for job in fresh:
            try:
                receive.first_step(job, user)
            except StaleRecord:
                log.info("onboarding event=%s sku=%s moved on by another delivery",
                         event.event_id, job.row.sku_id)
        known = (record, etag, [job.row for job in jobs]) if created else None
        wait = finish_event(deps, event.event_id, by="event", known=known)
        if any(job.row.phase != "done" for job in jobs):
            deps.ledger.index_event(record)  # still at work: listed as in progress
        if wait is not None:  # look again once the result's claimer has surely finished
            deps.sender.send(names.ONBOARDING_EVENTS_QUEUE, event.model_dump(mode="json"),
                             delay_seconds=wait)

    # --- license-purchases, license-waits ------------------------------------------------

    def handle_purchase(self, body: bytes | str) -> None:
        """Process one `license-purchases` message {event_id, sku_id, ticket}."""
        self._handle_message(body, names.LICENSE_PURCHASES_QUEUE)

    def handle_wait(self, body: bytes | str) -> None:
        """Process one `license-waits` message {event_id, sku_id, ticket}."""
        self._handle_message(body, names.LICENSE_WAITS_QUEUE)

    def _handle_message(self, body: bytes | str, queue: str) -> None:
        message = _internal_message(body)
        if message is None:
            return
        event_id, sku_id, ticket, retries = message
        again = {"event_id": event_id, "sku_id": sku_id, "ticket": ticket,
                 "storage_retries": retries + 1}
        with self._errors_noted(event_id), self._storage_retry(queue, again, retries):
            deps = self.deps
            found_event = deps.ledger.find_event(event_id)
            found_row = deps.ledger.find_license(event_id, sku_id)
            if found_event is None or found_row is None:
                log.error("message for unknown event=%s sku=%s dropped", event_id, sku_id)
                return
            record = found_event[0]
            job = Job(deps, record, deps.orgs.get_org(record.org_id or ""), *found_row)
            if job.row.owed and job.row.phase == "done":
                job.pay_back()  # a worker died between ending the licence and giving back
            if self._follow(job, ticket, queue):
                _advance(job)
            if job.row.phase == "done":
                wait = finish_event(deps, event_id, by=sku_id)
                if wait is not None:  # look again once the result's claimer has finished
                    job.send(Next(queue, wait), ticket=ticket)

    def _follow(self, job: Job, ticket: int, queue: str) -> bool:
        """R1: True when this message carries the licence's current ticket and acts."""
        row, now = job.row, self.deps.now()
        if row.phase == "done":
            return False  # a finished licence has no next message to look after
        due = datetime.fromisoformat(row.next_at) if row.next_at else None
        overdue = now - due if due is not None and now >= due else None
        role = message_role(ticket, row.ticket, overdue)
        if role is MessageRole.RESEND and row.next_queue:
            log.warning("onboarding event=%s sku=%s message %d lost; sent again",
                        job.event.event_id, row.sku_id, row.ticket)
            job.send(Next(row.next_queue))
        elif role is MessageRole.WATCH and due is not None:
            # The next message was recorded, and perhaps not sent: look once it is overdue.
            wake = (due - now).total_seconds() + RESEND_GRACE_SECONDS + 1.0
            job.send(Next(queue, max(wake, 1.0)), ticket=ticket)
        return role is MessageRole.ACT

    # --- errors --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _storage_retry(self, queue: str, again: dict[str, Any], retries: int) -> Iterator[None]:
        """Storage trouble: send this message again with a delay, like upstream trouble; when
        even that fails (or after STORAGE_RETRIES), raise for the host to deliver it again."""
        try:
            yield
        except Transient as exc:
            if retries >= STORAGE_RETRIES or not self._send_again(queue, again, retries, exc):
                raise

    def _send_again(self, queue: str, again: dict[str, Any], retries: int,
                    exc: Transient) -> bool:
        delay = self.deps.backoff(retries, initial=STORAGE_RETRY_SECONDS,
                                  maximum=STORAGE_RETRY_MAX_SECONDS)
        log.warning("onboarding event=%s trouble (%s); trying again in %.0fs",
                    again.get("event_id"), exc, delay)
        try:
            self.deps.sender.send(queue, again, delay_seconds=delay)
        except Exception:  # the queues too: the host delivers this message again
            return False
        return True

    @contextlib.contextmanager
    def _errors_noted(self, event_id: str) -> Iterator[None]:
        """Let any exception but a lost ETag race go up to the host, noting it on the event's
        row first, so that the ledger, not only the host's logs, says why an event is stuck."""
        try:
            yield
        except StaleRecord as exc:
            # Another delivery changed the row first and carries on from there.
            log.info("onboarding event=%s another delivery moved it on (%s)", event_id, exc)
        except Exception as exc:
            self._note_error(event_id, exc)
            raise

    def _note_error(self, event_id: str, exc: Exception) -> None:
        now = self.deps.now().isoformat()
        error = f"{now} {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        log.warning("onboarding event=%s handler failed (%s); the host delivers it again",
                    event_id, error)
        try:
            found = self.deps.ledger.find_event(event_id)
            if found is not None:
                record, etag = found
                self.deps.ledger.update_event(record.model_copy(update={"last_error": error}),
                                              etag, reindex=False)
        except Exception:  # best effort: storage may be what fails; the host has the error
            log.warning("onboarding event=%s last error not recorded", event_id)


class ResultPending(AppError):
    """Another handler claimed the event's result moments ago; this one looks again later."""


def _advance(job: Job) -> None:
    """One step of the licence, by its phase."""
    phase = job.row.phase
    if phase == "deciding":
        purchase.decide(job)
    elif phase == "changing":
        purchase.resume(job)
    elif phase == "approving":
        approvals.look(job)
    elif phase == "bought":
        wait.assign_bought(job)
    elif phase == "held":
        wait.wait_for_held(job)
    elif phase in ("looking", "received"):
        receive.first_step(job)


def _retries(body: bytes | str) -> int:
    try:
        data = json.loads(body)
        return int(data.get("storage_retries", 0)) if isinstance(data, dict) else 0
    except (ValueError, TypeError):
        return 0


def _internal_message(body: bytes | str) -> tuple[str, str, int, int] | None:
    try:
        data = json.loads(body)
        event_id, sku_id = data["event_id"], data["sku_id"]
        ticket = int(data.get("ticket", 0))
        retries = int(data.get("storage_retries", 0))
        if not isinstance(event_id, str) or not isinstance(sku_id, str):
            raise TypeError
        if len(event_id) > MAX_EVENT_ID_CHARS:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        log.error("internal workflow message unreadable; dropped")
        return None
    return event_id, sku_id, ticket, retries
