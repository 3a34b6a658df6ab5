"""A stateful Microsoft Entra (token) and Microsoft Graph (licences, users) simulator.

It follows `shared/reference/graph.md`. Behaviour worth knowing:

- Entra: OIDC discovery and a client-credentials token endpoint per tenant (GUID or verified
  domain). Unknown tenant: 400 AADSTS90002. App not consented in the tenant: 400
  `invalid_client` AADSTS7000229 ("missing service principal", as Entra answers). Wrong
  secret: 401 AADSTS7000215. Tokens carry the tenant (see `entra.py`).
- Graph: `subscribedSkus` ($select only; other query options are refused), `directory/
  subscriptions`, users by id or UPN ($select; `usageLocation` only when selected), PATCH of
  a user, and `assignLicense` with seat accounting. Errors use Graph's
  `{"error": {"code", "message", "innerError"}}` with a `request-id` header.
- Units: a SKU's `prepaidUnits` are the sum of its companySubscriptions' `totalLicenses` by
  status; `consumedUnits` is the number of users holding it. A Stellr seat change reaches the
  linked companySubscription `seat_provisioning_delay_seconds` after it completes.
- A user can be added that stays 404 for a while (directory replication).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from . import entra
from .base import SimulatorBase
from .faults import FaultRule
from .graph_state import (
    DEFAULT_USER_PROPERTIES,
    PATCHABLE_USER_PROPERTIES,
    SKU_PROPERTIES,
    USER_PROPERTIES,
    GraphState,
    Sku,
    SkuUnits,
    Tenant,
    User,
    sku_units,
)
from .scheduler import Scheduler
from .transport import Request, Response, json_response

_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")

# Application permissions (roles) that allow each kind of call.
READ_LICENSES = frozenset(
    {
        "LicenseAssignment.Read.All",
        "LicenseAssignment.ReadWrite.All",
        "Organization.Read.All",
        "Organization.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
    }
)
READ_USERS = frozenset(
    {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
)
WRITE_USERS = frozenset({"User.ReadWrite.All", "Directory.ReadWrite.All"})
ASSIGN_LICENSES = frozenset(
    {"LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
)


class GraphError(Exception):
    """Raised inside a handler to answer with Graph's error shape."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class GraphSimulator(SimulatorBase[GraphState]):
    """Surface `entra` (login host) and surface `graph` (Graph host)."""

    name = "graph"
    surfaces = frozenset({"entra", "graph"})

    def __init__(
        self,
        state: GraphState,
        *,
        seat_provisioning_delay_seconds: float = 5.0,
        token_lifetime_seconds: int = entra.TOKEN_LIFETIME_SECONDS,
        graph_base_url: str = entra.PUBLIC_GRAPH,
        scheduler: Scheduler | None = None,
        faults: Iterable[FaultRule] = (),
        seed: int = 0,
    ) -> None:
        super().__init__(state, scheduler=scheduler, faults=faults, seed=seed)
        self.seat_provisioning_delay_seconds = seat_provisioning_delay_seconds
        self.token_lifetime_seconds = token_lifetime_seconds
        self.graph_base_url = graph_base_url.rstrip("/")
        self._tokens = entra.TokenSigner()
        self._hidden_until: dict[str, float] = {}  # user id -> time it replicates

        self._route(
            "GET", "/{tenant}/v2.0/.well-known/openid-configuration", "entra", self._discovery
        )
        self._route("POST", "/{tenant}/oauth2/v2.0/token", "entra", self._token)
        self._route("GET", "/v1.0/subscribedSkus", "graph", self._subscribed_skus)
        self._route("GET", "/v1.0/directory/subscriptions", "graph", self._company_subscriptions)
        self._route("GET", "/v1.0/users/{user}", "graph", self._get_user)
        self._route("PATCH", "/v1.0/users/{user}", "graph", self._patch_user)
        self._route("POST", "/v1.0/users/{user}/assignLicense", "graph", self._assign_license)
        self._admin("POST", "/_sim/users", self._admin_add_user)
        self._admin("POST", "/_sim/expire-tokens", self._admin_expire_tokens)

    # --- in-process accessors --------------------------------------------------------------

    def sku_units(self, tenant: str, sku_id: str) -> SkuUnits:
        """The SKU's units in the tenant (GUID or domain); raises KeyError when unknown."""
        with self._scheduler.lock:
            self._scheduler.advance()
            return sku_units(self._tenant_or_raise(tenant), sku_id.lower())

    def assigned_licenses(self, tenant: str, user: str) -> list[str]:
        """Sku ids held by the user (id or UPN), hidden users included; KeyError if unknown."""
        with self._scheduler.lock:
            self._scheduler.advance()
            found = self._user(self._tenant_or_raise(tenant), user, include_hidden=True)
            if found is None:
                raise KeyError(user)
            return sorted(found.assigned_licenses)

    def usage_location(self, tenant: str, user: str) -> str | None:
        with self._scheduler.lock:
            found = self._user(self._tenant_or_raise(tenant), user, include_hidden=True)
            if found is None:
                raise KeyError(user)
            return found.usage_location

    def add_user(
        self,
        tenant: str,
        user_principal_name: str,
        *,
        display_name: str | None = None,
        usage_location: str | None = None,
        licenses: Iterable[str] = (),
        appear_after: float = 0.0,
    ) -> str:
        """Create a user that Graph answers 404 for until `appear_after` seconds have passed.

        Licences given here are held without seat checks (setup, not an assignment).
        Returns the new user's object id.
        """
        with self._scheduler.lock:
            found = self._tenant_or_raise(tenant)
            if self._user(found, user_principal_name, include_hidden=True) is not None:
                raise ValueError(f"user {user_principal_name} already exists")
            local = user_principal_name.split("@", 1)[0]
            user = User(
                id=str(uuid.uuid4()),
                user_principal_name=user_principal_name,
                display_name=display_name or local.replace(".", " ").title(),
                usage_location=usage_location,
                assigned_licenses={sku.lower(): [] for sku in licenses},
            )
            found.users[user.id] = user
            if appear_after > 0:
                self._hidden_until[user.id] = self._scheduler.now() + appear_after
            return user.id

    def provision_seats(
        self, tenant_id: str, graph_subscription_id: str, delta: int, completed_at: float
    ) -> None:
        """Stellr's callback: the companySubscription grows by `delta` after the delay."""

        def apply(_: float) -> None:
            tenant = self._state.tenants.get(tenant_id)
            subscription = tenant.subscriptions.get(graph_subscription_id) if tenant else None
            if subscription is not None:
                subscription.total_licenses = max(0, subscription.total_licenses + delta)

        due = completed_at + self.seat_provisioning_delay_seconds
        self._scheduler.at(due, self.name, apply)

    def expire_tokens(self) -> None:
        """Every token issued so far answers 401 from now on."""
        with self._scheduler.lock:
            self._tokens.revoke_all()

    def _on_reset(self) -> None:
        self._hidden_until.clear()

    @property
    def graph_resources(self) -> set[str]:
        """Resources a token may be asked for, as `<resource>/.default`."""
        local = self.graph_base_url.replace("://127.0.0.1:", "://localhost:")
        return {entra.PUBLIC_GRAPH, entra.GRAPH_APP_ID, self.graph_base_url, local}

    # --- lookups ---------------------------------------------------------------------------

    def _resolve_tenant(self, name: str) -> Tenant | None:
        key = name.lower()
        for tenant in self._state.tenants.values():
            if tenant.tenant_id.lower() == key or key in (d.lower() for d in tenant.domains):
                return tenant
        return None

    def _tenant_or_raise(self, name: str) -> Tenant:
        tenant = self._resolve_tenant(name)
        if tenant is None:
            raise KeyError(name)
        return tenant

    def _user(self, tenant: Tenant, key: str, *, include_hidden: bool = False) -> User | None:
        wanted = key.lower()
        for user in tenant.users.values():
            if user.id.lower() == wanted or user.user_principal_name.lower() == wanted:
                hidden = self._hidden_until.get(user.id, 0.0) > self._scheduler.now()
                return user if include_hidden or not hidden else None
        return None

    # --- shapes ----------------------------------------------------------------------------

    def _error(self, request: Request, status: int, code: str, message: str) -> Response:
        request_id = str(uuid.uuid4())
        client_request_id = request.header("client-request-id") or request_id
        body = {
            "error": {
                "code": code,
                "message": message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": client_request_id,
                },
            }
        }
        headers = {"request-id": request_id, "client-request-id": client_request_id}
        return json_response(status, body, headers)

    def _fault_response(self, request: Request, surface: str, status: int) -> Response:
        if surface == "entra":
            return entra.entra_error(
                request, status, "temporarily_unavailable", 50196, "Injected fault."
            )
        code = {429: "TooManyRequests", 503: "serviceNotAvailable"}.get(status, "generalException")
        return self._error(request, status, code, "Injected fault.")

    def _not_found(self, request: Request, surface: str) -> Response:
        if surface == "entra":
            return json_response(404, {"error": "not_found"})
        segment = request.path.rstrip("/").rsplit("/", 1)[-1]
        return self._error(
            request, 400, "BadRequest", f"Resource not found for the segment '{segment}'."
        )

    def _finish(self, request: Request, response: Response) -> Response:
        if "request-id" not in response.headers and "x-ms-request-id" not in response.headers:
            request_id = str(uuid.uuid4())
            response.headers["request-id"] = request_id
            response.headers["client-request-id"] = (
                request.header("client-request-id") or request_id
            )
        return response

    # --- Entra (surface entra) -------------------------------------------------------------

    def _discovery(self, request: Request, tenant: str) -> Response:
        found = self._resolve_tenant(tenant)
        if found is None:
            return entra.unknown_tenant(request, tenant)
        graph_host = urlsplit(self.graph_base_url).netloc
        document = entra.discovery_document(entra.base_url(request), found.tenant_id, graph_host)
        return json_response(200, document)

    def _token(self, request: Request, tenant: str) -> Response:
        form = request.form()
        found = self._resolve_tenant(tenant)
        if found is None:
            return entra.unknown_tenant(request, tenant)
        if form.get("grant_type") != "client_credentials":
            return entra.unsupported_grant(request)
        client_id, secret = entra.client_credentials(request, form)
        app = next((a for a in self._state.apps if a.client_id == client_id), None)
        if app is None:
            return entra.app_not_found(request, client_id, found.display_name)
        if not secrets.compare_digest(app.client_secret.encode(), secret.encode()):
            return entra.invalid_secret(request, app.client_id)
        if app.client_id not in found.consents:
            return entra.not_consented(request, app.client_id, found.tenant_id)
        error = entra.scope_error(
            request, form.get("scope"), self.graph_resources, found.display_name
        )
        if error is not None:
            return error
        claims = entra.AccessClaims(
            found.tenant_id, app.client_id, frozenset(found.consents[app.client_id])
        )
        expires_at = self._scheduler.now() + self.token_lifetime_seconds
        return json_response(
            200,
            {
                "token_type": "Bearer",
                "expires_in": self.token_lifetime_seconds,
                "ext_expires_in": self.token_lifetime_seconds,
                "access_token": self._tokens.issue(claims, expires_at),
            },
            headers={"Cache-Control": "no-store, no-cache", "x-ms-request-id": str(uuid.uuid4())},
        )

    # --- Graph (surface graph) -------------------------------------------------------------

    def _authorize(self, request: Request, allowed: frozenset[str]) -> Tenant:
        """The token's tenant, when the token is valid and grants one of `allowed`."""
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        try:
            claims = self._tokens.verify(token, self._scheduler.now())
        except entra.InvalidToken as exc:
            raise GraphError(401, "InvalidAuthenticationToken", str(exc)) from exc
        tenant = self._state.tenants.get(claims.tenant_id)
        if tenant is None or claims.app_id not in tenant.consents:  # consent since revoked
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
        if not allowed & claims.roles:
            raise GraphError(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        return tenant

    def _graph(self, request: Request, handler: Callable[[], Response]) -> Response:
        """Run a Graph handler, turning `GraphError` into Graph's error answer."""
        try:
            return handler()
        except GraphError as exc:
            return self._error(request, exc.status, exc.code, exc.message)

    @staticmethod
    def _select(request: Request, known: Iterable[str], entity: str) -> list[str] | None:
        """The $select list in canonical spelling, or None when absent; raises on unknowns."""
        raw = request.param("$select")
        if raw is None:
            return None
        canonical = {name.lower(): name for name in known}
        selected = []
        for item in (part.strip() for part in raw.split(",")):
            if not item:
                continue
            if item.lower() not in canonical:
                raise GraphError(
                    400,
                    "BadRequest",
                    f"Could not find a property named '{item}' on type 'microsoft.graph.{entity}'.",
                )
            selected.append(canonical[item.lower()])
        return selected

    def _subscribed_skus(self, request: Request) -> Response:
        def run() -> Response:
            tenant = self._authorize(request, READ_LICENSES)
            others = [k for k in request.query if k.startswith("$") and k != "$select"]
            if others:
                # The reference: only $select works on this resource; fail loudly, not silently.
                raise GraphError(
                    400, "Request_UnsupportedQuery", f"Unsupported query option: {others[0]}."
                )
            selected = self._select(request, SKU_PROPERTIES, "subscribedSku")
            records = [self._sku_json(tenant, sku) for sku in tenant.skus.values()]
            if selected is not None:
                records = [{k: r[k] for k in selected} for r in records]
            return json_response(
                200,
                {
                    "@odata.context": self._context(request, "subscribedSkus", selected),
                    "value": records,
                },
            )

        return self._graph(request, run)

    def _sku_json(self, tenant: Tenant, sku: Sku) -> dict[str, Any]:
        units = sku_units(tenant, sku.sku_id)
        return {
            "accountName": tenant.display_name,
            "accountId": tenant.tenant_id,
            "appliesTo": sku.applies_to,
            "capabilityStatus": units.capability_status,
            "consumedUnits": units.consumed,
            "id": f"{tenant.tenant_id}_{sku.sku_id}",
            "prepaidUnits": {
                "enabled": units.enabled,
                "suspended": units.suspended,
                "warning": units.warning,
                "lockedOut": units.locked_out,
            },
            "servicePlans": [],
            "skuId": sku.sku_id,
            "skuPartNumber": sku.sku_part_number,
            "subscriptionIds": [
                s.id for s in tenant.subscriptions.values() if s.sku_id == sku.sku_id
            ],
        }

    def _company_subscriptions(self, request: Request) -> Response:
        def run() -> Response:
            tenant = self._authorize(request, READ_LICENSES)
            records: list[dict[str, Any]] = [
                {
                    "id": s.id,
                    "commerceSubscriptionId": s.commerce_subscription_id,
                    "createdDateTime": s.created,
                    "isTrial": s.is_trial,
                    "nextLifecycleDateTime": s.next_lifecycle,
                    "ownerId": None,
                    "ownerTenantId": None,
                    "ownerType": None,
                    "serviceStatus": [],
                    "skuId": s.sku_id,
                    "skuPartNumber": tenant.skus[s.sku_id].sku_part_number,
                    "status": s.status,
                    "totalLicenses": s.total_licenses,
                }
                for s in tenant.subscriptions.values()
            ]
            context = self._context(request, "directory/subscriptions", None)
            return json_response(200, {"@odata.context": context, "value": records})

        return self._graph(request, run)

    def _context(self, request: Request, entity_set: str, selected: list[str] | None) -> str:
        projection = f"({','.join(selected)})" if selected else ""
        return f"{entra.base_url(request)}/v1.0/$metadata#{entity_set}{projection}"

    def _find_user(self, tenant: Tenant, key: str) -> User:
        user = self._user(tenant, key)
        if user is None:
            raise GraphError(
                404,
                "Request_ResourceNotFound",
                f"Resource '{key}' does not exist or one of its queried reference-property "
                "objects are not present.",
            )
        return user

    def _user_json(
        self, request: Request, user: User, selected: list[str] | None
    ) -> dict[str, Any]:
        names = selected if selected is not None else list(DEFAULT_USER_PROPERTIES)
        body: dict[str, Any] = {
            "@odata.context": self._context(request, "users", selected) + "/$entity"
        }
        body.update({name: USER_PROPERTIES[name](user) for name in names})
        return body

    def _get_user(self, request: Request, user: str) -> Response:
        def run() -> Response:
            tenant = self._authorize(request, READ_USERS)
            selected = self._select(request, USER_PROPERTIES, "user")
            return json_response(
                200, self._user_json(request, self._find_user(tenant, user), selected)
            )

        return self._graph(request, run)

    def _patch_user(self, request: Request, user: str) -> Response:
        def run() -> Response:
            tenant = self._authorize(request, WRITE_USERS)
            found = self._find_user(tenant, user)
            body = request.json()
            if not isinstance(body, dict):
                raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
            updates: dict[str, Any] = {}
            for name, value in body.items():
                if name not in PATCHABLE_USER_PROPERTIES:
                    raise GraphError(
                        400,
                        "Request_BadRequest",
                        f"Property '{name}' is read-only or not supported by the simulator.",
                    )
                if name == "usageLocation" and not (
                    value is None or (isinstance(value, str) and _COUNTRY.match(value))
                ):
                    raise GraphError(
                        400,
                        "Request_BadRequest",
                        "Invalid value specified for property 'usageLocation' of resource 'User'.",
                    )
                updates[PATCHABLE_USER_PROPERTIES[name]] = (
                    value.upper() if name == "usageLocation" and value else value
                )
            for attribute, value in updates.items():
                setattr(found, attribute, value)
            return Response(204)

        return self._graph(request, run)

    def _assign_license(self, request: Request, user: str) -> Response:
        def run() -> Response:
            tenant = self._authorize(request, ASSIGN_LICENSES)
            body = request.json()
            if not isinstance(body, dict):
                raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
            missing = [name for name in ("addLicenses", "removeLicenses") if name not in body]
            if missing:
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    "One or more parameters of the function import 'assignLicense' are missing "
                    f"from the request payload. The missing parameters are: {', '.join(missing)}.",
                )
            adds, removes = self._parse_license_changes(body)
            found = self._find_user(tenant, user)
            for sku_id in [*adds, *removes]:
                if sku_id not in tenant.skus:
                    raise GraphError(
                        400,
                        "Request_BadRequest",
                        f"License {sku_id} does not correspond to a valid company License.",
                    )
            if adds and not found.usage_location:
                raise GraphError(
                    400,
                    "Request_BadRequest",
                    "License assignment cannot be done for user with invalid usage location.",
                )
            for sku_id in adds:
                # Holding it already: only the disabled plans change, no seat is used.
                if sku_id not in found.assigned_licenses and sku_units(tenant, sku_id).free < 1:
                    raise GraphError(
                        400,
                        "Request_BadRequest",
                        f"Subscription with SKU {sku_id} does not have any available licenses.",
                    )
            # Validated first, applied together: Graph's assignLicense is all or nothing.
            for sku_id, plans in adds.items():
                found.assigned_licenses[sku_id] = plans
            for sku_id in removes:
                found.assigned_licenses.pop(sku_id, None)
            return json_response(200, self._user_json(request, found, None))

        return self._graph(request, run)

    @staticmethod
    def _parse_license_changes(body: dict[str, Any]) -> tuple[dict[str, list[str]], list[str]]:
        add_items, remove_items = body["addLicenses"], body["removeLicenses"]
        invalid = GraphError(
            400,
            "Request_BadRequest",
            "Invalid value specified for 'addLicenses' or 'removeLicenses'.",
        )
        if not isinstance(add_items, list) or not isinstance(remove_items, list):
            raise invalid
        adds: dict[str, list[str]] = {}
        for item in add_items:
            sku = item.get("skuId") if isinstance(item, dict) else None
            plans = item.get("disabledPlans", []) if isinstance(item, dict) else None
            if not isinstance(sku, str) or not _GUID.match(sku) or not isinstance(plans, list):
                raise invalid
            adds[sku.lower()] = [str(plan).lower() for plan in plans]
        removes = []
        for sku in remove_items:
            if not isinstance(sku, str) or not _GUID.match(sku):
                raise invalid
            removes.append(sku.lower())
        return adds, removes

    # --- admin -----------------------------------------------------------------------------

    def _admin_add_user(self, request: Request) -> Response:
        body = request.json()
        try:
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
            user_id = self.add_user(
                str(body["tenant"]),
                str(body["userPrincipalName"]),
                display_name=body.get("displayName"),
                usage_location=body.get("usageLocation"),
                licenses=body.get("licenses", []),
                appear_after=float(body.get("appearAfterSeconds", 0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            return json_response(400, {"error": "invalid_user", "detail": str(exc)})
        return json_response(201, {"id": user_id})

    def _admin_expire_tokens(self, request: Request) -> Response:
        self.expire_tokens()
        return json_response(200, {"simulator": self.name, "tokensExpired": True})
