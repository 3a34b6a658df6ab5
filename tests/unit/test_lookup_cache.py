"""The freshness window of the subscription lookup, and the lookup that uses it."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from pydantic import SecretStr

from shared.adapters.secret_store import synnex_secret_name
from shared.errors import InvalidInput, Unavailable
from shared.listing_window import ListingWindow
from shared.models import Org, Subscription, SynnexCredentials, Variable
from shared.use_cases.lookups import lookup_subscriptions

CONTOSO_NO = "100234"
FABRIKAM_NO = "100235"
NORTHWIND = SynnexCredentials(
    environment="sandbox", region="us", client_id="northwind-it-stellr-app",
    client_secret=SecretStr("northwind-secret"),
)
TAILSPIN = SynnexCredentials(
    environment="sandbox", region="us", client_id="tailspin-stellr-app",
    client_secret=SecretStr("tailspin-secret"),
)


def spb(quantity: int = 12, customer_no: str = CONTOSO_NO) -> Subscription:
    return Subscription(
        id="411833_1", customer_no=customer_no, vendor="Microsoft",
        product_name="Microsoft 365 Business Premium (NCE Annual)",
        part_number="CFQ7TTC0LCHC:0002", quantity=quantity, status="active",
        billing_frequency="month", term="annual", renewal_date=date(2027, 3, 1),
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Loader:
    """Counts the upstream calls a cache makes; answers the current quantity."""

    def __init__(self, quantity: int = 12) -> None:
        self.quantity = quantity
        self.calls = 0

    def __call__(self) -> list[Subscription]:
        self.calls += 1
        return [spb(self.quantity)]


class TestListingWindow:
    def test_serves_a_listing_again_within_the_window_without_loading(self) -> None:
        """The second lookup of the window costs no upstream call."""
        cache, load = ListingWindow(ttl=60, clock=Clock()), Loader()
        first = cache.get_or_load(NORTHWIND, CONTOSO_NO, load)
        second = cache.get_or_load(NORTHWIND, CONTOSO_NO, load)
        assert (load.calls, first, second) == (1, [spb()], [spb()])

    def test_loads_again_once_the_window_has_passed(self) -> None:
        """After `ttl` seconds the listing is fetched again."""
        clock = Clock()
        cache, load = ListingWindow(ttl=60, clock=clock), Loader()
        cache.get_or_load(NORTHWIND, CONTOSO_NO, load)
        clock.now += 59.9
        cache.get_or_load(NORTHWIND, CONTOSO_NO, load)
        clock.now += 0.1
        load.quantity = 13
        assert cache.get_or_load(NORTHWIND, CONTOSO_NO, load) == [spb(13)]
        assert load.calls == 2

    def test_loads_again_right_after_the_customer_is_invalidated(self) -> None:
        """A confirmed seat change clears the customer's window at once."""
        cache, load = ListingWindow(ttl=60, clock=Clock()), Loader()
        cache.get_or_load(NORTHWIND, CONTOSO_NO, load)
        load.quantity = 13
        cache.invalidate(CONTOSO_NO)
        assert cache.get_or_load(NORTHWIND, CONTOSO_NO, load) == [spb(13)]
        assert load.calls == 2

    def test_keeps_the_other_customers_when_one_is_invalidated(self) -> None:
        """Invalidating Contoso leaves Fabrikam's listing in the window."""
        cache, load = ListingWindow(ttl=60, clock=Clock()), Loader()
        cache.get_or_load(NORTHWIND, CONTOSO_NO, load)
        cache.get_or_load(NORTHWIND, FABRIKAM_NO, load)
        cache.invalidate(CONTOSO_NO)
        cache.get_or_load(NORTHWIND, FABRIKAM_NO, load)
        assert load.calls == 2

    def test_keeps_each_resellers_listing_apart(self) -> None:
        """Other credentials never see a listing fetched with Northwind's."""
        cache, load = ListingWindow(ttl=60, clock=Clock()), Loader()
        cache.get_or_load(NORTHWIND, CONTOSO_NO, load)
        cache.get_or_load(TAILSPIN, CONTOSO_NO, load)
        rotated = NORTHWIND.model_copy(update={"client_secret": SecretStr("rotated")})
        cache.get_or_load(rotated, CONTOSO_NO, load)
        assert load.calls == 3

    def test_does_not_keep_a_listing_loaded_across_an_invalidation(self) -> None:
        """A listing read before a seat change landed is answered once, never kept."""
        cache = ListingWindow(ttl=60, clock=Clock())

        def stale_then_invalidated() -> list[Subscription]:
            cache.invalidate(CONTOSO_NO)  # the change confirmed while the read was out
            return [spb(12)]

        assert cache.get_or_load(NORTHWIND, CONTOSO_NO, stale_then_invalidated) == [spb(12)]
        load = Loader(13)
        assert cache.get_or_load(NORTHWIND, CONTOSO_NO, load) == [spb(13)]
        assert load.calls == 1

    def test_shares_one_upstream_call_between_concurrent_misses(self) -> None:
        """Eight form requests arriving together cost one Stellr listing."""
        cache = ListingWindow(ttl=60)
        release = threading.Event()
        calls = 0

        def slow() -> list[Subscription]:
            nonlocal calls
            calls += 1
            release.wait(5)
            return [spb()]

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(cache.get_or_load, NORTHWIND, CONTOSO_NO, slow)
                       for _ in range(8)]
            while calls == 0:
                threading.Event().wait(0.01)
            release.set()
            answers = [f.result(timeout=5) for f in futures]
        assert calls == 1
        assert answers == [[spb()]] * 8

    def test_keeps_nothing_when_the_upstream_call_fails(self) -> None:
        """A failed listing is raised to the caller and the next lookup asks again."""
        cache, load = ListingWindow(ttl=60, clock=Clock()), Loader()

        def down() -> list[Subscription]:
            raise Unavailable("synnex", "GET subscriptions: TD SYNNEX answered 503")

        with pytest.raises(Unavailable):
            cache.get_or_load(NORTHWIND, CONTOSO_NO, down)
        cache.get_or_load(NORTHWIND, CONTOSO_NO, load)
        assert load.calls == 1

    def test_calls_upstream_every_time_with_a_window_of_zero(self) -> None:
        """ttl 0 turns the window off."""
        cache, load = ListingWindow(ttl=0, clock=Clock()), Loader()
        cache.get_or_load(NORTHWIND, CONTOSO_NO, load)
        cache.get_or_load(NORTHWIND, CONTOSO_NO, load)
        assert load.calls == 2

    def test_forgets_the_oldest_listing_beyond_its_size(self) -> None:
        """At most `max_entries` listings are kept, the oldest dropped first."""
        cache, load = ListingWindow(ttl=60, max_entries=2, clock=Clock()), Loader()
        for customer_no in ("100234", "100235", "100236"):
            cache.get_or_load(NORTHWIND, customer_no, load)
        cache.get_or_load(NORTHWIND, "100236", load)
        cache.get_or_load(NORTHWIND, "100235", load)
        cache.get_or_load(NORTHWIND, "100234", load)
        assert load.calls == 4

    def test_hands_out_copies_that_callers_may_change(self) -> None:
        """A caller changing its list does not change what the next caller gets."""
        cache, load = ListingWindow(ttl=60, clock=Clock()), Loader()
        cache.get_or_load(NORTHWIND, CONTOSO_NO, load).clear()
        assert cache.get_or_load(NORTHWIND, CONTOSO_NO, load) == [spb()]


