"""``client.request``: a request to an endpoint the client does not wrap, described by its caller.

Pure, like ``_operations``: the checks of a method, a path below the project, query
parameters and a JSON body, the ``GenericRequest`` they build, and the decoder of its
answer. How it may be retried, and how it ends once an attempt may have acted,
``_retry.generic_rules`` decides from its method and what the caller said
(``idempotent``); then it goes down the pipeline every operation goes down
(``Sender.send_raw``), as the operation ``"request"``.

The rules a path must keep (docs/guides/raw-requests.md#paths-parameters-and-bodies): it
stays below ``/v1/projects/{projectId}/``, whatever a server or a proxy decodes. So no
URL, no leading ``/``, no ``.`` or ``..`` segment, no empty segment, no backslash, and no
``/``, backslash or control character hidden in an escape; ``?`` and ``#`` belong in
``params``, and a ``{`` or ``}`` is a template nobody filled in. What a segment holds is
percent-encoded where RFC 3986 requires it; an escape already there (``%20``) is kept.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote, unquote, unquote_to_bytes

import attrs

from numbers_async import _json
from numbers_async._operations import Op, Request
from numbers_async._redact import redact_secrets
from numbers_async._retry import Safety, generic_rules
from numbers_async.errors import DecodeError, InvalidInputError

__all__ = [
    "MAX_JSON_DEPTH",
    "METHODS",
    "GenericRequest",
    "build",
    "check_path",
    "decode_any",
    "encode_body",
    "encode_params",
]

#: The methods ``client.request`` sends.
METHODS: Final = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
#: The methods that send no body: they only read.
_NO_BODY: Final = ("GET", "HEAD")
#: How deep a JSON body may nest: deeper is far more likely a value holding itself.
MAX_JSON_DEPTH: Final = 64

#: What a path segment may hold as it is, besides letters, digits and ``-._~``: RFC 3986's
#: sub-delims, ``:`` (``numberOrders:lookupNumberRequirements``) and ``@``. The ``+`` of a
#: phone number stays a ``+``, as in every path the client sends.
_SEGMENT_SAFE: Final = "!$&'()*+,;=:@"
_ESCAPE: Final = re.compile(r"%[0-9A-Fa-f]{2}")
_URL: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BYTES: Final = re.compile(rb"[\x00-\x1f\x7f]")
_PHONE: Final = re.compile(r"\+[1-9]\d{1,14}")
_INT64_MIN: Final = -(2**63)
_UINT64_MAX: Final = 2**64 - 1
_PATH_RULE: Final = "must be a path below the project, such as 'numberOrders/ID'"


@attrs.define(eq=False)
class GenericRequest(Request):
    """A ``Request`` built by ``client.request``: its retry rules are its caller's word."""

    rules: tuple[Safety, bool] = attrs.field(kw_only=True)  # _retry.generic_rules

    @property
    def safety(self) -> Safety:
        """How this request may be retried, as its caller said."""
        return self.rules[0]

    @property
    def changes_state(self) -> bool:
        """Whether this request may change state, as its caller said."""
        return self.rules[1]


def build(
    method: object, path: object, *, params: object, json: object, idempotent: object
) -> GenericRequest:
    """The request ``client.request(method, path, ...)`` sends; ``InvalidInputError`` if bad."""
    verb = check_method(method)
    rules = generic_rules(verb, idempotent)
    encoded, phone = check_path(path)
    query = encode_params(params)
    body, shown = encode_body(json, verb)
    return GenericRequest(
        Op.REQUEST,
        verb,
        "/" + encoded,
        query,
        body=body,
        json=shown,
        phone_number=phone,
        rules=rules,
    )


def check_method(value: object) -> str:
    """One of ``METHODS``, upper case as HTTP spells them."""
    if not isinstance(value, str) or value not in METHODS:
        allowed = ", ".join(repr(m) for m in METHODS)
        raise InvalidInputError("method", f"must be one of {allowed}", value)
    return value


