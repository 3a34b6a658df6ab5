"""Microsoft Entra's side of the Graph simulator: discovery, token errors, access tokens.

Error bodies follow Entra's shape (`error`, `error_description` starting `AADSTSnnnn:`,
`error_codes`, trace and correlation ids), because MSAL and the app read them. Access tokens
are opaque to clients but carry the tenant, the app and its granted application permissions,
HMAC-signed with a per-process key: Graph can then serve the right tenant without a lookup
table, and a token cannot be forged or carried over from another run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .transport import Request, Response, json_response

TOKEN_LIFETIME_SECONDS = 3599
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph's well-known app id
PUBLIC_GRAPH = "https://graph.microsoft.com"
# Reserved OIDC scopes MSAL may add; they do not matter for an app-only token.
_RESERVED_SCOPES = frozenset({"openid", "profile", "offline_access"})


def base_url(request: Request) -> str:
    """The address the client used, so documents point back at the server it reached."""
    return f"https://{request.header('host') or '127.0.0.1'}"


def entra_error(
    request: Request, status: int, error: str, aadsts: int, description: str
) -> Response:
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    timestamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error,
        "error_description": (
            f"AADSTS{aadsts}: {description} Trace ID: {trace_id} "
            f"Correlation ID: {correlation_id} Timestamp: {timestamp}"
        ),
        "error_codes": [aadsts],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{base_url(request)}/error?code={aadsts}",
    }
    return json_response(status, body, {"x-ms-request-id": trace_id})


def unknown_tenant(request: Request, tenant: str) -> Response:
    return entra_error(
        request,
        400,
        "invalid_tenant" if request.method == "GET" else "invalid_request",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud. Check with your subscription administrator, this "
        "may happen if there are no active subscriptions for the tenant.",
    )


def unsupported_grant(request: Request) -> Response:
    return entra_error(
        request,
        400,
        "unsupported_grant_type",
        70003,
        "The app requested an unsupported grant type (only client_credentials here).",
    )


def app_not_found(request: Request, client_id: str, tenant_name: str) -> Response:
    return entra_error(
        request,
        400,
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory "
        f"'{tenant_name}'. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You may have "
        "sent your authentication request to the wrong tenant.",
    )


def invalid_secret(request: Request, client_id: str) -> Response:
    return entra_error(
        request,
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
    )


def not_consented(request: Request, client_id: str, tenant_id: str) -> Response:
    # What Entra answers when the multi-tenant app has no service principal in the tenant,
    # i.e. nobody gave admin consent there.
    return entra_error(
        request,
        400,
        "invalid_client",
        7000229,
        f"The client application {client_id} is missing service principal in the tenant "
        f"{tenant_id}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119",
    )


def scope_error(
    request: Request, scope: str | None, resources: set[str], tenant_name: str
) -> Response | None:
    """None when `scope` is `<a Graph resource>/.default`, else Entra's error for it."""
    scopes = [item for item in (scope or "").split() if item not in _RESERVED_SCOPES]
    if not scopes:
        return entra_error(
            request,
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        )
    if len(scopes) != 1 or not scopes[0].endswith("/.default"):
        return entra_error(
            request,
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {' '.join(scopes)} is not valid. Client credential "
            "flows must have a scope value with /.default suffixed to the resource identifier "
            "(application ID URI).",
        )
    resource = scopes[0].removesuffix("/.default").rstrip("/")
    if resource not in resources:
        return entra_error(
            request,
            400,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{tenant_name}. This can happen if the application has not been installed by the "
            "administrator of the tenant or consented to by any user in the tenant. You might "
            "have sent your authentication request to the wrong tenant.",
        )
    return None


def client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """(client_id, secret) from `client_secret_basic` or `client_secret_post`."""
    header = request.header("authorization") or ""
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode("utf-8")
        except ValueError:
            decoded = ""
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


def discovery_document(base: str, tenant_id: str, graph_host: str) -> dict[str, Any]:
    """The tenant's OpenID configuration; MSAL reads `token_endpoint` and friends from it."""
    tenant_base = f"{base}/{tenant_id}"
    return {
        "token_endpoint": f"{tenant_base}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{tenant_base}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{tenant_base}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"https://{graph_host}/oidc/userinfo",
        "authorization_endpoint": f"{tenant_base}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{tenant_base}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{tenant_base}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "oid"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": graph_host,
        "rbac_url": "https://pas.windows.net",
    }


# --- access tokens -------------------------------------------------------------------------


class InvalidToken(Exception):
    """The token is malformed, forged, revoked or expired (message says which, Graph-style)."""


@dataclass(frozen=True)
class AccessClaims:
    tenant_id: str
    app_id: str
    roles: frozenset[str]


class TokenSigner:
    """Issues and checks the simulator's opaque access tokens (`simgraph.<claims>.<mac>`)."""

    _PREFIX = "simgraph"

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._generation = 0

    def issue(self, claims: AccessClaims, expires_at: float) -> str:
        body = {
            "tid": claims.tenant_id,
            "appid": claims.app_id,
            "roles": sorted(claims.roles),
            "gen": self._generation,
            "exp": expires_at,
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{self._PREFIX}.{payload}.{self._mac(payload)}"

    def verify(self, token: str, now: float) -> AccessClaims:
        """The token's claims; raises `InvalidToken`."""
        prefix, _, rest = token.partition(".")
        payload, _, mac = rest.partition(".")
        if prefix != self._PREFIX or not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidToken("Access token validation failure.")
        body = json.loads(_unb64(payload))
        if body["gen"] != self._generation or body["exp"] <= now:
            raise InvalidToken("Lifetime validation failed, the token is expired.")
        return AccessClaims(body["tid"], body["appid"], frozenset(body["roles"]))

    def revoke_all(self) -> None:
        """Every token issued so far fails `verify` from now on."""
        self._generation += 1

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
