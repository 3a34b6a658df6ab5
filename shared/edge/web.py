"""The HTTP edge: JSON bodies in, JSON or RFC 9457 problem details out, errors mapped once."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, TypeVar

import azure.functions as func
from pydantic import BaseModel, ValidationError

from shared.errors import (
    ConfigurationError,
    InvalidInput,
    NotFound,
    Transient,
    UpstreamError,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
PROBLEM_TYPE = "https://msp-licensing.example/problems/"

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[func.HttpRequest], func.HttpResponse]


def json_response(
    body: BaseModel | list[Any] | dict[str, Any], status: int = 200,
    headers: dict[str, str] | None = None,
) -> func.HttpResponse:
    if isinstance(body, BaseModel):
        text = body.model_dump_json(exclude_none=False)
    else:
        text = json.dumps(body, default=_dump_model)
    return func.HttpResponse(
        text, status_code=status, mimetype="application/json", headers=headers
    )


def _dump_model(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(type(value).__name__)


def problem(
    status: int, detail: str, *, kind: str | None = None,
    headers: dict[str, str] | None = None, **extra: Any,
) -> func.HttpResponse:
    """An `application/problem+json` response (RFC 9457)."""
    title = HTTPStatus(status).phrase
    body = {
        "type": PROBLEM_TYPE + (kind or title.lower().replace(" ", "-")),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return func.HttpResponse(
        json.dumps(body), status_code=status, mimetype="application/problem+json",
        headers=headers,
    )


def parse_body(req: func.HttpRequest, model: type[M]) -> M:
    """The request body as `model`; InvalidInput naming the field at fault."""
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidInput("body", f"larger than {MAX_BODY_BYTES} bytes", status=413)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("body", "is not valid JSON", status=400) from None
    if not isinstance(data, dict):
        raise InvalidInput("body", "must be a JSON object", status=400)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc) from None


def invalid_input(exc: ValidationError, *, status: int = 422) -> InvalidInput:
    """The first error of a pydantic validation as InvalidInput; never echoes the input."""
    first = exc.errors(include_input=False, include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    return InvalidInput(field, first["msg"], status=status)


def flag(req: func.HttpRequest, name: str) -> bool:
    """A boolean query parameter: true/1/yes or false/0/no (absent: false)."""
    value = (req.params.get(name) or "false").strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no", ""):
        return False
    raise InvalidInput(name, "must be true or false", status=400)


def handles_errors(handler: Handler) -> Handler:
    """Map the error taxonomy to HTTP answers; nothing else escapes as a stack trace."""

    @functools.wraps(handler)
    def wrapper(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return handler(req)
        except InvalidInput as exc:
            return problem(exc.status, f"{exc.field}: {exc.detail}", kind="invalid-input",
                           field=exc.field)
        except NotFound as exc:
            return problem(404, str(exc), kind="not-found")
        except Transient as exc:
            retry_after = max(1, round(exc.retry_after)) if exc.retry_after else 30
            log.warning("upstream unavailable service=%s error=%s", exc.service, exc)
            return problem(
                503, f"{exc.service} is unavailable or throttling; try again later",
                kind="upstream-unavailable", headers={"Retry-After": str(retry_after)},
                service=exc.service, request_id=exc.request_id,
            )
        except UpstreamError as exc:
            log.warning("upstream error service=%s error=%s", exc.service, exc)
            return problem(502, str(exc), kind="upstream-error", service=exc.service,
                           request_id=exc.request_id)
        except ConfigurationError as exc:
            log.error("configuration error: %s", exc)
            return problem(500, str(exc), kind="configuration")
        except Exception:
            log.exception("unhandled error in %s", handler.__name__)
            return problem(500, "internal error; see the function logs", kind="internal")

    return wrapper
