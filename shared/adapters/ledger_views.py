"""The ledger's views for operators, kept beside the rows they show.

The event index, in `onboardingledger`: PartitionKey "idx:*" (every event) and "idx:<org>"
(the org's), RowKey "<inverted created_at in ms, 13 digits>:<event id>", so that one
partition query answers a page newest first; `status` is a property, filtered within the
partition. Written (upserted) after every write of the event row, so an index row lost to a
crash between the two writes is put right by the event's next write (its result is one).

The seats bought, in `purchaseledger`: PartitionKey "<org>:bought", RowKey
"<purchased_at>|<event/sku>", so that a date range is one partition query. Written from the
licence's moves once its seat change is confirmed (`Job.move`), and marked by the
reconciliation (`unheld`, `checked_at`: merged, never replacing what the workflow wrote).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.adapters.storage import storage_errors
from shared.models import BoughtSeat, EventRecord

ALL_EVENTS = "*"
# Index RowKeys start with 13 digits; anything else in an index partition (the rows of an
# event whose id happens to be "idx:...") starts with a letter, above this bound.
_INDEX_END = ":"
_MAX_MS = 10**13 - 1


def index_partitions(org_id: str | None) -> list[str]:
    """The index partitions an event appears in: one for all, the org a property of its row
    (one write per index change, and still one partition query per page)."""
    return [f"idx:{ALL_EVENTS}"]


def index_partition(org_id: str | None) -> str:
    return f"idx:{ALL_EVENTS}"


def inverted(moment: datetime) -> str:
    """Milliseconds before the far future: later moments sort first."""
    millis = int(moment.astimezone(UTC).timestamp() * 1000)
    return f"{_MAX_MS - millis:013d}"


def index_row(event: EventRecord) -> str:
    from shared.adapters.ledger import escape_key

    return f"{inverted(datetime.fromisoformat(event.created_at))}:{escape_key(event.event_id)}"


def since_bound(since: datetime) -> str:
    """RowKeys below this are of events created at or after `since`."""
    return f"{inverted(since)};"  # ';' follows ':' and sorts above any key of that moment


def index_entities(event: EventRecord) -> list[dict[str, Any]]:
    row = index_row(event)
    return [
        {"PartitionKey": partition, "RowKey": row, "event_id": event.event_id,
         "org_id": event.org_id or "", "status": event.status, "created_at": event.created_at}
        for partition in index_partitions(event.org_id)
    ]


def write_index(table: TableClient, event: EventRecord) -> None:
    """Upsert the event's index rows. Raises Unavailable."""
    with storage_errors("write event index"):
        for entity in index_entities(event):
            table.upsert_entity(entity, mode=UpdateMode.REPLACE)


def query_index(
    table: TableClient, org_id: str | None, *, status: str | None, since: datetime | None,
    after: str | None, limit: int,
) -> tuple[list[str], str | None]:
    """Up to `limit` event ids, newest first, and the RowKey to continue after (None at the
    end). One partition query. Raises Unavailable."""
    query = "PartitionKey eq @p and RowKey lt @upper"
    params: dict[str, Any] = {"p": index_partition(org_id),
                              "upper": since_bound(since) if since else _INDEX_END}
    if after:
        query += " and RowKey gt @after"
        params["after"] = after
    if org_id:
        query += " and org_id eq @org"
        params["org"] = org_id
    if status:
        query += " and status eq @status"
        params["status"] = status
    found: list[tuple[str, str]] = []
    with storage_errors("read event index"):
        for entity in table.query_entities(query, parameters=params,
                                           results_per_page=min(limit + 1, 1000),
                                           select=["RowKey", "event_id"]):
            found.append((str(entity["RowKey"]), str(entity["event_id"])))
            if len(found) > limit:
                break
    more = len(found) > limit
    page = found[:limit]
    return [event_id for _, event_id in page], (page[-1][0] if more and page else None)


# --- seats bought --------------------------------------------------------------------------


def bought_partition(org_id: str) -> str:
    from shared.adapters.ledger import escape_key

    return escape_key(f"{org_id}:bought")


def bought_row(seat: BoughtSeat) -> str:
    from shared.adapters.ledger import escape_key

    return f"{seat.purchased_at}|{escape_key(f'{seat.event_id}/{seat.sku_id}')}"


_MARKS = ("unheld", "checked_at")


def write_bought(table: TableClient, seat: BoughtSeat) -> None:
    """Upsert what the workflow knows of a seat bought, leaving the reconciliation's marks.
    Raises Unavailable."""
    doc = seat.model_dump_json(exclude=set(_MARKS))
    entity = {"PartitionKey": bought_partition(seat.org_id), "RowKey": bought_row(seat),
              "doc": doc, "state": seat.state}
    with storage_errors("write purchase"):
        table.upsert_entity(entity, mode=UpdateMode.MERGE)


def mark_bought(table: TableClient, seat: BoughtSeat, unheld: str | None, at: str) -> None:
    """Record what the reconciliation found of a seat. Raises Unavailable."""
    entity = {"PartitionKey": bought_partition(seat.org_id), "RowKey": bought_row(seat),
              "unheld": unheld or "", "checked_at": at}
    with storage_errors("mark purchase"):
        try:
            table.update_entity(entity, mode=UpdateMode.MERGE)
        except ResourceNotFoundError:
            return


def read_bought(table: TableClient, org_id: str, first_day: str, last_day: str) -> list[BoughtSeat]:
    """Seats bought from the start of `first_day` to the end of `last_day` (UTC dates),
    oldest first. One partition query. Raises Unavailable."""
    with storage_errors("read purchases"):
        entities = list(table.query_entities(
            "PartitionKey eq @p and RowKey ge @low and RowKey lt @high",
            parameters={"p": bought_partition(org_id), "low": first_day,
                        "high": f"{last_day}U"},  # 'U' sorts above "T..." of that day
        ))
    seats = []
    for entity in entities:
        seat = BoughtSeat.model_validate_json(entity["doc"])
        seats.append(seat.model_copy(update={
            "unheld": entity.get("unheld") or None, "checked_at": entity.get("checked_at"),
        }))
    return seats
