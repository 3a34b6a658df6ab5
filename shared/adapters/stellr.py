"""The TD SYNNEX StreamOne Stellr client: customers, subscriptions and seat changes.

Errors are translated once, here, into the taxonomy of `shared.errors` (service "synnex"),
each carrying Stellr's `requestId` when there is one: TD SYNNEX support asks for it.
The client secret and bearer tokens never reach a log record, an exception or a repr.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Generator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError

from shared.adapters.retry import retry_after_seconds, retry_transient
from shared.core.subscriptions import derive_term
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
from shared.models import Customer, Subscription

_log = logging.getLogger(__name__)

SERVICE = "synnex"


# --- ASSUMED wire format --------------------------------------------------------------------
# TD SYNNEX keeps the Stellr reference behind its partner portal. Every detail of the wire
# format that was not confirmed by several public sources lives in this block, and only here,
# so that a partner with sandbox access corrects the client in one edit.
# Source and confidence of each item: /work/shared/reference/stellr.md.

_US_TOKEN_URL = "https://sso.us.tdsynnex.com/oauth2/v1/token"
_CA_TOKEN_URL = "https://sso.ca.tdsynnex.com/oauth2/v1/token"  # ASSUMED by analogy with US


class _Wire:
    """Names and shapes the client sends and reads."""

    # (environment, region) -> (API base URL, token URL)
    HOSTS: Final[Mapping[tuple[str, str], tuple[str, str]]] = {
        ("production", "us"): ("https://api.us.tdsynnex.com", _US_TOKEN_URL),
        ("sandbox", "us"): ("https://api-uat.us.tdsynnex.com", _US_TOKEN_URL),
        ("production", "ca"): ("https://api.ca.tdsynnex.com", _CA_TOKEN_URL),
        ("sandbox", "ca"): ("https://api-uat.ca.tdsynnex.com", _CA_TOKEN_URL),
    }

    CUSTOMERS: Final = "/api/v1/cloud/customers"
    CUSTOMER: Final = "/api/v1/cloud/customers/{customer_no}"
    SUBSCRIPTIONS: Final = "/api/v1/customers/{customer_no}/subscriptions"
    SUBSCRIPTION: Final = "/api/v1/customers/{customer_no}/subscriptions/{subscription_id}"
    CHANGE_SEATS: Final = SUBSCRIPTION + "/changeSeats"
    OPERATION: Final = "/api/v1/subscriptions/operations/{operation_id}"

    # Without both paging parameters Stellr answers 0 records instead of an error.
    PAGE_NO: Final = "pageNo"  # 1-based
    PAGE_SIZE: Final = "pageSize"
    MAX_PAGE_SIZE: Final = 200

    # Envelope: {"requestId": ..., "data": {"total": n, "records": [...]}} for lists,
    # {"requestId": ..., "data": {...record...}} for one record.
    REQUEST_ID: Final = "requestId"
    REQUEST_ID_HEADERS: Final = ("x-request-id", "request-id", "x-correlation-id")
    DATA: Final = "data"
    TOTAL: Final = "total"
    RECORDS: Final = "records"
    # A 2xx body with this field is a business error; on a non-2xx, the first of these found
    # is the detail.
    ERROR_MESSAGE: Final = "errorMessage"
    ERROR_TEXT: Final = ("errorMessage", "message")

    # OAuth error body of the token endpoint: {"error": "invalid_client", ...}.
    TOKEN_ERROR: Final = "error"
    TOKEN_LIFETIME_IF_UNSAID: Final = 600.0

    # Field aliases, the preferred name first.
    CUSTOMER_NO: Final = ("customerNo", "customerNumber")
    CUSTOMER_NAME: Final = ("customerName", "companyName", "name")
    # ASSUMED (no public source names it): the customer's primary (or Microsoft) domain, e.g.
    # "contoso.com", used only to suggest an org (synnex-customers); None when absent.
    CUSTOMER_DOMAIN: Final = ("domain", "domainName", "customerDomain", "microsoftDomain")
    SUBSCRIPTION_ID: Final = ("id", "subscriptionId")
    CONTRACT_NO: Final = ("contractNo",)
    VENDOR: Final = ("vendorName", "vendor", "publisher")
    PRODUCT_NAME: Final = ("productName", "name")
    PART_NUMBER: Final = ("mfgPartNo", "offerId", "skuNo")
    QUANTITY: Final = ("quantity", "seats", "qty")
    STATUS: Final = ("status",)
    BILLING_FREQUENCY: Final = ("billingFrequency",)
    TERM: Final = ("term",)
    RENEWAL_DATE: Final = ("renewalDate",)
    OPERATION_ID: Final = ("operationId",)
    OPERATION_STATUS: Final = ("status",)

    # Operation states as Stellr may spell them -> the three this app knows. Others pass
    # through lower-cased.
    OPERATION_STATES: Final[Mapping[str, str]] = {
        "completed": "completed",
        "complete": "completed",
        "succeeded": "completed",
        "success": "completed",
        "in_progress": "in_progress",
        "inprogress": "in_progress",
        "pending": "in_progress",
        "processing": "in_progress",
        "failed": "failed",
        "error": "failed",
    }

    @staticmethod
    def change_seats_body(quantity: int) -> dict[str, Any]:
        """The body of a seat change: the new total, not a delta."""
        return {"quantity": quantity}


# --- end of the ASSUMED wire format ---------------------------------------------------------

_TOKEN_REJECTED = (
    "TD SYNNEX refused the client id or secret{code}. New TD SYNNEX credentials can take up to "
    "10 minutes to start working, so try again shortly if they were just created. Sandbox and "
    "production credentials are not interchangeable: check that these were created for the "
    "chosen environment and region."
)
_NO_API_ACCESS = (
    "TD SYNNEX issued a token but refused the call (403). In the Developer Portal, check the "
    "API permissions of the Application behind these credentials: 'End Customers - List "
    "Customers', 'Subscriptions - List Customers' Subscriptions', 'Subscriptions - Get "
    "Subscription Details' and the seat-change permission."
)
# Guards against a `total` that lies: far more than any reseller's customers or lines.
_MAX_PAGES = 200
_PAGE_WORKERS = 4
_MAX_DETAIL = 200

_Record = dict[str, Any]


@dataclass(frozen=True)
class StellrEndpoints:
    """Where one environment and region of Stellr answer."""

    api_base_url: str
    token_url: str


def stellr_endpoints(
    environment: str,
    region: str,
    *,
    api_base_url_override: str | None = None,
    token_url_override: str | None = None,
) -> StellrEndpoints:
    """The hosts of an environment and region; the overrides (settings) win when given.

    Raises InvalidInput (field "environment" or "region") for one this client does not know.
    """
    known = _Wire.HOSTS.keys()
    if environment not in {env for env, _ in known}:
        raise InvalidInput("environment", f"unknown TD SYNNEX environment {environment!r}")
    if (environment, region) not in known:
        raise InvalidInput("region", f"unknown TD SYNNEX region {region!r}")
    api_base_url, token_url = _Wire.HOSTS[(environment, region)]
    return StellrEndpoints(
        api_base_url=(api_base_url_override or api_base_url).rstrip("/"),
        token_url=token_url_override or token_url,
    )


# --- tokens ---------------------------------------------------------------------------------

_TokenKey = tuple[str, str, str]
_Fetch = Callable[[], tuple[SecretStr, float]]


@dataclass(frozen=True)
class _CachedToken:
    token: SecretStr
    expires_at: float


class StellrTokenCache:
    """Bearer tokens shared by every client of the process; build one and pass it around.

    Keyed by token URL, client id and a hash of the secret, so a rotated secret never reuses
    the old one's token. A token is kept until `margin` seconds before it expires.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, margin: float = 60.0
    ) -> None:
        self._clock = clock
        self._margin = margin
        self._tokens: dict[_TokenKey, _CachedToken] = {}
        self._locks: dict[_TokenKey, threading.Lock] = {}
        self._guard = threading.Lock()

    def __repr__(self) -> str:
        return f"StellrTokenCache(entries={len(self._tokens)})"

    @staticmethod
    def key(token_url: str, client_id: str, client_secret: SecretStr) -> _TokenKey:
        digest = hashlib.sha256(client_secret.get_secret_value().encode()).hexdigest()
        return (token_url, client_id, digest)

    def get(self, key: _TokenKey, fetch: _Fetch, *, stale: SecretStr | None = None) -> SecretStr:
        """The cached token, or a new one from `fetch` when none is valid or it is `stale`."""
        cached = self._valid(key, stale)
        if cached is not None:
            return cached
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        # One fetch per key at a time: threads that lose the race take the winner's token.
        with lock:
            cached = self._valid(key, stale)
            if cached is not None:
                return cached
            token, expires_in = fetch()
            self._tokens[key] = _CachedToken(token, self._clock() + expires_in - self._margin)
            return token

    def _valid(self, key: _TokenKey, stale: SecretStr | None) -> SecretStr | None:
        entry = self._tokens.get(key)
        if entry is None or entry.expires_at <= self._clock() or entry.token == stale:
            return None
        return entry.token


