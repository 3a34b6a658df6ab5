"""The onboarding ledger in Table Storage: one partition per event, every change ETag-guarded.

`onboardingledger`: PartitionKey = the event id (escaped), RowKey "event" for the event and
"license:<sku_id>" per licence; each row keeps its record as JSON in `doc`, with `state`
beside it for reading at a glance. `purchaseledger`: PartitionKey "<org>:<UTC month>"
(YYYY-MM), one row "r:<day>:<key>" per seat reserved, a `count:<day>` row per day and a
`count` row for the month, a reservation and both counts written in one transaction (one
partition), so that the day's and the month's caps hold across instances; and PartitionKey
"<org>:held:<sku_id>", one row per hire whose seat change was requested and who has not been
given a seat yet (see `hold_seat`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableTransactionError, UpdateMode
from pydantic import BaseModel

from shared.adapters import ledger_views as views
from shared.adapters.storage import storage_errors
from shared.errors import StaleRecord, Transient
from shared.models import (
    BoughtSeat,
    EventRecord,
    LicenseRecord,
    LicenseStatus,
    OnboardingStatus,
)

log = logging.getLogger(__name__)

EVENT_ROW = "event"


Etag = str


def escape_key(value: str) -> str:
    """A value made safe for PartitionKey/RowKey, which forbid / \\ # ? and control characters."""
    out = []
    for char in value:
        if char in "/\\#?%" or ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F:
            out.append("".join(f"%{b:02X}" for b in char.encode()))
        else:
            out.append(char)
    return "".join(out)


def license_row(sku_id: str) -> str:
    return f"license:{sku_id}"


