"""The onboarding workflow (contract section 5): exactly one seat per hire, under any failure.

Three queue handlers share one ledger:

- `handle_event` (`onboarding-events`): per licence, done if the user has it, assigned if a
  seat is free, else handed to the purchase queue when the org allows buying;
- `handle_purchase` (`license-purchases`): the checks, then under a per-subscription lease:
  read the quantity, write before-and-target to the ledger, change seats, confirm;
- `handle_wait` (`license-waits`): look for the bought seat with backoff until it can be
  assigned, or until the deadline.

A seat bought for one hire shows in the tenant as a free seat like any other, often minutes
before its buyer looks for it. So from the moment a seat change is requested until its buyer has
a seat, the ledger holds one seat of that SKU for the buyer (`hold_seat`): another hire takes a
free seat only while there are more free seats than held ones, buys only when none is free, and
in between waits for the buyers to take theirs.

Every step reads the ledger first and writes it (ETag-guarded) before acting on the outside
world where a repeat would cost money, so a redelivered, crashed or duplicated message resumes
the work instead of repeating it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from shared import names
from shared.adapters.ledger import EventRecord, LicenseRecord, TableLedger, event_status
from shared.adapters.secret_store import SecretStore
from shared.core import variables as org_vars
from shared.core.licenses import find_sku, free_seats
from shared.core.subscriptions import is_active, is_microsoft
from shared.core.workflow import (
    InvalidEvent,
    OnboardingEvent,
    backoff_delay,
    event_outcome,
    is_terminal,
    parse_event,
    transition,
)
from shared.errors import (
    AppError,
    NoFreeSeat,
    StaleRecord,
    Transient,
    UpstreamError,
    UpstreamNotFound,
    UsageLocationMissing,
)
from shared.models import (
    FailureReason,
    GraphUser,
    LicenseState,
    OnboardingStatus,
    Org,
    SubscribedSku,
    Subscription,
    SynnexCredentials,
)
from shared.use_cases.credentials import load_credentials
from shared.use_cases.orgs import OrgStore, effective_variables, lineage

log = logging.getLogger(__name__)

# How long a purchase holds its subscription's lease without renewing it. Longer than the
# queue's redelivery delay, so a crashed buyer's redelivered message finds its own lease.
LEASE_SECONDS = 600.0
# How long a buyer waits in-process for a busy lease before putting its message back.
LEASE_WAIT_SECONDS = 30.0
# A purchase message always comes back well within the lease it may hold, so the lease is
# renewed while a seat change is in flight. Were it to lapse, the next buyer would read the
# quantity before the change lands and send the same new total: two hires, one seat.
PURCHASE_LOOK_MAX_SECONDS = LEASE_SECONDS / 4
# After a seat change whose answer was lost, how long to keep re-reading the quantity before
# concluding that the change never reached Synnex and may be sent again.
SETTLE_SECONDS = 300.0
# How long to poll a seat change inline before handing the confirmation to a later message.
CONFIRM_INLINE_SECONDS = 20.0
# Transient upstream trouble: look again with this backoff, and give up after this long.
TRANSIENT_INITIAL_SECONDS = 15.0
TRANSIENT_MAX_SECONDS = 600.0
TRANSIENT_DEADLINE = timedelta(hours=24)
# The longest `last_error` kept on an event's row.
MAX_ERROR_CHARS = 500
# A seat held for a buyer is given back at the latest this long after the buyer's wait
# deadline, should its event be lost for good (poisoned) before it could give it back.
SEAT_HOLD_MARGIN = timedelta(hours=24)


class GraphApi(Protocol):
    def list_subscribed_skus(self, tenant_id: str) -> list[SubscribedSku]: ...
    def get_user(self, tenant_id: str, user: str) -> GraphUser: ...
    def assign_license(self, tenant_id: str, user_id: str, sku_id: str) -> None: ...
    def set_usage_location(self, tenant_id: str, user_id: str, country: str) -> None: ...


class StellrApi(Protocol):
    def get_subscription(self, customer_no: str, subscription_id: str) -> Subscription: ...
    def change_seats(self, customer_no: str, subscription_id: str, quantity: int) -> str | None: ...
    def get_operation_status(self, operation_id: str) -> str: ...


class Sender(Protocol):
    def send(self, queue: str, body: dict[str, Any], *, delay_seconds: float = 0) -> None: ...


class Leases(Protocol):
    def acquire(self, resource: str, holder: str, seconds: float) -> bool: ...
    def release(self, resource: str, holder: str) -> None: ...


class SubscriptionListings(Protocol):
    """The form's freshness window of Synnex listings (`shared.subscription_cache`)."""

    def invalidate(self, customer_no: str) -> None: ...


@dataclass(frozen=True)
class WaitPolicy:
    """The LICENSE_WAIT_* and USER_LOOKUP_DEADLINE_SECONDS settings."""

    initial_seconds: float = 60.0
    max_seconds: float = 900.0
    deadline: timedelta = timedelta(hours=24)
    user_lookup_deadline: timedelta = timedelta(seconds=300)


class _Finished(Exception):
    """Internal: the licence reached a state the current handler stops at."""


