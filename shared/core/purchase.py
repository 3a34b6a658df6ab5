"""The purchase workflow as a state machine: its states, and every decision, without I/O.

A licence of an onboarding event moves through the phases of `PHASES`. Each phase names the
public state callers see, the phases that may follow it, and the longest it may last; every
decision the use cases act on is a function here of the licence's record and the facts just
read (free and held seats, variables, the subscription, the seat change's status, ages). No
I/O, no clock: time comes in as ages and instants.

The rules that keep the contract's guarantees, each named where it is decided:

- R1 one chain: a licence has one chain of messages; only the message with the record's
  current ticket acts (`message_role`). Redeliveries and duplicates collapse.
- R2 intent first: the target quantity is written before `changeSeats` is sent; a resumed
  purchase asks the record, never the network, what it sent.
- R3 floor: the subscription's lease row remembers the highest total requested that is not
  known to have failed; a target is never below it (`plan_target`). Lagging reads and
  lapsed leases cannot make two hires share one seat, and the app never sends a lower total.
- R4 settle: a change that shows in neither the quantity nor its operation within
  `SETTLE_SECONDS` of being sent did not land, whatever else Synnex says of it; it may be
  sent again only after every pre-purchase check has passed again (`judge_change`); while
  Synnex says it is still at work on it, it is waited for (R5 bounds the wait). Sent
  again under the same lease, it is the same total, so the first landing late changes
  nothing.
- R5 deadline: every phase ends by its deadline, whatever Synnex reports (`expired`). A
  change Synnex still calls in progress at the purchase deadline is taken as never landing.
- R6 give back: a licence that ends without its seat gives back its held seat and its cap unit.
- R7 seat guard: the free-and-held check and the assignment run under a per (org, SKU) guard
  (`seat_decision`), so two hires never both take the one unheld seat.
- R8 a 429 changed nothing: throttled changes go back to deciding at once, floor restored.
- R9 approval: where the org requires it, a licence that passed every check waits in
  `approving` holding nothing (no lease, seat or cap unit); an approval sends it back to
  deciding, where every check runs again before the seat change; a denial or the deadline
  ends it. The answer is only written (ETag-guarded); the licence's own message acts on it,
  so one that arrives twice, late, or beside a crash acts at most once and the chain stays
  one (R1).
- R10 retry: a licence that ended `failed` is worked again only on an operator's retry; one
  whose seat change landed (`purchased_at`) goes back to waiting for that seat, never to
  buying (`retry_phase`). Its deadlines count from the retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Literal

from shared.models import FailureReason, LicenseState, Phase

# R4: a seat change shows within this long of being sent, or it did not land. Stellr answers a
# seat change within the HTTP timeout (30 s) and applies it within minutes; 15 minutes leaves
# room for a slow operation, and is below the lease, which covers it.
SETTLE_SECONDS = 900.0
# R3: how long a purchase holds its subscription's lease without renewing it. A buyer renews
# it at every look (at most PURCHASE_LOOK_MAX_SECONDS apart). It must outlast the settle window
# plus a crashed instance's redelivery (the host hides a message it was running for up to
# its functionTimeout, 10 min, then 'visibilityTimeout' between deliveries), so that a crashed
# buyer finds its own lease again; and when it lapses anyway, the floor still holds (R3).
LEASE_SECONDS = 1800.0
# R3: how long a floor counts after it was set: the change it guards lands within the settle
# window, and a read lags it by less than another. After that the quantity read is the truth,
# even one a person lowered in the portal.
FLOOR_SECONDS = 2 * SETTLE_SECONDS
# How long a step may hold the per (org, SKU) seat guard (R7): a few Graph calls.
SEAT_GUARD_SECONDS = 60.0
# The longest pause between two looks at a seat change in flight.
PURCHASE_LOOK_MAX_SECONDS = 120.0
# R4: a change Synnex accepted this many times without applying it is not sent again: that
# is for a person to look at.
MAX_CHANGE_SENDS = 3
# A claim to send an event's result is taken over by another handler only once it is older
# than a handler can run (host.json functionTimeout): its claimer is dead by then.
RESULT_CLAIM_SECONDS = 600.0
# A message whose successor was recorded but may not have been sent (its handler died in
# between) re-sends it once this long after it was due (R1).
RESEND_GRACE_SECONDS = 600.0


@dataclass(frozen=True)
class PhaseRule:
    state: LicenseState
    next: frozenset[Phase]
    # Which deadline bounds the phase (see `WorkflowTimes`), and the reason it fails with.
    deadline: Literal["lookup", "decide", "purchase", "wait", "approval", "none"]
    reason_at_deadline: FailureReason | None


PHASES: dict[Phase, PhaseRule] = {
    # The event handler works a new licence: the user has it, a seat is free, or buy.
    "received": PhaseRule("pending", frozenset({"looking", "held", "deciding", "done"}),
                          "lookup", "graph_error"),
    # The first step again later: a user Graph does not find yet, trouble, a busy guard.
    "looking": PhaseRule("pending", frozenset({"looking", "held", "deciding", "done"}),
                         "lookup", "graph_error"),
    # Seats are free, but no more than are held for hires who bought them (R7).
    "held": PhaseRule("waiting_for_seat", frozenset({"held", "deciding", "done"}),
                      "wait", "seat_not_provisioned"),
    # Every pre-purchase check, under the subscription's lease, then the intent (R2).
    "deciding": PhaseRule("purchasing", frozenset({"deciding", "approving", "changing", "held",
                                                   "done"}), "decide", "synnex_error"),
    # Every check passed and the org wants a person to approve: wait (lease, seat and cap
    # given back) until approved (decide again: every check re-runs), denied, or expired.
    "approving": PhaseRule("awaiting_approval", frozenset({"approving", "deciding", "done"}),
                           "approval", "approval_expired"),
    # The change is requested: confirm it, or find it did not land (R4) and decide again.
    "changing": PhaseRule("purchasing", frozenset({"changing", "deciding", "bought", "done"}),
                          "purchase", "synnex_error"),
    # Bought: wait until the tenant shows the seat, then assign it.
    "bought": PhaseRule("waiting_for_seat", frozenset({"bought", "done"}),
                        "wait", "seat_not_provisioned"),
    # Ended. R10: only an operator's retry leaves it, and only for a licence that ended
    # failed: back to the first step, or, once its seat change landed, to waiting for it.
    "done": PhaseRule("failed", frozenset({"looking", "bought"}), "none", None),
}


def allowed(current: Phase, following: Phase) -> bool:
    """Whether the state table lets `following` come after `current`."""
    return following in PHASES[current].next


def retry_phase(state: str, purchased_at: str | None) -> Phase | None:
    """R10: where a retried licence starts again; None when it did not end failed."""
    if state != "failed":
        return None
    return "bought" if purchased_at else "looking"


@dataclass(frozen=True)
class WorkflowTimes:
    """The deadlines of the phases (settings LICENSE_WAIT_* and USER_LOOKUP_*)."""

    lookup: timedelta = timedelta(hours=24)
    purchase: timedelta = timedelta(hours=24)
    wait: timedelta = timedelta(hours=24)
    user_lookup: timedelta = timedelta(seconds=300)
    # The org's licencing_approval_hours, as recorded when the approval was asked.
    approval: timedelta = timedelta(hours=24)

    @property
    def decide(self) -> timedelta:
        """R4, R5: no seat change is sent in the purchase's last settle window, so that any
        change sent is seen landing, or not, before the deadline ends the purchase (a change
        sent a minute before it, then given up, could land for nobody)."""
        return max(self.purchase - timedelta(seconds=SETTLE_SECONDS), self.purchase / 2)


def expired(phase: Phase, age: timedelta, times: WorkflowTimes) -> bool:
    """R5: whether a licence `age` into the span its phase's deadline counts from is late."""
    kind = PHASES[phase].deadline
    if kind == "none":
        return False
    limit: timedelta = getattr(times, kind)
    return age >= limit


