"""The Graph client against respx: MSAL through the same httpx client, errors, retries, secrets."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
import msal  # type: ignore[import-untyped]  # msal ships no type information
import pytest
import respx
from pydantic import SecretStr

from shared.adapters.graph import GraphClient
from shared.errors import (
    InvalidCredentials,
    InvalidInput,
    NoApiAccess,
    NoFreeSeat,
    Throttled,
    Unavailable,
    UpstreamNotFound,
    UpstreamRejected,
    UsageLocationMissing,
)
from shared.models import GraphUser, SubscribedSku

AUTHORITY_HOST = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com"
CLIENT_ID = "0c3f6a2e-8d41-4b7a-9f15-2e6d8c4a1b70"
SECRET = "canary-secret-7c1d"
TOKEN = "canary-token-eyJ0eXAiOiJKV1Qi-4b9e"

CONTOSO = "5b1e7c8a-3f2d-4e6a-9c0b-7d4f1a2e3b6c"
FABRIKAM = "9e2d4f6a-1b3c-4d5e-8f7a-0b1c2d3e4f5a"

ENTERPRISEPACK = "6fd2c87f-b296-42f0-b197-1e91e994b900"
SPB = "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
WINDOWS_STORE = "6470687e-a428-4b7a-bef2-8a291ad947c9"

NEW_HIRE_ID = "3d9f1b2c-6a4e-4f8d-b7c5-1e2a3b4c5d6e"
NEW_HIRE_UPN = "new.hire@contoso.com"

SKUS_URL = f"{GRAPH}/v1.0/subscribedSkus"
USER_URL = f"{GRAPH}/v1.0/users/{NEW_HIRE_ID}"
ASSIGN_URL = f"{USER_URL}/assignLicense"

SKUS_BODY: dict[str, Any] = {
    "value": [
        {
            "skuId": ENTERPRISEPACK,
            "skuPartNumber": "ENTERPRISEPACK",
            "appliesTo": "User",
            "capabilityStatus": "Enabled",
            "consumedUnits": 22,
            "prepaidUnits": {"enabled": 25, "warning": 0, "suspended": 0, "lockedOut": 0},
        },
        {
            "skuId": SPB.upper(),
            "skuPartNumber": "SPB",
            "appliesTo": "User",
            "capabilityStatus": "Warning",
            "consumedUnits": 12,
            "prepaidUnits": {"enabled": 0, "warning": 12, "suspended": 0, "lockedOut": 0},
        },
        {
            "skuId": WINDOWS_STORE,
            "skuPartNumber": "WINDOWS_STORE",
            "appliesTo": "Company",
            "capabilityStatus": "Enabled",
            "consumedUnits": 0,
            "prepaidUnits": {"enabled": 1, "warning": 0, "suspended": 0, "lockedOut": 0},
        },
    ]
}

USER_BODY: dict[str, Any] = {
    "id": NEW_HIRE_ID,
    "userPrincipalName": NEW_HIRE_UPN,
    "usageLocation": "US",
    "assignedLicenses": [{"skuId": SPB.upper(), "disabledPlans": []}],
}


def graph_error(code: str, message: str, status: int = 400, **headers: str) -> httpx.Response:
    """A Graph error answer with its request id."""
    return httpx.Response(
        status,
        json={"error": {"code": code, "message": message, "innerError": {}}},
        headers={"request-id": "7e1c2b3a-0000-4d5e-9f8a-1b2c3d4e5f60", **headers},
    )


def token_error(error: str, description: str, codes: list[int]) -> httpx.Response:
    """An Entra ID token error answer, as the token endpoint sends it."""
    return httpx.Response(
        400,
        json={
            "error": error,
            "error_description": description,
            "error_codes": codes,
            "timestamp": "2026-03-02 10:15:42Z",
            "trace_id": "1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
            "correlation_id": "c0ffee00-1111-4222-8333-444455556666",
        },
    )


def all_messages(exc: BaseException) -> str:
    """The text of an exception and of every exception chained to it."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.extend([str(current), repr(current)])
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


