"""The StreamOne Stellr client against respx: hosts, tokens, paging, parsing, errors, secrets."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr

from shared.adapters.stellr import (
    StellrClient,
    StellrEndpoints,
    StellrTokenCache,
    stellr_endpoints,
)
from shared.errors import (
    InvalidCredentials,
    InvalidInput,
    NoApiAccess,
    Throttled,
    Unavailable,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRejected,
)

API = "https://api-uat.us.tdsynnex.com"
TOKEN_URL = "https://sso.us.tdsynnex.com/oauth2/v1/token"
CUSTOMERS = f"{API}/api/v1/cloud/customers"
SUBSCRIPTIONS = f"{API}/api/v1/customers/100234/subscriptions"
SUBSCRIPTION = f"{SUBSCRIPTIONS}/411833_1"
CHANGE_SEATS = f"{SUBSCRIPTION}/changeSeats"
CANARY = "canary-secret-9f3b"

M365_LINE: dict[str, Any] = {
    "id": "411833_1",
    "contractNo": "411833",
    "customerNo": "100234",
    "vendorName": "Microsoft",
    "productName": "Microsoft 365 Business Premium (NCE Annual)",
    "mfgPartNo": "CFQ7TTC0LCHC:0002",
    "quantity": 12,
    "status": "active",
    "billingFrequency": "month",
    "term": "annual",
    "renewalDate": "2027-03-01",
}


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def token_answer(token: str = "tok-1", expires_in: int = 3600) -> httpx.Response:
    return httpx.Response(
        200, json={"access_token": token, "token_type": "Bearer", "expires_in": expires_in}
    )


def ok(data: Any, request_id: str = "req-1") -> httpx.Response:
    return httpx.Response(200, json={"requestId": request_id, "data": data})


def paged(records: list[dict[str, Any]], total: int | None = None) -> Callable[..., Any]:
    """A list endpoint that pages like Stellr: no paging parameters, no records."""

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        if "pageNo" not in params or "pageSize" not in params:
            return ok({"total": 0, "records": []})
        page_no, size = int(params["pageNo"]), int(params["pageSize"])
        chunk = records[(page_no - 1) * size : page_no * size]
        return ok({"total": len(records) if total is None else total, "records": chunk})

    return answer


def page_numbers(route: respx.Route) -> list[int]:
    return sorted(int(call.request.url.params["pageNo"]) for call in route.calls)


def bearer(route: respx.Route) -> list[str]:
    return [call.request.headers["Authorization"] for call in route.calls]


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True, assert_all_mocked=True) as mock:
        yield mock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens(clock: FakeClock) -> StellrTokenCache:
    return StellrTokenCache(clock=clock)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


@pytest.fixture
def make_client(http: httpx.Client, tokens: StellrTokenCache) -> Callable[..., StellrClient]:
    def make(*, secret: str = CANARY, page_size: int = 100) -> StellrClient:
        return StellrClient(
            http=http,
            endpoints=StellrEndpoints(api_base_url=API, token_url=TOKEN_URL),
            client_id="contoso-msp-app",
            client_secret=SecretStr(secret),
            token_cache=tokens,
            page_size=page_size,
        )

    return make


@pytest.fixture
def client(make_client: Callable[..., StellrClient]) -> StellrClient:
    return make_client()


@pytest.fixture
def token(router: respx.MockRouter) -> respx.Route:
    return router.post(TOKEN_URL).mock(return_value=token_answer())


class TestStellrEndpoints:
    """stellr_endpoints"""

    @pytest.mark.parametrize(
        ("environment", "region", "api", "token_url"),
        [
            ("production", "us", "https://api.us.tdsynnex.com", TOKEN_URL),
            ("sandbox", "us", "https://api-uat.us.tdsynnex.com", TOKEN_URL),
            (
                "production",
                "ca",
                "https://api.ca.tdsynnex.com",
                "https://sso.ca.tdsynnex.com/oauth2/v1/token",
            ),
            (
                "sandbox",
                "ca",
                "https://api-uat.ca.tdsynnex.com",
                "https://sso.ca.tdsynnex.com/oauth2/v1/token",
            ),
        ],
    )
    def test_picks_the_hosts_of_each_environment_and_region(
        self, environment: str, region: str, api: str, token_url: str
    ) -> None:
        """Every environment × region has its API host and token URL."""
        assert stellr_endpoints(environment, region) == StellrEndpoints(api, token_url)

    def test_lets_the_settings_override_the_api_host(self) -> None:
        """SYNNEX_API_BASE_URL wins over the table; the token URL stays."""
        endpoints = stellr_endpoints(
            "sandbox", "us", api_base_url_override="https://stellr.test.local/"
        )
        assert endpoints == StellrEndpoints("https://stellr.test.local", TOKEN_URL)

    def test_lets_the_settings_override_the_token_url(self) -> None:
        """SYNNEX_TOKEN_URL wins over the table; the API host stays."""
        endpoints = stellr_endpoints(
            "production", "ca", token_url_override="https://sso.test.local/token"
        )
        assert endpoints == StellrEndpoints(
            "https://api.ca.tdsynnex.com", "https://sso.test.local/token"
        )

    def test_refuses_an_unknown_environment(self) -> None:
        """InvalidInput names the environment field."""
        with pytest.raises(InvalidInput) as caught:
            stellr_endpoints("staging", "us")
        assert caught.value.field == "environment"

    def test_refuses_an_unknown_region(self) -> None:
        """InvalidInput names the region field."""
        with pytest.raises(InvalidInput) as caught:
            stellr_endpoints("production", "eu")
        assert caught.value.field == "region"


class TestTokens:
    """Tokens: fetched once, cached until shortly before expiry, renewed once on a 401."""

    def test_posts_client_credentials_to_the_token_url(
        self, client: StellrClient, token: respx.Route
    ) -> None:
        """The token request is the OAuth client-credentials form."""
        client.check_token()
        form = dict(httpx.QueryParams(token.calls.last.request.content.decode()))
        assert form == {
            "grant_type": "client_credentials",
            "client_id": "contoso-msp-app",
            "client_secret": CANARY,
        }

    def test_fetches_one_token_for_several_reads(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """check_token, a count and a get share one token."""
        customers = router.get(CUSTOMERS).mock(
            return_value=ok({"total": 3, "records": [{"customerNo": "100234"}]})
        )
        customer = router.get(f"{CUSTOMERS}/100234").mock(
            return_value=ok({"customerNo": "100234", "customerName": "Contoso Ltd"})
        )
        client.check_token()
        assert client.count_customers() == 3
        assert client.get_customer("100234").name == "Contoso Ltd"
        assert token.call_count == 1
        assert bearer(customers) + bearer(customer) == ["Bearer tok-1"] * 2

    def test_shares_the_token_between_clients_of_the_same_credentials(
        self, make_client: Callable[..., StellrClient], token: respx.Route
    ) -> None:
        """The cache is process-wide: same URL, id and secret, same token."""
        make_client().check_token()
        make_client().check_token()
        assert token.call_count == 1

    def test_fetches_a_new_token_when_the_secret_changes(
        self, make_client: Callable[..., StellrClient], token: respx.Route
    ) -> None:
        """A rotated secret never reuses the old secret's token."""
        make_client().check_token()
        make_client(secret="rotated-secret").check_token()
        assert token.call_count == 2

    def test_keeps_the_token_until_a_minute_before_it_expires(
        self,
        router: respx.MockRouter,
        client: StellrClient,
        clock: FakeClock,
    ) -> None:
        """expires_in 3600: reused at 3539 s, renewed at 3541 s."""
        token = router.post(TOKEN_URL).mock(
            side_effect=[token_answer("tok-1"), token_answer("tok-2")]
        )
        customers = router.get(CUSTOMERS).mock(return_value=ok({"total": 0, "records": []}))
        client.count_customers()
        clock.now += 3539
        client.count_customers()
        clock.now += 2
        client.count_customers()
        assert token.call_count == 2
        assert bearer(customers) == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]

    def test_renews_the_token_once_on_a_401(
        self, router: respx.MockRouter, client: StellrClient
    ) -> None:
        """A revoked token is dropped, a new one fetched, and the call sent again."""
        token = router.post(TOKEN_URL).mock(
            side_effect=[token_answer("tok-1"), token_answer("tok-2")]
        )
        customers = router.get(CUSTOMERS).mock(
            side_effect=[httpx.Response(401), ok({"total": 7, "records": []})]
        )
        assert client.count_customers() == 7
        assert token.call_count == 2
        assert bearer(customers) == ["Bearer tok-1", "Bearer tok-2"]

    def test_raises_invalid_credentials_on_a_second_401(
        self, router: respx.MockRouter, client: StellrClient
    ) -> None:
        """After one renewal, another 401 is final."""
        token = router.post(TOKEN_URL).mock(
            side_effect=[token_answer("tok-1"), token_answer("tok-2")]
        )
        customers = router.get(CUSTOMERS).mock(
            return_value=httpx.Response(401, json={"requestId": "req-401"})
        )
        with pytest.raises(InvalidCredentials) as caught:
            client.count_customers()
        assert caught.value.request_id == "req-401"
        assert (token.call_count, customers.call_count) == (2, 2)

    @pytest.mark.parametrize("status", [400, 401, 403])
    def test_explains_a_refused_credential(
        self, router: respx.MockRouter, client: StellrClient, status: int
    ) -> None:
        """The token endpoint's refusal says 10 minutes and sandbox vs production."""
        router.post(TOKEN_URL).mock(
            return_value=httpx.Response(
                status,
                json={"error": "invalid_client", "error_description": "Client auth failed"},
                headers={"x-request-id": "req-token"},
            )
        )
        with pytest.raises(InvalidCredentials) as caught:
            client.check_token()
        message = str(caught.value)
        assert "up to 10 minutes" in message
        assert "Sandbox and production credentials are not interchangeable" in message
        assert "(invalid_client)" in message
        assert "Client auth failed" not in message
        assert caught.value.request_id == "req-token"
        assert caught.value.status_code == status
        assert caught.value.service == "synnex"

    def test_retries_a_token_endpoint_outage_then_raises_unavailable(
        self, router: respx.MockRouter, client: StellrClient
    ) -> None:
        """5xx from the token endpoint is transient."""
        token = router.post(TOKEN_URL).mock(return_value=httpx.Response(503))
        with pytest.raises(Unavailable):
            client.check_token()
        assert token.call_count == 3


