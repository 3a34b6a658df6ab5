"""The onboarding ledger in Table Storage: one partition per event, every change ETag-guarded.

`onboardingledger`: PartitionKey = the event id (escaped), RowKey "event" for the event and
"license:<sku_id>" per licence; each row keeps its record as JSON in `doc`, with `state`
beside it for reading at a glance. `purchaseledger`: PartitionKey "<org>:<UTC day>", one row
per seat bought that day plus a `count` row, written together in one transaction, so that the
day's cap holds across instances; and PartitionKey "<org>:held:<sku_id>", one row per hire whose
seat change was requested and who has not been given a seat yet (see `hold_seat`).
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

from shared.adapters.storage import storage_errors
from shared.errors import StaleRecord
from shared.models import EventRecord, LicenseRecord, LicenseStatus, OnboardingStatus

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
        self, event: EventRecord, licenses: list[LicenseRecord]
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
        with storage_errors("replace invalid event"):
            try:
                self._events().submit_transaction(operations)
            except TableTransactionError:
                return False
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

    def update_event(self, event: EventRecord, etag: Etag) -> Etag:
        """Replace the event row if unchanged since read; StaleRecord otherwise."""
        return self._replace(event.event_id, EVENT_ROW, event, event.status, etag)

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

    # --- the day's purchases -------------------------------------------------------------

    def purchases_on(self, org_id: str, day: str) -> int:
        """How many seats were reserved for the org on that UTC day (YYYY-MM-DD)."""
        counter = self._get_counter(org_id, day)
        return 0 if counter is None else int(counter[0]["count"])

    def reserve_purchase(self, org_id: str, day: str, key: str, cap: int) -> bool:
        """Reserve one seat of the day's cap for `key` (event/sku); idempotent per key.

        True when reserved (now or before); False when the cap is reached. The reservation row
        and the day's count are written in one transaction, so concurrent buyers cannot both
        take the last seat of the cap.
        """
        partition = escape_key(f"{org_id}:{day}")
        row = escape_key(key)
        while True:
            with storage_errors("reserve purchase"):
                try:
                    self._purchases().get_entity(partition, row)
                    return True
                except ResourceNotFoundError:
                    pass
            counter = self._get_counter(org_id, day)
            count = 0 if counter is None else int(counter[0]["count"])
            if count >= cap:
                return False
            reservation = {"PartitionKey": partition, "RowKey": row, "key": key}
            new_counter = {"PartitionKey": partition, "RowKey": "count", "count": count + 1}
            operations: list[Any] = [("create", reservation)]
            if counter is None:
                operations.append(("create", new_counter))
            else:
                operations.append(("update", new_counter, {
                    "mode": UpdateMode.REPLACE, "etag": counter[1],
                    "match_condition": MatchConditions.IfNotModified,
                }))
            with storage_errors("reserve purchase"):
                try:
                    self._purchases().submit_transaction(operations)
                    return True
                except TableTransactionError:
                    continue  # someone else reserved or counted meanwhile: look again

    def release_purchase(self, org_id: str, day: str, key: str) -> None:
        """Give back a reservation whose seat was never bought."""
        partition = escape_key(f"{org_id}:{day}")
        while True:
            counter = self._get_counter(org_id, day)
            with storage_errors("release purchase"):
                try:
                    self._purchases().get_entity(partition, escape_key(key))
                except ResourceNotFoundError:
                    return
            if counter is None:
                return
            operations: list[Any] = [
                ("delete", {"PartitionKey": partition, "RowKey": escape_key(key)}),
                ("update", {"PartitionKey": partition, "RowKey": "count",
                            "count": max(0, int(counter[0]["count"]) - 1)},
                 {"mode": UpdateMode.REPLACE, "etag": counter[1],
                  "match_condition": MatchConditions.IfNotModified}),
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

    def _get_counter(self, org_id: str, day: str) -> tuple[Any, Etag] | None:
        with storage_errors("read purchase count"):
            try:
                entity = self._purchases().get_entity(escape_key(f"{org_id}:{day}"), "count")
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