@dataclass
class LoginRoutes:
    """The two MSAL calls of one tenant: OIDC discovery and the token endpoint."""

    discovery: respx.Route
    token: respx.Route


MockLogin = Callable[..., LoginRoutes]


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """Strict respx: any request without a route fails the test."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def mock_login(router: respx.MockRouter) -> MockLogin:
    """Routes discovery and token for a tenant; the token answer can be replaced."""

    def mock(tenant: str = CONTOSO, *, token: Any = None) -> LoginRoutes:
        base = f"{AUTHORITY_HOST}/{tenant}"
        document = {
            "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "jwks_uri": f"{AUTHORITY_HOST}/{tenant}/discovery/v2.0/keys",
        }
        discovery = router.get(f"{base}/v2.0/.well-known/openid-configuration").mock(
            return_value=httpx.Response(200, json=document)
        )
        answer = {"token_type": "Bearer", "expires_in": 3599, "access_token": TOKEN}
        token_route = router.post(f"{base}/oauth2/v2.0/token")
        if isinstance(token, list):
            token_route.mock(side_effect=token)
        else:
            token_route.mock(return_value=token or httpx.Response(200, json=answer))
        return LoginRoutes(discovery=discovery, token=token_route)

    return mock


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """The one httpx client that MSAL and the Graph calls share."""
    with httpx.Client(timeout=httpx.Timeout(10.0)) as client:
        yield client


@pytest.fixture
def token_cache() -> Any:
    """The token cache every tenant's MSAL app shares."""
    return msal.TokenCache()


@pytest.fixture
def graph(http: httpx.Client, token_cache: Any) -> GraphClient:
    """A Graph client for the MSP's multi-tenant app."""
    return GraphClient(
        http=http,
        client_id=CLIENT_ID,
        client_secret=SecretStr(SECRET),
        authority_host=AUTHORITY_HOST,
        base_url=GRAPH,
        token_cache=token_cache,
    )


