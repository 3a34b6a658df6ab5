"""What the onboarding workflow needs from the outside world, as small protocols.

The Table Storage adapters (`shared.adapters.ledger`, `shared.adapters.locks`) and the
in-memory ones (`shared.adapters.memory`) both implement them; the workflow is built on either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.models import (
    BoughtSeat,
    EventRecord,
    GraphUser,
    LicenseRecord,
    OnboardingStatus,
    SubscribedSku,
    Subscription,
    SynnexCredentials,
)

Etag = str


class Ledger(Protocol):
    """The onboarding ledger: events, their licences, the day's purchases, held seats.

    Every update is guarded by the ETag the row was read with and raises StaleRecord when the
    row changed since; storage trouble raises Unavailable.
    """

    def create_event(
        self, event: EventRecord, licenses: list[LicenseRecord], *, index: bool = True
    ) -> tuple[Etag, list[tuple[LicenseRecord, Etag]]] | None: ...
    def index_event(self, event: EventRecord) -> None: ...
    def replace_invalid_event(
        self, event: EventRecord, licenses: list[LicenseRecord], etag: Etag
    ) -> bool: ...
    def find_event(self, event_id: str) -> tuple[EventRecord, Etag] | None: ...
    def find_license(self, event_id: str, sku_id: str) -> tuple[LicenseRecord, Etag] | None: ...
    def list_licenses(self, event_id: str) -> list[tuple[LicenseRecord, Etag]]: ...
    def update_event(self, event: EventRecord, etag: Etag, *,
                     reindex: bool = True) -> Etag: ...
    def update_license(self, event_id: str, record: LicenseRecord, etag: Etag) -> Etag: ...
    def find_status(self, event_id: str) -> OnboardingStatus | None: ...
    def purchases_on(self, org_id: str, day: str) -> int: ...
    def purchases_in_month(self, org_id: str, month: str) -> int: ...
    def reserve_purchase(self, org_id: str, day: str, key: str, cap: int,
                         month_cap: int | None = None) -> bool: ...
    def release_purchase(self, org_id: str, day: str, key: str) -> None: ...
    def hold_seat(self, org_id: str, sku_id: str, key: str, until: datetime) -> None: ...
    def release_seat(self, org_id: str, sku_id: str, key: str) -> None: ...
    def seats_held(self, org_id: str, sku_id: str, now: datetime, *, excluding: str) -> int: ...
    # The operator's views (`shared.adapters.ledger_views`).
    def list_events(
        self, org_id: str | None, *, status: str | None, since: datetime | None,
        after: str | None, limit: int,
    ) -> tuple[list[str], str | None]: ...
    def record_purchase(self, seat: BoughtSeat) -> None: ...
    def list_purchases(self, org_id: str, first_day: str, last_day: str) -> list[BoughtSeat]: ...
    def mark_purchase(self, seat: BoughtSeat, unheld: str | None, at: str) -> None: ...


@dataclass(frozen=True)
class Lease:
    """A lease just taken or renewed, with the floor its row keeps (rule R3) while the floor
    is still valid (a floor outlives the change it guards by a settle window only: after
    that the quantity read is the truth, even if a person lowered it in the portal)."""

    holder: str
    floor: int | None = None


class Leases(Protocol):
    """One holder at a time per resource, across instances; a lease row outlives its holders
    to keep the subscription's floor."""

    def acquire(self, resource: str, holder: str, seconds: float) -> Lease | None: ...
    def set_floor(self, resource: str, holder: str, floor: int | None, *,
                  valid_for: float) -> bool: ...
    def release(self, resource: str, holder: str) -> None: ...
    def find_holder(self, resource: str) -> str | None: ...


class Sender(Protocol):
    def send(self, queue: str, body: dict[str, Any], *, delay_seconds: float = 0) -> None: ...


class GraphApi(Protocol):
    def list_subscribed_skus(self, tenant_id: str) -> list[SubscribedSku]: ...
    def get_user(self, tenant_id: str, user: str) -> GraphUser: ...
    def assign_license(self, tenant_id: str, user_id: str, sku_id: str) -> None: ...
    def set_usage_location(self, tenant_id: str, user_id: str, country: str) -> None: ...


class StellrApi(Protocol):
    def list_subscriptions(self, customer_no: str) -> list[Subscription]: ...
    def get_subscription(self, customer_no: str, subscription_id: str) -> Subscription: ...
    def change_seats(self, customer_no: str, subscription_id: str, quantity: int) -> str | None: ...
    def get_operation_status(self, operation_id: str) -> str: ...


class ListingWindow(Protocol):
    """The form's short freshness window of Synnex subscription listings
    (`shared.listing_window`): the lookups read through it, a purchase clears it."""

    def get_or_load(
        self, credentials: SynnexCredentials, customer_no: str,
        load: Callable[[], list[Subscription]],
    ) -> list[Subscription]: ...
    def invalidate(self, customer_no: str) -> None: ...


class PurchaseHistory(Protocol):
    """Which subscription an org last bought a SKU through (the dropdown's suggestion)."""

    def record(self, org_id: str, sku_id: str, subscription_id: str) -> None: ...
