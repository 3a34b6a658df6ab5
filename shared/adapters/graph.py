"""Microsoft Graph, app-only, across customer tenants: subscribed SKUs, users, assignments.

One `GraphClient` per process. It keeps one MSAL `ConfidentialClientApplication` per customer
tenant (created on first use, OIDC discovery included) and one token cache shared by all of
them; MSAL and the Graph calls both go through the same `httpx.Client`. Every Graph error is
translated here, once, into `shared.errors`; transient ones are retried with `retry_transient`.

The client secret and access tokens never reach a log line, an exception message or a repr.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Generator, Mapping
from typing import Any
from urllib.parse import quote

import httpx
import msal  # type: ignore[import-untyped]  # msal ships no type information
from pydantic import SecretStr

from shared.adapters.retry import retry_after_seconds, retry_transient
from shared.core.licenses import parse_subscribed_sku
from shared.errors import (
    InvalidCredentials,
    InvalidInput,
    NoApiAccess,
    NoFreeSeat,
    Throttled,
    Unavailable,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRejected,
    UsageLocationMissing,
)
from shared.models import GraphUser, SubscribedSku

logger = logging.getLogger(__name__)

SERVICE = "graph"

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_AADSTS = re.compile(r"AADSTS\d+")

_SKU_FIELDS = "skuId,skuPartNumber,appliesTo,capabilityStatus,consumedUnits,prepaidUnits"
_USER_FIELDS = "id,userPrincipalName,usageLocation,assignedLicenses"

# AADSTS codes meaning "this app is not (or not fully) set up in that tenant":
# 65001 consent missing, 7000229 no service principal, 700016 app not found in the directory.
_NOT_CONSENTED_CODES = frozenset({65001, 7000229, 700016})
_BAD_CLIENT_ERRORS = frozenset({"invalid_client", "unauthorized_client"})
_TRANSIENT_TOKEN_ERRORS = frozenset({"temporarily_unavailable", "server_error"})

# Graph's messages on a refused assignment (matched lower-cased; the code is only BadRequest).
_NO_FREE_SEAT_MESSAGE = "does not have any available licenses"
_NO_USAGE_LOCATION_MESSAGE = "invalid usage location"

_MAX_DETAIL = 300

# How long MSAL's per-app HTTP cache replays a 5xx from the token endpoint when it sent no
# Retry-After (msal 1.x, confidential clients).
_MSAL_THROTTLE_SECONDS = 5.0


class _BearerAuth(httpx.Auth):
    """Adds `Authorization: Bearer` from a token source; the token itself is never stored."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token()}"
        yield request

    def __repr__(self) -> str:
        return "_BearerAuth()"