# --- the lookup ------------------------------------------------------------------------------


class Orgs:
    """Northwind IT (credentials, choice cascading) over Contoso Ltd, in memory."""

    def __init__(self, *, choice: str = "1") -> None:
        self.orgs = {
            "northwind": Org(org_id="northwind", name="Northwind IT"),
            "contoso": Org(org_id="contoso", name="Contoso Ltd", parent_id="northwind",
                           m365_tenant_id="5b1e7c8a-3f2d-4e6a-9c0b-7d4f1a2e3b6c",
                           synnex_customer_no=CONTOSO_NO),
        }
        self.variables = {"northwind": [Variable(
            org_id="northwind", name="licencing_choose_subscription", value=choice, cascade=True,
        )]}

    def get_org(self, org_id: str) -> Org | None:
        return self.orgs.get(org_id)

    def put_org(self, org: Org) -> None:
        self.orgs[org.org_id] = org

    def list_variables(self, org_id: str) -> list[Variable]:
        return list(self.variables.get(org_id, []))

    def get_variable(self, org_id: str, name: str) -> Variable | None:
        return next((v for v in self.list_variables(org_id) if v.name == name), None)

    def put_variable(self, variable: Variable) -> None:
        self.variables.setdefault(variable.org_id, []).append(variable)

    def delete_variable(self, org_id: str, name: str) -> None:
        self.variables[org_id] = [v for v in self.list_variables(org_id) if v.name != name]


