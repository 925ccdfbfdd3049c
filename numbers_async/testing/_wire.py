"""Wire-level building blocks of the fake: routes, answers, error envelopes, page tokens.

Everything here is pure: no event loop, no server state. The shapes follow
the Numbers API's OpenAPI description and docs/api-facts.md (#errors, #paging).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import attrs

Json = dict[str, Any]

ROUTES: tuple[str, ...] = (
    "token",
    "list_regions",
    "search_available",
    "get_available",
    "rent",
    "rent_any",
    "list_active",
    "get_active",
    "update_active",
    "release",
    "get_callbacks",
    "update_callbacks",
    "get_emergency_address",
    "provision_emergency_address",
    "deprovision_emergency_address",
    "validate_emergency_address",
    "lookup_number_requirements",
    "create_number_order",
    "get_number_order",
    "get_number_order_registration",
    "update_number_order_registration",
    "submit_number_order",
    "unknown",
)
"""Every route name the fake knows; ``"unknown"`` is any request that matches none."""

ACTIVE_NUMBER = "sinch.unifiednumber.v1alpha2.ActiveNumber"
EMERGENCY_ADDRESS = "sinch.unifiednumber.v1alpha2.EmergencyAddress"
AVAILABLE_NUMBER = "sinch.unifiednumber.v1alpha2.AvailableNumber"

_PROJECT = r"/v1/projects/(?P<project>[^/]+)"
# The `:rent` / `:release` suffixes are part of the last segment, so a phone stops at ":".
_PHONE = r"(?P<phone>[^/:]+)"
_ACTIVE = _PROJECT + r"/activeNumbers/" + _PHONE
_ORDER = _PROJECT + r"/numberOrders/(?P<order>[^/:]+)"
_ROUTE_TABLE: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (method, name, re.compile(pattern))
    for method, name, pattern in (
        ("POST", "token", r"/oauth2/token"),
        ("GET", "list_regions", _PROJECT + r"/availableRegions"),
        ("GET", "search_available", _PROJECT + r"/availableNumbers"),
        ("POST", "rent_any", _PROJECT + r"/availableNumbers:rentAny"),
        ("GET", "get_available", _PROJECT + r"/availableNumbers/" + _PHONE),
        ("POST", "rent", _PROJECT + r"/availableNumbers/" + _PHONE + r":rent"),
        ("GET", "list_active", _PROJECT + r"/activeNumbers"),
        ("GET", "get_active", _PROJECT + r"/activeNumbers/" + _PHONE),
        ("PATCH", "update_active", _PROJECT + r"/activeNumbers/" + _PHONE),
        ("POST", "release", _PROJECT + r"/activeNumbers/" + _PHONE + r":release"),
        ("GET", "get_callbacks", _PROJECT + r"/callbackConfiguration"),
        ("PATCH", "update_callbacks", _PROJECT + r"/callbackConfiguration"),
        ("GET", "get_emergency_address", _ACTIVE + r"/emergencyAddress"),
        ("POST", "provision_emergency_address", _ACTIVE + r"/emergencyAddress:provision"),
        ("POST", "deprovision_emergency_address", _ACTIVE + r"/emergencyAddress:deprovision"),
        ("POST", "validate_emergency_address", _ACTIVE + r"/emergencyAddress:validate"),
        (
            "POST",
            "lookup_number_requirements",
            _PROJECT + r"/numberOrders:lookupNumberRequirements",
        ),
        ("POST", "create_number_order", _PROJECT + r"/numberOrders:createNumberOrder"),
        ("GET", "get_number_order", _ORDER),
        ("GET", "get_number_order_registration", _ORDER + r"/registration"),
        ("PUT", "update_number_order_registration", _ORDER + r"/registration"),
        ("POST", "submit_number_order", _ORDER + r"/submit"),
    )
)

# google.rpc.Code names, as the Numbers API writes them in `error.status`.
STATUS_TEXT: Mapping[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def resolve_route(method: str, path: str) -> tuple[str, dict[str, str]]:
    """Name the route of a decoded request path, with its path parameters."""
    for route_method, name, pattern in _ROUTE_TABLE:
        match = pattern.fullmatch(path)
        if match is not None and method == route_method:
            return name, match.groupdict()
    return "unknown", {}


@attrs.frozen
class Answer:
    """What the fake sends back: status, headers and body, or a dropped connection."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    drop: bool = False


def encode_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, as the API sends it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def json_answer(status: int, value: Any, headers: Mapping[str, str] | None = None) -> Answer:
    """An ``application/json`` answer."""
    return Answer(status, encode_json(value), "application/json", dict(headers or {}))


