"""Validation of what clients send: query parameters, path phone numbers, JSON bodies.

Pure functions that return typed requests or raise ``ApiFailure`` carrying the
API's 400 envelope. The fake is deliberately strict where a lenient server would hide a
client bug: unknown query parameters and unknown JSON fields are rejected, so sending
``capabilities`` to activeNumbers (a bug of the official SDK; see
docs/api-facts.md#query-parameters-and-paths) fails loudly.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from ._inventory import CAPABILITIES, NUMBER_TYPES, SEARCH_PATTERNS, NumberFilter
from ._wire import Json, invalid_argument, invalid_value, snake

Query = Sequence[tuple[str, str]]

E164 = re.compile(r"\+[1-9]\d{1,14}")
REGION_CODE = re.compile(r"[A-Z]{2}")
# The documented shape of a callback secret (docs/api-facts.md#callbacks).
HMAC_SECRET = re.compile(r"[a-zA-Z0-9-]{32,64}")

DEFAULT_SEARCH_SIZE = 10
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
ORDER_BY = ("phoneNumber", "displayName")
VOICE_TYPES = ("RTC", "EST", "FAX")
#: The id each voice type is linked by (docs/api-facts.md#the-api-beyond-the-10-spec).
VOICE_IDS: Mapping[str, str] = {"RTC": "appId", "EST": "trunkId", "FAX": "serviceId"}
ADDRESS_FIELDS = (
    "streetNumber",
    "streetInfo",
    "location",
    "city",
    "state",
    "postalCode",
    "postalCodePlusFour",
)
REQUIRED_ADDRESS_FIELDS = ("streetNumber", "streetInfo", "city", "state", "postalCode")

_FILTERS = ("regionCode", "type", "numberPattern.pattern", "numberPattern.searchPattern")
QUERY_PARAMETERS: Mapping[str, frozenset[str]] = {
    "list_regions": frozenset({"types"}),
    "search_available": frozenset({*_FILTERS, "capabilities", "size"}),
    "list_active": frozenset({*_FILTERS, "capability", "pageSize", "pageToken", "orderBy"}),
}
_RENT_FIELDS = ("smsConfiguration", "voiceConfiguration", "callbackUrl")
_RENT_ANY_CRITERIA = ("regionCode", "type", "numberPattern", "capabilities")
_HINTS: Mapping[tuple[str, str], str] = {
    ("list_active", "capabilities"): '; activeNumbers filters with "capability" (singular)',
    ("search_available", "capability"): '; availableNumbers filters with "capabilities" (plural)',
}


@attrs.frozen
class SearchRequest:
    """A validated availableNumbers search."""

    filter: NumberFilter
    size: int


@attrs.frozen
class ListRequest:
    """A validated activeNumbers listing."""

    filter: NumberFilter
    page_size: int
    page_token: str
    order_by: str


@attrs.frozen
class RentRequest:
    """The configuration part of a rent or rentAny body."""

    sms: dict[str, str] | None = None
    voice: dict[str, str] | None = None
    callback_url: str = ""


@attrs.frozen
class UpdateRequest:
    """A validated activeNumbers PATCH; ``None`` means "not sent"."""

    display_name: str | None
    sms: dict[str, str] | None
    voice: dict[str, str] | None
    callback_url: str | None


def check_query_names(route: str, query: Query) -> None:
    """Reject any query parameter the route does not define."""
    allowed = QUERY_PARAMETERS.get(route, frozenset())
    for name, _ in query:
        if name not in allowed:
            hint = _HINTS.get((route, name), "")
            raise invalid_argument(snake(name), f'Unknown query parameter "{name}"{hint}')


def parse_phone(raw: str) -> str:
    """A phone number from a path: E.164 with the leading ``+``."""
    if not E164.fullmatch(raw):
        raise invalid_argument(
            "phone_number", f"Invalid phone number {raw!r}: expected E.164 such as +12025550134"
        )
    return raw


def parse_basic(header: str) -> tuple[str, str] | None:
    """``(user, password)`` from the credentials part of a Basic Authorization header."""
    try:
        user, sep, password = base64.b64decode(header, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def parse_region_types(query: Query) -> frozenset[str]:
    """The ``types`` filter of availableRegions."""
    types = {_number_type(v, "types", required=False) for v in _values(query, "types")}
    return frozenset(t for t in types if t is not None)


def parse_search_query(query: Query) -> SearchRequest:
    """The availableNumbers query: regionCode and type are required here."""
    number_filter = _query_filter(query, "capabilities", required=True)
    size = _positive_int(_single(query, "size"), "size", DEFAULT_SEARCH_SIZE)
    return SearchRequest(number_filter, size)


def parse_list_query(query: Query) -> ListRequest:
    """The activeNumbers query: every filter optional, pageSize capped at MAX_PAGE_SIZE."""
    number_filter = _query_filter(query, "capability", required=False)
    page_size = _positive_int(_single(query, "pageSize"), "pageSize", DEFAULT_PAGE_SIZE)
    order_by = _single(query, "orderBy") or "phoneNumber"
    if order_by not in ORDER_BY:
        raise invalid_argument("order_by", f"Invalid order_by {order_by}")
    page_token = _single(query, "pageToken") or ""
    return ListRequest(number_filter, min(page_size, MAX_PAGE_SIZE), page_token, order_by)


def parse_rent_body(body: bytes) -> RentRequest:
    """The body of ``:rent`` (it may be empty)."""
    obj = parse_object(body)
    _check_fields(obj, _RENT_FIELDS, "")
    return _rent_request(obj)


def parse_rent_any_body(body: bytes) -> tuple[NumberFilter, RentRequest]:
    """The body of ``:rentAny``: search criteria (regionCode and type required) and config."""
    obj = parse_object(body)
    _check_fields(obj, (*_RENT_ANY_CRITERIA, *_RENT_FIELDS), "")
    pattern = _object(obj, "numberPattern", "number_pattern") or {}
    _check_fields(pattern, ("pattern", "searchPattern"), "number_pattern")
    number_filter = NumberFilter(
        region_code=_region_code(_string(obj, "regionCode", ""), required=True),
        number_type=_number_type(_string(obj, "type", ""), "type", required=True),
        pattern=_string(pattern, "pattern", "number_pattern") or "",
        search_pattern=_search_pattern(_string(pattern, "searchPattern", "number_pattern")),
        capabilities=_capabilities(_string_list(obj, "capabilities"), "capabilities"),
    )
    return number_filter, _rent_request(obj)


def parse_update_body(body: bytes) -> UpdateRequest:
    """The body of an activeNumbers PATCH; at least one field must be set."""
    obj = parse_object(body)
    _check_fields(obj, ("displayName", "smsConfiguration", "voiceConfiguration", "callbackUrl"), "")
    request = UpdateRequest(
        display_name=_string(obj, "displayName", ""),
        sms=_sms(obj),
        voice=_voice(obj),
        callback_url=_string(obj, "callbackUrl", ""),
    )
    if request == UpdateRequest(None, None, None, None):
        raise invalid_argument(
            "active_number",
            "Nothing to update: set displayName, smsConfiguration, voiceConfiguration"
            " or callbackUrl",
        )
    return request


def parse_emergency_address_body(body: bytes) -> tuple[str, dict[str, str]]:
    """``displayName`` and the address of a provision or validate body, optional fields ``""``."""
    obj = parse_object(body)
    _check_fields(obj, ("displayName", "address"), "")
    display_name = _string(obj, "displayName", "")
    if not display_name:
        raise invalid_argument("display_name", "displayName is required")
    address = _object(obj, "address", "address")
    if address is None:
        raise invalid_argument("address", "address is required")
    _check_fields(address, ADDRESS_FIELDS, "address")
    values = {field: _string(address, field, "address") or "" for field in ADDRESS_FIELDS}
    for field in REQUIRED_ADDRESS_FIELDS:
        if not values[field]:
            raise invalid_argument(f"address.{snake(field)}", f"address.{field} is required")
    return display_name, values


def parse_callbacks_body(body: bytes) -> str:
    """The new HMAC secret from a callbackConfiguration PATCH (never echoed in errors)."""
    obj = parse_object(body)
    _check_fields(obj, ("hmacSecret",), "")
    secret = _string(obj, "hmacSecret", "")
    if secret is None:
        raise invalid_argument("hmac_secret", "hmacSecret is required")
    if not HMAC_SECRET.fullmatch(secret):
        raise invalid_argument(
            "hmac_secret", "hmacSecret must be 32 to 64 characters from a-z, A-Z, 0-9 and '-'"
        )
    return secret


def parse_object(body: bytes) -> Json:
    """A JSON object body; an empty body counts as ``{}``."""
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise invalid_argument("", f"Invalid JSON payload received: {exc}") from exc
    if not isinstance(value, dict):
        raise invalid_argument("", "Invalid JSON payload received: expected an object")
    return value


def _query_filter(query: Query, capability_name: str, *, required: bool) -> NumberFilter:
    return NumberFilter(
        region_code=_region_code(_single(query, "regionCode"), required=required),
        number_type=_number_type(_single(query, "type"), "type", required=required),
        pattern=_single(query, "numberPattern.pattern") or "",
        search_pattern=_search_pattern(_single(query, "numberPattern.searchPattern")),
        capabilities=_capabilities(_values(query, capability_name), capability_name),
    )


def _values(query: Query, name: str) -> list[str]:
    return [value for key, value in query if key == name]


def _single(query: Query, name: str) -> str | None:
    values = _values(query, name)
    if len(values) > 1:
        raise invalid_argument(snake(name), f"{name} must be given at most once")
    return values[0] if values else None


def _region_code(value: str | None, *, required: bool) -> str | None:
    if not value:
        if required:
            raise invalid_argument("region_code", "regionCode is required")
        return None
    if not REGION_CODE.fullmatch(value):
        raise invalid_argument(
            "region_code",
            f"Invalid regionCode {value!r}: expected two upper-case letters (ISO 3166-1 alpha-2)",
        )
    return value


def _number_type(value: str | None, field: str, *, required: bool) -> str | None:
    if not value or value == "NUMBER_TYPE_UNSPECIFIED":
        if required:
            raise invalid_argument(field, f"{field} is required")
        return None
    if value not in NUMBER_TYPES:
        raise invalid_value(field, value)
    return value


def _search_pattern(value: str | None) -> str:
    if not value or value == "SEARCH_PATTERN_UNSPECIFIED":
        return "CONTAINS"
    if value not in SEARCH_PATTERNS:
        raise invalid_value("numberPattern.searchPattern", value)
    return value


def _capabilities(values: Sequence[str], field: str) -> frozenset[str]:
    for value in values:
        if value not in CAPABILITIES:
            raise invalid_value(field, value)
    return frozenset(values)


def _positive_int(value: str | None, field: str, default: int) -> int:
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise invalid_value(field, value) from None
    if number <= 0:
        raise invalid_argument(snake(field), f"{field} must be greater than 0, got {number}")
    return number


def _path(where: str, key: str) -> str:
    return f"{where}.{snake(key)}" if where else snake(key)


def _check_fields(obj: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    known = set(allowed)
    for key in obj:
        if key not in known:
            at = f" at '{where}'" if where else ""
            raise invalid_argument(
                _path(where, key), f'Invalid JSON payload received. Unknown name "{key}"{at}'
            )


def _string(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    # JSON null means "not set", as in proto3 JSON.
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    path = _path(where, key)
    raise invalid_argument(path, f"Invalid value at '{path}': expected a string")


def _string_list(obj: Mapping[str, Any], key: str) -> list[str]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_argument(snake(key), f"Invalid value at '{snake(key)}': expected strings")
    return value


def _object(obj: Mapping[str, Any], key: str, path: str) -> Json | None:
    value = obj.get(key)
    if value is None or isinstance(value, dict):
        return value
    raise invalid_argument(path, f"Invalid value at '{path}': expected an object")


def _config(obj: Mapping[str, Any], key: str, fields: Sequence[str]) -> dict[str, str] | None:
    path = snake(key)
    config = _object(obj, key, path)
    if config is None:
        return None
    _check_fields(config, fields, path)
    # The spec: "If you pass an empty configuration object, the request will fail."
    values = {field: _string(config, field, path) for field in fields}
    given = {field: value for field, value in values.items() if value is not None}
    if not given:
        raise invalid_argument(path, f"{key} must not be empty")
    return given


def _sms(obj: Mapping[str, Any]) -> dict[str, str] | None:
    sms = _config(obj, "smsConfiguration", ("servicePlanId", "campaignId"))
    if sms is not None and "servicePlanId" not in sms:
        # Required when sent (docs/api-facts.md#the-api-beyond-the-10-spec); "" unlinks.
        raise invalid_argument(
            "sms_configuration.service_plan_id", "smsConfiguration.servicePlanId is required"
        )
    return sms


def _voice(obj: Mapping[str, Any]) -> dict[str, str] | None:
    voice = _config(obj, "voiceConfiguration", ("type", *VOICE_IDS.values()))
    if voice is None:
        return None
    kind = voice.setdefault("type", "RTC")  # the API's default (Node SDK documents it)
    if kind not in VOICE_TYPES:
        raise invalid_value("voiceConfiguration.type", kind)
    # Strict, to catch a client bug: the type's own id, and no other type's.
    own = VOICE_IDS[kind]
    for field in voice:
        if field not in ("type", own):
            raise invalid_argument(
                f"voice_configuration.{snake(field)}", f"{field} does not apply to type {kind}"
            )
    if own not in voice:
        raise invalid_argument(
            f"voice_configuration.{snake(own)}", f"{own} is required for type {kind}"
        )
    return voice


def _rent_request(obj: Mapping[str, Any]) -> RentRequest:
    return RentRequest(
        sms=_sms(obj), voice=_voice(obj), callback_url=_string(obj, "callbackUrl", "") or ""
    )
