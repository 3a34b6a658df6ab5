"""The operator's listings: events newest first, and the seats bought for an org.

`list_events` reads one page of the event index (one partition query, `ledger_views`), then
each event's status. `list_purchases` reads the org's seats bought in a date range (one
partition query) and the caps' use.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime, timedelta
from typing import get_args

from shared.core import seats_bought
from shared.core import variables as org_vars
from shared.errors import InvalidInput, NotFound
from shared.models import (
    CapUsage,
    CapUse,
    OnboardingPage,
    OnboardingStatus,
    PurchaseList,
)
from shared.use_cases.orgs import OrgStore, check_org_id, effective_variables
from shared.use_cases.ports import Ledger

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# The longest range of days the purchases route lists at once.
MAX_RANGE_DAYS = 366
STATUSES = get_args(OnboardingStatus.model_fields["status"].annotation)
_INDEX_KEY = re.compile(r"^\d{13}:.{1,512}$", re.DOTALL)


def list_events(
    *, ledger: Ledger, orgs: OrgStore, org_id: str | None, status: str | None,
    since: str | None, limit: str | None, page: str | None,
    executor: Executor | None = None,
) -> OnboardingPage:
    """A page of events, newest first. Raises InvalidInput naming the parameter, NotFound
    for an unknown org, Unavailable."""
    if org_id is not None:
        check_org_id(org_id)
        if orgs.get_org(org_id) is None:
            raise NotFound("org", org_id)
    if status is not None and status not in STATUSES:
        raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
    ids, after = ledger.list_events(
        org_id, status=status, since=_parse_since(since), after=_decode_token(page),
        limit=_parse_limit(limit))
    read: Callable[[str], OnboardingStatus | None] = ledger.find_status
    found = list(executor.map(read, ids)) if executor is not None else [read(i) for i in ids]
    # An index row may lag its event by one write (see ledger_views): trust the event.
    events = [s for s in found if s is not None and (status is None or s.status == status)]
    return OnboardingPage(events=events, next=_encode_token(after) if after else None)


def list_purchases(
    *, ledger: Ledger, orgs: OrgStore, org_id: str, first: str | None, last: str | None,
    now: datetime,
) -> PurchaseList:
    """Seats bought for the org between two UTC dates (both included; default the last 30
    days), oldest first, and the caps' use today. Raises InvalidInput, NotFound, Unavailable."""
    check_org_id(org_id)
    org = orgs.get_org(org_id)
    if org is None:
        raise NotFound("org", org_id)
    today = now.astimezone(UTC).date()
    try:
        start, end = seats_bought.purchase_range(
            seats_bought.parse_day(first, "from"), seats_bought.parse_day(last, "to"), today)
    except ValueError as exc:
        field, _, detail = str(exc).partition(": ")
        raise InvalidInput(field, detail) from None
    if start > end:
        raise InvalidInput("from", f"must not be after to ({end.isoformat()})")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise InvalidInput("from", f"the range may span at most {MAX_RANGE_DAYS} days")
    seats = ledger.list_purchases(org_id, start.isoformat(), end.isoformat())
    effective = effective_variables(orgs, org)
    day = today.isoformat()
    cap = CapUsage(
        day=CapUse(used=ledger.purchases_on(org_id, day),
                   limit=org_vars.max_seats_per_day(effective)),
        month=CapUse(used=ledger.purchases_in_month(org_id, day[:7]),
                     limit=org_vars.max_seats_per_month(effective)),
    )
    return PurchaseList(purchases=[seats_bought.as_purchase(s, now) for s in seats], cap=cap)


def _parse_limit(value: str | None) -> int:
    if value is None or not value.strip():
        return DEFAULT_LIMIT
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidInput("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def _parse_since(value: str | None) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("since", "must be an ISO 8601 date-time, e.g. "
                           "2026-12-01T00:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # a time without an offset is UTC
    if moment.year < 1971 or moment > datetime.now(UTC) + timedelta(days=365 * 100):
        raise InvalidInput("since", "is out of range")
    return moment


def _encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _decode_token(token: str | None) -> str | None:
    if token is None or not token.strip():
        return None
    text = token.strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, ValueError):
        key = ""
    if not _INDEX_KEY.fullmatch(key):
        raise InvalidInput("next", "is not a token this listing gave; start again without it")
    return key