class TableLedger:
    def __init__(
        self, *, events: Callable[[], TableClient], purchases: Callable[[], TableClient]
    ) -> None:
        self._events = events
        self._purchases = purchases

    # --- events and licences -------------------------------------------------------------

    def create_event(
        self, event: EventRecord, licenses: list[LicenseRecord], *, index: bool = True
    ) -> tuple[Etag, list[tuple[LicenseRecord, Etag]]] | None:
        """Write the event and its licences at once; None when the event already exists.

        Answers the new rows' ETags (the event's, and each licence with its own), so that the
        handler goes on writing them without reading them back first.
        """
        partition = escape_key(event.event_id)
        operations: list[Any] = [("create", _entity(partition, EVENT_ROW, event, event.status))]
        operations += [
            ("create", _entity(partition, license_row(item.sku_id), item, item.state))
            for item in licenses
        ]
        with storage_errors("create event"):
            try:
                written = self._events().submit_transaction(operations)
            except (TableTransactionError, ResourceExistsError) as exc:
                if _is_exists(exc):
                    return None
                raise
        etags = [str(result["etag"]) for result in written]
        if index:  # else the caller indexes it (`index_event`), or closes it (which does)
            self._index(event)
        return etags[0], list(zip(licenses, etags[1:], strict=True))

    def replace_invalid_event(
        self, event: EventRecord, licenses: list[LicenseRecord], etag: Etag
    ) -> bool:
        """Put a valid event in place of one recorded as invalid (which has no licences),
        if that record is unchanged since read; False otherwise."""
        partition = escape_key(event.event_id)
        operations: list[Any] = [(
            "update", _entity(partition, EVENT_ROW, event, event.status),
            {"mode": UpdateMode.REPLACE, "etag": etag,
             "match_condition": MatchConditions.IfNotModified},
        )]
        operations += [
            ("create", _entity(partition, license_row(item.sku_id), item, item.state))
            for item in licenses
        ]
        before = self.find_event(event.event_id)
        with storage_errors("replace invalid event"):
            try:
                self._events().submit_transaction(operations)
            except TableTransactionError:
                return False
        if before is not None and views.index_row(before[0]) != views.index_row(event):
            with storage_errors("write event index"):
                for entity in views.index_entities(before[0]):
                    self._events().delete_entity(entity["PartitionKey"], entity["RowKey"])
        self._index(event)
        return True

    def find_event(self, event_id: str) -> tuple[EventRecord, Etag] | None:
        return self._get(event_id, EVENT_ROW, EventRecord)

    def find_license(self, event_id: str, sku_id: str) -> tuple[LicenseRecord, Etag] | None:
        return self._get(event_id, license_row(sku_id), LicenseRecord)

    def list_licenses(self, event_id: str) -> list[tuple[LicenseRecord, Etag]]:
        with storage_errors("read licences"):
            entities = list(self._events().query_entities(
                "PartitionKey eq @p and RowKey ge 'license:' and RowKey lt 'license;'",
                parameters={"p": escape_key(event_id)},
            ))
        return [
            (LicenseRecord.model_validate_json(e["doc"]), str(e.metadata["etag"])) for e in entities
        ]

    def update_event(self, event: EventRecord, etag: Etag, *, reindex: bool = True) -> Etag:
        """Replace the event row if unchanged since read; StaleRecord otherwise. `reindex`
        False: nothing the index shows changed (a round trip spared)."""
        etag = self._replace(event.event_id, EVENT_ROW, event, event.status, etag)
        if reindex:
            self._index(event)
        return etag

    def update_license(self, event_id: str, record: LicenseRecord, etag: Etag) -> Etag:
        """Replace a licence row if unchanged since read; StaleRecord otherwise."""
        return self._replace(event_id, license_row(record.sku_id), record, record.state, etag)

    def find_status(self, event_id: str) -> OnboardingStatus | None:
        """What `GET /api/onboarding/{event_id}` answers, or None for an unknown event."""
        found = self.find_event(event_id)
        if found is None:
            return None
        event, _ = found
        return event_status(event, [record for record, _ in self.list_licenses(event_id)])

    # --- the operator's views (`shared.adapters.ledger_views`) ----------------------------

    def index_event(self, event: EventRecord) -> None:
        """Write the event's index row (best effort, like every index write)."""
        self._index(event)

    def _index(self, event: EventRecord) -> None:
        """The event's index rows after its row was written. Storage trouble here must not
        fail a write that succeeded: the event's next write puts the index right."""
        try:
            views.write_index(self._events(), event)
        except Transient as exc:
            log.warning("onboarding event=%s index not updated (%s); the event's next write "
                        "updates it", event.event_id, exc)

    def list_events(
        self, org_id: str | None, *, status: str | None, since: datetime | None,
        after: str | None, limit: int,
    ) -> tuple[list[str], str | None]:
        """Event ids newest first (one partition query), and the key to continue after."""
        return views.query_index(self._events(), org_id, status=status, since=since,
                                 after=after, limit=limit)

    def record_purchase(self, seat: BoughtSeat) -> None:
        """Upsert a seat bought (`<org>:bought`). Raises Unavailable."""
        views.write_bought(self._purchases(), seat)

    def list_purchases(self, org_id: str, first_day: str, last_day: str) -> list[BoughtSeat]:
        """Seats bought for the org between two UTC dates, both included, oldest first."""
        return views.read_bought(self._purchases(), org_id, first_day, last_day)

    def mark_purchase(self, seat: BoughtSeat, unheld: str | None, at: str) -> None:
        """Record whether the hire holds the seat bought for it (the reconciliation)."""
        views.mark_bought(self._purchases(), seat, unheld, at)

    # --- the day's and the month's purchases ---------------------------------------------

    def purchases_on(self, org_id: str, day: str) -> int:
        """How many seats were reserved for the org on that UTC day (YYYY-MM-DD)."""
        return _count(self._get_row(_cap_partition(org_id, day), _day_count_row(day)))

    def purchases_in_month(self, org_id: str, month: str) -> int:
        """How many seats were reserved for the org in that UTC month (YYYY-MM)."""
        return _count(self._get_row(_cap_partition(org_id, month), MONTH_COUNT_ROW))

    def reserve_purchase(self, org_id: str, day: str, key: str, cap: int,
                         month_cap: int | None = None) -> bool:
        """Reserve one seat of the day's cap and the month's (None: unlimited) for `key`
        (event/sku); idempotent per key.

        True when reserved (now or before); False when a cap is reached. The reservation row
        and both counts are written in one transaction (one partition per org and month), so
        concurrent buyers cannot both take the last seat of either cap. Raises Unavailable.
        """
        partition = _cap_partition(org_id, day)
        row = _reservation_row(day, key)
        while True:
            if self._get_row(partition, row) is not None:
                return True
            day_counter = self._get_row(partition, _day_count_row(day))
            month_counter = self._get_row(partition, MONTH_COUNT_ROW)
            if _count(day_counter) >= cap or (
                    month_cap is not None and _count(month_counter) >= month_cap):
                return False
            operations: list[Any] = [
                ("create", {"PartitionKey": partition, "RowKey": row, "key": key}),
                _count_operation(partition, _day_count_row(day), day_counter, +1),
                _count_operation(partition, MONTH_COUNT_ROW, month_counter, +1),
            ]
            with storage_errors("reserve purchase"):
                try:
                    self._purchases().submit_transaction(operations)
                    return True
                except TableTransactionError:
                    continue  # someone else reserved or counted meanwhile: look again

    def release_purchase(self, org_id: str, day: str, key: str) -> None:
        """Give back a reservation whose seat was never bought (both caps). Raises
        Unavailable."""
        partition = _cap_partition(org_id, day)
        row = _reservation_row(day, key)
        while True:
            if self._get_row(partition, row) is None:
                return
            operations: list[Any] = [
                ("delete", {"PartitionKey": partition, "RowKey": row}),
                _count_operation(partition, _day_count_row(day),
                                 self._get_row(partition, _day_count_row(day)), -1),
                _count_operation(partition, MONTH_COUNT_ROW,
                                 self._get_row(partition, MONTH_COUNT_ROW), -1),
            ]
            with storage_errors("release purchase"):
                try:
                    self._purchases().submit_transaction(operations)
                    return
                except TableTransactionError:
                    continue

    # --- seats bought for hires still waiting for them ------------------------------------

    def hold_seat(self, org_id: str, sku_id: str, key: str, until: datetime) -> None:
        """Mark one seat of the SKU as spoken for by `key` (event/sku), until it is released or
        `until` passes (so that a hold whose event was lost cannot block a seat for ever).
        Idempotent. Raises Unavailable."""
        entity = {"PartitionKey": _held_partition(org_id, sku_id), "RowKey": escape_key(key),
                  "key": key, "until": until.timestamp()}
        with storage_errors("hold seat"):
            self._purchases().upsert_entity(entity, mode=UpdateMode.REPLACE)

    def release_seat(self, org_id: str, sku_id: str, key: str) -> None:
        """Drop the hold of `key`; nothing when there is none. Raises Unavailable."""
        with storage_errors("release seat"):
            try:
                self._purchases().delete_entity(_held_partition(org_id, sku_id), escape_key(key))
            except ResourceNotFoundError:
                return

    def seats_held(self, org_id: str, sku_id: str, now: datetime, *, excluding: str) -> int:
        """How many seats of the SKU are spoken for at `now` by hires other than `excluding`.
        Raises Unavailable."""
        with storage_errors("read held seats"):
            entities = list(self._purchases().query_entities(
                "PartitionKey eq @p", parameters={"p": _held_partition(org_id, sku_id)},
                select=["key", "until"],
            ))
        moment = now.timestamp()
        return sum(1 for e in entities if e["key"] != excluding and float(e["until"]) > moment)

    # --- helpers -------------------------------------------------------------------------

    def _get_row(self, partition: str, row: str) -> tuple[Any, Etag] | None:
        with storage_errors("read purchase count"):
            try:
                entity = self._purchases().get_entity(partition, row)
            except ResourceNotFoundError:
                return None
        return entity, str(entity.metadata["etag"])

    def _get(self, event_id: str, row: str, model: type[Any]) -> tuple[Any, Etag] | None:
        with storage_errors("read ledger"):
            try:
                entity = self._events().get_entity(escape_key(event_id), row)
            except ResourceNotFoundError:
                return None
        return model.model_validate_json(entity["doc"]), str(entity.metadata["etag"])

    def _replace(self, event_id: str, row: str, record: BaseModel, state: str, etag: Etag) -> Etag:
        entity = _entity(escape_key(event_id), row, record, state)
        with storage_errors("write ledger"):
            try:
                result = self._events().update_entity(
                    entity, mode=UpdateMode.REPLACE, etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError) as exc:
                raise StaleRecord(f"ledger row {row} of event {event_id!r} changed") from exc
        return str(result["etag"])