class GraphClient:
    """App-only Microsoft Graph for many customer tenants, through one `httpx.Client`."""

    def __init__(
        self,
        *,
        http: httpx.Client,
        client_id: str,
        client_secret: SecretStr,
        authority_host: str,
        base_url: str,
        token_cache: msal.TokenCache | None = None,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._authority_host = authority_host.rstrip("/")
        self._base_url = base_url.rstrip("/")
        self._scopes = [f"{self._base_url}/.default"]
        self._token_cache = token_cache if token_cache is not None else msal.TokenCache()
        self._auths: dict[str, _BearerAuth] = {}
        self._apps: dict[str, Any] = {}
        self._apps_lock = threading.Lock()
        self._tenant_locks: dict[str, threading.Lock] = {}

    def __repr__(self) -> str:
        return (
            f"GraphClient(client_id={self._client_id!r}, authority_host={self._authority_host!r}, "
            f"base_url={self._base_url!r}, tenants={len(self._apps)})"
        )

    # --- the API --------------------------------------------------------------------------

    def list_subscribed_skus(self, tenant_id: str) -> list[SubscribedSku]:
        """Every SKU the tenant has subscribed to (`GET /v1.0/subscribedSkus`).

        Raises InvalidInput (tenant id not a GUID), InvalidCredentials, NoApiAccess,
        UpstreamNotFound (unknown tenant), UpstreamRejected, Throttled or Unavailable.
        """
        url = f"{self._base_url}/v1.0/subscribedSkus"
        params: dict[str, str] | None = {"$select": _SKU_FIELDS}
        skus: list[SubscribedSku] = []
        while True:
            response = self._send(tenant_id, "GET", url, params=params)
            _raise_for_status(response, what="list subscribed SKUs", tenant_id=tenant_id)
            body = _json_object(response)
            records = body.get("value")
            if isinstance(records, list):
                skus.extend(parse_subscribed_sku(r) for r in records if isinstance(r, dict))
            next_link = body.get("@odata.nextLink")
            if not isinstance(next_link, str) or not next_link:
                return skus
            if not next_link.startswith(f"{self._base_url}/"):
                # The bearer token goes with the request: never to another host.
                raise UpstreamRejected(SERVICE, "list subscribed SKUs: next link leaves Graph")
            # The next link carries the query already.
            url, params = next_link, None

    def get_user(self, tenant_id: str, user: str) -> GraphUser:
        """The user by object id or UPN, with usage location and assigned SKUs.

        Raises UpstreamNotFound when Graph does not know the user (yet: a new user can take a
        while to replicate), InvalidInput, InvalidCredentials, NoApiAccess, UpstreamRejected,
        Throttled or Unavailable.
        """
        url = f"{self._base_url}/v1.0/users/{_path_segment(user, 'user')}"
        response = self._send(tenant_id, "GET", url, params={"$select": _USER_FIELDS})
        _raise_for_status(response, what=f"get user {user}", tenant_id=tenant_id)
        return _parse_user(_json_object(response))

    def assign_license(self, tenant_id: str, user_id: str, sku_id: str) -> None:
        """Give the user one seat of the SKU; succeeds when the user already has it.

        Raises NoFreeSeat (no available licence of that SKU), UsageLocationMissing (set one with
        `set_usage_location` and try again), UpstreamNotFound (unknown user), InvalidInput,
        InvalidCredentials, NoApiAccess, UpstreamRejected, Throttled or Unavailable.
        """
        if not _GUID.match(sku_id):
            raise InvalidInput("sku_id", "must be a GUID")
        url = f"{self._base_url}/v1.0/users/{_path_segment(user_id, 'user')}/assignLicense"
        # Graph answers 400 unless both arrays are present.
        body = {
            "addLicenses": [{"skuId": sku_id.lower(), "disabledPlans": []}],
            "removeLicenses": [],
        }
        response = self._send(tenant_id, "POST", url, json=body)
        what = f"assign SKU {sku_id.lower()} to user {user_id}"
        if response.status_code == 400:
            _, message = _graph_error(response)
            lowered = message.lower()
            if _NO_FREE_SEAT_MESSAGE in lowered:
                raise NoFreeSeat(
                    SERVICE,
                    f"{what}: the SKU has no available licenses in tenant {tenant_id}",
                    status_code=400,
                    request_id=_request_id(response),
                )
            if _NO_USAGE_LOCATION_MESSAGE in lowered:
                raise UsageLocationMissing(
                    SERVICE,
                    f"{what}: the user has no usage location",
                    status_code=400,
                    request_id=_request_id(response),
                )
        _raise_for_status(response, what=what, tenant_id=tenant_id)
        logger.info(
            "event=graph_license_assigned tenant=%s user=%s sku=%s",
            tenant_id.lower(),
            user_id,
            sku_id.lower(),
        )

    def set_usage_location(self, tenant_id: str, user_id: str, country: str) -> None:
        """Set the user's usage location (ISO alpha-2, e.g. `US`); idempotent.

        Raises InvalidInput (not a two-letter code), UpstreamNotFound (unknown user),
        InvalidCredentials, NoApiAccess, UpstreamRejected, Throttled or Unavailable.
        """
        if not _COUNTRY.match(country):
            raise InvalidInput("usage_location", "must be a two-letter ISO country code")
        url = f"{self._base_url}/v1.0/users/{_path_segment(user_id, 'user')}"
        response = self._send(tenant_id, "PATCH", url, json={"usageLocation": country.upper()})
        _raise_for_status(
            response, what=f"set usage location of user {user_id}", tenant_id=tenant_id
        )
        logger.info(
            "event=graph_usage_location_set tenant=%s user=%s country=%s",
            tenant_id.lower(),
            user_id,
            country.upper(),
        )

    # --- transport --------------------------------------------------------------------------

    @retry_transient()
    def _send(
        self,
        tenant_id: str,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
    ) -> httpx.Response:
        """One Graph call, retried while transient; returns any non-transient response."""
        auth = self._auth(tenant_id)
        try:
            response = self._http.request(method, url, params=params, json=json, auth=auth)
        except httpx.TimeoutException as exc:
            raise Unavailable(SERVICE, f"{method} {_path_of(url)} timed out") from exc
        except httpx.TransportError as exc:
            raise Unavailable(
                SERVICE, f"{method} {_path_of(url)} failed: {type(exc).__name__}"
            ) from exc
        status = response.status_code
        if status == 429:
            raise Throttled(
                SERVICE,
                f"{method} {_path_of(url)} throttled in tenant {tenant_id.lower()}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                status_code=status,
                request_id=_request_id(response),
            )
        if status >= 500:
            raise Unavailable(
                SERVICE,
                f"{method} {_path_of(url)} answered {status}",
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
                status_code=status,
                request_id=_request_id(response),
            )
        return response

    # --- tokens -------------------------------------------------------------------------------

    def _auth(self, tenant_id: str) -> _BearerAuth:
        """The bearer auth of a tenant; its MSAL app is created on first use."""
        if not _GUID.match(tenant_id):
            raise InvalidInput("m365_tenant_id", "must be a GUID")
        tenant = tenant_id.lower()
        auth = self._auths.get(tenant)
        if auth is not None:
            return auth
        with self._tenant_lock(tenant):
            auth = self._auths.get(tenant)
            if auth is None:
                app = self._create_app(tenant)
                auth = _BearerAuth(lambda: self._acquire_token(app, tenant))
                self._apps[tenant] = app
                self._auths[tenant] = auth
            return auth

    def _tenant_lock(self, tenant: str) -> threading.Lock:
        """A lock per tenant, so one slow discovery does not hold up the other tenants."""
        with self._apps_lock:
            return self._tenant_locks.setdefault(tenant, threading.Lock())

    def _create_app(self, tenant: str) -> Any:
        """A confidential client for the tenant; this makes the OIDC discovery call."""
        try:
            app = msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._client_secret.get_secret_value(),
                authority=f"{self._authority_host}/{tenant}",
                http_client=self._http,
                instance_discovery=False,
                token_cache=self._token_cache,
            )
        except httpx.TransportError as exc:
            raise Unavailable(
                SERVICE, f"discovery for tenant {tenant} failed: {type(exc).__name__}"
            ) from exc
        except msal.exceptions.MsalServiceError as exc:
            # MSAL raises this for a 5xx from the discovery endpoint.
            raise Unavailable(SERVICE, f"discovery for tenant {tenant} failed") from exc
        except ValueError as exc:
            # A 4xx from the discovery endpoint (unknown tenant) or an unreadable document.
            raise UpstreamNotFound(
                SERVICE,
                f"tenant {tenant} is not known to {self._authority_host}: check m365_tenant_id",
            ) from exc
        except RuntimeError as exc:
            raise Unavailable(SERVICE, f"discovery for tenant {tenant} failed") from exc
        logger.info("event=graph_tenant_ready tenant=%s", tenant)
        return app

    def _acquire_token(self, app: Any, tenant: str) -> str:
        """An app-only token for the tenant; MSAL serves it from the shared cache when valid."""
        try:
            # One request for a tenant's token at a time: a cold instance starts up to 24
            # messages at once, and each would otherwise ask Entra before the first answer
            # lands in the cache. Cache hits pass through the lock in microseconds.
            with self._tenant_lock(tenant):
                result = app.acquire_token_for_client(scopes=self._scopes)
        except httpx.TransportError as exc:
            raise Unavailable(
                SERVICE, f"token request for tenant {tenant} failed: {type(exc).__name__}"
            ) from exc
        except msal.exceptions.MsalServiceError as exc:
            # MSAL raises this for a 5xx from the token endpoint, and then answers the same
            # error from its own throttle cache for a while: no point retrying sooner.
            raise Unavailable(
                SERVICE,
                f"token request for tenant {tenant} failed",
                retry_after=_MSAL_THROTTLE_SECONDS,
            ) from exc
        except ValueError as exc:
            # The token endpoint answered something that is not JSON (a proxy or error page).
            raise Unavailable(
                SERVICE, f"token request for tenant {tenant}: unreadable answer"
            ) from exc
        if not isinstance(result, dict):
            raise Unavailable(SERVICE, f"token request for tenant {tenant}: no answer")
        token = result.get("access_token")
        if isinstance(token, str) and token:
            logger.debug(
                "event=graph_token tenant=%s source=%s", tenant, result.get("token_source")
            )
            return token
        raise self._token_error(tenant, result)

    def _token_error(self, tenant: str, result: Mapping[str, Any]) -> UpstreamError:
        """The error for a refused token request, built from codes only, never the secret."""
        error = str(result.get("error") or "unknown_error")
        description = str(result.get("error_description") or "")
        raw_codes = result.get("error_codes")
        codes = (
            {c for c in raw_codes if isinstance(c, int)} if isinstance(raw_codes, list) else set()
        )
        found = _AADSTS.search(description)
        aadsts = found.group(0) if found else (f"AADSTS{min(codes)}" if codes else "")
        reason = f"{error} {aadsts}".strip()
        request_id = str(result.get("correlation_id") or "") or None
        if codes & _NOT_CONSENTED_CODES or (error == "invalid_grant" and "consent" in description):
            return NoApiAccess(
                SERVICE,
                f"token for tenant {tenant} refused ({reason}): the app {self._client_id} must be "
                "consented by an administrator in that tenant (or GRAPH_CLIENT_ID is wrong)",
                request_id=request_id,
            )
        if error in _BAD_CLIENT_ERRORS:
            return InvalidCredentials(
                SERVICE,
                f"token for tenant {tenant} refused ({reason}): "
                "check GRAPH_CLIENT_ID and GRAPH_CLIENT_SECRET",
                request_id=request_id,
            )
        if error in _TRANSIENT_TOKEN_ERRORS:
            return Unavailable(
                SERVICE, f"token for tenant {tenant} refused ({reason})", request_id=request_id
            )
        if error == "invalid_tenant" or 90002 in codes:
            return UpstreamNotFound(
                SERVICE,
                f"tenant {tenant} is not known ({reason}): check m365_tenant_id",
                request_id=request_id,
            )
        return UpstreamRejected(
            SERVICE, f"token for tenant {tenant} refused ({reason})", request_id=request_id
        )