# --- R1: one chain of messages per licence ----------------------------------------------


class MessageRole(Enum):
    ACT = "act"  # the message of the current ticket: do the step
    RESEND = "resend"  # the successor was recorded long ago and never acted on: send it again
    WATCH = "watch"  # the successor was recorded, maybe not sent: look again after the grace
    STALE = "stale"  # an older or duplicate message: nothing to do


def message_role(ticket: int, current: int, overdue: timedelta | None) -> MessageRole:
    """What a message carrying `ticket` does with a record at `current`.

    `overdue`: how long past its due time the record's current message is (None when not
    yet due). A handler writes the new ticket, then sends its message; should it die in
    between, its own message comes back with the previous ticket and re-sends the successor
    once that is overdue by the grace (a successor that was sent would have acted by then).
    """
    if ticket == current:
        return MessageRole.ACT
    if ticket == current - 1:
        if overdue is not None and overdue.total_seconds() >= RESEND_GRACE_SECONDS:
            return MessageRole.RESEND
        return MessageRole.WATCH
    return MessageRole.STALE


# --- R7: taking a free seat ---------------------------------------------------------------

SeatDecision = Literal["take", "held", "none"]


def seat_decision(free: int, held_for_others: int) -> SeatDecision:
    """With the seat guard held: take a seat while more are free than are held for others;
    wait while every free seat may be another hire's; buy only when none is free."""
    if free > held_for_others:
        return "take"
    if free > 0:
        return "held"
    return "none"


