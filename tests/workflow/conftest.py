"""A workflow wired to Azurite tables and the in-memory world of `world.py`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from azure.data.tables import TableServiceClient
from pydantic import SecretStr

from shared import names
from shared.adapters.ledger import TableLedger
from shared.adapters.locks import TableLeases
from shared.adapters.org_store import TableOrgStore
from shared.adapters.secret_store import TableSecretStore, synnex_secret_name
from shared.adapters.storage import Tables
from shared.models import Org, SynnexCredentials, Variable
from shared.use_cases.credentials import _dump
from shared.use_cases.job import WaitPolicy
from shared.use_cases.onboarding import OnboardingWorkflow
from tests import host
from tests.azurite import Azurite, unique_name
from tests.workflow.world import (
    CUSTOMER_NO,
    SPB,
    SPB_ANNUAL,
    TENANT,
    FakeClock,
    FakeGraph,
    FakeQueues,
    FakeStellr,
    Message,
    Sku,
)

# host.json: a message whose handler raised is visible again after this long, and goes to
# `<queue>-poison` after this many deliveries.
HOST_VISIBILITY_SECONDS = host.VISIBILITY_SECONDS
HOST_MAX_DEQUEUE_COUNT = host.MAX_DEQUEUE_COUNT


@dataclass
class World:
    """Everything a workflow test sets up, drives and asserts on.

    `graph`, `stellr`, `queues`, `ledger`, ... are what a test reads and arranges; the workflow
    under test gets the same objects unless a test swaps one for a fault-injecting wrapper
    with `inject(...)`, so that assertions never go through a wrapper.
    """

    clock: FakeClock
    graph: FakeGraph
    stellr: FakeStellr
    queues: FakeQueues
    orgs: TableOrgStore
    ledger: TableLedger
    leases: TableLeases
    secrets: TableSecretStore
    policy: WaitPolicy
    tables: Tables
    table_names: dict[str, str]
    build: Callable[..., OnboardingWorkflow]
    handled: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    poisoned: list[Message] = field(default_factory=list)
    injected: dict[str, Any] = field(default_factory=dict)

    def inject(self, **adapters: Any) -> None:
        """Give the workflow these adapters (graph, stellr, sender, ledger, leases, orgs)."""
        self.injected.update(adapters)

    def workflow(self) -> OnboardingWorkflow:
        return self.build(**self.injected)

    def deliver(self, message: Message, workflow: OnboardingWorkflow | None = None) -> None:
        flow = workflow or self.workflow()
        self.handled.append(message.queue)
        if message.queue == names.ONBOARDING_EVENTS_QUEUE:
            flow.handle_event(message.body, message_id=message.id)
        elif message.queue == names.LICENSE_PURCHASES_QUEUE:
            flow.handle_purchase(message.body)
        elif message.queue == names.LICENSE_WAITS_QUEUE:
            flow.handle_wait(message.body)

    def deliver_like_host(
        self, message: Message, *, workflow: OnboardingWorkflow | None = None,
        max_dequeue: int | None = HOST_MAX_DEQUEUE_COUNT,
    ) -> bool:
        """Handle the message; when the handler raises, put it back as the host would (or
        poison it after `max_dequeue` deliveries). True when the handler returned."""
        try:
            self.deliver(message, workflow)
        except Exception as exc:  # the host catches everything a function raises
            self.errors.append(exc)
            if max_dequeue is not None and message.dequeue_count >= max_dequeue:
                self.poisoned.append(message)
            else:
                self.queues.put_back(message, delay_seconds=HOST_VISIBILITY_SECONDS)
            return False
        return True

    def run(
        self, *, max_steps: int = 5000, redeliver: int = 1, until: datetime | None = None,
        max_dequeue: int | None = HOST_MAX_DEQUEUE_COUNT,
    ) -> None:
        """Deliver every message, moving the clock to the next visible one, until none is
        left (or the next one is due after `until`). Each message is handled `redeliver`
        times (redeliveries after a success); a handler that raises gets its message back
        like on the host."""
        for _ in range(max_steps):
            delivered = False
            for message in self.queues.take_due():
                delivered = True
                for attempt in range(redeliver):
                    if attempt:
                        message.dequeue_count += 1
                    if not self.deliver_like_host(message, max_dequeue=max_dequeue):
                        break
            if delivered:
                continue
            upcoming = self.queues.next_visible()
            if upcoming is None or (until is not None and upcoming > until):
                return
            self.clock.advance(max(0.0, (upcoming - self.clock.now()).total_seconds()))
            self.stellr.tick()
        raise AssertionError("the workflow did not settle")

    def event(self, event_id: str = "hire-2026-000123", **overrides: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "event_id": event_id, "org_id": "contoso", "user": "new.hire@contoso.com",
            "usage_location": "US",
            "licenses": [{"sku_id": SPB, "synnex_subscription_id": SPB_ANNUAL}],
        }
        body.update(overrides)
        return body

    def state(self, event_id: str, sku_id: str = SPB) -> str:
        found = self.ledger.find_license(event_id, sku_id)
        assert found is not None
        return found[0].state

    def reason(self, event_id: str, sku_id: str = SPB) -> str | None:
        found = self.ledger.find_license(event_id, sku_id)
        assert found is not None
        return found[0].reason

    def set_variable(self, org_id: str, name: str, value: str, cascade: bool = False) -> None:
        self.orgs.put_variable(Variable(org_id=org_id, name=name, value=value, cascade=cascade))

    def table(self, name: str) -> Any:
        """The Azurite table client behind one of the app's table names."""
        return self.tables.get(self.table_names[name])


