"""The ledger and leases in memory, honouring ETags exactly as the Table Storage adapters do.

For the simulation tests and benchmarks: a write made with an ETag that is no longer the row's
raises StaleRecord, a create of an existing row fails as a whole, every write gives the row a
new ETag, and records are copied in and out, so nothing is shared by reference.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel

from shared.adapters import ledger_views as views
from shared.adapters.ledger import event_status
from shared.errors import StaleRecord
from shared.models import BoughtSeat, EventRecord, LicenseRecord, OnboardingStatus, Org, Variable
from shared.use_cases.ports import Etag, Lease

M = TypeVar("M", bound=BaseModel)


class InMemoryLedger:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], tuple[str, Etag]] = {}
        self._counts: dict[tuple[str, str], set[str]] = {}
        self._held: dict[tuple[str, str], dict[str, float]] = {}
        # The operator's views: index partition -> RowKey -> (event id, status); and org ->
        # RowKey -> seat bought (`shared.adapters.ledger_views` keys, the same order).
        self._index: dict[str, dict[str, tuple[str, str]]] = {}
        self._bought: dict[str, dict[str, BoughtSeat]] = {}
        self._etags = itertools.count(1)
        self._lock = threading.RLock()

    def _etag(self) -> Etag:
        return f'W/"{next(self._etags)}"'

    def _put(self, key: tuple[str, str], record: BaseModel) -> Etag:
        etag = self._etag()
        self._rows[key] = (record.model_dump_json(), etag)
        return etag

    def _get(self, key: tuple[str, str], model: type[M]) -> tuple[M, Etag] | None:
        with self._lock:
            found = self._rows.get(key)
        if found is None:
            return None
        return model.model_validate_json(found[0]), found[1]

    # --- events and licences -------------------------------------------------------------

    def create_event(
        self, event: EventRecord, licenses: list[LicenseRecord], *, index: bool = True
    ) -> tuple[Etag, list[tuple[LicenseRecord, Etag]]] | None:
        with self._lock:
            if (event.event_id, "event") in self._rows:
                return None
            etag = self._put((event.event_id, "event"), event)
            rows = [(item, self._put((event.event_id, f"license:{item.sku_id}"), item))
                    for item in licenses]
            if index:
                self._write_index(event)
        return etag, rows

    def index_event(self, event: EventRecord) -> None:
        with self._lock:
            self._write_index(event)

    def replace_invalid_event(
        self, event: EventRecord, licenses: list[LicenseRecord], etag: Etag
    ) -> bool:
        with self._lock:
            found = self._rows.get((event.event_id, "event"))
            keys = [(event.event_id, f"license:{item.sku_id}") for item in licenses]
            if found is None or found[1] != etag or any(key in self._rows for key in keys):
                return False
            before = EventRecord.model_validate_json(found[0])
            self._put((event.event_id, "event"), event)
            for key, item in zip(keys, licenses, strict=True):
                self._put(key, item)
            for entity in views.index_entities(before):
                self._index.get(entity["PartitionKey"], {}).pop(entity["RowKey"], None)
            self._write_index(event)
        return True

    def find_event(self, event_id: str) -> tuple[EventRecord, Etag] | None:
        return self._get((event_id, "event"), EventRecord)

    def find_license(self, event_id: str, sku_id: str) -> tuple[LicenseRecord, Etag] | None:
        return self._get((event_id, f"license:{sku_id}"), LicenseRecord)

    def list_licenses(self, event_id: str) -> list[tuple[LicenseRecord, Etag]]:
        with self._lock:
            keys = sorted(k for k in self._rows if k[0] == event_id and k[1] != "event")
            found = [self._rows[k] for k in keys]
        return [(LicenseRecord.model_validate_json(doc), etag) for doc, etag in found]

    def update_event(self, event: EventRecord, etag: Etag, *, reindex: bool = True) -> Etag:
        with self._lock:
            etag = self._replace((event.event_id, "event"), event, etag)
            if reindex:
                self._write_index(event)
        return etag

    def update_license(self, event_id: str, record: LicenseRecord, etag: Etag) -> Etag:
        return self._replace((event_id, f"license:{record.sku_id}"), record, etag)

    def _replace(self, key: tuple[str, str], record: BaseModel, etag: Etag) -> Etag:
        with self._lock:
            found = self._rows.get(key)
            if found is None or found[1] != etag:
                raise StaleRecord(f"ledger row {key[1]} of event {key[0]!r} changed")
            return self._put(key, record)

    def find_status(self, event_id: str) -> OnboardingStatus | None:
        found = self.find_event(event_id)
        if found is None:
            return None
        return event_status(found[0], [row for row, _ in self.list_licenses(event_id)])

    # --- the operator's views -------------------------------------------------------------

    def _write_index(self, event: EventRecord) -> None:
        for entity in views.index_entities(event):
            self._index.setdefault(entity["PartitionKey"], {})[entity["RowKey"]] = (
                event.event_id, event.status)

    def list_events(
        self, org_id: str | None, *, status: str | None, since: datetime | None,
        after: str | None, limit: int,
    ) -> tuple[list[str], str | None]:
        upper = views.since_bound(since) if since else ":"
        with self._lock:
            rows = sorted(self._index.get(views.index_partition(org_id), {}).items())
        found = [(key, event_id) for key, (event_id, state) in rows
                 if key < upper and (after is None or key > after)
                 and (status is None or state == status)][:limit + 1]
        page = found[:limit]
        return [event_id for _, event_id in page], (
            page[-1][0] if len(found) > limit and page else None)

    def record_purchase(self, seat: BoughtSeat) -> None:
        with self._lock:
            seats = self._bought.setdefault(seat.org_id, {})
            row = views.bought_row(seat)
            old = seats.get(row)
            marks = {"unheld": old.unheld, "checked_at": old.checked_at} if old else {}
            seats[row] = seat.model_copy(update=marks)

    def list_purchases(self, org_id: str, first_day: str, last_day: str) -> list[BoughtSeat]:
        with self._lock:
            rows = sorted(self._bought.get(org_id, {}).items())
        return [seat.model_copy() for key, seat in rows
                if first_day <= key < f"{last_day}U"]

    def mark_purchase(self, seat: BoughtSeat, unheld: str | None, at: str) -> None:
        with self._lock:
            seats = self._bought.get(seat.org_id, {})
            row = views.bought_row(seat)
            if row in seats:
                seats[row] = seats[row].model_copy(update={"unheld": unheld, "checked_at": at})

    # --- the day's purchases and held seats ------------------------------------------------

    def purchases_on(self, org_id: str, day: str) -> int:
        with self._lock:
            return len(self._counts.get((org_id, day), set()))

    def purchases_in_month(self, org_id: str, month: str) -> int:
        with self._lock:
            return sum(len(keys) for (org, day), keys in self._counts.items()
                       if org == org_id and day[:7] == month[:7])

    def reserve_purchase(self, org_id: str, day: str, key: str, cap: int,
                         month_cap: int | None = None) -> bool:
        with self._lock:
            taken = self._counts.setdefault((org_id, day), set())
            if key in taken:
                return True
            if len(taken) >= cap or (
                    month_cap is not None and self.purchases_in_month(org_id, day) >= month_cap):
                return False
            taken.add(key)
            return True

    def release_purchase(self, org_id: str, day: str, key: str) -> None:
        with self._lock:
            self._counts.get((org_id, day), set()).discard(key)

    def hold_seat(self, org_id: str, sku_id: str, key: str, until: datetime) -> None:
        with self._lock:
            self._held.setdefault((org_id, sku_id), {})[key] = until.timestamp()

    def release_seat(self, org_id: str, sku_id: str, key: str) -> None:
        with self._lock:
            self._held.get((org_id, sku_id), {}).pop(key, None)

    def seats_held(self, org_id: str, sku_id: str, now: datetime, *, excluding: str) -> int:
        moment = now.timestamp()
        with self._lock:
            holds = dict(self._held.get((org_id, sku_id), {}))
        return sum(1 for key, until in holds.items() if key != excluding and until > moment)

    # --- for assertions --------------------------------------------------------------------

    def held_keys(self) -> dict[tuple[str, str], list[str]]:
        """Every hold, expired or not, by (org, SKU)."""
        with self._lock:
            return {k: sorted(v) for k, v in self._held.items() if v}

    def reservations(self) -> dict[tuple[str, str], list[str]]:
        """Every cap unit taken, by (org, UTC day)."""
        with self._lock:
            return {k: sorted(v) for k, v in self._counts.items() if v}


class InMemoryLeases:
    """Leases with the floor each resource's row keeps; `clock` gives epoch seconds."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        # resource -> (holder, expires_at, floor, floor valid until)
        self._rows: dict[str, tuple[str, float, int | None, float]] = {}
        self._lock = threading.Lock()

    def _row(self, resource: str) -> tuple[str, float, int | None, float]:
        return self._rows.get(resource, ("", 0.0, None, 0.0))

    def acquire(self, resource: str, holder: str, seconds: float) -> Lease | None:
        now = self._clock()
        with self._lock:
            current, expires, floor, until = self._row(resource)
            if current not in ("", holder) and expires > now:
                return None
            self._rows[resource] = (holder, now + seconds, floor, until)
        return Lease(holder=holder, floor=floor if until > now else None)

    def set_floor(self, resource: str, holder: str, floor: int | None, *,
                  valid_for: float) -> bool:
        with self._lock:
            current, expires, _, _ = self._row(resource)
            if current != holder:
                return False
            self._rows[resource] = (holder, expires, floor, self._clock() + valid_for)
        return True

    def release(self, resource: str, holder: str) -> None:
        with self._lock:
            current, _, floor, until = self._row(resource)
            if current == holder:
                self._rows[resource] = ("", 0.0, floor, until)

    def floor(self, resource: str) -> int | None:
        with self._lock:
            _, _, floor, until = self._row(resource)
        return floor if until > self._clock() else None

    def find_holder(self, resource: str) -> str | None:
        """Who took the lease last, expired or not; None when free."""
        with self._lock:
            return self._row(resource)[0] or None

    def holder(self, resource: str) -> str:
        """Who holds the lease now ('' when free or expired)."""
        with self._lock:
            current, expires, _, _ = self._row(resource)
        return current if expires > self._clock() else ""