def check_path(value: object) -> tuple[str, str | None]:
    """``value`` percent-encoded, and the phone number in it if any (for redacting it)."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError("path", f"{_PATH_RULE} (a non-empty string)", value)
    if _CONTROL.search(value):
        raise InvalidInputError("path", "must not contain control characters (CR, LF...)", value)
    if _URL.match(value) or value.startswith("//"):
        raise InvalidInputError(
            "path",
            f"{_PATH_RULE}, not a URL: the client sends it to its own base URL, below "
            "/v1/projects/{projectId}/",
            value,
        )
    if value.startswith("/"):
        raise InvalidInputError(
            "path",
            f"{_PATH_RULE}, without a leading '/' (it is sent below /v1/projects/{{projectId}}/)",
            value,
        )
    if "?" in value or "#" in value:
        raise InvalidInputError(
            "path",
            "must not contain '?' or '#': give query parameters in params (encode a '?' "
            "or '#' of an id as %3F or %23)",
            value,
        )
    if "{" in value or "}" in value:
        raise InvalidInputError(
            "path",
            "must not contain '{' or '}': fill the template in first (an f-string), or "
            "encode a brace of an id as %7B or %7D",
            value,
        )
    if "\\" in value:
        raise InvalidInputError("path", "must not contain '\\' (servers may read it as '/')", value)
    segments = value.split("/")
    for segment in segments:
        _check_segment(segment, value)
    phone = _PHONE.search(unquote(value))
    return "/".join(_encode_segment(s) for s in segments), None if phone is None else phone[0]


def _check_segment(segment: str, path: str) -> None:
    decoded = unquote_to_bytes(segment)
    if not decoded:
        raise InvalidInputError(
            "path", "must not have an empty segment ('a//b', or a '/' at the end)", path
        )
    if decoded in (b".", b".."):
        raise InvalidInputError(
            "path",
            "must not have a '.' or '..' segment, encoded or not: it stays below the project",
            path,
        )
    if b"/" in decoded or b"\\" in decoded:
        raise InvalidInputError(
            "path",
            "must not hide '/' or '\\' in an escape (%2F, %5C): it stays below the project",
            path,
        )
    if _CONTROL_BYTES.search(decoded):
        raise InvalidInputError(
            "path", "must not hide control characters in escapes (%0D, %0A...)", path
        )


def _encode_segment(segment: str) -> str:
    """``segment`` percent-encoded where needed; its escapes (``%20``) kept as they are."""
    parts: list[str] = []
    position = 0
    for escape in _ESCAPE.finditer(segment):
        parts.append(quote(segment[position : escape.start()], safe=_SEGMENT_SAFE))
        parts.append(escape[0])
        position = escape.end()
    parts.append(quote(segment[position:], safe=_SEGMENT_SAFE))
    return "".join(parts)


def encode_params(params: object) -> str:
    """The query string of ``params``: a sequence value repeats its name; ``+`` is ``%2B``."""
    if params is None:
        return ""
    if not isinstance(params, Mapping):
        raise InvalidInputError(
            "params", "must be a mapping of names to values, such as {'pageSize': 10}", params
        )
    pairs: list[str] = []
    for name, value in params.items():
        if not isinstance(name, str) or not name:
            raise InvalidInputError("params", "must have non-empty strings as names", name)
        values = _sequence(value)
        for item in (value,) if values is None else values:
            text = _param_text(name, item)
            pairs.append(f"{quote(name, safe='')}={quote(text, safe='')}")
    return "&".join(pairs)


def _sequence(value: object) -> Sequence[object] | None:
    if isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
        return value
    return None


def _param_text(name: str, value: object) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return str.__str__(value)
    raise InvalidInputError(
        f"params[{name!r}]",
        "must be a str, int or bool, or a list or tuple of them (one name=value each)",
        value,
    )


def encode_body(value: object, method: str) -> tuple[bytes | None, Mapping[str, Any] | None]:
    """The body of ``value`` as JSON, and what an ``AmbiguousOutcomeError`` may show of it.

    ``None`` sends no body. What it shows is the object sent, unless it is not an object,
    or holds a secret (an ``hmacSecret``, an ``access_token``, a URL's user info).
    """
    if value is None:
        return None, None
    if method in _NO_BODY:
        raise InvalidInputError("json", f"must be None for a {method}: it sends no body")
    plain = _plain(value, "json", 0)
    body = _json.dumps(plain)
    if not isinstance(plain, dict):
        return body, None
    text = body.decode()
    return body, plain if redact_secrets(text) == text else None


def _plain(value: object, where: str, depth: int) -> Any:
    """``value`` as plain JSON values (dict, list, str, int, float, bool, None), checked."""
    if depth > MAX_JSON_DEPTH:
        raise InvalidInputError(
            where, f"must not nest deeper than {MAX_JSON_DEPTH} levels (does a value hold itself?)"
        )
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _UINT64_MAX:
            raise InvalidInputError(where, "must fit in 64 bits (send a larger number as a string)")
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(
                where, "must be a finite number: NaN and infinity are not JSON", value
            )
        return float(value)
    if isinstance(value, Mapping):
        plain: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(where, "must have strings as keys", key)
            plain[str.__str__(key)] = _plain(item, f"{where}[{key!r}]", depth + 1)
        return plain
    if isinstance(value, list | tuple):
        return [_plain(item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value)]
    hint = ""
    if attrs.has(type(value)):
        hint = "; for a model of this library, send to_dict(model, wire_names=True)"
    raise InvalidInputError(
        where,
        f"must be JSON: a dict, list, tuple, str, int, float, bool or None, not "
        f"{type(value).__name__!r}{hint}",
    )


def decode_any(status: int, body: bytes) -> Any:
    """A 2xx body as JSON: ``None`` when it is empty, ``DecodeError`` when it is not JSON."""
    if not body.strip():
        return None
    try:
        return _json.loads(body)
    except ValueError as exc:
        raise DecodeError(f"response is not valid JSON ({exc})", status=status, body=body) from None