@pytest.fixture
def world(azurite: Azurite) -> Iterator[World]:
    """Northwind (MSP, buying on, cascading) over Contoso (customer, SPB full, E3 free)."""
    tables = Tables(TableServiceClient.from_connection_string(azurite.connection_string))
    table = {name: unique_name(name.replace("-", "")[:20]) for name in names.ALL_TABLES}
    clock = FakeClock()
    graph = FakeGraph()
    stellr = FakeStellr(graph, clock)
    queues = FakeQueues(clock)
    orgs = TableOrgStore(orgs=lambda: tables.get(table[names.ORGS_TABLE]),
                         variables=lambda: tables.get(table[names.ORG_VARIABLES_TABLE]))
    ledger = TableLedger(events=lambda: tables.get(table[names.ONBOARDING_LEDGER_TABLE]),
                         purchases=lambda: tables.get(table[names.PURCHASE_LEDGER_TABLE]))
    leases = TableLeases(table=lambda: tables.get(table[names.SUBSCRIPTION_LOCKS_TABLE]),
                         clock=lambda: clock.now().timestamp())
    secrets = TableSecretStore(table=lambda: tables.get(table[names.DEV_SECRETS_TABLE]))
    policy = WaitPolicy(initial_seconds=60, max_seconds=900, deadline=timedelta(hours=24),
                        user_lookup_deadline=timedelta(seconds=300))

    orgs.put_org(Org(org_id="northwind", name="Northwind IT"))
    orgs.put_org(Org(org_id="contoso", name="Contoso Ltd", parent_id="northwind",
                     m365_tenant_id=TENANT, synnex_customer_no=CUSTOMER_NO))
    orgs.put_variable(Variable(org_id="northwind", name="licencing_choose_subscription",
                               value="1", cascade=True))
    secrets.set_secret(synnex_secret_name("northwind"), _dump(SynnexCredentials(
        environment="sandbox", client_id="northwind-sandbox",
        client_secret=SecretStr("sandbox-secret"))))
    graph.skus[SPB] = Sku(enabled=12, consumed=12)
    graph.add_user("new.hire@contoso.com")
    stellr.add_subscription(SPB_ANNUAL, quantity=12, sku_id=SPB)

    holder: dict[str, World] = {}

    def build(
        *, graph: Any = None, stellr: Any = None, sender: Any = None, ledger: Any = None,
        leases: Any = None, orgs: Any = None, sleep: Callable[[float], None] | None = None,
        jitter: Callable[[], float] | None = None,
    ) -> OnboardingWorkflow:
        """A workflow on the world's adapters, or on the wrappers given instead."""
        w = holder["world"]
        graph_api = graph or w.graph
        stellr_api = stellr or w.stellr
        return OnboardingWorkflow(
            orgs=orgs or w.orgs, ledger=ledger or w.ledger, secrets=w.secrets,
            graph=lambda: graph_api, stellr_for=lambda credentials: stellr_api,
            sender=sender or w.queues, leases=leases or w.leases, policy=w.policy,
            now=w.clock.now, sleep=sleep or w.clock.sleep, jitter=jitter or (lambda: 0.5),
        )

    holder["world"] = World(clock=clock, graph=graph, stellr=stellr, queues=queues, orgs=orgs,
                            ledger=ledger, leases=leases, secrets=secrets, policy=policy,
                            tables=tables, table_names=table, build=build)
    yield holder["world"]
