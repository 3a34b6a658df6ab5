"""One licence at work: its event, org, ledger row and ETag, and the one way it moves.

`Job.move` is every transition of the workflow: checked against the state table
(`shared.core.purchase.PHASES`), written to the ledger guarded by the row's ETag, logged once,
and, when the licence goes on, followed by the one message of its chain (rule R1): the new
ticket is written first and the message sent after, so that a duplicate of this step loses
the write and sends nothing.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import names
from shared.core.purchase import PHASES, WorkflowTimes, allowed, expired
from shared.core.seats_bought import bought_seat
from shared.core.workflow import backoff_delay, transition
from shared.errors import StaleRecord, Transient
from shared.models import (
    EventRecord,
    FailureReason,
    LicenseRecord,
    LicenseState,
    Org,
    Phase,
)
from shared.use_cases import notify
from shared.use_cases.orgs import OrgStore
from shared.use_cases.ports import (
    Etag,
    GraphApi,
    Leases,
    Ledger,
    ListingWindow,
    PurchaseHistory,
    Sender,
    StellrApi,
)

log = logging.getLogger(__name__)

# A seat held for a buyer is given back at the latest this long after its phase's deadline,
# should its licence never reach an end that gives it back.
SEAT_HOLD_MARGIN = timedelta(hours=24)


@dataclass(frozen=True)
class WaitPolicy:
    """The LICENSE_WAIT_* and USER_LOOKUP_DEADLINE_SECONDS settings."""

    initial_seconds: float = 60.0
    max_seconds: float = 900.0
    deadline: timedelta = timedelta(hours=24)
    user_lookup_deadline: timedelta = timedelta(seconds=300)

    @property
    def times(self) -> WorkflowTimes:
        return WorkflowTimes(lookup=self.deadline, purchase=self.deadline, wait=self.deadline,
                             user_lookup=self.user_lookup_deadline)


@dataclass
class Deps:
    """Everything the workflow's steps use; nothing here reads the environment."""

    orgs: OrgStore
    ledger: Ledger
    graph: Callable[[], GraphApi]
    stellr_for: Callable[[Any], StellrApi]
    secrets: Any
    sender: Sender
    leases: Leases
    policy: WaitPolicy = field(default_factory=WaitPolicy)
    window: ListingWindow | None = None
    history: PurchaseHistory | None = None
    # Webhook notifications (None: NOTIFY_WEBHOOK_URL is not set).
    notifications: notify.Notifications | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    jitter: Callable[[], float] = random.random
    sleep: Callable[[float], None] = time.sleep

    def backoff(self, attempt: int, *, initial: float | None = None,
                maximum: float | None = None) -> float:
        return backoff_delay(
            attempt, initial=initial if initial is not None else self.policy.initial_seconds,
            maximum=maximum if maximum is not None else self.policy.max_seconds,
            jitter=self.jitter())


@dataclass(frozen=True)
class Next:
    """The licence's next message: on which queue, after how long."""

    queue: str
    delay: float = 0.0


def purchase_now(delay: float = 0.0) -> Next:
    return Next(names.LICENSE_PURCHASES_QUEUE, delay)


def wait_then(delay: float) -> Next:
    return Next(names.LICENSE_WAITS_QUEUE, delay)


# The phases in which a licence may hold a seat and a unit of the day's cap.
_BUYING = frozenset({"deciding", "changing", "bought"})


