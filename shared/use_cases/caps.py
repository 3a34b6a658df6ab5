"""The purchase caps: `licencing_max_seats_per_day` (default 5) and
`licencing_max_seats_per_month` (default unlimited), counted per org and UTC day and month in
the ledger, one unit per licence that buys, both taken in one transaction with the licence's
reservation and given back the same way (rule R6)."""

from __future__ import annotations

from collections.abc import Mapping

from shared.core import variables as org_vars
from shared.models import EffectiveVariable
from shared.use_cases.job import Job


def full(job: Job, effective: Mapping[str, EffectiveVariable], day: str) -> str | None:
    """Which cap leaves no seat to buy on `day` (the detail of `cap_reached`), or None.
    Reads only. Raises Unavailable."""
    ledger, org_id = job.deps.ledger, job.org_id
    cap = org_vars.max_seats_per_day(effective)
    if ledger.purchases_on(org_id, day) >= cap:
        return (f"{cap} seats a day already bought for {org_id!r} "
                f"({org_vars.MAX_SEATS_PER_DAY})")
    month_cap = org_vars.max_seats_per_month(effective)
    if month_cap is not None and ledger.purchases_in_month(org_id, day[:7]) >= month_cap:
        return (f"{month_cap} seats a month already bought for {org_id!r} in {day[:7]} "
                f"({org_vars.MAX_SEATS_PER_MONTH})")
    return None


def reserve(job: Job, effective: Mapping[str, EffectiveVariable], day: str) -> str | None:
    """Take the licence's unit of both caps (idempotent); None when taken, else which cap
    is reached. Raises Unavailable."""
    cap = org_vars.max_seats_per_day(effective)
    month_cap = org_vars.max_seats_per_month(effective)
    if job.deps.ledger.reserve_purchase(job.org_id, day, job.key, cap, month_cap):
        return None
    return full(job, effective, day) or f"a purchase cap was reached for {job.org_id!r}"
