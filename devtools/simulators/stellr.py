"""A stateful TD SYNNEX StreamOne Stellr simulator (token endpoint and API), sandbox flavour.

It follows `shared/reference/stellr.md`, including the parts marked ASSUMED there (envelope,
record fields, `changeSeats` body and answer, operation status). Error bodies are ASSUMED as
well: `{"requestId", "errorCode", "errorMessage"}`. Behaviour worth knowing:

- lists without `pageNo` and `pageSize` answer 0 records and `total` 0, not an error; a page
  size above 200 is cut to 200; a customer outside the caller's reseller scope lists 0
  subscriptions (and is 404 when read directly);
- `changeSeats` sets the *total* and completes after `seat_change_delay_seconds`; only then
  does the quantity change and the linked tenant hear of the delta (`on_seat_change`);
  decreases, unchanged totals and suspended subscriptions are refused with 400;
- a credential of another environment (production on this sandbox) is `invalid_client`; a
  credential without API access gets a token and then 403 on every API call.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .base import SimulatorBase
from .faults import FaultRule
from .scheduler import Scheduler
from .stellr_state import Credential, Customer, SeatOperation, StellrState, Subscription
from .transport import Request, Response, json_response

MAX_PAGE_SIZE = 200
TOKEN_LIFETIME_SECONDS = 7200

SeatChangeListener = Callable[[str, str, int, float], None]
"""Called as (tenant_id, graph_subscription_id, delta, completed_at) when a change completes."""


@dataclass
class _Token:
    client_id: str
    expires_at: float


def _utc_iso(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- simulator -----------------------------------------------------------------------------


class StellrSimulator(SimulatorBase[StellrState]):
    """Stellr's two hosts: surface `sso` (token) and surface `api` (everything else)."""

    name = "stellr"
    surfaces = frozenset({"api", "sso"})

    def __init__(
        self,
        state: StellrState,
        *,
        environment: str = "sandbox",
        seat_change_delay_seconds: float = 2.0,
        token_lifetime_seconds: int = TOKEN_LIFETIME_SECONDS,
        on_seat_change: SeatChangeListener | None = None,
        scheduler: Scheduler | None = None,
        faults: Iterable[FaultRule] = (),
        seed: int = 0,
    ) -> None:
        super().__init__(state, scheduler=scheduler, faults=faults, seed=seed)
        self.environment = environment
        self.seat_change_delay_seconds = seat_change_delay_seconds
        self.token_lifetime_seconds = token_lifetime_seconds
        self.on_seat_change = on_seat_change
        # Tokens live outside the state: a reset must not log out a client holding a token.
        self._tokens: dict[str, _Token] = {}
        self._failures_to_inject = 0

        self._route("POST", "/oauth2/v1/token", "sso", self._token)
        base = "/api/v1"
        self._route("GET", f"{base}/cloud/customers", "api", self._list_customers)
        self._route("GET", f"{base}/cloud/customers/{{customer_no}}", "api", self._get_customer)
        subs = f"{base}/customers/{{customer_no}}/subscriptions"
        self._route("GET", subs, "api", self._list_subscriptions)
        self._route("GET", f"{subs}/{{subscription_id}}", "api", self._get_subscription)
        self._route("POST", f"{subs}/{{subscription_id}}/changeSeats", "api", self._change_seats)
        self._route(
            "GET", f"{base}/subscriptions/operations/{{operation_id}}", "api", self._get_operation
        )
        self._admin("POST", "/_sim/expire-tokens", self._admin_expire_tokens)

    # --- in-process accessors --------------------------------------------------------------

    def subscription_quantity(self, customer_no: str, subscription_id: str) -> int:
        """The line's current quantity; raises KeyError when there is no such line."""
        with self._scheduler.lock:
            self._scheduler.advance()
            return self._state.subscriptions[customer_no][subscription_id].quantity

    def subscription(self, customer_no: str, subscription_id: str) -> dict[str, Any]:
        """The line as the API shows it; raises KeyError when there is no such line."""
        with self._scheduler.lock:
            self._scheduler.advance()
            return self._state.subscriptions[customer_no][subscription_id].to_json()

    def operation_status(self, operation_id: str) -> str:
        """`in_progress`, `completed` or `failed`; raises KeyError for an unknown id."""
        with self._scheduler.lock:
            self._scheduler.advance()
            return self._state.operations[operation_id].status

    def seat_change_count(self, customer_no: str | None = None) -> int:
        """How many `changeSeats` were accepted (for "bought exactly N" assertions)."""
        with self._scheduler.lock:
            return sum(
                1
                for op in self._state.operations.values()
                if customer_no is None or op.customer_no == customer_no
            )

    def fail_next_seat_changes(self, count: int) -> None:
        """The next `count` accepted seat changes end `failed` and change nothing."""
        with self._scheduler.lock:
            self._failures_to_inject = count

    def expire_tokens(self) -> None:
        """Every issued token answers 401 from now on (to test the fetch-again path)."""
        with self._scheduler.lock:
            self._tokens.clear()

    def _on_reset(self) -> None:
        self._failures_to_inject = 0

    # --- shapes ----------------------------------------------------------------------------

    def _error(self, request: Request, status: int, code: str, message: str) -> Response:
        return json_response(
            status,
            {"requestId": str(uuid.uuid4()), "errorCode": code, "errorMessage": message},
        )

    def _fault_response(self, request: Request, surface: str, status: int) -> Response:
        if surface == "sso":
            return json_response(
                status,
                {"error": "temporarily_unavailable", "error_description": "Injected fault."},
            )
        if status == 200:
            # The pitfall from the reference: a business error inside a 2xx answer.
            return json_response(
                200,
                {
                    "requestId": str(uuid.uuid4()),
                    "errorMessage": "Request could not be processed (injected fault).",
                },
            )
        code = {429: "TOO_MANY_REQUESTS", 503: "SERVICE_UNAVAILABLE"}.get(status, "SERVER_ERROR")
        return self._error(request, status, code, "Injected fault.")

    @staticmethod
    def _ok(data: Any) -> Response:
        return json_response(200, {"requestId": str(uuid.uuid4()), "data": data})

    # --- token (surface sso) ---------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return json_response(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "Only client_credentials is supported.",
                },
            )
        credential = self._find_credential(form.get("client_id"), form.get("client_secret"))
        if credential is None:
            return json_response(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "Client authentication failed.",
                },
            )
        token = f"stl_{secrets.token_urlsafe(32)}"
        expires_at = self._scheduler.now() + self.token_lifetime_seconds
        self._tokens[token] = _Token(credential.client_id, expires_at)
        return json_response(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.token_lifetime_seconds,
            },
            headers={"Cache-Control": "no-store"},
        )

    def _find_credential(self, client_id: str | None, secret: str | None) -> Credential | None:
        for credential in self._state.credentials:
            if (
                credential.client_id == client_id
                and secrets.compare_digest(
                    credential.client_secret.encode(), (secret or "").encode()
                )
                and credential.environment == self.environment
            ):
                return credential
        return None

    # --- API (surface api) -----------------------------------------------------------------

    def _authorize(self, request: Request) -> Credential | Response:
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        issued = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if issued is None or issued.expires_at <= self._scheduler.now():
            response = self._error(
                request, 401, "UNAUTHORIZED", "Missing, invalid or expired access token."
            )
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        credential = next(
            (c for c in self._state.credentials if c.client_id == issued.client_id), None
        )
        if credential is None:  # removed since the token was issued
            return self._error(request, 401, "UNAUTHORIZED", "Unknown client.")
        if not credential.api_access:
            return self._error(
                request,
                403,
                "FORBIDDEN",
                "The application has no permission for this API. Check the Application's "
                "API permissions in the Developer Portal.",
            )
        return credential

    def _customer_in_scope(self, credential: Credential, customer_no: str) -> Customer | None:
        customer = self._state.customers.get(customer_no)
        if customer is None or customer.reseller_id != credential.reseller_id:
            return None
        return customer

    def _page(self, request: Request, records: list[dict[str, Any]]) -> Response:
        page_no_text, page_size_text = request.param("pageNo"), request.param("pageSize")
        if page_no_text is None or page_size_text is None:
            # The real API's pitfall: no paging parameters means an empty list, not an error.
            return self._ok({"total": 0, "records": []})
        try:
            page_no, page_size = int(page_no_text), int(page_size_text)
        except ValueError:
            page_no = page_size = 0
        if page_no < 1 or page_size < 1:
            return self._error(
                request, 400, "INVALID_PARAMETER", "pageNo and pageSize must be integers >= 1."
            )
        size = min(page_size, MAX_PAGE_SIZE)
        start = (page_no - 1) * size
        return self._ok({"total": len(records), "records": records[start : start + size]})

    def _list_customers(self, request: Request) -> Response:
        credential = self._authorize(request)
        if isinstance(credential, Response):
            return credential
        customers = sorted(
            (c for c in self._state.customers.values() if c.reseller_id == credential.reseller_id),
            key=lambda c: c.customer_no,
        )
        return self._page(request, [self._customer_json(c) for c in customers])

    def _get_customer(self, request: Request, customer_no: str) -> Response:
        credential = self._authorize(request)
        if isinstance(credential, Response):
            return credential
        customer = self._customer_in_scope(credential, customer_no)
        if customer is None:
            return self._error(request, 404, "NOT_FOUND", f"Customer {customer_no} not found.")
        return self._ok(self._customer_json(customer))

    @staticmethod
    def _customer_json(customer: Customer) -> dict[str, Any]:
        return {
            "customerNo": customer.customer_no,
            "customerName": customer.name,
            "email": customer.email,
            "domain": customer.domain or customer.email.rpartition("@")[2] or None,
            "country": customer.country,
            "status": "active",
        }

    def _list_subscriptions(self, request: Request, customer_no: str) -> Response:
        credential = self._authorize(request)
        if isinstance(credential, Response):
            return credential
        if self._customer_in_scope(credential, customer_no) is None:
            # Out of scope or unknown: silently empty, as the real API is reported to be.
            return self._page(request, [])
        lines = self._state.subscriptions.get(customer_no, {}).values()
        return self._page(request, [line.to_json() for line in lines])

    def _find_subscription(
        self, request: Request, customer_no: str, subscription_id: str
    ) -> Subscription | Response:
        credential = self._authorize(request)
        if isinstance(credential, Response):
            return credential
        line = None
        if self._customer_in_scope(credential, customer_no) is not None:
            line = self._state.subscriptions.get(customer_no, {}).get(subscription_id)
        if line is None:
            return self._error(
                request,
                404,
                "NOT_FOUND",
                f"Subscription {subscription_id} not found for customer {customer_no}.",
            )
        return line

    def _get_subscription(
        self, request: Request, customer_no: str, subscription_id: str
    ) -> Response:
        line = self._find_subscription(request, customer_no, subscription_id)
        return line if isinstance(line, Response) else self._ok(line.to_json())

    def _change_seats(self, request: Request, customer_no: str, subscription_id: str) -> Response:
        line = self._find_subscription(request, customer_no, subscription_id)
        if isinstance(line, Response):
            return line
        body = request.json()
        quantity = body.get("quantity") if isinstance(body, dict) else None
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            return self._error(
                request, 400, "INVALID_QUANTITY", "quantity must be a whole number >= 1."
            )
        if line.status.lower() not in ("", "active"):
            return self._error(
                request,
                400,
                "SUBSCRIPTION_NOT_ACTIVE",
                f"Subscription {line.id} is {line.status}; seats cannot be changed.",
            )
        if quantity < line.quantity:
            return self._error(
                request,
                400,
                "SEAT_DECREASE_NOT_ALLOWED",
                "Seat decreases are only allowed within 7 days of purchase or renewal.",
            )
        if quantity == line.quantity:
            return self._error(
                request, 400, "QUANTITY_UNCHANGED", f"Quantity is already {quantity}."
            )
        operation = SeatOperation(
            operation_id=f"op-{uuid.uuid4().hex}",
            customer_no=customer_no,
            subscription_id=line.id,
            quantity=quantity,
            created_at=_utc_iso(),
            will_fail=self._failures_to_inject > 0,
        )
        self._failures_to_inject = max(0, self._failures_to_inject - 1)
        self._state.operations[operation.operation_id] = operation
        due = self._scheduler.now() + self.seat_change_delay_seconds
        self._scheduler.at(due, self.name, lambda at: self._complete(operation.operation_id, at))
        return self._ok({"operationId": operation.operation_id})

    def _complete(self, operation_id: str, completed_at: float) -> None:
        """Scheduled: the seat change lands (or fails), then the tenant hears of the delta."""
        operation = self._state.operations[operation_id]
        # Events run lazily; stamp the time the change was due, not the time someone looked.
        late_by = max(0.0, self._scheduler.now() - completed_at)
        operation.completed_at = _utc_iso(datetime.now(UTC) - timedelta(seconds=late_by))
        if operation.will_fail:
            operation.status = "failed"
            return
        operation.status = "completed"
        line = self._state.subscriptions[operation.customer_no][operation.subscription_id]
        # The new total wins, as with the real API: two changes computed from the same old
        # quantity add one seat between them, not two.
        delta = operation.quantity - line.quantity
        line.quantity = operation.quantity
        customer = self._state.customers[operation.customer_no]
        if (
            delta
            and self.on_seat_change is not None
            and customer.tenant_id is not None
            and line.graph_subscription_id is not None
        ):
            self.on_seat_change(customer.tenant_id, line.graph_subscription_id, delta, completed_at)

    def _get_operation(self, request: Request, operation_id: str) -> Response:
        credential = self._authorize(request)
        if isinstance(credential, Response):
            return credential
        operation = self._state.operations.get(operation_id)
        if operation is None or self._customer_in_scope(credential, operation.customer_no) is None:
            return self._error(request, 404, "NOT_FOUND", f"Operation {operation_id} not found.")
        return self._ok(operation.to_json())

    # --- admin -----------------------------------------------------------------------------

    def _admin_expire_tokens(self, request: Request) -> Response:
        self.expire_tokens()
        return json_response(200, {"simulator": self.name, "tokensExpired": True})