class _BearerAuth(httpx.Auth):
    """Adds the bearer token; on a 401 takes a fresh token and sends the request once more."""

    # Read the 401 before renewing, so its connection goes back to the pool first.
    requires_response_body = True

    def __init__(self, token: Callable[[SecretStr | None], SecretStr]) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._token(None)
        request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
        response = yield request
        if response.status_code == httpx.codes.UNAUTHORIZED:
            # Stellr tokens can be revoked before `expires_in`; a second 401 is final.
            _log.debug("synnex 401: renewing the token once")
            token = self._token(token)
            request.headers["Authorization"] = f"Bearer {token.get_secret_value()}"
            yield request


# --- the client -----------------------------------------------------------------------------


class StellrClient:
    """One reseller's view of Stellr. Thread-safe; reads retry transient errors."""

    def __init__(
        self,
        *,
        http: httpx.Client,
        endpoints: StellrEndpoints,
        client_id: str,
        client_secret: SecretStr,
        token_cache: StellrTokenCache,
        page_size: int = 100,
    ) -> None:
        if not 1 <= page_size <= _Wire.MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{_Wire.MAX_PAGE_SIZE}")
        self._http = http
        self._endpoints = endpoints
        self._client_id = client_id
        self._client_secret = client_secret
        self._tokens = token_cache
        self._token_key = token_cache.key(endpoints.token_url, client_id, client_secret)
        self._page_size = page_size
        self._auth = _BearerAuth(self._token)

    def __repr__(self) -> str:
        return (
            f"StellrClient(api_base_url={self._endpoints.api_base_url!r}, "
            f"client_id={self._client_id!r})"
        )

    # -- public API

    @retry_transient()
    def check_token(self) -> None:
        """Obtain a token (a cached one when valid), proving the credentials.

        Raises InvalidCredentials, Throttled, Unavailable, UpstreamRejected.
        """
        self._token(None)

    def count_customers(self) -> int:
        """The number of customers these credentials see, in one cheap read.

        Raises InvalidCredentials, NoApiAccess, Throttled, Unavailable, UpstreamRejected.
        """
        _, total = self._page(_Wire.CUSTOMERS, 1, 1)
        if total is None:
            raise UpstreamRejected(SERVICE, "the customer list carries no total")
        return total

    def list_customers(self) -> list[Customer]:
        """Every customer of the reseller; records that cannot be read are skipped.

        Raises InvalidCredentials, NoApiAccess, Throttled, Unavailable, UpstreamRejected.
        """
        records = self._walk(_Wire.CUSTOMERS)
        return [c for c in (_parse_customer(r) for r in records) if c is not None]

    def get_customer(self, customer_no: str) -> Customer:
        """One customer.

        Raises UpstreamNotFound, InvalidCredentials, NoApiAccess, Throttled, Unavailable,
        UpstreamRejected (also when the record cannot be read).
        """
        body = self._read(_path(_Wire.CUSTOMER, customer_no=customer_no))
        customer = _parse_customer(_record_of(body))
        if customer is None:
            raise _unreadable("customer", body)
        return customer

    def list_subscriptions(self, customer_no: str) -> list[Subscription]:
        """Every subscription line of a customer, of every vendor; unreadable ones skipped.

        Raises UpstreamNotFound, InvalidCredentials, NoApiAccess, Throttled, Unavailable,
        UpstreamRejected.
        """
        records = self._walk(_path(_Wire.SUBSCRIPTIONS, customer_no=customer_no))
        # The customer's own listing: its lines are the customer's, named or not.
        parsed = (_parse_subscription(r, listed_for=customer_no) for r in records)
        return [s for s in parsed if s is not None]

    def get_subscription(self, customer_no: str, subscription_id: str) -> Subscription:
        """One subscription line.

        Raises UpstreamNotFound, InvalidCredentials, NoApiAccess, Throttled, Unavailable,
        UpstreamRejected (also when the record, its quantity say, cannot be read).
        """
        path = _path(_Wire.SUBSCRIPTION, customer_no=customer_no, subscription_id=subscription_id)
        body = self._read(path)
        # One record proves its owner only by naming it: left None otherwise (the purchase
        # then confirms it through the customer's listing).
        subscription = _parse_subscription(_record_of(body), listed_for=None)
        if subscription is None:
            raise _unreadable("subscription", body)
        return subscription

    def change_seats(self, customer_no: str, subscription_id: str, quantity: int) -> str | None:
        """Set the line's quantity to `quantity` (the new total); the operationId, if any.

        Never retried here: Stellr has no idempotency key. On Unavailable the change may or
        may not have happened, so re-read the quantity before deciding to try again.
        Raises InvalidInput (quantity), UpstreamNotFound, InvalidCredentials, NoApiAccess,
        Throttled, Unavailable, UpstreamRejected.
        """
        if quantity < 1:
            raise InvalidInput("quantity", "must be a whole number of at least 1")
        path = _path(_Wire.CHANGE_SEATS, customer_no=customer_no, subscription_id=subscription_id)
        try:
            body = self._call("POST", path, json=_Wire.change_seats_body(quantity))
        except Unavailable as exc:
            raise Unavailable(
                SERVICE,
                f"seat change outcome unknown ({exc.detail}): re-read the quantity before "
                "trying again",
                status_code=exc.status_code,
                request_id=exc.request_id,
            ) from exc
        data = body.get(_Wire.DATA)
        operation_id = _first(data, _Wire.OPERATION_ID) if isinstance(data, dict) else None
        _log.info(
            "event=synnex_seats_changed customer=%s subscription=%s quantity=%s operation=%s "
            "requestId=%s",
            customer_no,
            subscription_id,
            quantity,
            operation_id,
            body.get(_Wire.REQUEST_ID),
        )
        return None if operation_id is None else str(operation_id)

    def get_operation_status(self, operation_id: str) -> str:
        """The operation's state: "completed", "in_progress", "failed", or another, lower-cased.

        Raises UpstreamNotFound, InvalidCredentials, NoApiAccess, Throttled, Unavailable,
        UpstreamRejected.
        """
        body = self._read(_path(_Wire.OPERATION, operation_id=operation_id))
        status = _first(_record_of(body), _Wire.OPERATION_STATUS)
        if status is None:
            raise _unreadable("operation", body)
        state = "_".join(str(status).strip().lower().replace("-", " ").split())
        return _Wire.OPERATION_STATES.get(state, state)

    # -- tokens

    def _token(self, stale: SecretStr | None) -> SecretStr:
        return self._tokens.get(self._token_key, self._fetch_token, stale=stale)

    def _fetch_token(self) -> tuple[SecretStr, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret.get_secret_value(),
        }
        response = self._send("POST", self._endpoints.token_url, "token", data=form)
        body, request_id = _answer(response, "POST", "token")
        if response.status_code in (400, 401, 403):
            # Only the OAuth error code is repeated: free text could echo what was sent.
            code = body.get(_Wire.TOKEN_ERROR)
            code_text = f" ({code})" if isinstance(code, str) and code.isidentifier() else ""
            _log.warning(
                "event=synnex_token_refused status=%s requestId=%s",
                response.status_code,
                request_id,
            )
            raise InvalidCredentials(
                SERVICE,
                _TOKEN_REJECTED.format(code=code_text),
                status_code=response.status_code,
                request_id=request_id,
            )
        _raise_for_status(response, body, request_id, "POST", "token")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise UpstreamRejected(
                SERVICE, "the token answer carries no access_token", request_id=request_id
            )
        expires_in = _number(body.get("expires_in"))
        return SecretStr(token), (
            _Wire.TOKEN_LIFETIME_IF_UNSAID if expires_in is None else expires_in
        )

    # -- requests

    def _send(self, method: str, url: str, what: str, **kwargs: Any) -> httpx.Response:
        """One request; transport trouble becomes Unavailable. `what` is safe to log."""
        try:
            return self._http.request(method, url, **kwargs)
        except httpx.TimeoutException as exc:
            _log.warning("event=synnex_timeout method=%s path=%s", method, what)
            raise Unavailable(SERVICE, f"{method} {what} timed out") from exc
        except httpx.TransportError as exc:
            _log.warning("event=synnex_unreachable method=%s path=%s", method, what)
            raise Unavailable(SERVICE, f"{method} {what} failed: {type(exc).__name__}") from exc

    def _call(self, method: str, path: str, **kwargs: Any) -> _Record:
        url = self._endpoints.api_base_url + path
        response = self._send(method, url, path, auth=self._auth, **kwargs)
        body, request_id = _answer(response, method, path)
        _raise_for_status(response, body, request_id, method, path)
        return body

    @retry_transient()
    def _read(self, path: str, params: Mapping[str, int] | None = None) -> _Record:
        return self._call("GET", path, params=params)

    def _page(self, path: str, page_no: int, page_size: int) -> tuple[list[_Record], int | None]:
        body = self._read(path, {_Wire.PAGE_NO: page_no, _Wire.PAGE_SIZE: page_size})
        data = body.get(_Wire.DATA)
        records = data.get(_Wire.RECORDS) if isinstance(data, dict) else None
        if not isinstance(data, dict) or not isinstance(records, list):
            raise _unreadable("list", body)
        readable = [r for r in records if isinstance(r, dict)]
        for _ in range(len(records) - len(readable)):
            _skip("record", "not an object")
        total = _number(data.get(_Wire.TOTAL))
        return readable, None if total is None else int(total)

    def _walk(self, path: str) -> list[_Record]:
        """Every record of a list: page 1, then the other pages a few at a time, in order.

        Stops when `total` records are held or a page comes back short (an empty page
        included), so a `total` that lies costs at most one batch of extra calls.
        """
        size = self._page_size
        records, total = self._page(path, 1, size)
        if len(records) < size or (total is not None and len(records) >= total):
            return records
        last = _MAX_PAGES if total is None else math.ceil(total / size)
        if last > _MAX_PAGES:
            raise UpstreamRejected(
                SERVICE, f"{path}: total {total} needs more than {_MAX_PAGES} pages"
            )
        page_no = 2
        with ThreadPoolExecutor(max_workers=_PAGE_WORKERS) as pool:
            while page_no <= last:
                batch = range(page_no, min(page_no + _PAGE_WORKERS, last + 1))
                for page, _ in pool.map(lambda n: self._page(path, n, size), batch):
                    records.extend(page)
                    if len(page) < size:
                        return records
                page_no = batch.stop
        if total is None:
            raise UpstreamRejected(SERVICE, f"{path}: still full after {_MAX_PAGES} pages")
        return records


