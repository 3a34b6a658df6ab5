"""An in-memory Graph and Stellr, a fake clock and queues, to drive the workflow in tests.

The ledger, the org store and the leases are the real Table Storage adapters on Azurite; only
the two upstreams and the queue delivery are simulated here, with seat accounting, so a test
can assert what was bought and assigned.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared import names
from shared.errors import NoFreeSeat, UpstreamNotFound, UpstreamRejected, UsageLocationMissing
from shared.models import GraphUser, SubscribedSku, Subscription

TENANT = "3f2c7d8e-1a4b-4c5d-9e6f-7a8b9c0d1e2f"
SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"  # Microsoft 365 Business Premium
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # Office 365 E3 (ENTERPRISEPACK)
CUSTOMER_NO = "100234"
SPB_ANNUAL = "411833_1"


class FakeClock:
    """UTC time that moves only when told (or when the code under test sleeps)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


@dataclass
class Sku:
    enabled: int
    consumed: int = 0


@dataclass
class User:
    id: str
    upn: str
    usage_location: str | None = None
    skus: set[str] = field(default_factory=set)


Fault = Callable[[str], None]


class FakeGraph:
    """One tenant's licences and users, with Graph's seat accounting and errors."""

    def __init__(self) -> None:
        self.skus: dict[str, Sku] = {}
        self.users: dict[str, User] = {}
        self.calls: list[str] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()

    def add_user(self, upn: str, *, usage_location: str | None = "US") -> User:
        user = User(id=f"00000000-0000-4000-8000-{len(self.users):012d}", upn=upn,
                    usage_location=usage_location)
        self.users[upn] = user
        return user

    def _call(self, name: str) -> None:
        self.calls.append(name)
        for fault in self.faults:
            fault(name)

    def _user(self, key: str) -> User:
        for user in self.users.values():
            if key in (user.id, user.upn):
                return user
        raise UpstreamNotFound("graph", f"user {key} not found", status_code=404)

    def list_subscribed_skus(self, tenant_id: str) -> list[SubscribedSku]:
        self._call("list_subscribed_skus")
        with self._lock:
            return [SubscribedSku(sku_id=sku_id, enabled_units=sku.enabled,
                                  consumed_units=sku.consumed)
                    for sku_id, sku in self.skus.items()]

    def get_user(self, tenant_id: str, user: str) -> GraphUser:
        self._call("get_user")
        with self._lock:
            found = self._user(user)
            return GraphUser(id=found.id, user_principal_name=found.upn,
                             usage_location=found.usage_location,
                             assigned_sku_ids=frozenset(found.skus))

    def assign_license(self, tenant_id: str, user_id: str, sku_id: str) -> None:
        self._call("assign_license")
        with self._lock:
            user = self._user(user_id)
            if sku_id in user.skus:
                return
            if not user.usage_location:
                raise UsageLocationMissing("graph", "invalid usage location", status_code=400)
            sku = self.skus.get(sku_id)
            if sku is None:
                raise UpstreamRejected("graph", f"License {sku_id} does not correspond to a "
                                       "valid company License", status_code=400)
            if sku.consumed >= sku.enabled:
                raise NoFreeSeat("graph", f"SKU {sku_id} has no available licenses",
                                 status_code=400)
            sku.consumed += 1
            user.skus.add(sku_id)

    def set_usage_location(self, tenant_id: str, user_id: str, country: str) -> None:
        self._call("set_usage_location")
        with self._lock:
            self._user(user_id).usage_location = country

    def holders(self, sku_id: str) -> list[str]:
        return sorted(u.upn for u in self.users.values() if sku_id in u.skus)

    def give(self, upn: str, sku_id: str) -> None:
        """An admin assigns a seat in the admin center, outside the app."""
        with self._lock:
            sku = self.skus[sku_id]
            assert sku.consumed < sku.enabled, "no free seat to give"
            sku.consumed += 1
            self.users[upn].skus.add(sku_id)

    def take_back(self, upn: str, sku_id: str) -> None:
        """An admin removes a user's seat, which frees it."""
        with self._lock:
            self.users[upn].skus.remove(sku_id)
            self.skus[sku_id].consumed -= 1