class Secrets:
    def __init__(self, *, stored: bool = True, down: bool = False) -> None:
        self.down = down
        self.values: dict[str, str] = {}
        if stored:
            self.values[synnex_secret_name("northwind")] = json.dumps({
                "environment": "sandbox", "region": "us",
                "client_id": NORTHWIND.client_id, "client_secret": "northwind-secret",
            })

    def get_secret(self, name: str) -> str | None:
        if self.down:
            raise Unavailable("keyvault", f"read secret {name}: ServiceRequestError")
        return self.values.get(name)

    def set_secret(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete_secret(self, name: str) -> None:
        self.values.pop(name, None)


class Stellr:
    def __init__(self) -> None:
        self.listings = 0

    def list_subscriptions(self, customer_no: str) -> list[Subscription]:
        self.listings += 1
        return [spb(customer_no=customer_no)]


class TestLookupSubscriptions:
    @pytest.fixture
    def pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(4)

    def test_asks_synnex_once_for_two_lookups_within_the_window(
        self, pool: ThreadPoolExecutor
    ) -> None:
        """The form opened twice in a minute: one Stellr listing."""
        stellr, window = Stellr(), ListingWindow(ttl=60)
        answers = [
            lookup_subscriptions(orgs=Orgs(), secrets=Secrets(), stellr_for=lambda _: stellr,
                                 org_id="contoso", window=window, executor=pool)
            for _ in range(2)
        ]
        assert stellr.listings == 1
        assert answers[0] == answers[1]
        assert [s.id for s in answers[0].subscriptions] == ["411833_1"]

    def test_answers_the_same_with_and_without_concurrent_reads(
        self, pool: ThreadPoolExecutor
    ) -> None:
        """The executor changes when the reads run, not what is answered."""
        at_once = lookup_subscriptions(orgs=Orgs(), secrets=Secrets(),
                                       stellr_for=lambda _: Stellr(), org_id="contoso",
                                       executor=pool)
        in_turn = lookup_subscriptions(orgs=Orgs(), secrets=Secrets(),
                                       stellr_for=lambda _: Stellr(), org_id="contoso")
        assert at_once == in_turn
        assert at_once.enabled

    def test_ignores_an_unreadable_vault_when_the_choice_is_off(
        self, pool: ThreadPoolExecutor
    ) -> None:
        """The credentials read ahead are not needed when the dropdown is off: no error."""
        stellr = Stellr()
        answer = lookup_subscriptions(orgs=Orgs(choice="0"), secrets=Secrets(down=True),
                                      stellr_for=lambda _: stellr, org_id="contoso",
                                      window=ListingWindow(), executor=pool)
        assert (answer.enabled, answer.subscriptions, stellr.listings) == (False, [], 0)

    def test_raises_an_unreadable_vault_when_the_choice_is_on(
        self, pool: ThreadPoolExecutor
    ) -> None:
        """With the dropdown on, a vault that cannot be read is a 503, as before."""
        with pytest.raises(Unavailable):
            lookup_subscriptions(orgs=Orgs(), secrets=Secrets(down=True),
                                 stellr_for=lambda _: Stellr(), org_id="contoso", executor=pool)

    def test_refuses_without_stored_credentials(self, pool: ThreadPoolExecutor) -> None:
        """No credentials for the MSP root: InvalidInput naming them."""
        with pytest.raises(InvalidInput) as raised:
            lookup_subscriptions(orgs=Orgs(), secrets=Secrets(stored=False),
                                 stellr_for=lambda _: Stellr(), org_id="contoso", executor=pool)
        assert raised.value.field == "synnex-credentials"


SPB_SKU = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"


class TwoBusinessPremiumLines(Stellr):
    """Contoso's annual and monthly Business Premium lines, and an Exchange line."""

    def list_subscriptions(self, customer_no: str) -> list[Subscription]:
        self.listings += 1
        monthly = spb(3).model_copy(update={
            "id": "411834_1", "product_name": "Microsoft 365 Business Premium (NCE COM MTH)",
            "term": "monthly",
        })
        exchange = spb(4).model_copy(update={
            "id": "411837_1", "product_name": "Exchange Online (Plan 1) (NCE Annual)",
        })
        return [spb(), monthly, exchange]


class History:
    """The last subscription per org and SKU, in memory; `down` fails every read."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.rows: dict[tuple[str, str], str] = {}
        self.reads = 0

    def record(self, org_id: str, sku_id: str, subscription_id: str) -> None:
        self.rows[(org_id, sku_id)] = subscription_id

    def find_last(self, org_id: str, sku_id: str) -> str | None:
        self.reads += 1
        if self.down:
            raise Unavailable("storage", "read last subscription: storage answered 503")
        return self.rows.get((org_id, sku_id))


class TestLookupSubscriptionsForASku:
    @pytest.fixture
    def pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(4)

    def test_suggests_the_line_bought_through_last_with_and_without_concurrent_reads(
        self, pool: ThreadPoolExecutor
    ) -> None:
        """Two exact lines, the monthly one bought through last: suggested either way."""
        history = History()
        history.record("contoso", SPB_SKU, "411834_1")
        for executor in (pool, None):
            answer = lookup_subscriptions(
                orgs=Orgs(), secrets=Secrets(), stellr_for=lambda _: TwoBusinessPremiumLines(),
                org_id="contoso", sku_id=SPB_SKU.upper(), history=history, executor=executor,
            )
            assert [(s.id, s.match) for s in answer.subscriptions] == [
                ("411834_1", "exact"), ("411833_1", "exact"), ("411837_1", "none"),
            ]
            assert getattr(answer, "suggested_id", "missing") == "411834_1"

    def test_reads_no_history_for_a_single_exact_match_without_an_executor(self) -> None:
        """One exact line: suggested at once, the purchase history not read."""
        history = History()
        answer = lookup_subscriptions(
            orgs=Orgs(), secrets=Secrets(), stellr_for=lambda _: Stellr(), org_id="contoso",
            sku_id=SPB_SKU, history=history,
        )
        assert getattr(answer, "suggested_id", "missing") == "411833_1"
        assert history.reads == 0

    def test_suggests_nothing_rather_than_failing_when_the_history_cannot_be_read(
        self, pool: ThreadPoolExecutor
    ) -> None:
        """Storage down for the history read: the ranked dropdown, `suggested_id` None."""
        answer = lookup_subscriptions(
            orgs=Orgs(), secrets=Secrets(), stellr_for=lambda _: TwoBusinessPremiumLines(),
            org_id="contoso", sku_id=SPB_SKU, history=History(down=True), executor=pool,
        )
        assert [s.match for s in answer.subscriptions] == ["exact", "exact", "none"]
        assert getattr(answer, "suggested_id", "missing") is None

    def test_refuses_a_sku_id_that_is_not_a_guid_before_reading_anything(self) -> None:
        """`SPB` is a part number: InvalidInput naming sku_id, no storage or Stellr call."""
        stellr = Stellr()
        with pytest.raises(InvalidInput) as raised:
            lookup_subscriptions(orgs=Orgs(), secrets=Secrets(down=True),
                                 stellr_for=lambda _: stellr, org_id="contoso", sku_id="SPB")
        assert (raised.value.field, raised.value.status, stellr.listings) == ("sku_id", 422, 0)