class Job:
    """One licence of one event, as read from the ledger, moved only through `move`."""

    def __init__(self, deps: Deps, event: EventRecord, org: Org | None, row: LicenseRecord,
                 etag: Etag) -> None:
        self.deps = deps
        self.event = event
        self.org = org
        self.row = row
        self.etag = etag

    @property
    def key(self) -> str:
        """The licence's key in holds, cap reservations and leases."""
        return f"{self.event.event_id}/{self.row.sku_id}"

    @property
    def holder(self) -> str:
        """The licence's name in leases: its current message's, so that the redelivery of a
        message whose worker died takes its lease back at once; from the request of a change
        on, the one recorded with it, which the rest of the chain keeps."""
        return self.row.lease_holder or f"{self.key}#{self.row.ticket}"

    @property
    def subscription_lease(self) -> str:
        """The lease that serialises seat changes of the licence's chosen subscription."""
        customer_no = self.org.synnex_customer_no if self.org is not None else None
        return f"{customer_no or ''}/{self.row.synnex_subscription_id or ''}"

    def subscription_busy(self) -> bool:
        """R3: the subscription's lease is held for another licence whose change may still
        land (it is `changing`, within its purchase deadline), expired or not: a lease that
        lapsed while its holder could not look (a worker dying again and again, storage
        down) is not taken over, for the holder's judgement of its change by the quantity
        holds only while nobody else changes it."""
        holder = self.deps.leases.find_holder(self.subscription_lease)
        if not holder or holder == self.holder:
            return False
        event_id, _, sku_id = holder.rsplit("#", 1)[0].rpartition("/")
        found = self.deps.ledger.find_license(event_id, sku_id)
        if found is None or found[0].phase != "changing" or not found[0].purchasing_since:
            return False
        since = datetime.fromisoformat(found[0].purchasing_since)
        return not expired("changing", self.deps.now() - since, self.deps.policy.times)

    @property
    def org_id(self) -> str:
        return self.event.org_id or ""

    def age_in_phase(self) -> timedelta:
        """How long the span that the phase's deadline counts has lasted."""
        row = self.row
        since = {
            "deciding": row.purchasing_since, "changing": row.purchasing_since,
            "bought": row.purchased_at,
        }.get(row.phase) or row.phase_since or self.event.created_at
        started = datetime.fromisoformat(since)
        if row.retried_at:  # R10: after an operator's retry, deadlines count from it
            started = max(started, datetime.fromisoformat(row.retried_at))
        return self.deps.now() - started

    def move(
        self, phase: Phase, step: str, *, state: LicenseState | None = None,
        reason: FailureReason | None = None, detail: str | None = None,
        then: Next | None = None, **fields: Any,
    ) -> None:
        """Write the licence in `phase` (and, for `done`, final `state`), then send `then`.

        Raises StaleRecord when the row changed since it was read (another delivery moved
        it on: the caller stops), Unavailable on storage trouble (the host delivers again).
        """
        current = self.row.phase
        if phase != current and not allowed(current, phase):
            raise AssertionError(f"no transition {current} -> {phase} in the state table")
        now = self.deps.now()
        assert (phase == "done") == (state is not None), "a final state only with done"
        public = state or PHASES[phase].state
        if current in _BUYING and phase not in _BUYING:
            # R6, after the write below: a copy of this message that loses the write must
            # not give back what the winner still uses. Owed until given back, so that a
            # worker dying in between leaves the debt on the row for the next message.
            fields = {**fields, "lease_holder": None,
                      "owed": "seat" if public == "purchased_and_assigned" else "seat_and_cap"}
        elif self.row.owed:
            self.pay_back()
            fields = {**fields, "owed": None}
        update: dict[str, Any] = {**fields, "phase": phase}
        if phase != current:
            update["phase_since"] = now.isoformat()
        if then is not None or phase == "done":
            update["ticket"] = self.row.ticket + 1
        if then is not None:
            update["next_at"] = (now + timedelta(seconds=then.delay)).isoformat()
            update["next_queue"] = then.queue
        if phase != current:
            update["looks"] = 0
        row = self.row.model_copy(update=update)
        # Looking again in the same phase with nothing new to say adds no line to the history.
        quiet = phase == current and state is None and reason is None and detail is None
        if not quiet:
            changed = transition(row, state=public, step=step, at=now, reason=reason,
                                 detail=detail)
            assert isinstance(changed, LicenseRecord)
            row = changed
        holder = self.holder
        self.etag = self.deps.ledger.update_license(self.event.event_id, row, self.etag)
        self.row = row
        if row.purchased_at is not None and not quiet:
            self.record_bought()
        if row.owed and current in _BUYING and phase not in _BUYING:
            self.pay_back(holder)
        if not quiet:
            level = logging.WARNING if public == "failed" else logging.INFO
            log.log(level, "onboarding event=%s org=%s sku=%s subscription=%s state=%s "
                    "reason=%s step=%s", self.event.event_id, self.org_id, row.sku_id,
                    row.synnex_subscription_id or "-", public, reason or "-", step)
        notify.on_move(self, current)
        if then is not None:
            self.send(then)

    def record_bought(self) -> None:
        """The seat bought, for the operators' listing (`<org>:bought`); storage trouble
        leaves it to the licence's next move, which writes it again."""
        try:
            self.deps.ledger.record_purchase(bought_seat(self.event, self.row))
        except Transient as exc:
            log.warning("onboarding event=%s sku=%s purchase not listed yet (%s)",
                        self.event.event_id, self.row.sku_id, exc)

    def send(self, then: Next, *, ticket: int | None = None) -> None:
        """Send the licence's message of `ticket` (the current one by default)."""
        self.deps.sender.send(then.queue, {
            "event_id": self.event.event_id, "sku_id": self.row.sku_id,
            "ticket": self.row.ticket if ticket is None else ticket,
        }, delay_seconds=then.delay)

    def fails_on_org(self) -> bool:
        """End the licence when its org is unknown or has no tenant; True when it did."""
        if self.org is None:
            self.fail("org_not_found", "check org", f"org {self.event.org_id!r} is not known")
            return True
        if not self.org.m365_tenant_id:
            self.fail("graph_error", "check org",
                      f"org {self.org.org_id!r} has no m365_tenant_id")
            return True
        return False

    def fail(self, reason: FailureReason, step: str, detail: str) -> None:
        self.move("done", step, state="failed", reason=reason, detail=detail)

    def look_again(self, delay: float, step: str, *, queue: str | None = None,
                   detail: str | None = None, **fields: Any) -> None:
        """Stay in the phase and look again after `delay` seconds."""
        queue = queue or (names.LICENSE_PURCHASES_QUEUE
                          if self.row.phase in ("deciding", "changing")
                          else names.LICENSE_WAITS_QUEUE)
        self.move(self.row.phase, step, detail=detail, then=Next(queue, delay),
                  looks=self.row.looks + 1, **fields)

    def pay_back(self, holder: str | None = None) -> None:
        """R6: give back what a licence that stopped buying owes: the subscription's lease,
        its held seat, and its cap unit unless it ends with the seat it bought. Each is
        idempotent; recorded as paid best effort (should that fail, paying again is harmless).
        """
        owed, key = self.row.owed, self.key
        if not owed:
            return
        if self.org is not None:
            self.deps.leases.release(self.subscription_lease, holder or self.holder)
        self.deps.ledger.release_seat(self.org_id, self.row.sku_id, key)
        if owed == "seat_and_cap":
            self.deps.ledger.release_purchase(self.org_id, self.cap_day(), key)
        paid = self.row.model_copy(update={"owed": None})
        try:
            self.etag = self.deps.ledger.update_license(self.event.event_id, paid, self.etag)
            self.row = paid
        except (StaleRecord, Transient):
            log.info("onboarding event=%s sku=%s given back; not yet recorded",
                     self.event.event_id, self.row.sku_id)

    def cap_day(self) -> str:
        """The UTC day whose cap a purchase counts against: the day it started buying."""
        since = self.row.purchasing_since or self.deps.now().isoformat()
        return self.row.reserved_day or datetime.fromisoformat(since).date().isoformat()

    def hold_seat(self) -> None:
        """Hold one seat of the SKU for this buyer from its request until it has one."""
        until = self.deps.now() + self.deps.policy.deadline * 2 + SEAT_HOLD_MARGIN
        self.deps.ledger.hold_seat(self.org_id, self.row.sku_id, self.key, until)
