"""Which Synnex subscription each org last bought each SKU through, in Table Storage.

Rows live in `purchaseledger` beside the purchase counts: PartitionKey
`escape_key("<org_id>:lastsub")`, RowKey the SKU's GUID (lower case), `subscription_id` the
Stellr subscription. One row per org and SKU, replaced by each confirmed seat change, so the
dropdown can preselect the subscription used last when several match the SKU exactly.
"""

from __future__ import annotations

from collections.abc import Callable

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.adapters.ledger import escape_key
from shared.adapters.storage import storage_errors


def _partition(org_id: str) -> str:
    return escape_key(f"{org_id}:lastsub")


class TablePurchaseHistory:
    """The last subscription used per org and SKU; `find_last` returns None when there is none."""

    def __init__(self, *, table: Callable[[], TableClient]) -> None:
        self._table = table

    def record(self, org_id: str, sku_id: str, subscription_id: str) -> None:
        """Remember that the org bought the SKU through this subscription; raises Unavailable."""
        entity = {
            "PartitionKey": _partition(org_id),
            "RowKey": escape_key(sku_id.strip().lower()),
            "subscription_id": subscription_id,
        }
        with storage_errors("record last subscription"):
            self._table().upsert_entity(entity, mode=UpdateMode.REPLACE)

    def find_last(self, org_id: str, sku_id: str) -> str | None:
        """The subscription the org last bought the SKU through, or None; raises Unavailable."""
        with storage_errors("read last subscription"):
            try:
                entity = self._table().get_entity(
                    _partition(org_id), escape_key(sku_id.strip().lower())
                )
            except ResourceNotFoundError:
                return None
        value = entity.get("subscription_id")
        return str(value) if value else None
