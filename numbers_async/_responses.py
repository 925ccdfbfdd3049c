"""Pure response handling: a 2xx body into models, any other answer into an error.

``decode`` and ``decode_list`` turn a success body into models through the one converter
(a body that does not fit is a ``DecodeError`` naming the field); ``error_for`` maps a
status, its headers and body (the API's error envelope, problem+json, HTML or nothing)
onto the ``ApiError`` tree, with ``Retry-After`` parsed once. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar, cast

from numbers_async import _json
from numbers_async._convert import FieldError, structure_hook
from numbers_async._headers import Headers
from numbers_async._retry import parse_retry_after
from numbers_async.errors import (
    ApiError,
    AuthenticationError,
    DecodeError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    UnexpectedRedirectError,
)

T = TypeVar("T")

# --- responses ---------------------------------------------------------------------------------


def loads_object(status: int, body: bytes) -> dict[str, Any]:
    """A 2xx body parsed: a JSON object, else ``DecodeError``."""
    try:
        data = _json.loads(body)
    except ValueError as exc:
        raise DecodeError(f"response is not valid JSON ({exc})", status=status, body=body) from None
    if not isinstance(data, dict):
        raise DecodeError("response is not a JSON object", status=status, body=body)
    return data


def decode(status: int, body: bytes, cls: type[T]) -> T:
    """Decode a 2xx body into ``cls``; a body that does not fit is a ``DecodeError``."""
    return decode_object(status, body, loads_object(status, body), cls)


def decode_object(
    status: int, body: bytes, data: dict[str, Any], cls: type[T], *, consume: bool = False
) -> T:
    """``decode`` of a body already parsed into ``data`` (``loads_object``).

    ``consume``: ``data`` was parsed for this decode only, so its arrays of models are
    emptied as they are decoded and each item's JSON is freed as soon as its model is
    built (a listing page: the page never holds both in full, which keeps the garbage
    collector from running, and promoting both, once or twice a page).
    """
    hook = structure_hook(cls)
    try:
        if consume:
            return cast("Callable[[Any, type[T], bool], T]", hook)(data, cls, True)
        return hook(data, cls)
    except FieldError as exc:  # names the path, the expected type and what came
        raise DecodeError(
            f"cannot decode {cls.__name__}: {exc}", status=status, body=body
        ) from None
    except Exception as exc:  # a converter fault: still "bad body" to the caller
        raise DecodeError(f"cannot decode {cls.__name__}: {exc}", status=status, body=body) from exc


def decode_list(status: int, body: bytes, cls: type[T], key: str) -> list[T]:
    """Decode a 2xx body holding a list of ``cls`` under ``key`` (absent or null: empty)."""
    data = loads_object(status, body)
    items = data.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        error = FieldError("an array", items)
        error.segments.append(key)
        raise DecodeError(f"{key} is not a JSON array ({error})", status=status, body=body)
    hook = structure_hook(cls)
    decoded = []
    for index, item in enumerate(items):
        try:
            decoded.append(hook(item, cls))
        except FieldError as exc:  # as in decode, naming the item
            exc.segments += [f"[{index}]", key]
            raise DecodeError(f"cannot decode {key}[]: {exc}", status=status, body=body) from None
        except Exception as exc:  # as in decode
            raise DecodeError(f"cannot decode {key}[]: {exc}", status=status, body=body) from exc
    return decoded


_ERROR_CLASSES: Final[dict[int, type[ApiError]]] = {
    400: InvalidArgumentError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitedError,
}


def error_for(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    operation: str | None = None,
    method: str | None = None,
    path: str | None = None,
) -> ApiError:
    """Map an error response (JSON envelope, problem+json, HTML or empty) to an ``ApiError``.

    ``operation``, ``method`` and ``path`` (no query string) say which request it answered.
    """
    code, status_text, message, details = _parse_envelope(body)
    headers = headers if isinstance(headers, Headers) else Headers(headers)  # any case
    cls = _ERROR_CLASSES.get(status) or (ServerError if status >= 500 else ApiError)
    if 300 <= status < 400:
        cls = UnexpectedRedirectError
        location = headers.get("Location")
        target = location.split("?", 1)[0] if location else "nowhere"
        message = f"redirect to {target} not followed (the client never follows redirects)"
    kwargs: dict[str, Any] = {
        "code": code,
        "status_text": status_text,
        "message": message,
        "details": details,
        "body": body,
        "headers": headers,
        # Parsed here, once: the retry decision reads ``error.retry_after``.
        "retry_after": parse_retry_after(headers.get("Retry-After")),
        "operation": operation,
        "method": method,
        "path": path,
    }
    return cls(status, **kwargs)


def _parse_envelope(body: bytes) -> tuple[int | None, str, str, list[dict[str, Any]]]:
    try:
        data = _json.loads(body) if body.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        code = err.get("code")
        details = [d for d in err.get("details") or () if isinstance(d, dict)]
        return (
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            str(err.get("status") or ""),
            str(err.get("message") or ""),
            details,
        )
    if isinstance(data, dict) and ("title" in data or "detail" in data):  # RFC 7807 problem+json
        text = ": ".join(str(data[k]) for k in ("title", "detail") if data.get(k))
        return None, "", text, []
    return None, "", _excerpt(body), []


def _excerpt(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", "replace")
    text = re.sub(r"<[^>]*>", " ", text)  # a gateway's HTML page: keep the words
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
