"""Seats bought, as operators see them: when each can still be reduced, what the caps used.

Microsoft's new commerce (NCE) terms let licences added to a subscription (at purchase, at
renewal or mid-term, as here) be reduced within the first seven days (168 hours) after they
were added, with a prorated refund; after that they are paid for until the term renews.
Sources: Partner Center, "Manage customer subscriptions", section "Increase or decrease
licenses in new commerce license-based subscriptions"
(https://learn.microsoft.com/partner-center/create-a-new-subscription), and "New commerce
experience cancellation policy"
(https://learn.microsoft.com/partner-center/customers/new-commerce-cancellation-policy).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shared.core import products
from shared.models import BoughtSeat, EventRecord, LicenseRecord, Purchase

# The window in which an NCE seat increase can be reduced again (see above).
REDUCTION_WINDOW = timedelta(days=7)
# What `GET /api/orgs/{org_id}/purchases` shows without `from`.
DEFAULT_RANGE_DAYS = 30


def bought_seat(event: EventRecord, row: LicenseRecord) -> BoughtSeat:
    """The listing's record of a licence whose seat change landed."""
    assert row.purchased_at is not None
    return BoughtSeat(
        event_id=event.event_id, sku_id=row.sku_id, org_id=event.org_id or "", user=event.user,
        synnex_subscription_id=row.synnex_subscription_id, quantity_before=row.quantity_before,
        quantity_target=row.quantity_target, purchased_at=row.purchased_at, state=row.state,
        reason=row.reason,
    )


def cancellable_until(purchased_at: str) -> datetime:
    return datetime.fromisoformat(purchased_at).astimezone(UTC) + REDUCTION_WINDOW


def as_purchase(seat: BoughtSeat, now: datetime) -> Purchase:
    """A seat bought as the purchases route answers it."""
    until = cancellable_until(seat.purchased_at)
    product = products.find_product(seat.sku_id)
    return Purchase(
        event_id=seat.event_id, sku_id=seat.sku_id,
        product_name=product.product_name if product else None,
        synnex_subscription_id=seat.synnex_subscription_id,
        quantity_before=seat.quantity_before, quantity_after=seat.quantity_target,
        purchased_at=seat.purchased_at, assigned=seat.state == "purchased_and_assigned",
        cancellable_until=until.isoformat(), user=seat.user, state=seat.state,
        unheld=seat.unheld, reducible=seat.unheld is not None and now < until,
    )


def parse_day(value: str | None, field: str) -> date | None:
    """An ISO date (a date-time's date part is taken); ValueError naming what is wrong."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{field}: must be an ISO date, e.g. 2026-12-04") from None
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date()


def purchase_range(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The days listed: both included; by default the last 30 days up to today."""
    last = last or (today if first is None else max(today, first))
    first = first or last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    return first, last