_PUBLIC_LICENSE_FIELDS = set(LicenseStatus.model_fields)


def event_status(event: EventRecord, licenses: list[LicenseRecord]) -> OnboardingStatus:
    """The public status of an event from its rows: what `status` answers."""
    by_sku = {record.sku_id: record for record in licenses}
    public = [
        LicenseStatus.model_validate(by_sku[sku].model_dump(include=_PUBLIC_LICENSE_FIELDS))
        for sku in event.sku_ids if sku in by_sku
    ]
    return OnboardingStatus(
        event_id=event.event_id, org_id=event.org_id, user=event.user,
        status=event.status, reason=event.reason, field=event.field, detail=event.detail,
        licenses=public, created_at=event.created_at, updated_at=event.updated_at,
        last_error=event.last_error,
    )


MONTH_COUNT_ROW = "count"


def _cap_partition(org_id: str, day_or_month: str) -> str:
    """The partition of an org's purchases in the UTC month of `day_or_month`."""
    return escape_key(f"{org_id}:{day_or_month[:7]}")


def _day_count_row(day: str) -> str:
    return f"count:{day}"


def _reservation_row(day: str, key: str) -> str:
    return f"r:{day}:{escape_key(key)}"


def _count(found: tuple[Any, Etag] | None) -> int:
    return 0 if found is None else int(found[0]["count"])


def _count_operation(partition: str, row: str, found: tuple[Any, Etag] | None,
                     delta: int) -> tuple[Any, ...]:
    """A transaction step that sets a counter to its value read plus `delta`, guarded by the
    ETag it was read with (or created when it did not exist)."""
    entity = {"PartitionKey": partition, "RowKey": row, "count": max(0, _count(found) + delta)}
    if found is None:
        return ("create", entity)
    return ("update", entity, {"mode": UpdateMode.REPLACE, "etag": found[1],
                               "match_condition": MatchConditions.IfNotModified})


def _held_partition(org_id: str, sku_id: str) -> str:
    return escape_key(f"{org_id}:held:{sku_id}")


def _entity(partition: str, row: str, record: BaseModel, state: str) -> dict[str, Any]:
    return {
        "PartitionKey": partition, "RowKey": row, "state": state,
        "doc": record.model_dump_json(),
    }


def _is_exists(exc: Exception) -> bool:
    if isinstance(exc, ResourceExistsError):
        return True
    code = getattr(exc, "error_code", None)
    return str(code) in ("EntityAlreadyExists", "TableErrorCode.entity_already_exists") or (
        "EntityAlreadyExists" in str(exc)
    )