class FakeStellr:
    """Subscriptions whose seat changes complete after `completes_after` operation polls (or,
    when `completes_in` is set, that many seconds of the clock, polled or not) and show in the
    tenant (`graph`) after `provisioning_delay` seconds of the clock.

    Knobs for misbehaving Synnex, each off by default: `landing` (the n-th change sent, from
    1, lands that many seconds after it was sent, or never for None), `pending_status` (what
    an operation not yet applied answers), `read_lag` (reads show the quantity as it was that
    many seconds ago). `history` keeps every quantity each subscription had, in order.
    """

    def __init__(self, graph: FakeGraph, clock: FakeClock) -> None:
        self.graph = graph
        self.clock = clock
        self.subscriptions: dict[str, Subscription] = {}
        self.sku_of: dict[str, str] = {}
        self.changes: list[tuple[str, int]] = []
        self.calls: list[str] = []
        self.faults: list[Fault] = []
        self.completes_after = 0
        self.completes_in: float | None = None
        self.provisioning_delay = 0.0
        self.landing: dict[int, float | None] = {}
        self.pending_status = "in_progress"
        self.read_lag = 0.0
        self.history: list[tuple[datetime, str, int]] = []
        self.listed_for: dict[str, str] = {}
        self._operations: dict[str, dict[str, Any]] = {}
        self._pending_seats: list[tuple[datetime, str, int]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add_subscription(self, sub_id: str, *, quantity: int, sku_id: str | None,
                         vendor: str = "Microsoft", status: str = "active",
                         customer_no: str | None = CUSTOMER_NO, listed_for: str | None = None,
                         product: str = "Microsoft 365 Business Premium (NCE Annual)") -> None:
        """A subscription; `customer_no` None: its record names no customer, and only the
        listing of `listed_for` (if any) shows it."""
        self.subscriptions[sub_id] = Subscription(
            id=sub_id, customer_no=customer_no, vendor=vendor, product_name=product,
            quantity=quantity, status=status, term="annual",
        )
        self.history.append((self.clock.now(), sub_id, quantity))
        if listed_for:
            self.listed_for[sub_id] = listed_for
        if sku_id:
            self.sku_of[sub_id] = sku_id

    def _call(self, name: str) -> None:
        self.calls.append(name)
        for fault in self.faults:
            fault(name)

    def _settle(self) -> None:
        now = self.clock.now()
        for op in self._operations.values():
            if "lands_in" in op:
                due = op["lands_in"] is not None and (
                    now - op["sent_at"] >= timedelta(seconds=op["lands_in"]))
            else:
                due = op["polls"] >= self.completes_after or (
                    self.completes_in is not None
                    and now - op["sent_at"] >= timedelta(seconds=self.completes_in))
            if op["status"] == "in_progress" and due:
                op["status"] = "completed"
                sub = self.subscriptions[op["sub_id"]]
                delta = op["quantity"] - sub.quantity
                self.subscriptions[op["sub_id"]] = sub.model_copy(
                    update={"quantity": op["quantity"]})
                self.history.append((now, op["sub_id"], op["quantity"]))
                if op["sub_id"] in self.sku_of and delta > 0:
                    self._pending_seats.append(
                        (now + timedelta(seconds=self.provisioning_delay),
                         self.sku_of[op["sub_id"]], delta))
        still = []
        for due, sku_id, delta in self._pending_seats:
            if due <= now:
                with self.graph._lock:
                    self.graph.skus[sku_id].enabled += delta
            else:
                still.append((due, sku_id, delta))
        self._pending_seats = still

    def tick(self) -> None:
        with self._lock:
            self._settle()

    def _as_read(self, sub: Subscription) -> Subscription:
        """The record as a read shows it: its quantity `read_lag` seconds ago."""
        if not self.read_lag:
            return sub
        moment = self.clock.now() - timedelta(seconds=self.read_lag)
        seen = [q for at, sub_id, q in self.history if sub_id == sub.id and at <= moment]
        first = next(q for _, sub_id, q in self.history if sub_id == sub.id)
        return sub.model_copy(update={"quantity": seen[-1] if seen else first})

    def get_subscription(self, customer_no: str, subscription_id: str) -> Subscription:
        self._call("get_subscription")
        with self._lock:
            self._settle()
            sub = self.subscriptions.get(subscription_id)
            # A record that names no customer comes back on any customer's path.
            if sub is None or (sub.customer_no is not None and sub.customer_no != customer_no):
                raise UpstreamNotFound("synnex", f"subscription {subscription_id} not found",
                                       status_code=404)
            return self._as_read(sub)

    def list_subscriptions(self, customer_no: str) -> list[Subscription]:
        self._call("list_subscriptions")
        with self._lock:
            self._settle()
            return [self._as_read(sub).model_copy(update={"customer_no": customer_no})
                    for sub in self.subscriptions.values()
                    if customer_no in (sub.customer_no, self.listed_for.get(sub.id))]

    def change_seats(self, customer_no: str, subscription_id: str, quantity: int) -> str | None:
        self._call("change_seats")
        with self._lock:
            number = next(self._ids)
            op_id = f"op-{number}"
            self.changes.append((subscription_id, quantity))
            self._operations[op_id] = {"sub_id": subscription_id, "quantity": quantity,
                                       "status": "in_progress", "polls": 0,
                                       "sent_at": self.clock.now()}
            if number in self.landing:
                self._operations[op_id]["lands_in"] = self.landing[number]
            self._settle()
            return op_id

    def get_operation_status(self, operation_id: str) -> str:
        self._call("get_operation_status")
        with self._lock:
            op = self._operations[operation_id]
            op["polls"] += 1
            self._settle()
            return self.pending_status if op["status"] == "in_progress" else str(op["status"])

    def quantity(self, sub_id: str) -> int:
        self.tick()
        return self.subscriptions[sub_id].quantity

    def quantities(self, sub_id: str) -> list[int]:
        """Every quantity the subscription had, in order."""
        return [q for _, sub, q in self.history if sub == sub_id]


_message_ids = itertools.count(1)


@dataclass
class Message:
    queue: str
    body: str
    visible_at: datetime
    id: str = field(default_factory=lambda: f"msg-{next(_message_ids):06d}")
    # Deliveries so far, as the host counts them (`dequeue_count` of the trigger's message).
    dequeue_count: int = 0


class FakeQueues:
    """The workflow's queues: what was sent, when it becomes visible, and a pump to deliver."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.messages: list[Message] = []
        self.sent: list[Message] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()

    def send(self, queue: str, body: dict[str, Any], *, delay_seconds: float = 0) -> None:
        for fault in self.faults:
            fault(queue)
        message = Message(queue, json.dumps(body),
                          self.clock.now() + timedelta(seconds=delay_seconds))
        with self._lock:
            self.messages.append(message)
            self.sent.append(message)

    def put_event(self, body: str | dict[str, Any]) -> None:
        text = body if isinstance(body, str) else json.dumps(body)
        with self._lock:
            self.messages.append(Message(names.ONBOARDING_EVENTS_QUEUE, text, self.clock.now()))

    def discard_pending(self) -> None:
        """Drop every message not yet handled (results stay in `sent`)."""
        with self._lock:
            self.messages.clear()

    def pending(self) -> int:
        """Messages not yet handled on the triggered queues."""
        with self._lock:
            return sum(m.queue != names.ONBOARDING_RESULTS_QUEUE for m in self.messages)

    def take_due(self) -> Iterator[Message]:
        while True:
            message = self.take_one()
            if message is None:
                return
            yield message

    def take_one(self) -> Message | None:
        """The earliest visible message of a triggered queue, taken off it; None if none."""
        with self._lock:
            now = self.clock.now()
            due = [m for m in self.messages
                   if m.visible_at <= now and m.queue != names.ONBOARDING_RESULTS_QUEUE]
            if not due:
                return None
            message = min(due, key=lambda m: m.visible_at)
            self.messages.remove(message)
            message.dequeue_count += 1
            return message

    def put_back(self, message: Message, *, delay_seconds: float) -> None:
        """What the host does with a message whose handler raised: visible again later."""
        message.visible_at = self.clock.now() + timedelta(seconds=delay_seconds)
        with self._lock:
            self.messages.append(message)

    def next_visible(self) -> datetime | None:
        with self._lock:
            pending = [m.visible_at for m in self.messages
                       if m.queue != names.ONBOARDING_RESULTS_QUEUE]
        return min(pending) if pending else None

    def results(self, event_id: str | None = None) -> list[dict[str, Any]]:
        """The result messages sent, all of them or one event's."""
        with self._lock:
            bodies = [json.loads(m.body) for m in self.sent
                      if m.queue == names.ONBOARDING_RESULTS_QUEUE]
        return [b for b in bodies if event_id is None or b["event_id"] == event_id]