class _SeatsHeld(NoFreeSeat):
    """Internal: seats are free, but no more than are held for hires waiting for them."""


class OnboardingWorkflow:
    """The three queue handlers. Dependencies come in; nothing here reads the environment."""

    def __init__(
        self, *, orgs: OrgStore, ledger: TableLedger, secrets: SecretStore,
        graph: Callable[[], GraphApi], stellr_for: Callable[[SynnexCredentials], StellrApi],
        sender: Sender, leases: Leases, policy: WaitPolicy,
        listings: SubscriptionListings | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._orgs = orgs
        self._ledger = ledger
        self._secrets = secrets
        self._graph = graph
        self._stellr_for = stellr_for
        self._sender = sender
        self._leases = leases
        self._policy = policy
        self._listings = listings
        self._now = now
        self._sleep = sleep
        self._jitter = jitter

    # --- onboarding-events ---------------------------------------------------------------

    def handle_event(self, body: bytes | str, *, message_id: str = "") -> None:
        """Process one `onboarding-events` message. Raises only what the host should retry."""
        try:
            event = parse_event(body)
        except InvalidEvent as exc:
            self._record_invalid(exc, message_id)
            return
        with self._errors_noted(event.event_id):
            opened = self._open_event(event)
            if opened is None:
                return
            record, created = opened
            try:
                rows = self._work_event(event, record, created[1] if created else None)
            except Transient as exc:
                self._retry_later(names.ONBOARDING_EVENTS_QUEUE, event.model_dump(mode="json"),
                                  event.attempt, record.created_at, exc)
                return
            known = (record, created[0], rows) if created and rows is not None else None
            self._finish_event(event.event_id, by="event", known=known)

    def _record_invalid(self, exc: InvalidEvent, message_id: str) -> None:
        event_id = exc.event_id or f"invalid-{message_id or self._now().timestamp()}"
        now = self._now().isoformat()
        record = EventRecord(
            event_id=event_id, status="failed", reason="invalid_event", field=exc.field,
            detail=exc.detail, created_at=now, updated_at=now,
        )
        log.warning(
            "onboarding event=%s state=failed reason=invalid_event field=%s detail=%s",
            event_id, exc.field, exc.detail,
        )
        # An event id already in the ledger keeps its record: a malformed copy of a good
        # event must not overwrite it. Finishing is due either way: should the first delivery
        # have died before sending the result, this one sends it.
        self._ledger.create_event(record, [])
        with self._errors_noted(event_id):
            self._finish_event(event_id, by="event")

    def _open_event(
        self, event: OnboardingEvent
    ) -> tuple[EventRecord, tuple[str, list[tuple[LicenseRecord, str]]] | None] | None:
        """The ledger's record of the event, created on first sight; None to stop here.

        With it, when this delivery created it, the new rows' ETags (the event's, and each
        licence with its own), so that the rest of the handler need not read them back.
        """
        now = self._now().isoformat()
        record = EventRecord(
            event_id=event.event_id, org_id=event.org_id, user=event.user,
            usage_location=event.usage_location, request=event.request_key(),
            sku_ids=[item.sku_id for item in event.licenses], created_at=now, updated_at=now,
        )
        licenses = [
            LicenseRecord(sku_id=item.sku_id, synnex_subscription_id=item.synnex_subscription_id)
            for item in event.licenses
        ]
        created = self._ledger.create_event(record, licenses)
        if created is not None:
            log.info("onboarding event=%s org=%s state=received licenses=%d",
                     event.event_id, event.org_id, len(licenses))
            return record, created
        found = self._ledger.get_event(event.event_id)
        if found is None:
            return None
        existing, existing_etag = found
        if existing.reason == "invalid_event" and not existing.sku_ids:
            # The platform corrected a message it got wrong and sent it again under the same
            # id: the valid event takes the place of the invalid one.
            if not self._ledger.replace_invalid_event(record, licenses, existing_etag):
                return None  # another delivery replaced it first and carries on
            log.info("onboarding event=%s org=%s state=received licenses=%d (replaces an "
                     "invalid copy)", event.event_id, event.org_id, len(licenses))
            return record, None
        if existing.request != record.request:
            log.warning(
                "onboarding event=%s reused with a different body; the first one stands",
                event.event_id,
            )
            return None
        if existing.status != "in_progress":
            # Resend the result, should a crash have lost it.
            self._finish_event(event.event_id, by="event")
            return None
        return existing, None

    def _work_event(
        self, event: OnboardingEvent, record: EventRecord,
        created: list[tuple[LicenseRecord, str]] | None = None,
    ) -> list[LicenseRecord] | None:
        """Work the event's open licences: the rows just `created`, else those in the ledger.

        Returns every licence row as this handler left it when it started from `created`
        (all of them went through its hands), else None: then only the ledger knows.
        """
        rows = created if created is not None else self._ledger.list_licenses(event.event_id)
        open_rows = [(row, etag) for row, etag in rows if not is_terminal(row.state)]
        if not open_rows:
            return None
        org = self._orgs.get_org(event.org_id)
        if org is None:
            for row, etag in open_rows:
                self._set(event, org, row, etag, "failed", "check org", reason="org_not_found",
                          detail=f"org {event.org_id!r} is not known")
            return None
        if not org.m365_tenant_id:
            for row, etag in open_rows:
                self._set(event, org, row, etag, "failed", "check org", reason="graph_error",
                          detail=f"org {org.org_id!r} has no m365_tenant_id")
            return None
        user = self._find_user(event, org, record, open_rows)
        if user is None:
            return None
        done: list[LicenseRecord] = []
        for row, etag in open_rows:
            if row.state == "pending":
                done.append(self._assign_or_buy(event, org, user, row, etag)[0])
            elif row.state == "purchasing":
                # A crash may have come between the ledger write and the send: send again;
                # a duplicate purchase message finds the ledger and does nothing twice.
                self._send_purchase(event.event_id, row.sku_id)
                done.append(row)
        return done if created is not None and len(done) == len(rows) else None

    def _find_user(
        self, event: OnboardingEvent, org: Org, record: EventRecord,
        rows: list[tuple[LicenseRecord, str]],
    ) -> GraphUser | None:
        assert org.m365_tenant_id
        try:
            return self._graph().get_user(org.m365_tenant_id, event.user)
        except UpstreamNotFound:
            age = self._now() - datetime.fromisoformat(record.created_at)
            if age < self._policy.user_lookup_deadline:
                delay = self._backoff(event.attempt)
                log.info("onboarding event=%s org=%s user not found yet; looking again in %.0fs",
                         event.event_id, org.org_id, delay)
                self._sender.send(
                    names.ONBOARDING_EVENTS_QUEUE,
                    {**event.model_dump(mode="json"), "attempt": event.attempt + 1},
                    delay_seconds=delay,
                )
                return None
            for row, etag in rows:
                self._set(event, org, row, etag, "failed", "find user", reason="user_not_found",
                          detail=f"user {event.user!r} not found in the tenant")
            return None
        except UpstreamError as exc:
            if isinstance(exc, Transient):
                raise
            for row, etag in rows:
                self._set(event, org, row, etag, "failed", "find user", reason="graph_error",
                          detail=str(exc))
            return None

    def _assign_or_buy(
        self, event: OnboardingEvent, org: Org, user: GraphUser, row: LicenseRecord, etag: str
    ) -> tuple[LicenseRecord, str]:
        """Move a pending licence on; the row as written, and its ETag."""
        if row.sku_id in user.assigned_sku_ids:
            return self._set(event, org, row, etag, "already_assigned", "check user")
        try:
            self._assign_unheld(event, org, user, row.sku_id)
        except NoFreeSeat:
            pass  # held seats included: the purchase step waits for those to be taken
        except _NoUsageLocation as exc:
            return self._set(event, org, row, etag, "failed", "assign", reason="graph_error",
                             detail=str(exc))
        except UpstreamError as exc:
            if isinstance(exc, Transient):
                raise
            return self._set(event, org, row, etag, "failed", "assign", reason="graph_error",
                             detail=str(exc))
        else:
            return self._set(event, org, row, etag, "assigned", "assign")
        effective = effective_variables(self._orgs, org)
        if not org_vars.choice_enabled(effective):
            return self._set(event, org, row, etag, "failed", "decide", reason="choice_disabled",
                             detail="no free seat, and licencing_choose_subscription is not 1")
        if not row.synnex_subscription_id:
            return self._set(event, org, row, etag, "failed", "decide",
                             reason="no_subscription_chosen",
                             detail="no free seat, and the event names no synnex_subscription_id")
        written = self._set(event, org, row, etag, "purchasing", "decide",
                            detail="no free seat; buying one through the chosen subscription")
        self._send_purchase(event.event_id, row.sku_id)
        return written

    def _assign(self, event: OnboardingEvent | EventRecord, org: Org, user: GraphUser,
                sku_id: str) -> None:
        """Assign, fixing a missing usage location once. Raises NoFreeSeat, UpstreamError."""
        assert org.m365_tenant_id
        graph = self._graph()
        try:
            graph.assign_license(org.m365_tenant_id, user.id, sku_id)
            return
        except UsageLocationMissing:
            pass
        location = event.usage_location or org_vars.usage_location(
            effective_variables(self._orgs, org)
        )
        if not location:
            raise _NoUsageLocation(
                "the user has no usage location, and neither the event nor "
                "licencing_usage_location gives one"
            )
        graph.set_usage_location(org.m365_tenant_id, user.id, location)
        log.info("onboarding event=%s org=%s usage location set to %s",
                 event.event_id, org.org_id, location)
        graph.assign_license(org.m365_tenant_id, user.id, sku_id)

    def _assign_unheld(self, event: OnboardingEvent | EventRecord, org: Org, user: GraphUser,
                       sku_id: str) -> None:
        """Assign a free seat that is not held for another hire.

        Raises _SeatsHeld when every free seat may be one bought for a hire still waiting for
        it, NoFreeSeat (no seat free), UpstreamError.
        """
        assert org.m365_tenant_id
        held = self._ledger.seats_held(org.org_id, sku_id, self._now(),
                                       excluding=f"{event.event_id}/{sku_id}")
        if held:
            sku = find_sku(self._graph().list_subscribed_skus(org.m365_tenant_id), sku_id)
            free = free_seats(sku) if sku else 0
            if free == 0:
                raise NoFreeSeat("graph", f"SKU {sku_id} has no free seat")
            if free <= held:
                raise _SeatsHeld("graph", f"the {free} free seats of SKU {sku_id} may be "
                                 f"those bought for {held} hires waiting for them")
        self._assign(event, org, user, sku_id)

    # --- license-purchases ---------------------------------------------------------------

    def handle_purchase(self, body: bytes | str) -> None:
        """Process one `license-purchases` message {event_id, sku_id, attempt}."""
        message = _internal_message(body)
        if message is None:
            return
        event_id, sku_id, attempt = message
        with self._errors_noted(event_id):
            self._handle_purchase(event_id, sku_id, attempt)

    def _handle_purchase(self, event_id: str, sku_id: str, attempt: int) -> None:
        found = self._load_license(event_id, sku_id, "purchase")
        if found is None:
            return
        record, row, etag = found
        try:
            self._purchase(record, row, etag, attempt)
        except Transient as exc:
            self._retry_later(names.LICENSE_PURCHASES_QUEUE,
                              {"event_id": event_id, "sku_id": sku_id}, attempt,
                              record.created_at, exc, longest=PURCHASE_LOOK_MAX_SECONDS)
            return
        except _Finished:
            pass
        self._finish_event(event_id, by=sku_id)

    def _purchase(self, record: EventRecord, row: LicenseRecord, etag: str, attempt: int) -> None:
        if row.state == "waiting_for_seat":
            # Bought and confirmed; a crash may have lost the hand-over to the wait queue.
            self._send_wait(record.event_id, row.sku_id, 0, delay=self._policy.initial_seconds)
            self._release_lease(record, row)
            return
        if row.state != "purchasing":
            return
        org = self._orgs.get_org(record.org_id or "")
        if org is None:
            self._set(record, None, row, etag, "failed", "check org", reason="org_not_found",
                      detail=f"org {record.org_id!r} is not known")
            return
        if row.change_requested_at is None:
            self._check_before_buying(record, org, row, etag, attempt)
        credentials = self._credentials(record, org, row, etag)
        stellr = self._stellr_for(credentials)
        customer_no = org.synnex_customer_no or ""
        sub_id = row.synnex_subscription_id or ""
        resource = f"{customer_no}/{sub_id}"
        holder = f"{record.event_id}/{row.sku_id}"
        if not self._take_lease(resource, holder):
            log.info("onboarding event=%s sku=%s subscription=%s busy; trying again shortly",
                     record.event_id, row.sku_id, sub_id)
            self._send_purchase(record.event_id, row.sku_id, attempt=attempt + 1,
                                delay=5 + 10 * self._jitter())
            return
        try:
            done = self._buy_under_lease(record, org, row, etag, stellr, attempt)
        except BaseException:
            # Keep the lease when a seat change may be in flight: whoever resumes this
            # purchase must find the quantity as it will be, and it is its own lease.
            latest = self._ledger.get_license(record.event_id, row.sku_id)
            if latest is None or latest[0].change_requested_at is None:
                self._leases.release(resource, holder)
            raise
        if done:
            self._leases.release(resource, holder)

    def _check_before_buying(
        self, record: EventRecord, org: Org, row: LicenseRecord, etag: str, attempt: int
    ) -> None:
        """Re-check everything that forbids a purchase; raises _Finished when one does."""
        assert record.user
        if not org.m365_tenant_id:
            self._set(record, org, row, etag, "failed", "check org", reason="graph_error",
                      detail=f"org {org.org_id!r} has no m365_tenant_id")
            raise _Finished
        # Never buy while a seat is free: one may have been freed since the event was handled.
        try:
            user = self._graph().get_user(org.m365_tenant_id, record.user)
            if row.sku_id in user.assigned_sku_ids:
                self._set(record, org, row, etag, "already_assigned", "check user")
                raise _Finished
            self._assign_unheld(record, org, user, row.sku_id)
            self._set(record, org, row, etag, "assigned", "assign",
                      detail="a seat was free after all; nothing bought")
            raise _Finished
        except _SeatsHeld:
            # Neither take another hire's seat nor buy while a seat may still be free: look
            # again once the waiting hires had time to take theirs.
            log.info("onboarding event=%s org=%s sku=%s free seats are held for other hires; "
                     "looking again later", record.event_id, org.org_id, row.sku_id)
            self._send_purchase(record.event_id, row.sku_id, attempt=attempt + 1,
                                delay=self._backoff(attempt, waiting=True))
            raise _Finished from None
        except NoFreeSeat:
            pass
        except (_NoUsageLocation, UpstreamError) as exc:
            if isinstance(exc, Transient):
                raise
            self._set(record, org, row, etag, "failed", "assign", reason="graph_error",
                      detail=str(exc))
            raise _Finished from None
        effective = effective_variables(self._orgs, org)
        if not org_vars.choice_enabled(effective):
            self._set(record, org, row, etag, "failed", "decide", reason="choice_disabled",
                      detail="licencing_choose_subscription is no longer 1")
            raise _Finished
        if not org.synnex_customer_no:
            self._set(record, org, row, etag, "failed", "decide",
                      reason="subscription_not_found",
                      detail=f"org {org.org_id!r} has no synnex_customer_no")
            raise _Finished

    def _credentials(
        self, record: EventRecord, org: Org, row: LicenseRecord, etag: str
    ) -> SynnexCredentials:
        root = lineage(self._orgs, org)[-1]
        credentials = load_credentials(self._secrets, root.org_id)
        if credentials is None:
            self._set(record, org, row, etag, "failed", "decide", reason="synnex_error",
                      detail=f"no Synnex credentials are stored for MSP root {root.org_id!r}")
            raise _Finished
        return credentials

    def _take_lease(self, resource: str, holder: str) -> bool:
        waited = 0.0
        while not self._leases.acquire(resource, holder, LEASE_SECONDS):
            if waited >= LEASE_WAIT_SECONDS:
                return False
            pause = 0.1 + 0.4 * self._jitter()
            self._sleep(pause)
            waited += pause
        return True

    def _buy_under_lease(
        self, record: EventRecord, org: Org, row: LicenseRecord, etag: str, stellr: StellrApi,
        attempt: int,
    ) -> bool:
        """Buy (or resume buying) one seat; True when the lease can be released."""
        customer_no = org.synnex_customer_no or ""
        sub_id = row.synnex_subscription_id or ""
        try:
            subscription = stellr.get_subscription(customer_no, sub_id)
        except UpstreamNotFound:
            self._set(record, org, row, etag, "failed", "read subscription",
                      reason="subscription_not_found",
                      detail=f"subscription {sub_id!r} not found for customer {customer_no!r}")
            return True
        except UpstreamError as exc:
            if isinstance(exc, Transient):
                raise
            self._set(record, org, row, etag, "failed", "read subscription",
                      reason="synnex_error", detail=str(exc))
            return True

        if row.change_requested_at is not None:
            return self._resume(record, org, row, etag, stellr, subscription, attempt)

        problem = _not_buyable(subscription, customer_no)
        if problem:
            self._set(record, org, row, etag, "failed", "check subscription",
                      reason="subscription_not_found", detail=problem)
            return True
        effective = effective_variables(self._orgs, org)
        day = self._now().date().isoformat()
        cap = org_vars.max_seats_per_day(effective)
        target = subscription.quantity + 1
        if org_vars.dry_run(effective):
            if self._ledger.purchases_on(org.org_id, day) >= cap:
                self._set(record, org, row, etag, "failed", "check cap", reason="cap_reached",
                          detail=f"{cap} seats a day already bought for {org.org_id!r}")
                return True
            row = row.model_copy(update={
                "quantity_before": subscription.quantity, "quantity_target": target,
            })
            self._set(record, org, row, etag, "dry_run", "dry run",
                      detail=f"would raise {sub_id} from {subscription.quantity} to {target}")
            return True
        key = f"{record.event_id}/{row.sku_id}"
        if not self._ledger.reserve_purchase(org.org_id, day, key, cap):
            self._set(record, org, row, etag, "failed", "check cap", reason="cap_reached",
                      detail=f"{cap} seats a day already bought for {org.org_id!r}")
            return True
        return self._change_seats(record, org, row, etag, stellr, subscription, day)

    def _change_seats(
        self, record: EventRecord, org: Org, row: LicenseRecord, etag: str, stellr: StellrApi,
        subscription: Subscription, day: str,
    ) -> bool:
        target = subscription.quantity + 1
        row = row.model_copy(update={
            "quantity_before": subscription.quantity, "quantity_target": target,
            "change_requested_at": self._now().isoformat(), "operation_id": None,
            "reserved_day": day,
        })
        # Written before the change is sent: whatever happens next, a resumed purchase knows
        # what the quantity was and what it should become, and compares before sending again.
        row, etag = self._set(record, org, row, etag, "purchasing", "change seats",
                              detail=f"raising from {subscription.quantity} to {target}")
        self._hold_seat(record, org, row)
        try:
            operation_id = stellr.change_seats(
                org.synnex_customer_no or "", subscription.id, target
            )
        except Transient:
            raise  # unknown whether it landed: the resumed purchase re-reads and compares
        except UpstreamError as exc:
            self._ledger.release_purchase(org.org_id, day, f"{record.event_id}/{row.sku_id}")
            self._ledger.release_seat(org.org_id, row.sku_id, f"{record.event_id}/{row.sku_id}")
            row = row.model_copy(update={"change_requested_at": None})
            self._set(record, org, row, etag, "failed", "change seats", reason="synnex_error",
                      detail=str(exc))
            return True
        if operation_id:
            row = row.model_copy(update={"operation_id": operation_id})
            row, etag = self._set(record, org, row, etag, "purchasing", "seat change sent",
                                  detail=f"operation {operation_id}")
        return self._confirm(record, org, row, etag, stellr, inline=True)

    def _resume(
        self, record: EventRecord, org: Org, row: LicenseRecord, etag: str, stellr: StellrApi,
        subscription: Subscription, attempt: int,
    ) -> bool:
        """A seat change was requested before: find out whether it landed before any resend."""
        assert row.quantity_target is not None and row.change_requested_at is not None
        self._hold_seat(record, org, row)  # a crash may have come between the intent and it
        if subscription.quantity >= row.quantity_target:
            return self._bought(record, org, row, etag)
        if row.operation_id:
            status = stellr.get_operation_status(row.operation_id)
            if status == "completed":
                return self._bought(record, org, row, etag)
            if status == "failed":
                return self._change_failed(record, org, row, etag)
            self._send_purchase(record.event_id, row.sku_id, attempt=attempt + 1,
                                delay=self._backoff(attempt))
            return False
        age = self._now() - datetime.fromisoformat(row.change_requested_at)
        if age.total_seconds() < SETTLE_SECONDS:
            self._send_purchase(record.event_id, row.sku_id, attempt=attempt + 1,
                                delay=min(self._backoff(attempt), SETTLE_SECONDS))
            return False
        return self._resend(record, org, row, etag, stellr, subscription,
                            why=f"quantity still {subscription.quantity} after "
                                f"{int(age.total_seconds())}s")

    def _resend(
        self, record: EventRecord, org: Org, row: LicenseRecord, etag: str, stellr: StellrApi,
        subscription: Subscription, *, why: str,
    ) -> bool:
        log.warning("onboarding event=%s org=%s sku=%s subscription=%s seat change did not "
                    "land (%s); sending it again", record.event_id, org.org_id, row.sku_id,
                    row.synnex_subscription_id, why)
        return self._change_seats(record, org, row, etag, stellr, subscription,
                                  row.reserved_day or self._now().date().isoformat())

    def _confirm(
        self, record: EventRecord, org: Org, row: LicenseRecord, etag: str, stellr: StellrApi,
        *, inline: bool,
    ) -> bool:
        assert row.quantity_target is not None
        waited = 0.0
        pause = 0.5
        while True:
            if row.operation_id:
                status = stellr.get_operation_status(row.operation_id)
                if status == "completed":
                    return self._bought(record, org, row, etag)
                if status == "failed":
                    return self._change_failed(record, org, row, etag)
            else:
                current = stellr.get_subscription(org.synnex_customer_no or "",
                                                  row.synnex_subscription_id or "")
                if current.quantity >= row.quantity_target:
                    return self._bought(record, org, row, etag)
            if not inline or waited >= CONFIRM_INLINE_SECONDS:
                self._send_purchase(record.event_id, row.sku_id, attempt=1, delay=15)
                return False
            self._sleep(pause)
            waited += pause
            pause = min(pause * 2, 4.0)

    def _change_failed(
        self, record: EventRecord, org: Org, row: LicenseRecord, etag: str
    ) -> bool:
        """Synnex says the change failed: record it, give the cap back, and buy nothing more."""
        if row.reserved_day:
            self._ledger.release_purchase(org.org_id, row.reserved_day,
                                          f"{record.event_id}/{row.sku_id}")
        self._set(record, org, row, etag, "failed", "confirm seat change", reason="synnex_error",
                  detail=f"Synnex reports seat change operation {row.operation_id} failed")
        return True

    def _bought(self, record: EventRecord, org: Org, row: LicenseRecord, etag: str) -> bool:
        if self._listings is not None:  # the form's dropdown must show the new quantity
            self._listings.invalidate(org.synnex_customer_no or "")
        row = row.model_copy(update={"purchased_at": self._now().isoformat()})
        self._set(record, org, row, etag, "waiting_for_seat", "seat change confirmed",
                  detail=f"quantity {row.quantity_before} -> {row.quantity_target}")
        self._send_wait(record.event_id, row.sku_id, 0, delay=self._policy.initial_seconds)
        return True

    def _hold_seat(self, record: EventRecord, org: Org, row: LicenseRecord) -> None:
        until = self._now() + self._policy.deadline + SEAT_HOLD_MARGIN
        self._ledger.hold_seat(org.org_id, row.sku_id, f"{record.event_id}/{row.sku_id}", until)

    def _release_lease(self, record: EventRecord, row: LicenseRecord) -> None:
        org = self._orgs.get_org(record.org_id or "")
        if org is not None:
            self._leases.release(f"{org.synnex_customer_no or ''}/{row.synnex_subscription_id}",
                                 f"{record.event_id}/{row.sku_id}")

    # --- license-waits -------------------------------------------------------------------

    def handle_wait(self, body: bytes | str) -> None:
        """Process one `license-waits` message: assign the bought seat, or look again later."""
        message = _internal_message(body)
        if message is None:
            return
        event_id, sku_id, attempt = message
        with self._errors_noted(event_id):
            self._handle_wait(event_id, sku_id, attempt)

    def _handle_wait(self, event_id: str, sku_id: str, attempt: int) -> None:
        found = self._load_license(event_id, sku_id, "wait")
        if found is None:
            return
        record, row, etag = found
        if row.state != "waiting_for_seat":
            # Done before; a crash may have come between that and sending the result.
            self._finish_event(event_id, by=sku_id)
            return
        org = self._orgs.get_org(record.org_id or "")
        if org is None or not org.m365_tenant_id or not record.user:
            self._set(record, org, row, etag, "failed", "assign", reason="org_not_found",
                      detail=f"org {record.org_id!r} is gone or has no tenant")
            self._finish_event(event_id, by=sku_id)
            return
        try:
            user = self._graph().get_user(org.m365_tenant_id, record.user)
            if sku_id not in user.assigned_sku_ids:
                self._assign(record, org, user, sku_id)
            self._set(record, org, row, etag, "purchased_and_assigned", "assign")
        except NoFreeSeat:
            purchased = datetime.fromisoformat(row.purchased_at or record.created_at)
            if self._now() - purchased >= self._policy.deadline:
                self._set(record, org, row, etag, "failed", "wait", reason="seat_not_provisioned",
                          detail=f"the bought seat did not show in the tenant within "
                                 f"{self._policy.deadline}")
            else:
                # No second purchase, ever: a seat taken by someone else is waited for too.
                self._send_wait(event_id, sku_id, attempt + 1,
                                delay=self._backoff(attempt + 1, waiting=True))
                return
        except Transient as exc:
            self._send_wait(event_id, sku_id, attempt + 1,
                            delay=exc.retry_after or self._backoff(attempt + 1, waiting=True))
            return
        except (UpstreamError, _NoUsageLocation) as exc:
            self._set(record, org, row, etag, "failed", "assign", reason="graph_error",
                      detail=str(exc))
        self._finish_event(event_id, by=sku_id)

    # --- shared steps --------------------------------------------------------------------

    def _load_license(
        self, event_id: str, sku_id: str, kind: str
    ) -> tuple[EventRecord, LicenseRecord, str] | None:
        """The event and one licence row (with its ETag) that an internal message names."""
        found_event = self._ledger.get_event(event_id)
        found_row = self._ledger.get_license(event_id, sku_id)
        if found_event is None or found_row is None:
            log.error("%s message for unknown event=%s sku=%s dropped", kind, event_id, sku_id)
            return None
        return found_event[0], *found_row

    @contextlib.contextmanager
    def _errors_noted(self, event_id: str) -> Iterator[None]:
        """Let any exception but a lost ETag race go up to the host (which delivers the message
        again, and in the end moves it to `-poison`), noting it on the event's row first: so
        that the ledger, not only the host's logs, says why an event is stuck."""
        try:
            yield
        except StaleRecord as exc:
            # Another delivery of the same work changed the row first. It carries on from
            # there, and its own message is redelivered should it fail: this copy just stops.
            log.info("onboarding event=%s another delivery moved it on (%s); this one stops",
                     event_id, exc)
        except Exception as exc:
            self._note_error(event_id, exc)
            raise

    def _note_error(self, event_id: str, exc: Exception) -> None:
        error = f"{self._now().isoformat()} {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        log.warning("onboarding event=%s handler failed (%s); the host delivers it again",
                    event_id, error)
        try:
            found = self._ledger.get_event(event_id)
            if found is not None:
                record, etag = found
                self._ledger.update_event(record.model_copy(update={"last_error": error}), etag)
        except Exception:  # best effort: storage may be what fails; the host has the error
            log.warning("onboarding event=%s last error not recorded", event_id)

    def _set(
        self, event: OnboardingEvent | EventRecord, org: Org | None, row: LicenseRecord,
        etag: str, state: LicenseState, step: str, *, reason: FailureReason | None = None,
        detail: str | None = None,
    ) -> tuple[LicenseRecord, str]:
        """Move a licence to `state` in the ledger (ETag-guarded) and log the change."""
        if is_terminal(state) and row.change_requested_at is not None:
            # Its buyer is done with the seat held for it. Given back first: should the write
            # below fail, the redelivered message gives it back again, never leaks it.
            self._ledger.release_seat(event.org_id or "", row.sku_id,
                                      f"{event.event_id}/{row.sku_id}")
        updated = transition(row, state=state, step=step, at=self._now(), reason=reason,
                             detail=detail)
        assert isinstance(updated, LicenseRecord)
        new_etag = self._ledger.update_license(event.event_id, updated, etag)
        level = logging.WARNING if state == "failed" else logging.INFO
        log.log(level, "onboarding event=%s org=%s sku=%s subscription=%s state=%s reason=%s "
                "step=%s", event.event_id, org.org_id if org else event.org_id, row.sku_id,
                row.synnex_subscription_id or "-", state, reason or "-", step)
        return updated, new_etag

    def _finish_event(
        self, event_id: str, *, by: str,
        known: tuple[EventRecord, str, list[LicenseRecord]] | None = None,
    ) -> None:
        """When every licence is done or failed: close the event and send its result once.

        `by` names the handler's part of the event ("event", or the sku_id of a purchase or
        wait message): the part that marks the result as sending is the one that sends it.
        `known`: the event as this handler created it (the record and its ETag) and every
        licence row as this handler left it, to finish without reading them back; should the
        event row have changed meanwhile, the ledger is read as without it.
        """
        if known is not None and self._finish_known(*known, by=by):
            return
        outrun = False
        while True:
            found = self._ledger.get_event(event_id)
            if found is None:
                return
            record, etag = found
            if record.result == "sent":
                return
            if record.result == "sending" and (outrun or record.result_by != by):
                # Another handler is sending it; should it die first, the host delivers its
                # message again, and that sends it.
                return
            if record.status == "in_progress":
                states = [row.state for row, _ in self._ledger.list_licenses(event_id)]
                outcome = event_outcome(states)
                if outcome == "in_progress":
                    return
                record = record.model_copy(update={
                    "status": outcome, "updated_at": self._now().isoformat()})
            try:
                etag = self._ledger.update_event(
                    record.model_copy(update={"result": "sending", "result_by": by}), etag)
            except StaleRecord:
                outrun = True
                continue
            status = self._ledger.status(event_id)
            assert status is not None
            self._send_result(record, etag, status)
            return

    def _finish_known(
        self, record: EventRecord, etag: str, rows: list[LicenseRecord], *, by: str
    ) -> bool:
        """`_finish_event` from rows this handler wrote itself; False to read the ledger."""
        outcome = event_outcome([row.state for row in rows])
        if outcome == "in_progress":
            return True  # a licence still open finishes the event when it is done
        record = record.model_copy(update={"status": outcome,
                                           "updated_at": self._now().isoformat()})
        try:
            etag = self._ledger.update_event(
                record.model_copy(update={"result": "sending", "result_by": by}), etag)
        except StaleRecord:
            return False
        self._send_result(record, etag, event_status(record, rows))
        return True

    def _send_result(self, record: EventRecord, etag: str, status: OnboardingStatus) -> None:
        """Send the event's result (marked as sending under `etag`), then mark it as sent."""
        self._sender.send(names.ONBOARDING_RESULTS_QUEUE, status.model_dump(mode="json"))
        with contextlib.suppress(StaleRecord):
            self._ledger.update_event(record.model_copy(update={"result": "sent"}), etag)
        log.info("onboarding event=%s org=%s state=%s result sent",
                 record.event_id, record.org_id, record.status)

    def _retry_later(self, queue: str, body: dict[str, Any], attempt: int, since: str,
                     exc: Transient, *, longest: float | None = None) -> None:
        """Put a message back with a delay after transient trouble; raise past the deadline."""
        if self._now() - datetime.fromisoformat(since) > TRANSIENT_DEADLINE:
            raise exc  # a day of outage: let the host retry and, in the end, poison it
        delay = exc.retry_after or backoff_delay(
            attempt, initial=TRANSIENT_INITIAL_SECONDS, maximum=TRANSIENT_MAX_SECONDS,
            jitter=self._jitter(),
        )
        if longest is not None:
            delay = min(delay, longest)
        log.warning("transient trouble service=%s (%s); looking again in %.0fs",
                    exc.service, exc, delay)
        self._sender.send(queue, {**body, "attempt": attempt + 1}, delay_seconds=delay)

    def _backoff(self, attempt: int, *, waiting: bool = False) -> float:
        initial = self._policy.initial_seconds if waiting else min(
            self._policy.initial_seconds, 15.0)
        return backoff_delay(attempt, initial=initial, maximum=self._policy.max_seconds,
                             jitter=self._jitter())

    def _send_purchase(self, event_id: str, sku_id: str, *, attempt: int = 0,
                       delay: float = 0) -> None:
        self._sender.send(names.LICENSE_PURCHASES_QUEUE,
                          {"event_id": event_id, "sku_id": sku_id, "attempt": attempt},
                          delay_seconds=min(delay, PURCHASE_LOOK_MAX_SECONDS))

    def _send_wait(self, event_id: str, sku_id: str, attempt: int, *, delay: float) -> None:
        self._sender.send(names.LICENSE_WAITS_QUEUE,
                          {"event_id": event_id, "sku_id": sku_id, "attempt": attempt},
                          delay_seconds=delay)


class _NoUsageLocation(AppError):
    """Graph needs a usage location and nothing gives one."""


def _not_buyable(subscription: Subscription, customer_no: str) -> str | None:
    """Why this subscription must not be raised for the customer, or None."""
    if subscription.customer_no and subscription.customer_no != customer_no:
        return f"subscription {subscription.id} belongs to another customer"
    if not is_microsoft(subscription):
        return f"subscription {subscription.id} is not a Microsoft subscription"
    if not is_active(subscription):
        return f"subscription {subscription.id} is not active ({subscription.status})"
    return None


def _internal_message(body: bytes | str) -> tuple[str, str, int] | None:
    try:
        data = json.loads(body)
        event_id, sku_id = data["event_id"], data["sku_id"]
        attempt = int(data.get("attempt", 0))
        if not isinstance(event_id, str) or not isinstance(sku_id, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        log.error("internal workflow message unreadable; dropped")
        return None
    return event_id, sku_id, attempt