# --- helpers ----------------------------------------------------------------------------------


def _raise_for_status(response: httpx.Response, *, what: str, tenant_id: str) -> None:
    """Translate a non-2xx Graph answer into the error taxonomy, once."""
    status = response.status_code
    if 200 <= status < 300:
        return
    code, message = _graph_error(response)
    detail = f"{what}: {status} {code}: {message}".rstrip(": ")[:_MAX_DETAIL]
    request_id = _request_id(response)
    if status in (401, 403):
        raise NoApiAccess(
            SERVICE,
            f"{detail} (the app lacks a Graph application permission or admin consent in "
            f"tenant {tenant_id.lower()})",
            status_code=status,
            request_id=request_id,
        )
    if status == 404:
        raise UpstreamNotFound(SERVICE, detail, status_code=status, request_id=request_id)
    raise UpstreamRejected(SERVICE, detail, status_code=status, request_id=request_id)


def _graph_error(response: httpx.Response) -> tuple[str, str]:
    """Graph's `error.code` and `error.message`, or empty strings when the body has none."""
    try:
        body = response.json()
    except ValueError:
        return "", ""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or ""), str(error.get("message") or "")


def _request_id(response: httpx.Response) -> str | None:
    """Graph's request id, from the headers or, failing that, the error's `innerError`."""
    for header in ("request-id", "client-request-id"):
        if value := response.headers.get(header):
            return str(value)
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    inner = error.get("innerError") if isinstance(error, dict) else None
    if isinstance(inner, dict):
        value = inner.get("request-id") or inner.get("client-request-id")
        return str(value) if value else None
    return None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The body as a JSON object; UpstreamRejected when Graph sent something else."""
    try:
        body = response.json()
    except ValueError as exc:
        raise UpstreamRejected(
            SERVICE, "answer is not JSON", status_code=response.status_code
        ) from exc
    if not isinstance(body, dict):
        raise UpstreamRejected(SERVICE, "answer is not a JSON object")
    return body


def _parse_user(record: Mapping[str, Any]) -> GraphUser:
    """A Graph `user` record as a model; SKU ids lower-cased."""
    licenses = record.get("assignedLicenses")
    sku_ids = frozenset(
        str(item["skuId"]).lower()
        for item in (licenses if isinstance(licenses, list) else [])
        if isinstance(item, dict) and item.get("skuId")
    )
    upn = record.get("userPrincipalName")
    location = record.get("usageLocation")
    return GraphUser(
        id=str(record.get("id") or ""),
        user_principal_name=str(upn) if upn else None,
        usage_location=str(location) if location else None,
        assigned_sku_ids=sku_ids,
    )


def _path_segment(value: str, field: str) -> str:
    """An object id or UPN as one URL path segment (`#` in guest UPNs must be escaped)."""
    if not value or not value.strip():
        raise InvalidInput(field, "must not be empty")
    return quote(value.strip(), safe="@")


def _path_of(url: str) -> str:
    """The path of a URL, for messages: no host, no query."""
    return httpx.URL(url).path