# --- the pre-purchase checks -------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    reason: FailureReason
    detail: str


@dataclass(frozen=True)
class PurchaseFacts:
    """What the checks before every seat change read (guarantees 3 and 5)."""

    choice_enabled: bool
    subscription_id: str | None
    customer_no: str | None
    # The subscription as read now (None when Synnex does not know it).
    found: bool = True
    owner: str | None = None
    owner_confirmed: bool = False
    vendor_microsoft: bool = True
    active: bool = True
    status: str = ""
    # Issue of matching: the subscription's product against the SKU's, when both are known.
    product_mismatch: str | None = None
    allow_unmatched: bool = False


def purchase_refusal(facts: PurchaseFacts) -> Refusal | None:
    """Why no seat may be bought now, or None. Run before every seat change (R4)."""
    if not facts.choice_enabled:
        return Refusal("choice_disabled",
                       "no free seat, and licencing_choose_subscription is not 1")
    if not facts.subscription_id:
        return Refusal("no_subscription_chosen",
                       "no free seat, and the event names no synnex_subscription_id")
    if not facts.customer_no:
        return Refusal("subscription_not_found", "the org has no synnex_customer_no")
    sub = facts.subscription_id
    if not facts.found:
        return Refusal("subscription_not_found",
                       f"subscription {sub!r} not found for customer {facts.customer_no!r}")
    # A record that does not name its customer proves nothing: ownership must be confirmed.
    if facts.owner is not None and facts.owner != facts.customer_no:
        return Refusal("subscription_not_found", f"subscription {sub} belongs to another customer")
    if facts.owner is None and not facts.owner_confirmed:
        return Refusal("subscription_not_found",
                       f"subscription {sub} is not among customer {facts.customer_no}'s")
    if not facts.vendor_microsoft:
        return Refusal("subscription_not_found", f"subscription {sub} is not a Microsoft one")
    if not facts.active:
        return Refusal("subscription_not_found", f"subscription {sub} is not active "
                       f"({facts.status})")
    if facts.product_mismatch and not facts.allow_unmatched:
        return Refusal("subscription_mismatch", facts.product_mismatch)
    return None


def plan_target(quantity: int, floor: int | None) -> int:
    """R3: the total to send: one more than the quantity read, and never below the highest
    total requested through this subscription that is not known to have failed."""
    return max(quantity, floor or 0) + 1


# --- R4: judging a seat change in flight ------------------------------------------------

Verdict = Literal["landed", "failed", "not_landed", "unknown"]

# The operation states the assumed wire format names; any other word is not understood and
# the quantity decides (`judge_change`).
_LANDED = frozenset({"completed", "succeeded", "success", "complete"})
_FAILED = frozenset({"failed", "error", "cancelled", "canceled", "rejected", "expired",
                     "declined"})
_WORKING = frozenset({"in_progress", "inprogress", "pending", "processing", "running", "queued"})


def judge_change(
    *, status: str | None, quantity: int | None, target: int, since_sent: timedelta
) -> Verdict:
    """Whether a requested change landed, from its operation's status (None: none known or
    unreadable) and the quantity just read (None: not readable now).

    landed: the quantity reached the target, or the operation completed. failed: the
    operation failed (final: nothing changed). not_landed: neither, with the settle window
    past, the quantity read, and Synnex not saying it is still at work on the change (any
    other word, or none: a change lands within the window or not at all). unknown: look
    again (until the purchase deadline, when the change is taken as never landing).
    """
    word = (status or "").strip().lower()
    if quantity is not None and quantity >= target:
        return "landed"
    if word in _LANDED:
        return "landed"
    if word in _FAILED:
        return "failed"
    if since_sent.total_seconds() >= SETTLE_SECONDS and quantity is not None and (
            word not in _WORKING):
        return "not_landed"
    return "unknown"
