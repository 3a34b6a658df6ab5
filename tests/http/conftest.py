"""The HTTP functions as the host calls them: real function objects, Azurite, respx upstreams.

Every test gets a fresh process-wide container built from the environment set here: Azurite
for tables and secrets, fake HTTPS hosts for Stellr, Entra ID and Graph, routed by a strict
respx router (a request nobody routed fails the test).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
import httpx
import pytest
import respx

import function_app
from shared.bootstrap import Container, container, reset_container
from tests.azurite import Azurite

SYNNEX_API = "https://stellr.northwind-it.test"
SYNNEX_TOKEN_URL = "https://sso.northwind-it.test/oauth2/v1/token"
AUTHORITY = "https://login.northwind-it.test"
GRAPH = "https://graph.northwind-it.test"

GRAPH_CLIENT_ID = "0c3f6a2e-8d41-4b7a-9f15-2e6d8c4a1b70"
# Canaries: each must never show up in an answer or a log line.
GRAPH_SECRET = "canary-graph-secret-61f0c2"
SYNNEX_SECRET = "canary-synnex-secret-3a9d7e"
SYNNEX_TOKEN = "canary-synnex-token-b7e104"
GRAPH_TOKEN = "canary-graph-token-d25a8f"

SYNNEX_CLIENT_ID = "northwind-it-stellr-app"
CONTOSO_TENANT = "5b1e7c8a-3f2d-4e6a-9c0b-7d4f1a2e3b6c"
CONTOSO_CUSTOMER_NO = "100234"

PROBLEM = "application/problem+json"

# Every setting of contract section 2, and the host's own: none may leak in from the machine.
_SETTING_PREFIXES = (
    "AzureWebJobs",
    "KEY_VAULT_",
    "GRAPH_",
    "SYNNEX_",
    "LICENSE_WAIT_",
    "USER_LOOKUP_",
    "WEBSITE_",
    "CONTAINER_NAME",
    "NOTIFY_",
)


# --- answers and the API ---------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What a function answered."""

    status: int
    mimetype: str
    headers: Mapping[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def detail(self) -> str:
        """The `detail` of a problem answer."""
        assert self.mimetype == PROBLEM, f"{self.status} {self.mimetype}: {self.text}"
        detail = self.json["detail"]
        assert isinstance(detail, str)
        return detail

    def is_problem(self, status: int) -> bool:
        """True when this is an RFC 9457 problem with that status (and all four members)."""
        if self.status != status or self.mimetype != PROBLEM:
            return False
        body = self.json
        members = {"type", "title", "status", "detail"}
        return isinstance(body, dict) and members <= body.keys() and bool(body["status"] == status)


Body = Mapping[str, Any] | bytes


@dataclass
class Api:
    """Calls each HTTP function of `function_app` through its built function object."""

    answers: list[Answer] = field(default_factory=list)

    def call(
        self,
        function: Any,
        method: str,
        path: str,
        route_params: dict[str, str],
        body: Body | None = None,
        params: dict[str, str] | None = None,
    ) -> Answer:
        """One request to `function` (a function of `function_app`), as the host makes it."""
        raw = (
            body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        )
        request = func.HttpRequest(
            method,
            f"http://localhost:7071/api/{path}",
            headers={"content-type": "application/json"},
            params=params or {},
            route_params=route_params,
            body=raw,
        )
        response: func.HttpResponse = function.build().get_user_function()(request)
        answer = Answer(
            status=response.status_code,
            mimetype=response.mimetype,
            headers=dict(response.headers),
            text=response.get_body().decode(),
        )
        self.answers.append(answer)
        # An unhandled error (an unrouted upstream request included, which respx raises inside
        # the function) is caught by the edge and answered as a 500: fail on it here instead.
        assert not (answer.status == 500 and '/internal"' in answer.text), answer.text
        return answer

    # -- orgs and variables

    def put_org(self, org_id: str, body: Body) -> Answer:
        return self.call(function_app.put_org, "PUT", f"orgs/{org_id}", {"org_id": org_id}, body)

    def get_org(self, org_id: str) -> Answer:
        return self.call(function_app.get_org, "GET", f"orgs/{org_id}", {"org_id": org_id})

    def put_variable(self, org_id: str, name: str, body: Body) -> Answer:
        return self.call(
            function_app.put_variable,
            "PUT",
            f"orgs/{org_id}/variables/{name}",
            {"org_id": org_id, "name": name},
            body,
        )

    def get_variable(self, org_id: str, name: str) -> Answer:
        return self.call(
            function_app.get_variable,
            "GET",
            f"orgs/{org_id}/variables/{name}",
            {"org_id": org_id, "name": name},
        )

    def delete_variable(self, org_id: str, name: str) -> Answer:
        return self.call(
            function_app.delete_variable,
            "DELETE",
            f"orgs/{org_id}/variables/{name}",
            {"org_id": org_id, "name": name},
        )

    def list_variables(self, org_id: str, params: dict[str, str] | None = None) -> Answer:
        return self.call(
            function_app.list_variables,
            "GET",
            f"orgs/{org_id}/variables",
            {"org_id": org_id},
            params=params,
        )

    # -- Synnex credentials

    def put_credentials(self, org_id: str, body: Body) -> Answer:
        return self.call(
            function_app.put_synnex_credentials,
            "PUT",
            f"orgs/{org_id}/synnex-credentials",
            {"org_id": org_id},
            body,
        )

    def test_credentials(self, org_id: str) -> Answer:
        return self.call(
            function_app.test_synnex_credentials,
            "POST",
            f"orgs/{org_id}/synnex-credentials/test",
            {"org_id": org_id},
        )

    def synnex_customers(self, org_id: str) -> Answer:
        return self.call(
            function_app.get_synnex_customers,
            "GET",
            f"orgs/{org_id}/synnex-customers",
            {"org_id": org_id},
        )

    # -- lookups, onboarding, the document

    def subscriptions(self, org_id: str, params: dict[str, str] | None = None) -> Answer:
        return self.call(
            function_app.get_subscriptions,
            "GET",
            f"orgs/{org_id}/subscriptions",
            {"org_id": org_id},
            params=params,
        )

    def licenses(self, org_id: str) -> Answer:
        return self.call(
            function_app.get_licenses, "GET", f"orgs/{org_id}/licenses", {"org_id": org_id}
        )

    def onboarding(self, event_id: str) -> Answer:
        return self.call(
            function_app.get_onboarding,
            "GET",
            f"onboarding/{event_id}",
            {"event_id": event_id},
        )

    def openapi(self) -> Answer:
        return self.call(function_app.get_openapi, "GET", "openapi.json", {})


# --- upstream fakes ----------------------------------------------------------------------------


def stellr_ok(data: Any, request_id: str = "5f0c9e2a-req") -> httpx.Response:
    """A Stellr answer in its envelope."""
    return httpx.Response(200, json={"requestId": request_id, "data": data})


def stellr_pages(records: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    """A Stellr list endpoint that pages as Stellr does (1-based pageNo, pageSize)."""

    def answer(request: httpx.Request) -> httpx.Response:
        page_no = int(request.url.params["pageNo"])
        size = int(request.url.params["pageSize"])
        chunk = records[(page_no - 1) * size : page_no * size]
        return stellr_ok({"total": len(records), "records": chunk})

    return answer


@dataclass
class Stellr:
    """The routes of the fake StreamOne Stellr: token, customers, subscriptions."""

    router: respx.MockRouter
    token: respx.Route
    customers: respx.Route

    def subscriptions(self, customer_no: str = CONTOSO_CUSTOMER_NO) -> respx.Route:
        """The (unanswered until mocked) subscription list route of a customer."""
        return self.router.get(f"{SYNNEX_API}/api/v1/customers/{customer_no}/subscriptions")

    def call_count(self) -> int:
        """Every request that went to a Stellr host, routed or not."""
        hosts = {httpx.URL(SYNNEX_API).host, httpx.URL(SYNNEX_TOKEN_URL).host}
        return sum(1 for call in self.router.calls if call.request.url.host in hosts)


@dataclass
class GraphLogin:
    """The two Entra ID calls MSAL makes for a tenant."""

    discovery: respx.Route
    token: respx.Route


@dataclass
class Graph:
    """The routes of the fake Entra ID and Graph."""

    router: respx.MockRouter

    def login(self, tenant: str = CONTOSO_TENANT) -> GraphLogin:
        base = f"{AUTHORITY}/{tenant}"
        document = {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
        }
        token = {"token_type": "Bearer", "expires_in": 3599, "access_token": GRAPH_TOKEN}
        return GraphLogin(
            discovery=self.router.get(f"{base}/v2.0/.well-known/openid-configuration").respond(
                200, json=document
            ),
            token=self.router.post(f"{base}/oauth2/v2.0/token").respond(200, json=token),
        )

    def subscribed_skus(self) -> respx.Route:
        return self.router.get(f"{GRAPH}/v1.0/subscribedSkus")


# --- fixtures ------------------------------------------------------------------------------------


def close_clients(app: Container) -> None:
    """Close the HTTP clients the container built, if it built any."""
    for name in ("synnex_http", "graph_http"):
        client = app.__dict__.get(name)
        if isinstance(client, httpx.Client):
            client.close()


def restart() -> Container:
    """What a new worker process sees: a new container, with no cached clients or tokens."""
    close_clients(container())
    reset_container()
    return container()


@pytest.fixture(autouse=True)
def app(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[Container]:
    """The app's settings in the environment, and a fresh process-wide container from them."""
    for name in list(os.environ):
        if name.startswith(_SETTING_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    monkeypatch.setenv("SYNNEX_API_BASE_URL", SYNNEX_API)
    monkeypatch.setenv("SYNNEX_TOKEN_URL", SYNNEX_TOKEN_URL)
    monkeypatch.setenv("GRAPH_AUTHORITY_HOST", AUTHORITY)
    monkeypatch.setenv("GRAPH_BASE_URL", GRAPH)
    monkeypatch.setenv("GRAPH_CLIENT_ID", GRAPH_CLIENT_ID)
    monkeypatch.setenv("GRAPH_CLIENT_SECRET", GRAPH_SECRET)
    reset_container()
    yield container()
    close_clients(container())
    reset_container()


@pytest.fixture(autouse=True)
def router() -> Iterator[respx.MockRouter]:
    """Strict respx for every test here: a request without a route fails the test."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def api() -> Api:
    return Api()


@pytest.fixture
def stellr(router: respx.MockRouter) -> Stellr:
    """Stellr accepting the credentials and showing three customers."""
    token = router.post(SYNNEX_TOKEN_URL).respond(
        200, json={"access_token": SYNNEX_TOKEN, "token_type": "Bearer", "expires_in": 3600}
    )
    customers = router.get(f"{SYNNEX_API}/api/v1/cloud/customers").mock(
        return_value=stellr_ok(
            {
                "total": 3,
                "records": [{"customerNo": CONTOSO_CUSTOMER_NO, "customerName": "Contoso"}],
            }
        )
    )
    return Stellr(router=router, token=token, customers=customers)


@pytest.fixture
def graph(router: respx.MockRouter) -> Graph:
    return Graph(router=router)


@pytest.fixture
def new_id() -> Callable[[str], str]:
    """Unique org ids: the tables are shared by the whole session."""

    def make(prefix: str) -> str:
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    return make


def credentials_body(**overrides: Any) -> dict[str, Any]:
    """A valid body of PUT .../synnex-credentials."""
    return {
        "environment": "sandbox",
        "region": "us",
        "client_id": SYNNEX_CLIENT_ID,
        "client_secret": SYNNEX_SECRET,
        **overrides,
    }


@pytest.fixture
def msp(api: Api, new_id: Callable[[str], str]) -> str:
    """An MSP root org without credentials."""
    org_id = new_id("northwind")
    assert api.put_org(org_id, {"name": "Northwind IT"}).status == 201
    return org_id


@pytest.fixture
def msp_with_credentials(api: Api, msp: str, stellr: Stellr) -> str:
    """An MSP root whose Stellr credentials were tested and stored; call history cleared."""
    assert api.put_credentials(msp, credentials_body()).status == 200
    stellr.router.reset()
    return msp


@pytest.fixture
def customer(
    api: Api, msp: str, new_id: Callable[[str], str], router: respx.MockRouter
) -> str:
    """Contoso, a customer org of the MSP, with its tenant and Synnex customer number.

    When the MSP has credentials, saving the org asks Stellr for its customers (the number
    check); that call history is cleared, so tests count only their own calls.
    """
    org_id = new_id("contoso")
    answer = api.put_org(
        org_id,
        {
            "name": "Contoso Ltd",
            "parent_id": msp,
            "m365_tenant_id": CONTOSO_TENANT,
            "synnex_customer_no": CONTOSO_CUSTOMER_NO,
        },
    )
    assert answer.status == 201, answer.text
    router.reset()
    return org_id


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every logger at DEBUG, including those the app quiets to WARNING."""
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level not in (
            logging.NOTSET,
            logging.DEBUG,
        ):
            caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    """The captured log text, plus every record's arguments and extra fields."""
    return "\n".join([caplog.text, *(repr(vars(record)) for record in caplog.records)])