# --- parsing --------------------------------------------------------------------------------


def _path(template: str, **ids: str) -> str:
    # Ids come from users and stored records: escape them so they stay one path segment.
    return template.format(**{name: quote(str(value), safe="") for name, value in ids.items()})


def _answer(response: httpx.Response, method: str, what: str) -> tuple[_Record, str | None]:
    """The JSON body ({} when there is none) and the requestId; logs the call at DEBUG."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    request_id = _request_id(response, body)
    _log.debug(
        "synnex %s %s status=%s requestId=%s", method, what, response.status_code, request_id
    )
    return body, request_id


def _request_id(response: httpx.Response, body: Mapping[str, Any]) -> str | None:
    from_body = _request_id_of(body)
    if from_body is not None:
        return from_body
    return next(
        (response.headers[h] for h in _Wire.REQUEST_ID_HEADERS if h in response.headers), None
    )


def _raise_for_status(
    response: httpx.Response,
    body: Mapping[str, Any],
    request_id: str | None,
    method: str,
    what: str,
) -> None:
    status = response.status_code
    error_message = body.get(_Wire.ERROR_MESSAGE)
    # A 2xx counts as an error only when errorMessage says something: some answers carry an
    # empty or null one.
    if status < 300 and not error_message:
        return
    _log.warning(
        "event=synnex_error method=%s path=%s status=%s requestId=%s",
        method,
        what,
        status,
        request_id,
    )
    where = f"{method} {what}"
    kwargs: dict[str, Any] = {"status_code": status, "request_id": request_id}
    if status < 300:
        raise UpstreamRejected(SERVICE, f"{where}: {_short(error_message)}", **kwargs)
    if status == 401:
        raise InvalidCredentials(
            SERVICE, f"{where}: TD SYNNEX refused a freshly issued token (401)", **kwargs
        )
    if status == 403:
        raise NoApiAccess(SERVICE, _NO_API_ACCESS, **kwargs)
    if status == 404:
        raise UpstreamNotFound(SERVICE, f"{where}: not found", **kwargs)
    if status == 429:
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        raise Throttled(SERVICE, f"{where}: throttled (429)", retry_after=retry_after, **kwargs)
    if status >= 500:
        raise Unavailable(SERVICE, f"{where}: TD SYNNEX answered {status}", **kwargs)
    text = _first(body, _Wire.ERROR_TEXT)
    suffix = f": {_short(text)}" if text is not None else ""
    raise UpstreamRejected(SERVICE, f"{where}: rejected ({status}){suffix}", **kwargs)


def _short(value: object) -> str:
    # Upstream text goes into messages shown to users: one line, bounded.
    text = " ".join(str(value).split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _unreadable(what: str, body: Mapping[str, Any]) -> UpstreamError:
    return UpstreamRejected(
        SERVICE, f"the {what} answer has an unexpected shape", request_id=_request_id_of(body)
    )


def _request_id_of(body: Mapping[str, Any]) -> str | None:
    value = body.get(_Wire.REQUEST_ID)
    return None if value is None else str(value)


def _record_of(body: _Record) -> _Record:
    data = body.get(_Wire.DATA)
    return data if isinstance(data, dict) else body


def _first(record: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    """The value of the first alias present and not blank."""
    for name in names:
        value = record.get(name)
        if value is not None and value != "":
            return value
    return None


def _text(record: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    value = _first(record, names)
    return None if value is None else str(value).strip() or None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _whole_number(value: object) -> int | None:
    """12, 12.0, "12" or "12.0" -> 12; anything else (12.5, -1, "twelve", True) -> None."""
    number = _number(value)
    if number is None or number < 0 or not number.is_integer():
        return None
    return int(number)


def _date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _skip(kind: str, reason: str, record_id: object = None) -> None:
    # Ids and reasons only: a record may hold customer details that do not belong in logs.
    _log.warning("event=synnex_record_skipped kind=%s id=%s reason=%s", kind, record_id, reason)


def _parse_customer(record: _Record) -> Customer | None:
    customer_no = _text(record, _Wire.CUSTOMER_NO)
    if customer_no is None:
        _skip("customer", "no customer number")
        return None
    known = {
        *_Wire.CUSTOMER_NO, *_Wire.CUSTOMER_NAME, *_Wire.CUSTOMER_DOMAIN, *Customer.model_fields,
    }
    extra = {k: v for k, v in record.items() if k not in known}
    domain = _text(record, _Wire.CUSTOMER_DOMAIN)
    try:
        return Customer(
            customer_no=customer_no, name=_text(record, _Wire.CUSTOMER_NAME),
            domain=domain.lower() if domain else None, **extra,
        )
    except ValidationError:
        _skip("customer", "invalid fields", customer_no)
        return None


def _parse_subscription(record: _Record, *, listed_for: str | None) -> Subscription | None:
    subscription_id = _text(record, _Wire.SUBSCRIPTION_ID)
    if subscription_id is None:
        _skip("subscription", "no id")
        return None
    # Without a trustworthy quantity the line is dropped rather than read as 0: a purchase
    # sets the new total from it, and a wrong 0 would turn a seat add into a cut.
    quantity = _whole_number(_first(record, _Wire.QUANTITY))
    if quantity is None:
        _skip("subscription", "quantity missing or not a whole number", subscription_id)
        return None
    product_name = _text(record, _Wire.PRODUCT_NAME) or ""
    try:
        return Subscription(
            id=subscription_id,
            customer_no=_text(record, _Wire.CUSTOMER_NO) or listed_for,
            contract_no=_text(record, _Wire.CONTRACT_NO),
            vendor=_text(record, _Wire.VENDOR),
            product_name=product_name,
            part_number=_text(record, _Wire.PART_NUMBER),
            quantity=quantity,
            status=_text(record, _Wire.STATUS) or "",
            billing_frequency=_text(record, _Wire.BILLING_FREQUENCY),
            term=derive_term(product_name, _text(record, _Wire.TERM)),
            renewal_date=_date(_first(record, _Wire.RENEWAL_DATE)),
            raw=dict(record),
        )
    except ValidationError:
        _skip("subscription", "invalid fields", subscription_id)
        return None
