"""Leases in Table Storage: one holder at a time per resource, across instances.

`subscriptionlocks`: PartitionKey "lease", RowKey the resource (escaped); `holder`,
`expires_at` (epoch seconds), `floor` and `floor_until` (rule R3 of `shared.core.purchase`:
the highest total requested through a subscription and not known to have failed, valid until
then). Taking a lease is a create,
or an ETag-guarded replace of a free or expired lease or of one the same holder already has
(a redelivered message resuming its own work); so two instances never both believe they hold
it. Releasing keeps the row, and with it the floor, for the next holder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, UpdateMode

from shared.adapters.ledger import escape_key
from shared.adapters.storage import storage_errors
from shared.use_cases.ports import Lease

_PARTITION = "lease"


class TableLeases:
    def __init__(self, *, table: Callable[[], TableClient], clock: Callable[[], float]) -> None:
        self._table = table
        self._clock = clock

    def acquire(self, resource: str, holder: str, seconds: float) -> Lease | None:
        """Take or renew the lease for `seconds`; None while someone else holds it.
        Raises Unavailable."""
        row = escape_key(resource)
        now = self._clock()
        entity = {"PartitionKey": _PARTITION, "RowKey": row, "holder": holder,
                  "expires_at": now + seconds}
        with storage_errors("take lease"):
            try:
                self._table().create_entity(entity)
                return Lease(holder=holder)
            except ResourceExistsError:
                pass
            current = self._find(row)
            if current is None:
                return None  # released and gone between our two calls: the caller tries again
            if current.get("holder") not in ("", holder) and _expires(current) > now:
                return None
            try:
                self._table().update_entity(
                    {**entity, "floor": current.get("floor", -1),
                     "floor_until": float(current.get("floor_until", 0) or 0)},
                    mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return None
        return Lease(holder=holder, floor=_floor(current, now))

    def set_floor(self, resource: str, holder: str, floor: int | None, *,
                  valid_for: float) -> bool:
        """Record the subscription's floor, valid for `valid_for` seconds, while `holder`
        holds the lease; False when it does not hold it any more. Raises Unavailable."""
        row = escape_key(resource)
        with storage_errors("set floor"):
            current = self._find(row)
            if current is None or current.get("holder") != holder:
                return False
            try:
                self._table().update_entity(
                    {**_plain(current), "floor": floor if floor is not None else -1,
                     "floor_until": self._clock() + valid_for},
                    mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return False
        return True

    def release(self, resource: str, holder: str) -> None:
        """Give the lease up if `holder` still has it (keeping the floor); nothing otherwise."""
        row = escape_key(resource)
        with storage_errors("release lease"):
            current = self._find(row)
            if current is None or current.get("holder") != holder:
                return
            try:
                self._table().update_entity(
                    {**_plain(current), "holder": "", "expires_at": 0.0},
                    mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return

    def find_holder(self, resource: str) -> str | None:
        """Who took the lease last, expired or not; None when free. Raises Unavailable."""
        with storage_errors("read lease"):
            current = self._find(escape_key(resource))
        return (current.get("holder") or None) if current is not None else None

    def _find(self, row: str) -> Any:
        try:
            return self._table().get_entity(_PARTITION, row)
        except ResourceNotFoundError:
            return None


def _expires(entity: Any) -> float:
    return float(entity.get("expires_at", 0) or 0)


def _floor(entity: Any, now: float) -> int | None:
    value = entity.get("floor")
    if value is None or int(value) < 0 or float(entity.get("floor_until", 0) or 0) <= now:
        return None
    return int(value)


def _plain(entity: Any) -> dict[str, Any]:
    return {"PartitionKey": _PARTITION, "RowKey": entity["RowKey"],
            "holder": entity.get("holder", ""), "expires_at": _expires(entity),
            "floor": entity.get("floor", -1),
            "floor_until": float(entity.get("floor_until", 0) or 0)}
