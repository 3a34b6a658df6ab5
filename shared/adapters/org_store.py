"""Orgs and org variables in Table Storage.

`orgs`: PartitionKey "org", RowKey org_id. `orgvariables`: PartitionKey org_id, RowKey name.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.adapters.storage import storage_errors
from shared.models import Org, Variable

_ORG_PARTITION = "org"


class TableOrgStore:
    """Orgs and their variables. `get_` raises nothing for a missing row: it returns None."""

    def __init__(
        self, *, orgs: Callable[[], TableClient], variables: Callable[[], TableClient]
    ) -> None:
        self._orgs = orgs
        self._variables = variables

    def get_org(self, org_id: str) -> Org | None:
        """The org, or None; raises Unavailable when storage cannot be reached."""
        with storage_errors("read org"):
            try:
                entity = self._orgs().get_entity(_ORG_PARTITION, org_id)
            except ResourceNotFoundError:
                return None
        return _org(org_id, entity)

    def list_orgs(self) -> list[Org]:
        """Every org (one partition: an MSP's tree is hundreds, not millions); Unavailable."""
        with storage_errors("list orgs"):
            entities = list(
                self._orgs().query_entities(
                    "PartitionKey eq @partition", parameters={"partition": _ORG_PARTITION}
                )
            )
        return [_org(entity["RowKey"], entity) for entity in entities]

    def put_org(self, org: Org) -> None:
        """Create or replace the org; raises Unavailable."""
        entity: dict[str, Any] = {
            "PartitionKey": _ORG_PARTITION,
            "RowKey": org.org_id,
            "name": org.name,
            "parent_id": org.parent_id or "",
            "m365_tenant_id": org.m365_tenant_id or "",
            "synnex_customer_no": org.synnex_customer_no or "",
        }
        with storage_errors("write org"):
            self._orgs().upsert_entity(entity, mode=UpdateMode.REPLACE)

    def list_variables(self, org_id: str) -> list[Variable]:
        """The org's own variables (possibly none); raises Unavailable."""
        with storage_errors("read variables"):
            entities = list(
                self._variables().query_entities(
                    "PartitionKey eq @org", parameters={"org": org_id}
                )
            )
        return [_variable(org_id, entity) for entity in entities]

    def get_variable(self, org_id: str, name: str) -> Variable | None:
        with storage_errors("read variable"):
            try:
                entity = self._variables().get_entity(org_id, name)
            except ResourceNotFoundError:
                return None
        return _variable(org_id, entity)

    def put_variable(self, variable: Variable) -> None:
        entity = {
            "PartitionKey": variable.org_id,
            "RowKey": variable.name,
            "value": variable.value,
            "cascade": variable.cascade,
        }
        with storage_errors("write variable"):
            self._variables().upsert_entity(entity, mode=UpdateMode.REPLACE)

    def delete_variable(self, org_id: str, name: str) -> None:
        """Delete; succeeds when already gone."""
        with storage_errors("delete variable"):
            self._variables().delete_entity(org_id, name)


def _org(org_id: str, entity: Any) -> Org:
    return Org(
        org_id=org_id,
        name=entity["name"],
        parent_id=entity.get("parent_id") or None,
        m365_tenant_id=entity.get("m365_tenant_id") or None,
        synnex_customer_no=entity.get("synnex_customer_no") or None,
    )


def _variable(org_id: str, entity: Any) -> Variable:
    return Variable(
        org_id=org_id,
        name=entity["RowKey"],
        value=entity.get("value", ""),
        cascade=bool(entity.get("cascade", False)),
    )


class RecentOrgs:
    """An org store whose `get_org` answers from what it read in the last `seconds`.

    For the workflow's queue handlers, which read the event's org at every step: a free-seat
    hire is a few storage round trips, and this is one of them. A corrected org applies to
    the workflow within `seconds`; everything else goes to the store as it is.
    """

    def __init__(self, store: Any, *, seconds: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._seconds = seconds
        self._clock = clock
        self._recent: dict[str, tuple[float, Org | None]] = {}
        self._lock = threading.Lock()

    def get_org(self, org_id: str) -> Org | None:
        now = self._clock()
        with self._lock:
            found = self._recent.get(org_id)
        if found is not None and now - found[0] < self._seconds:
            return found[1].model_copy() if found[1] is not None else None
        org: Org | None = self._store.get_org(org_id)
        with self._lock:
            if len(self._recent) > 10_000:
                self._recent.clear()
            self._recent[org_id] = (now, org)
        return org

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
