"""Pure decisions of the onboarding workflow: parsing events, backoff, history, outcomes."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from shared.models import (
    TERMINAL_STATES,
    CountryCode,
    FailureReason,
    Guid,
    LicenseState,
    LicenseStatus,
    OrgId,
    Transition,
)

# The audit trail of one licence keeps its first and its latest entries within this many, so
# that a wait of a day (a look every 15 minutes) never outgrows a table property.
MAX_HISTORY = 60

_UPN = re.compile(r"^[^@\s/\\#?]+@[^@\s/\\#?]+\.[^@\s/\\#?]+$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


class LicenseRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    sku_id: Guid
    synnex_subscription_id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
        | None
    ) = None


class OnboardingEvent(BaseModel):
    """The message on `onboarding-events` (contract section 5)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    org_id: OrgId
    user: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
    usage_location: CountryCode | None = None
    licenses: Annotated[list[LicenseRequest], Field(min_length=1, max_length=5)]
    # Set by the app itself when it puts the event back on the queue to look again later.
    attempt: Annotated[int, Field(ge=0, le=100_000)] = 0

    @field_validator("event_id")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable():
            raise ValueError("must be printable text")
        return value

    @field_validator("user")
    @classmethod
    def _upn_or_object_id(cls, value: str) -> str:
        if not (_UPN.fullmatch(value) or _GUID.fullmatch(value)):
            raise ValueError("must be a user principal name or an object id (GUID)")
        return value

    @field_validator("licenses")
    @classmethod
    def _distinct_skus(cls, value: list[LicenseRequest]) -> list[LicenseRequest]:
        if len({item.sku_id for item in value}) != len(value):
            raise ValueError("each sku_id may appear once")
        return value

    def request_key(self) -> dict[str, Any]:
        """What identifies the hire's request, to tell a redelivery from a reused event_id."""
        return self.model_dump(mode="json", exclude={"attempt"})


class InvalidEvent(Exception):
    """A message that is not a valid event; `field` names what is wrong."""

    def __init__(self, field: str, detail: str, event_id: str | None) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail
        self.event_id = event_id


def parse_event(body: bytes | str) -> OnboardingEvent:
    """The event in a queue message, plain JSON or base64 of it; InvalidEvent otherwise."""
    data = _decode(body)
    candidate = data.get("event_id")
    # Only an id that could be a valid one names the record of an invalid event; another (a
    # lone surrogate cannot even be stored) leaves the naming to the caller.
    event_id = (
        candidate
        if isinstance(candidate, str) and 0 < len(candidate) <= 128 and candidate.isprintable()
        else None
    )
    try:
        return OnboardingEvent.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidEvent(field, first["msg"], event_id) from None


def _decode(body: bytes | str) -> dict[str, Any]:
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidEvent("body", "is not UTF-8 text", None) from None
    else:
        text = body
    data = _json_object(text)
    if data is None:
        try:
            decoded = base64.b64decode(text.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise InvalidEvent("body", "is neither JSON nor base64-encoded JSON", None) from None
        data = _json_object(decoded)
        if data is None:
            raise InvalidEvent("body", "is base64 of something that is not a JSON object", None)
    return data


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def backoff_delay(attempt: int, *, initial: float, maximum: float, jitter: float) -> float:
    """Seconds before look number `attempt` (0-based): doubling from `initial`, capped at
    `maximum`, then scaled into its upper half by `jitter` in [0, 1) so looks spread out."""
    base = min(maximum, initial * float(2 ** min(attempt, 32)))
    return base * (0.5 + 0.5 * jitter)


def transition(
    status: LicenseStatus, *, state: LicenseState, step: str, at: datetime,
    reason: FailureReason | None = None, detail: str | None = None,
) -> LicenseStatus:
    """`status` moved to `state`, with the change added to its audit trail."""
    entry = Transition(at=at.isoformat(), step=step, state=state, reason=reason, detail=detail)
    history = [*status.history, entry]
    if len(history) > MAX_HISTORY:
        history = history[:10] + history[-(MAX_HISTORY - 10):]
    return status.model_copy(
        update={"state": state, "reason": reason, "detail": detail, "history": history}
    )


def is_terminal(state: str) -> bool:
    return state in TERMINAL_STATES


def event_outcome(states: Sequence[str]) -> str:
    """in_progress while any licence is open; failed if any failed; else completed."""
    if not all(is_terminal(s) for s in states):
        return "in_progress"
    return "failed" if "failed" in states else "completed"