class InMemoryOrgStore:
    """Orgs and their variables (the `OrgStore` protocol)."""

    def __init__(self) -> None:
        self._orgs: dict[str, Org] = {}
        self._variables: dict[tuple[str, str], Variable] = {}

    def get_org(self, org_id: str) -> Org | None:
        org = self._orgs.get(org_id)
        return None if org is None else org.model_copy()

    def list_orgs(self) -> list[Org]:
        return [org.model_copy() for _, org in sorted(self._orgs.items())]

    def put_org(self, org: Org) -> None:
        self._orgs[org.org_id] = org.model_copy()

    def list_variables(self, org_id: str) -> list[Variable]:
        return [v.model_copy() for (o, _), v in sorted(self._variables.items()) if o == org_id]

    def get_variable(self, org_id: str, name: str) -> Variable | None:
        found = self._variables.get((org_id, name))
        return None if found is None else found.model_copy()

    def put_variable(self, variable: Variable) -> None:
        self._variables[(variable.org_id, variable.name)] = variable.model_copy()

    def delete_variable(self, org_id: str, name: str) -> None:
        self._variables.pop((org_id, name), None)


class InMemorySecretStore:
    """Secrets by name (the `SecretStore` protocol)."""

    def __init__(self) -> None:
        self._secrets: dict[str, str] = {}

    def get_secret(self, name: str) -> str | None:
        return self._secrets.get(name)

    def set_secret(self, name: str, value: str) -> None:
        self._secrets[name] = value

    def delete_secret(self, name: str) -> None:
        self._secrets.pop(name, None)
