"""Leases in Table Storage: one writer at a time per Synnex subscription, across instances.

`subscriptionlocks`: PartitionKey "lease", RowKey the resource (escaped); `holder` and
`expires_at` (epoch seconds). Taking a lease is a create, or an ETag-guarded replace of an
expired lease or of one the same holder already has (a redelivered message resuming its own
work); so two instances never both believe they hold it.
"""

from __future__ import annotations

from collections.abc import Callable

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, UpdateMode

from shared.adapters.ledger import escape_key
from shared.adapters.storage import storage_errors

_PARTITION = "lease"


class TableLeases:
    def __init__(self, *, table: Callable[[], TableClient], clock: Callable[[], float]) -> None:
        self._table = table
        self._clock = clock

    def acquire(self, resource: str, holder: str, seconds: float) -> bool:
        """Take or renew the lease for `seconds`; False while someone else holds it."""
        row = escape_key(resource)
        now = self._clock()
        entity = {"PartitionKey": _PARTITION, "RowKey": row, "holder": holder,
                  "expires_at": now + seconds}
        with storage_errors("take lease"):
            try:
                self._table().create_entity(entity)
                return True
            except ResourceExistsError:
                pass
            try:
                current = self._table().get_entity(_PARTITION, row)
            except ResourceNotFoundError:
                return False  # released between our two calls: the caller simply tries again
            if current.get("holder") != holder and float(current.get("expires_at", 0)) > now:
                return False
            try:
                self._table().update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return False
        return True

    def release(self, resource: str, holder: str) -> None:
        """Give the lease up if `holder` still has it; nothing otherwise."""
        row = escape_key(resource)
        with storage_errors("release lease"):
            try:
                current = self._table().get_entity(_PARTITION, row)
            except ResourceNotFoundError:
                return
            if current.get("holder") != holder:
                return
            try:
                self._table().delete_entity(
                    _PARTITION, row, etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return