class TestPaging:
    """Lists: pageNo/pageSize on every request, one call per page, to the end."""

    def test_walks_every_page_exactly_once(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """250 customers at 100 a page: pages 1, 2 and 3, once each."""
        records = [{"customerNo": str(n), "customerName": f"Customer {n}"} for n in range(250)]
        route = router.get(CUSTOMERS).mock(side_effect=paged(records))
        customers = client.list_customers()
        assert [c.customer_no for c in customers] == [str(n) for n in range(250)]
        assert page_numbers(route) == [1, 2, 3]
        assert {call.request.url.params["pageSize"] for call in route.calls} == {"100"}

    def test_always_sends_page_no_and_page_size(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """Without them Stellr answers 0 records, so every list request carries both."""
        route = router.get(SUBSCRIPTIONS).mock(side_effect=paged([M365_LINE]))
        assert [s.id for s in client.list_subscriptions("100234")] == ["411833_1"]
        assert dict(route.calls.last.request.url.params) == {"pageNo": "1", "pageSize": "100"}

    def test_counts_customers_with_one_single_record_page(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """count_customers reads page 1 of size 1 and answers data.total."""
        route = router.get(CUSTOMERS).mock(side_effect=paged([{"customerNo": "1"}], total=42))
        assert client.count_customers() == 42
        assert route.call_count == 1
        assert dict(route.calls.last.request.url.params) == {"pageNo": "1", "pageSize": "1"}

    def test_stops_at_a_short_page_when_the_total_lies(
        self,
        router: respx.MockRouter,
        make_client: Callable[..., StellrClient],
        token: respx.Route,
    ) -> None:
        """total says 1000; page 3 comes back short: no page beyond that batch is read."""
        records = [{"customerNo": str(n)} for n in range(25)]
        route = router.get(CUSTOMERS).mock(side_effect=paged(records, total=1000))
        customers = make_client(page_size=10).list_customers()
        assert len(customers) == 25
        calls = page_numbers(route)
        assert calls[:3] == [1, 2, 3]
        assert max(calls) <= 5
        assert set(Counter(calls).values()) == {1}

    def test_stops_at_an_empty_page(
        self,
        router: respx.MockRouter,
        make_client: Callable[..., StellrClient],
        token: respx.Route,
    ) -> None:
        """An empty page ends the walk even when total promised more."""
        records = [{"customerNo": str(n)} for n in range(20)]
        route = router.get(CUSTOMERS).mock(side_effect=paged(records, total=30))
        assert len(make_client(page_size=10).list_customers()) == 20
        assert page_numbers(route) == [1, 2, 3]

    def test_stops_after_one_page_when_it_is_short(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """A first page shorter than pageSize is the whole list."""
        route = router.get(CUSTOMERS).mock(side_effect=paged([{"customerNo": "1"}], total=500))
        assert len(client.list_customers()) == 1
        assert route.call_count == 1

    def test_refuses_a_total_beyond_the_page_cap(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """A total that would need hundreds of pages fails loudly instead of walking."""
        full_page = [{"customerNo": str(n)} for n in range(100)]
        router.get(CUSTOMERS).mock(return_value=ok({"total": 10**7, "records": full_page}))
        with pytest.raises(UpstreamRejected):
            client.list_customers()


class TestParsing:
    """Records: aliases, coercion, unknown fields kept, bad records skipped."""

    def test_parses_the_assumed_subscription_record(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """Every field of the documented shape lands in the model."""
        router.get(SUBSCRIPTION).mock(return_value=ok(M365_LINE))
        line = client.get_subscription("100234", "411833_1")
        assert line.model_dump(exclude={"raw"}) == {
            "id": "411833_1",
            "customer_no": "100234",
            "contract_no": "411833",
            "vendor": "Microsoft",
            "product_name": "Microsoft 365 Business Premium (NCE Annual)",
            "part_number": "CFQ7TTC0LCHC:0002",
            "quantity": 12,
            "status": "active",
            "billing_frequency": "month",
            "term": "annual",
            "renewal_date": date(2027, 3, 1),
        }
        assert line.raw == M365_LINE

    def test_reads_aliases_coerces_quantities_and_keeps_every_vendor(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """seats/qty, vendor/publisher, offerId/skuNo and subscriptionId all parse."""
        records = [
            {
                "subscriptionId": "411833_2",
                "vendor": "microsoft",
                "productName": "Exchange Online (Plan 1) Monthly",
                "offerId": "CFQ7TTC0LH16:0001",
                "seats": "12",
                "status": "",
                "autoRenew": True,
            },
            {
                "id": "502211_1",
                "publisher": "Cisco",
                "name": "Webex Meetings",
                "skuNo": "A-WX-NU",
                "qty": 3.0,
            },
        ]
        router.get(SUBSCRIPTIONS).mock(side_effect=paged(records))
        exchange, webex = client.list_subscriptions("100234")
        assert (exchange.id, exchange.vendor, exchange.part_number) == (
            "411833_2",
            "microsoft",
            "CFQ7TTC0LH16:0001",
        )
        assert (exchange.quantity, exchange.status, exchange.term) == (12, "", "monthly")
        assert exchange.raw["autoRenew"] is True
        assert exchange.customer_no == "100234"
        assert (webex.vendor, webex.product_name, webex.part_number, webex.quantity) == (
            "Cisco",
            "Webex Meetings",
            "A-WX-NU",
            3,
        )

    def test_keeps_unknown_customer_fields(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """companyName is a name alias; fields the model does not know stay as extras."""
        router.get(f"{CUSTOMERS}/100234").mock(
            return_value=ok({"customerNo": 100234, "companyName": "Contoso", "country": "US"})
        )
        customer = client.get_customer("100234")
        assert (customer.customer_no, customer.name) == ("100234", "Contoso")
        assert customer.model_extra == {"country": "US"}
        assert customer.domain is None

    def test_reads_the_customer_domain_under_each_alias(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """domain, domainName, customerDomain: lower-cased; a blank one is no domain."""
        records = [
            {"customerNo": "100234", "customerName": "Contoso Ltd", "domain": "Contoso.com"},
            {"customerNo": "100235", "customerName": "Fabrikam", "domainName": "fabrikam.com"},
            {"customerNo": "100236", "customerName": "Litware", "customerDomain": "litware.com"},
            {"customerNo": "100237", "customerName": "Adventure Works", "domain": " "},
        ]
        router.get(CUSTOMERS).mock(side_effect=paged(records))
        found = [(c.customer_no, c.domain) for c in client.list_customers()]
        assert found == [
            ("100234", "contoso.com"),
            ("100235", "fabrikam.com"),
            ("100236", "litware.com"),
            ("100237", None),
        ]

    def test_skips_unreadable_records_with_a_warning_and_no_payload(
        self,
        router: respx.MockRouter,
        client: StellrClient,
        token: respx.Route,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A record without an id or a whole quantity is skipped; the log names no content."""
        records = [
            M365_LINE,
            {"id": "88_1", "productName": "Project Falcon Suite", "quantity": "twelve"},
            {"productName": "Project Falcon Suite", "quantity": 2},
            {"id": "88_2", "productName": "Project Falcon Suite", "quantity": 2.5},
        ]
        router.get(SUBSCRIPTIONS).mock(side_effect=paged(records))
        with caplog.at_level(logging.WARNING, logger="shared.adapters.stellr"):
            lines = client.list_subscriptions("100234")
        assert [line.id for line in lines] == ["411833_1"]
        skipped = [r for r in caplog.records if "synnex_record_skipped" in r.getMessage()]
        assert len(skipped) == 3
        assert all(r.levelno == logging.WARNING for r in skipped)
        assert "Falcon" not in caplog.text

    def test_raises_upstream_rejected_for_an_unreadable_single_record(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """get_subscription does not invent a quantity."""
        router.get(SUBSCRIPTION).mock(return_value=ok({"id": "411833_1"}, request_id="req-bad"))
        with pytest.raises(UpstreamRejected) as caught:
            client.get_subscription("100234", "411833_1")
        assert caught.value.request_id == "req-bad"


class TestErrors:
    """Every Stellr failure becomes one error of the taxonomy, requestId kept."""

    def test_raises_no_api_access_on_403_naming_the_permissions(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """403: the Application lacks an API permission."""
        router.get(CUSTOMERS).mock(return_value=httpx.Response(403, json={"requestId": "r-403"}))
        with pytest.raises(NoApiAccess) as caught:
            client.count_customers()
        assert "End Customers - List Customers" in str(caught.value)
        assert "Application" in str(caught.value)
        assert caught.value.request_id == "r-403"

    def test_raises_upstream_not_found_on_404_with_the_header_request_id(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """404 with the request id only in a header."""
        router.get(SUBSCRIPTION).mock(
            return_value=httpx.Response(404, headers={"x-request-id": "r-404"})
        )
        with pytest.raises(UpstreamNotFound) as caught:
            client.get_subscription("100234", "411833_1")
        assert caught.value.request_id == "r-404"
        assert "r-404" in str(caught.value)

    def test_raises_upstream_rejected_on_400_with_the_upstream_message(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """Another 4xx is rejected, its errorMessage kept as the detail."""
        router.get(SUBSCRIPTION).mock(
            return_value=httpx.Response(
                400, json={"requestId": "r-400", "errorMessage": "Invalid customer number"}
            )
        )
        with pytest.raises(UpstreamRejected) as caught:
            client.get_subscription("100234", "411833_1")
        assert "Invalid customer number" in caught.value.detail
        assert (caught.value.status_code, caught.value.request_id) == (400, "r-400")

    def test_raises_upstream_rejected_on_a_200_carrying_error_message(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """A business error can arrive as HTTP 200."""
        router.get(SUBSCRIPTION).mock(
            return_value=httpx.Response(
                200, json={"requestId": "r-200", "errorMessage": "Reseller scope mismatch"}
            )
        )
        with pytest.raises(UpstreamRejected) as caught:
            client.get_subscription("100234", "411833_1")
        assert "Reseller scope mismatch" in caught.value.detail
        assert caught.value.request_id == "r-200"

    def test_raises_throttled_with_retry_after_seconds(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """A long Retry-After is not waited for inline: Throttled carries it up."""
        route = router.get(SUBSCRIPTION).mock(
            return_value=httpx.Response(
                429, headers={"Retry-After": "120"}, json={"requestId": "r-429"}
            )
        )
        with pytest.raises(Throttled) as caught:
            client.get_subscription("100234", "411833_1")
        assert (caught.value.retry_after, caught.value.request_id) == (120.0, "r-429")
        assert route.call_count == 1

    def test_reads_retry_after_as_an_http_date(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """Retry-After may be an HTTP-date: it becomes seconds from now."""
        when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
        router.get(SUBSCRIPTION).mock(
            return_value=httpx.Response(429, headers={"Retry-After": when})
        )
        with pytest.raises(Throttled) as caught:
            client.get_subscription("100234", "411833_1")
        assert caught.value.retry_after is not None
        assert 80 <= caught.value.retry_after <= 90

    def test_retries_a_short_throttle_then_succeeds(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """429 with Retry-After: 1, then 200: the read succeeds."""
        route = router.get(SUBSCRIPTION).mock(
            side_effect=[httpx.Response(429, headers={"Retry-After": "1"}), ok(M365_LINE)]
        )
        assert client.get_subscription("100234", "411833_1").quantity == 12
        assert route.call_count == 2

    def test_raises_throttled_without_retry_after_after_the_retries(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """429s without Retry-After are retried, then Throttled(retry_after=None)."""
        route = router.get(SUBSCRIPTION).mock(return_value=httpx.Response(429))
        with pytest.raises(Throttled) as caught:
            client.get_subscription("100234", "411833_1")
        assert caught.value.retry_after is None
        assert route.call_count == 3

    def test_retries_a_5xx_then_succeeds(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """A 503 then a 200: one retry, one answer."""
        route = router.get(SUBSCRIPTION).mock(side_effect=[httpx.Response(503), ok(M365_LINE)])
        assert client.get_subscription("100234", "411833_1").id == "411833_1"
        assert route.call_count == 2

    def test_raises_unavailable_after_retrying_5xx(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """Three 500s: Unavailable with the last requestId."""
        route = router.get(SUBSCRIPTION).mock(
            return_value=httpx.Response(500, json={"requestId": "r-500"})
        )
        with pytest.raises(Unavailable) as caught:
            client.get_subscription("100234", "411833_1")
        assert (caught.value.status_code, caught.value.request_id) == (500, "r-500")
        assert route.call_count == 3

    @pytest.mark.parametrize(
        "failure", [httpx.ConnectTimeout, httpx.ReadTimeout, httpx.ConnectError]
    )
    def test_raises_unavailable_after_retrying_timeouts_and_connection_errors(
        self,
        router: respx.MockRouter,
        client: StellrClient,
        token: respx.Route,
        failure: type[Exception],
    ) -> None:
        """Transport trouble is retried, then Unavailable with the httpx error as cause."""
        route = router.get(SUBSCRIPTION).mock(side_effect=failure)
        with pytest.raises(Unavailable) as caught:
            client.get_subscription("100234", "411833_1")
        assert isinstance(caught.value.__cause__, failure)
        assert route.call_count == 3


class TestChangeSeats:
    """change_seats: the new total, sent once, never retried."""

    def test_sends_the_new_total_once_and_answers_the_operation_id(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """POST {"quantity": 13}; the operationId comes back."""
        route = router.post(CHANGE_SEATS).mock(return_value=ok({"operationId": "op-77"}))
        assert client.change_seats("100234", "411833_1", 13) == "op-77"
        assert route.call_count == 1
        assert json.loads(route.calls.last.request.content) == {"quantity": 13}

    def test_answers_none_without_an_operation_id(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """A change applied at once may carry no operation."""
        router.post(CHANGE_SEATS).mock(return_value=ok({}))
        assert client.change_seats("100234", "411833_1", 13) is None

    def test_does_not_retry_a_5xx(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """503: Unavailable telling the caller to re-read, after exactly one POST."""
        route = router.post(CHANGE_SEATS).mock(
            return_value=httpx.Response(503, json={"requestId": "r-503"})
        )
        with pytest.raises(Unavailable) as caught:
            client.change_seats("100234", "411833_1", 13)
        assert route.call_count == 1
        assert "re-read the quantity" in str(caught.value)
        assert caught.value.request_id == "r-503"

    def test_does_not_retry_a_timeout(
        self, router: respx.MockRouter, client: StellrClient, token: respx.Route
    ) -> None:
        """A read timeout may hide an applied change: one POST, then Unavailable."""
        route = router.post(CHANGE_SEATS).mock(side_effect=httpx.ReadTimeout)
        with pytest.raises(Unavailable):
            client.change_seats("100234", "411833_1", 13)
        assert route.call_count == 1

    def test_refuses_a_total_below_one_without_calling(self, client: StellrClient) -> None:
        """A zero total would cancel the line: refused before any request."""
        with pytest.raises(InvalidInput) as caught:
            client.change_seats("100234", "411833_1", 0)
        assert caught.value.field == "quantity"


class TestOperationStatus:
    """get_operation_status"""

    @pytest.mark.parametrize(
        ("answer", "expected"),
        [
            ("completed", "completed"),
            ("Succeeded", "completed"),
            ("In Progress", "in_progress"),
            ("in_progress", "in_progress"),
            ("FAILED", "failed"),
            ("Queued", "queued"),
        ],
    )
    def test_normalises_the_state(
        self,
        router: respx.MockRouter,
        client: StellrClient,
        token: respx.Route,
        answer: str,
        expected: str,
    ) -> None:
        """Known states map to three words; others pass lower-cased."""
        router.get(f"{API}/api/v1/subscriptions/operations/op-77").mock(
            return_value=ok({"status": answer})
        )
        assert client.get_operation_status("op-77") == expected


class TestSecrets:
    """The client secret and the tokens never leak."""

    def test_never_logs_raises_or_shows_the_secret_or_a_token(
        self,
        router: respx.MockRouter,
        client: StellrClient,
        tokens: StellrTokenCache,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Through renewals, refusals and outages, at DEBUG for every logger."""
        caplog.set_level(logging.DEBUG)
        for name in ("httpx", "httpcore", "shared"):
            caplog.set_level(logging.DEBUG, logger=name)
        leaked = [CANARY, "tok-canary-1", "tok-canary-2"]
        router.post(TOKEN_URL).mock(
            side_effect=[
                token_answer("tok-canary-1"),
                token_answer("tok-canary-2"),
                # A token endpoint that echoes what it was sent must not be repeated.
                httpx.Response(401, json={"error": "invalid_client", "error_description": CANARY}),
            ]
        )
        router.get(CUSTOMERS).mock(
            side_effect=[
                httpx.Response(401),
                ok({"total": 1, "records": []}),
                httpx.Response(401),
            ]
        )
        router.get(SUBSCRIPTION).mock(return_value=httpx.Response(500))
        errors: list[UpstreamError] = []

        client.check_token()
        assert client.count_customers() == 1
        for call in (client.count_customers, lambda: client.get_subscription("100234", "411833_1")):
            with pytest.raises(UpstreamError) as caught:
                call()
            errors.append(caught.value)

        assert [type(e) for e in errors] == [InvalidCredentials, Unavailable]
        shown = [caplog.text, repr(client), str(client), repr(tokens)]
        shown += [r.getMessage() for r in caplog.records]
        for error in errors:
            shown += [str(error), repr(error), error.detail, str(error.__cause__)]
        assert "requestId=" in caplog.text
        for secret in leaked:
            assert not [text for text in shown if secret in text], secret
