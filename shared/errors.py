"""The error taxonomy, in one place.

Three families, each mapped once at the edge:

- the caller's fault (`InvalidInput`, `NotFound`): a 4xx, never retried;
- transient upstream or storage trouble (`Transient` and its subclasses): a 503 over HTTP, a
  re-raise (so the queue delivers again) in a queue function;
- a permanent upstream fault (`UpstreamError` that is not transient): a 502 over HTTP,
  recorded as failed in the workflow.

No exception carries a secret: messages are built from field names, ids and upstream error
codes only.
"""

from __future__ import annotations


class AppError(Exception):
    """Base of every error this app raises on purpose."""


class ConfigurationError(AppError):
    """A setting is missing or malformed; the message names the setting."""

    def __init__(self, setting: str, detail: str) -> None:
        super().__init__(f"setting {setting}: {detail}")
        self.setting = setting
        self.detail = detail


class InvalidInput(AppError):
    """The caller sent something malformed; `field` names what is wrong."""

    def __init__(self, field: str, detail: str, *, status: int = 422) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail
        self.status = status


class NotFound(AppError):
    """A thing the caller named does not exist (org, variable, event, credentials)."""

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} {key!r} not found")
        self.what = what
        self.key = key


class UpstreamError(AppError):
    """Synnex or Graph answered with an error. `service` is 'synnex' or 'graph'."""

    def __init__(
        self,
        service: str,
        detail: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        suffix = f" (requestId {request_id})" if request_id else ""
        super().__init__(f"{service}: {detail}{suffix}")
        self.service = service
        self.detail = detail
        self.status_code = status_code
        self.request_id = request_id


class InvalidCredentials(UpstreamError):
    """The token endpoint refused the client id or secret."""


class NoApiAccess(UpstreamError):
    """A token was issued, but the API refused the call (403): missing API permissions."""


class UpstreamNotFound(UpstreamError):
    """The upstream answered 404 for a customer, subscription, user or operation."""


class UpstreamRejected(UpstreamError):
    """A 4xx other than the above, or a 2xx whose body carries `errorMessage`."""


class Transient(UpstreamError):
    """Worth trying again later: the work is delayed, never lost."""

    def __init__(
        self,
        service: str,
        detail: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(service, detail, status_code=status_code, request_id=request_id)
        self.retry_after = retry_after


class Throttled(Transient):
    """429: the upstream asked us to slow down; `retry_after` is in seconds when it said."""


class Unavailable(Transient):
    """5xx, a timeout, or a connection that could not be made."""


class NoFreeSeat(UpstreamRejected):
    """Graph refused an assignment: the SKU has no available licences."""


class UsageLocationMissing(UpstreamRejected):
    """Graph refused an assignment: the user has no usage location."""


class StaleRecord(AppError):
    """A ledger or lock row changed since it was read (ETag mismatch): re-read and decide again."""