class ApiFailure(Exception):
    """Raised by request handling to answer an error status with a JSON body."""

    def __init__(self, status: int, body: Json, headers: Mapping[str, str] | None = None):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = dict(headers or {})

    def answer(self) -> Answer:
        """The error as an answer."""
        return json_answer(self.status, self.body, self.headers)


def envelope(code: int, message: str, details: Sequence[Json] = ()) -> Json:
    """The Numbers API error envelope ``{"error": {code, message, status, details}}``."""
    status = STATUS_TEXT.get(code, "UNKNOWN")
    return {"error": {"code": code, "message": message, "status": status, "details": list(details)}}


def reason(code: int) -> str:
    """The HTTP reason phrase of a status code (``"Bad Gateway"``), or ``""``."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return ""


def invalid_argument(field: str, description: str) -> ApiFailure:
    """400 with a ``BadRequest`` detail naming the offending field (snake_case, like the API)."""
    detail = {
        "type": "BadRequest",
        "fieldViolations": [{"field": field, "description": description}],
    }
    return ApiFailure(400, envelope(400, description, [detail]))


def invalid_value(field: str, value: str) -> ApiFailure:
    """400 in the API's enum-parsing form: a message and no details."""
    return ApiFailure(
        400, envelope(400, f'parsing field "{field}": "{value}" is not a valid value')
    )


def not_found(resource_type: str, name: str, message: str | None = None) -> ApiFailure:
    """404 with a ``ResourceInfo`` detail."""
    detail = {
        "type": "ResourceInfo",
        "resourceType": resource_type,
        "resourceName": name,
        "owner": "",
        "description": "",
    }
    return ApiFailure(404, envelope(404, message or f"Number {name} not found", [detail]))


def permission_denied() -> ApiFailure:
    """403 exactly as the API answers a project the credentials do not belong to."""
    return ApiFailure(403, envelope(403, ""))


def unauthenticated(message: str, *, scheme: str = "Bearer") -> ApiFailure:
    """401 for a missing, unknown or wrong credential (no ``expired`` in the challenge)."""
    return ApiFailure(401, envelope(401, message), {"WWW-Authenticate": scheme})


def token_expired() -> ApiFailure:
    """401 for an expired token; clients key on ``expired`` in ``WWW-Authenticate``."""
    body = {
        "type": "https://developers.sinch.com/docs/numbers/api-reference/error-codes",
        "title": "Token expired",
        "detail": "The access token has expired; request a new one from the token endpoint.",
    }
    return ApiFailure(401, body, {"WWW-Authenticate": 'Bearer error="expired"'})


def rate_limited(retry_after: str | None) -> ApiFailure:
    """429, with ``Retry-After`` when given."""
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return ApiFailure(429, envelope(429, "Too many requests"), headers)


def gateway_html(code: int) -> bytes:
    """The kind of HTML page a proxy in front of an API answers with."""
    title = f"{code} {reason(code)}".strip()
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def snake(name: str) -> str:
    """``numberPattern.searchPattern`` -> ``number_pattern.search_pattern`` (proto field names)."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


# Page tokens are opaque to clients. The leading byte 0xF8 encodes to "+" in base64, so
# every token starts with "+": a client that forgets to percent-encode the token in the
# query sends a space instead and gets a 400, rather than passing by luck (a `+` in a query
# value must be sent as `%2B`: docs/api-facts.md#query-parameters-and-paths).
_TOKEN_PREFIX = b"\xf8"


def page_token_scope(*parts: object) -> str:
    """A short fingerprint of the filters a page token belongs to."""
    return hashlib.sha256(encode_json([str(p) for p in parts])).hexdigest()[:12]


def encode_page_token(after: Sequence[str], scope: str) -> str:
    """An opaque token meaning "the items sorted after ``after``, for these filters"."""
    payload = encode_json({"after": list(after), "scope": scope})
    return base64.b64encode(_TOKEN_PREFIX + payload).decode("ascii")


def decode_page_token(token: str, scope: str, key_length: int) -> tuple[str, ...]:
    """The sort key a token continues after; 400 if it is malformed or for other filters."""
    try:
        raw = base64.b64decode(token, validate=True)
        if not raw.startswith(_TOKEN_PREFIX):
            raise ValueError("wrong prefix")
        data = json.loads(raw[len(_TOKEN_PREFIX) :])
        after, token_scope = data["after"], data["scope"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise invalid_argument("page_token", f"Invalid page token {token!r}") from exc
    if token_scope != scope:
        raise invalid_argument(
            "page_token", "The page token was issued for different filters or ordering"
        )
    if (
        not isinstance(after, list)
        or len(after) != key_length
        or not all(isinstance(part, str) for part in after)
    ):
        raise invalid_argument("page_token", f"Invalid page token {token!r}")
    return tuple(after)