class TestGraphClientLogin:
    def test_sends_discovery_and_token_requests_through_the_given_httpx_client(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """MSAL's discovery and client-credentials calls are seen by respx on the httpx client."""
        login = mock_login()
        skus = router.get(SKUS_URL).mock(return_value=httpx.Response(200, json={"value": []}))

        graph.list_subscribed_skus(CONTOSO)

        assert login.discovery.call_count == 1
        assert login.token.call_count == 1
        form = parse_qs(login.token.calls.last.request.content.decode())
        assert form["grant_type"] == ["client_credentials"]
        assert form["client_id"] == [CLIENT_ID]
        assert form["scope"] == [f"{GRAPH}/.default"]
        assert skus.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"

    def test_creates_one_app_per_tenant(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Two tenants mean two discoveries and two tokens; repeat calls add neither."""
        contoso, fabrikam = mock_login(CONTOSO), mock_login(FABRIKAM)
        router.get(SKUS_URL).mock(return_value=httpx.Response(200, json={"value": []}))

        for tenant in (CONTOSO, FABRIKAM, CONTOSO, FABRIKAM, CONTOSO):
            graph.list_subscribed_skus(tenant)

        assert (contoso.discovery.call_count, fabrikam.discovery.call_count) == (1, 1)
        assert (contoso.token.call_count, fabrikam.token.call_count) == (1, 1)

    def test_keeps_every_tenant_token_in_one_shared_cache(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin, token_cache: Any
    ) -> None:
        """The access tokens of contoso and fabrikam sit in the same TokenCache."""
        mock_login(CONTOSO)
        mock_login(FABRIKAM)
        router.get(SKUS_URL).mock(return_value=httpx.Response(200, json={"value": []}))

        graph.list_subscribed_skus(CONTOSO)
        graph.list_subscribed_skus(FABRIKAM)

        tokens = token_cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)
        assert {entry["realm"] for entry in tokens} == {CONTOSO, FABRIKAM}

    def test_reuses_the_token_across_calls(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Once warm, reads and writes alike go out without another token request."""
        login = mock_login()
        calls = [
            router.get(SKUS_URL).mock(return_value=httpx.Response(200, json=SKUS_BODY)),
            router.get(USER_URL).mock(return_value=httpx.Response(200, json=USER_BODY)),
            router.post(ASSIGN_URL).mock(return_value=httpx.Response(200, json=USER_BODY)),
            router.patch(USER_URL).mock(return_value=httpx.Response(204)),
        ]

        graph.list_subscribed_skus(CONTOSO)
        graph.get_user(CONTOSO, NEW_HIRE_ID)
        graph.assign_license(CONTOSO, NEW_HIRE_ID, SPB)
        graph.set_usage_location(CONTOSO, NEW_HIRE_ID, "US")
        graph.list_subscribed_skus(CONTOSO)

        assert login.token.call_count == 1
        for route in calls:
            assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"

    def test_discovers_a_tenant_once_under_concurrent_first_calls(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Eight threads asking for one new tenant at once create one app."""
        login = mock_login()
        router.get(SKUS_URL).mock(return_value=httpx.Response(200, json={"value": []}))
        start = threading.Barrier(8)
        failures: list[BaseException] = []

        def work() -> None:
            start.wait()
            try:
                graph.list_subscribed_skus(CONTOSO)
            except BaseException as exc:  # reported by the assertion below
                failures.append(exc)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert failures == []
        assert login.discovery.call_count == 1

    def test_accepts_an_upper_case_tenant_id_as_the_same_tenant(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """CONTOSO in upper case reuses the lower-case tenant's app."""
        login = mock_login()
        router.get(SKUS_URL).mock(return_value=httpx.Response(200, json={"value": []}))

        graph.list_subscribed_skus(CONTOSO)
        graph.list_subscribed_skus(CONTOSO.upper())

        assert login.discovery.call_count == 1

    def test_refuses_a_tenant_id_that_is_not_a_guid(self, graph: GraphClient) -> None:
        """`contoso.onmicrosoft.com` is refused before any call (strict respx has no routes)."""
        with pytest.raises(InvalidInput) as raised:
            graph.list_subscribed_skus("contoso.onmicrosoft.com")

        assert raised.value.field == "m365_tenant_id"

    def test_reports_an_unknown_tenant_as_not_found(
        self, graph: GraphClient, router: respx.MockRouter
    ) -> None:
        """A 400 from discovery (AADSTS90002) is UpstreamNotFound naming the tenant."""
        router.get(f"{AUTHORITY_HOST}/{CONTOSO}/v2.0/.well-known/openid-configuration").mock(
            return_value=httpx.Response(
                400,
                json={
                    "error": "invalid_tenant",
                    "error_description": f"AADSTS90002: Tenant '{CONTOSO}' not found.",
                },
            )
        )

        with pytest.raises(UpstreamNotFound) as raised:
            graph.list_subscribed_skus(CONTOSO)

        assert CONTOSO in str(raised.value)
        assert raised.value.service == "graph"

    def test_retries_discovery_after_a_server_error(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """A 503 from discovery is transient: the next attempt creates the app."""
        login = mock_login()
        document = login.discovery.return_value
        assert document is not None
        login.discovery.mock(side_effect=[httpx.Response(503), document])
        router.get(SKUS_URL).mock(return_value=httpx.Response(200, json=SKUS_BODY))

        assert len(graph.list_subscribed_skus(CONTOSO)) == 3
        assert login.discovery.call_count == 2

    def test_reports_an_unreachable_login_host_as_unavailable(
        self, graph: GraphClient, router: respx.MockRouter
    ) -> None:
        """Connection errors to the authority host are retried, then Unavailable."""
        discovery = router.get(
            f"{AUTHORITY_HOST}/{CONTOSO}/v2.0/.well-known/openid-configuration"
        ).mock(side_effect=httpx.ConnectError("connection refused"))

        with pytest.raises(Unavailable):
            graph.list_subscribed_skus(CONTOSO)

        assert discovery.call_count == 3


class TestGraphClientTokenErrors:
    def test_reports_a_wrong_secret_as_invalid_credentials(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """invalid_client (AADSTS7000215) is InvalidCredentials, and Graph is never called."""
        mock_login(
            token=token_error(
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                f"in the request is the client secret value, not the client secret ID, for a "
                f"secret added to app '{CLIENT_ID}'.",
                [7000215],
            )
        )

        with pytest.raises(InvalidCredentials) as raised:
            graph.list_subscribed_skus(CONTOSO)

        assert "AADSTS7000215" in str(raised.value)
        assert raised.value.request_id == "c0ffee00-1111-4222-8333-444455556666"

    def test_reports_an_unauthorized_client_as_invalid_credentials(
        self, graph: GraphClient, mock_login: MockLogin
    ) -> None:
        """unauthorized_client is InvalidCredentials too."""
        mock_login(
            token=token_error(
                "unauthorized_client",
                "AADSTS700027: The client application is not allowed this grant.",
                [700027],
            )
        )

        with pytest.raises(InvalidCredentials):
            graph.get_user(CONTOSO, NEW_HIRE_UPN)

    def test_reports_missing_consent_as_no_api_access(
        self, graph: GraphClient, mock_login: MockLogin
    ) -> None:
        """AADSTS65001 says the tenant never consented: NoApiAccess that says so."""
        mock_login(
            token=token_error(
                "invalid_grant",
                "AADSTS65001: The user or administrator has not consented to use the "
                f"application with ID '{CLIENT_ID}'.",
                [65001],
            )
        )

        with pytest.raises(NoApiAccess) as raised:
            graph.list_subscribed_skus(CONTOSO)

        assert "consented" in raised.value.detail
        assert CONTOSO in raised.value.detail

    def test_reports_a_missing_service_principal_as_no_api_access(
        self, graph: GraphClient, mock_login: MockLogin
    ) -> None:
        """AADSTS7000229 (no service principal in the tenant) is NoApiAccess, not a bad secret."""
        mock_login(
            token=token_error(
                "invalid_client",
                "AADSTS7000229: The client application is missing service principal in the tenant.",
                [7000229],
            )
        )

        with pytest.raises(NoApiAccess):
            graph.list_subscribed_skus(CONTOSO)

    def test_reports_a_failing_token_endpoint_as_unavailable(
        self, graph: GraphClient, mock_login: MockLogin
    ) -> None:
        """A 500 from the token endpoint is Unavailable, with a pause as long as MSAL's."""
        login = mock_login(token=httpx.Response(500, text="Internal Server Error"))

        with pytest.raises(Unavailable) as raised:
            graph.list_subscribed_skus(CONTOSO)

        # MSAL replays the 5xx from its throttle cache for a few seconds: one real request.
        assert login.token.call_count == 1
        assert raised.value.retry_after == 5.0

    def test_recovers_when_the_token_endpoint_comes_back(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """A token request that fails to connect once succeeds on the retry."""
        answer = {"token_type": "Bearer", "expires_in": 3599, "access_token": TOKEN}
        login = mock_login(
            token=[httpx.ConnectTimeout("timed out"), httpx.Response(200, json=answer)]
        )
        router.get(SKUS_URL).mock(return_value=httpx.Response(200, json={"value": []}))

        assert graph.list_subscribed_skus(CONTOSO) == []
        assert login.token.call_count == 2


class TestGraphClientRetries:
    def test_retries_after_a_429_with_retry_after(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """429 with Retry-After: 2, then 200: the SKUs come back, two calls made."""
        mock_login()
        route = router.get(SKUS_URL).mock(
            side_effect=[
                graph_error("TooManyRequests", "Too many requests", 429, **{"Retry-After": "2"}),
                httpx.Response(200, json=SKUS_BODY),
            ]
        )

        assert len(graph.list_subscribed_skus(CONTOSO)) == 3
        assert route.call_count == 2

    def test_retries_after_a_503(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """503 then 200 succeeds."""
        mock_login()
        route = router.get(USER_URL).mock(
            side_effect=[
                graph_error("serviceNotAvailable", "Service unavailable", 503),
                httpx.Response(200, json=USER_BODY),
            ]
        )

        assert graph.get_user(CONTOSO, NEW_HIRE_ID).id == NEW_HIRE_ID
        assert route.call_count == 2

    def test_gives_up_with_unavailable_after_repeated_server_errors(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Three 502s in a row: Unavailable with status and request id."""
        mock_login()
        route = router.get(SKUS_URL).mock(
            return_value=graph_error("UnknownError", "Bad gateway", 502)
        )

        with pytest.raises(Unavailable) as raised:
            graph.list_subscribed_skus(CONTOSO)

        assert route.call_count == 3
        assert raised.value.status_code == 502
        assert raised.value.request_id == "7e1c2b3a-0000-4d5e-9f8a-1b2c3d4e5f60"

    def test_gives_up_with_throttled_carrying_retry_after(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Three 429s: Throttled with the retry_after Graph asked for."""
        mock_login()
        router.get(SKUS_URL).mock(
            return_value=graph_error("TooManyRequests", "Slow down", 429, **{"Retry-After": "3"})
        )

        with pytest.raises(Throttled) as raised:
            graph.list_subscribed_skus(CONTOSO)

        assert raised.value.retry_after == 3.0

    def test_does_not_wait_inline_for_a_long_retry_after(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Retry-After: 120 goes straight up as Throttled for the caller to reschedule."""
        mock_login()
        route = router.post(ASSIGN_URL).mock(
            return_value=graph_error("TooManyRequests", "Slow down", 429, **{"Retry-After": "120"})
        )

        with pytest.raises(Throttled) as raised:
            graph.assign_license(CONTOSO, NEW_HIRE_ID, SPB)

        assert route.call_count == 1
        assert raised.value.retry_after == 120.0

    def test_reports_a_503_with_retry_after_as_unavailable(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Repeated 503 with Retry-After: Unavailable carrying that retry_after."""
        mock_login()
        router.patch(USER_URL).mock(
            return_value=graph_error("serviceNotAvailable", "Busy", 503, **{"Retry-After": "5"})
        )

        with pytest.raises(Unavailable) as raised:
            graph.set_usage_location(CONTOSO, NEW_HIRE_ID, "US")

        assert raised.value.retry_after == 5.0

    def test_reports_timeouts_as_unavailable(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """A read timeout on every attempt is Unavailable."""
        mock_login()
        route = router.get(SKUS_URL).mock(side_effect=httpx.ReadTimeout("read timed out"))

        with pytest.raises(Unavailable):
            graph.list_subscribed_skus(CONTOSO)

        assert route.call_count == 3

    @pytest.mark.parametrize("status", [401, 403])
    def test_reports_a_refused_api_call_as_no_api_access(
        self, status: int, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """401 or 403 from Graph means a missing application permission: NoApiAccess."""
        mock_login()
        route = router.get(SKUS_URL).mock(
            return_value=graph_error(
                "Authorization_RequestDenied", "Insufficient privileges.", status
            )
        )

        with pytest.raises(NoApiAccess) as raised:
            graph.list_subscribed_skus(CONTOSO)

        assert route.call_count == 1
        assert raised.value.status_code == status
        assert "permission" in raised.value.detail


class TestListSubscribedSkus:
    def test_returns_every_sku_of_the_tenant(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Records become models, GUIDs lower-cased, Company SKUs included (the core filters)."""
        mock_login()
        router.get(SKUS_URL).mock(return_value=httpx.Response(200, json=SKUS_BODY))

        skus = graph.list_subscribed_skus(CONTOSO)

        assert skus[1] == SubscribedSku(
            sku_id=SPB,
            sku_part_number="SPB",
            applies_to="User",
            capability_status="Warning",
            consumed_units=12,
            enabled_units=0,
            warning_units=12,
        )
        assert [sku.sku_part_number for sku in skus] == ["ENTERPRISEPACK", "SPB", "WINDOWS_STORE"]

    def test_selects_only_the_fields_it_needs(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """The request carries `$select` (the only query option subscribedSkus supports)."""
        mock_login()
        route = router.get(SKUS_URL).mock(return_value=httpx.Response(200, json={"value": []}))

        graph.list_subscribed_skus(CONTOSO)

        selected = route.calls.last.request.url.params["$select"].split(",")
        assert {"skuId", "appliesTo", "capabilityStatus", "consumedUnits", "prepaidUnits"} <= set(
            selected
        )

    def test_follows_a_next_link(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Should Graph ever page the answer, every page is read."""
        mock_login()
        next_link = f"{SKUS_URL}?$skiptoken=X1"
        first, second = SKUS_BODY["value"][:1], SKUS_BODY["value"][1:]
        router.get(SKUS_URL, params={"$skiptoken": "X1"}).mock(
            return_value=httpx.Response(200, json={"value": second})
        )
        router.get(SKUS_URL).mock(
            return_value=httpx.Response(200, json={"value": first, "@odata.nextLink": next_link})
        )

        assert len(graph.list_subscribed_skus(CONTOSO)) == 3

    def test_refuses_a_next_link_to_another_host(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """A next link off the Graph host is refused: the token is never sent elsewhere."""
        mock_login()
        router.get(SKUS_URL).mock(
            return_value=httpx.Response(
                200, json={"value": [], "@odata.nextLink": "https://contoso.example/steal"}
            )
        )

        with pytest.raises(UpstreamRejected):
            graph.list_subscribed_skus(CONTOSO)


class TestGetUser:
    def test_returns_the_user_with_usage_location_and_licenses(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """The user comes back with its usage location and lower-cased SKU ids."""
        mock_login()
        route = router.get(f"{GRAPH}/v1.0/users/{NEW_HIRE_UPN}").mock(
            return_value=httpx.Response(200, json=USER_BODY)
        )

        user = graph.get_user(CONTOSO, NEW_HIRE_UPN)

        assert user == GraphUser(
            id=NEW_HIRE_ID,
            user_principal_name=NEW_HIRE_UPN,
            usage_location="US",
            assigned_sku_ids=frozenset({SPB}),
        )
        assert route.calls.last.request.url.params["$select"] == (
            "id,userPrincipalName,usageLocation,assignedLicenses"
        )

    def test_reads_a_user_without_usage_location_or_licenses(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """A fresh hire has no usage location and no licences yet."""
        mock_login()
        body = {**USER_BODY, "usageLocation": None, "assignedLicenses": []}
        router.get(USER_URL).mock(return_value=httpx.Response(200, json=body))

        user = graph.get_user(CONTOSO, NEW_HIRE_ID)

        assert (user.usage_location, user.assigned_sku_ids) == (None, frozenset())

    def test_quotes_a_guest_upn_in_the_path(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """The `#` of a guest's `#EXT#` UPN is escaped, not taken as a fragment."""
        mock_login()
        guest = "jo.bloggs_fabrikam.com#EXT#@contoso.onmicrosoft.com"
        route = router.get(url__regex=rf"^{GRAPH}/v1\.0/users/").mock(
            return_value=httpx.Response(200, json={**USER_BODY, "userPrincipalName": guest})
        )

        graph.get_user(CONTOSO, guest)

        assert route.calls.last.request.url.raw_path.startswith(
            b"/v1.0/users/jo.bloggs_fabrikam.com%23EXT%23@contoso.onmicrosoft.com?"
        )

    def test_raises_upstream_not_found_for_an_unknown_user(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """404 Request_ResourceNotFound is UpstreamNotFound with Graph's request id, no retry."""
        mock_login()
        route = router.get(f"{GRAPH}/v1.0/users/{NEW_HIRE_UPN}").mock(
            return_value=graph_error(
                "Request_ResourceNotFound",
                f"Resource '{NEW_HIRE_UPN}' does not exist or one of its queried reference-"
                "property objects are not present.",
                404,
            )
        )

        with pytest.raises(UpstreamNotFound) as raised:
            graph.get_user(CONTOSO, NEW_HIRE_UPN)

        assert route.call_count == 1
        assert raised.value.request_id == "7e1c2b3a-0000-4d5e-9f8a-1b2c3d4e5f60"
        assert raised.value.service == "graph"


class TestAssignLicense:
    def test_sends_both_add_and_remove_arrays(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """The body has addLicenses with disabledPlans and an empty removeLicenses."""
        mock_login()
        route = router.post(ASSIGN_URL).mock(return_value=httpx.Response(200, json=USER_BODY))

        graph.assign_license(CONTOSO, NEW_HIRE_ID, ENTERPRISEPACK.upper())

        assert json.loads(route.calls.last.request.content) == {
            "addLicenses": [{"skuId": ENTERPRISEPACK, "disabledPlans": []}],
            "removeLicenses": [],
        }

    def test_succeeds_when_the_user_already_has_the_sku(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Assigning SPB to a user who has SPB is a 200 and returns quietly."""
        mock_login()
        route = router.post(ASSIGN_URL).mock(return_value=httpx.Response(200, json=USER_BODY))

        graph.assign_license(CONTOSO, NEW_HIRE_ID, SPB)

        assert route.call_count == 1

    def test_raises_no_free_seat_when_the_sku_is_full(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Graph's `does not have any available licenses` is NoFreeSeat."""
        mock_login()
        router.post(ASSIGN_URL).mock(
            return_value=graph_error(
                "Request_BadRequest",
                f"Subscription with SKU {SPB} does not have any available licenses.",
            )
        )

        with pytest.raises(NoFreeSeat) as raised:
            graph.assign_license(CONTOSO, NEW_HIRE_ID, SPB)

        assert raised.value.status_code == 400
        assert raised.value.request_id == "7e1c2b3a-0000-4d5e-9f8a-1b2c3d4e5f60"

    def test_raises_usage_location_missing_for_a_user_without_one(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Graph's `invalid usage location` is UsageLocationMissing."""
        mock_login()
        router.post(ASSIGN_URL).mock(
            return_value=graph_error(
                "Request_BadRequest",
                "License assignment cannot be done for user with invalid usage location.",
            )
        )

        with pytest.raises(UsageLocationMissing):
            graph.assign_license(CONTOSO, NEW_HIRE_ID, SPB)

    def test_raises_upstream_rejected_for_another_bad_request(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Any other 400 is UpstreamRejected, neither of the special cases."""
        mock_login()
        router.post(ASSIGN_URL).mock(
            return_value=graph_error(
                "Request_BadRequest",
                f"License {SPB} does not correspond to a valid company License.",
            )
        )

        with pytest.raises(UpstreamRejected) as raised:
            graph.assign_license(CONTOSO, NEW_HIRE_ID, SPB)

        assert not isinstance(raised.value, (NoFreeSeat, UsageLocationMissing))
        assert "does not correspond" in raised.value.detail

    def test_raises_upstream_not_found_for_an_unknown_user(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """404 on assignLicense is UpstreamNotFound."""
        mock_login()
        router.post(ASSIGN_URL).mock(
            return_value=graph_error("Request_ResourceNotFound", "Resource not found.", 404)
        )

        with pytest.raises(UpstreamNotFound):
            graph.assign_license(CONTOSO, NEW_HIRE_ID, SPB)

    def test_refuses_a_sku_id_that_is_not_a_guid(self, graph: GraphClient) -> None:
        """A part number instead of a GUID is refused before any call."""
        with pytest.raises(InvalidInput) as raised:
            graph.assign_license(CONTOSO, NEW_HIRE_ID, "ENTERPRISEPACK")

        assert raised.value.field == "sku_id"


class TestSetUsageLocation:
    def test_patches_the_user_with_an_upper_case_country(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """`us` is sent as `{"usageLocation": "US"}`; 204 is success."""
        mock_login()
        route = router.patch(USER_URL).mock(return_value=httpx.Response(204))

        graph.set_usage_location(CONTOSO, NEW_HIRE_ID, "us")

        assert json.loads(route.calls.last.request.content) == {"usageLocation": "US"}

    def test_refuses_a_country_that_is_not_two_letters(self, graph: GraphClient) -> None:
        """`USA` is refused before any call."""
        with pytest.raises(InvalidInput) as raised:
            graph.set_usage_location(CONTOSO, NEW_HIRE_ID, "USA")

        assert raised.value.field == "usage_location"


class TestGraphClientSecrets:
    def test_never_logs_the_secret_or_the_token_at_debug(
        self,
        graph: GraphClient,
        router: respx.MockRouter,
        mock_login: MockLogin,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """Every logger at DEBUG (msal, httpx, ours) through a full run shows neither canary."""
        caplog.set_level(logging.DEBUG)
        for name in ("msal", "httpx", "httpcore", "shared"):
            caplog.set_level(logging.DEBUG, logger=name)
        mock_login(CONTOSO)
        mock_login(
            FABRIKAM,
            token=token_error("invalid_client", "AADSTS7000215: Invalid client secret.", [7000215]),
        )
        router.get(SKUS_URL).mock(return_value=httpx.Response(200, json=SKUS_BODY))
        router.get(USER_URL).mock(return_value=httpx.Response(200, json=USER_BODY))
        router.post(ASSIGN_URL).mock(return_value=httpx.Response(200, json=USER_BODY))

        graph.list_subscribed_skus(CONTOSO)
        graph.get_user(CONTOSO, NEW_HIRE_ID)
        graph.assign_license(CONTOSO, NEW_HIRE_ID, SPB)
        with pytest.raises(InvalidCredentials):
            graph.list_subscribed_skus(FABRIKAM)

        names = {record.name.split(".")[0] for record in caplog.records}
        assert {"msal", "httpx", "shared"} <= names
        logged = "\n".join(
            f"{record.name} {record.getMessage()} {record.exc_text or ''}"
            for record in caplog.records
        )
        assert SECRET not in logged
        assert TOKEN not in logged

    def test_keeps_the_secret_and_token_out_of_exceptions(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """Neither canary is in any error's text, nor in the errors chained to it."""
        mock_login(CONTOSO)
        mock_login(
            FABRIKAM,
            token=token_error("invalid_client", "AADSTS7000215: Invalid client secret.", [7000215]),
        )
        router.get(SKUS_URL).mock(
            return_value=graph_error("Authorization_RequestDenied", "Insufficient privileges.", 403)
        )
        router.post(ASSIGN_URL).mock(side_effect=httpx.ConnectError("connection reset"))
        errors: list[BaseException] = []

        for call in (
            lambda: graph.list_subscribed_skus(CONTOSO),
            lambda: graph.assign_license(CONTOSO, NEW_HIRE_ID, SPB),
            lambda: graph.list_subscribed_skus(FABRIKAM),
        ):
            with pytest.raises(Exception) as raised:
                call()
            errors.append(raised.value)

        assert [type(error) for error in errors] == [NoApiAccess, Unavailable, InvalidCredentials]
        for error in errors:
            assert SECRET not in all_messages(error)
            assert TOKEN not in all_messages(error)

    def test_keeps_the_secret_out_of_the_repr(
        self, graph: GraphClient, router: respx.MockRouter, mock_login: MockLogin
    ) -> None:
        """The client's repr, warm or cold, names the app but not its secret."""
        mock_login()
        router.get(SKUS_URL).mock(return_value=httpx.Response(200, json={"value": []}))
        cold = repr(graph)
        graph.list_subscribed_skus(CONTOSO)

        for text in (cold, repr(graph)):
            assert CLIENT_ID in text
            assert SECRET not in text
            assert TOKEN not in text
