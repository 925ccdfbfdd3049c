"""Pure protocol logic: argument checks and request building, one builder per operation.

Nothing here does I/O. A ``Request`` says what to send; ``_responses`` turns
``(status, headers, body)`` into a model or an exception. Only ``_transport`` talks to
aiohttp; retry decisions live in ``_retry``.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeVar
from urllib.parse import quote_plus, urlencode, urlsplit

import attrs
from yarl import URL

from numbers_async import _json
from numbers_async._convert import unstructure
from numbers_async._retry import GENERIC_OPERATION, Safety, changes_state, safety_of
from numbers_async.errors import InsecureTransportWarning, InvalidInputError
from numbers_async.models import (
    Capability,
    EstVoiceConfiguration,
    FaxVoiceConfiguration,
    NumberType,
    RtcVoiceConfiguration,
    SearchPattern,
    SmsConfiguration,
    UnknownVoiceConfiguration,
)

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

#: E.164: a ``+``, a non-zero country digit, at most 15 digits in all.
_E164: Final = re.compile(r"\+[1-9]\d{1,14}")
_REGION: Final = re.compile(r"[A-Za-z]{2}")
_PATTERN: Final = re.compile(r"\+?\d{1,15}")
#: The documented shape of an HMAC secret (docs/api-facts.md#callbacks).
_HMAC_SECRET: Final = re.compile(r"[a-zA-Z0-9-]{32,64}")
_ORDER_BY: Final = ("phoneNumber", "displayName")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
_URL_SPACE: Final = re.compile(r"[\s\x00-\x1f\x7f]")
_MAX_PORT: Final = 65535
_INT32_MAX: Final = 2**31 - 1
# Read-only fields a response carries but a request must not echo back.
_READ_ONLY: Final = frozenset(
    {"scheduledProvisioning", "scheduledVoiceProvisioning", "lastUpdatedTime"}
)


class Op(enum.Enum):
    """Every operation, named as the client exposes it (for logs and retry safety).

    ``TOKEN`` is the OAuth2 token request, which the client sends for its calls.
    """

    LIST_REGIONS = "available_regions.list"
    SEARCH = "available_numbers.search"
    GET_AVAILABLE = "available_numbers.get"
    RENT = "available_numbers.rent"
    RENT_ANY = "available_numbers.rent_any"
    LIST_ACTIVE = "active_numbers.list"
    GET_ACTIVE = "active_numbers.get"
    UPDATE = "active_numbers.update"
    RELEASE = "active_numbers.release"
    GET_CALLBACKS = "callbacks.get"
    UPDATE_CALLBACKS = "callbacks.update"
    GET_EMERGENCY_ADDRESS = "emergency_addresses.get"
    PROVISION_EMERGENCY_ADDRESS = "emergency_addresses.provision"
    DEPROVISION_EMERGENCY_ADDRESS = "emergency_addresses.deprovision"
    VALIDATE_EMERGENCY_ADDRESS = "emergency_addresses.validate"
    TOKEN = "oauth2.token"  # noqa: S105 - the operation's name, not a credential
    REQUEST = GENERIC_OPERATION  # client.request: its retry rules are its caller's (_generic)


#: ``_retry.safety_of`` and ``_retry.changes_state`` of every operation, looked up once.
_SAFETY: Final = {op: safety_of(op.value) for op in Op}
_CHANGES: Final = {op: changes_state(op.value) for op in Op}


@attrs.define(eq=False)  # not frozen: built on every call, and frozen attrs init is 4x slower
class Request:
    """One logical API request: a path below the project, query pairs and a JSON body."""

    op: Op
    method: str
    path: str  # already percent-encoded, relative to /v1/projects/{projectId}
    query: str = ""  # already encoded
    body: bytes | None = None
    json: Mapping[str, Any] | None = None  # the body before encoding, for error reports
    phone_number: str | None = None  # the number in the path, if any

    @property
    def safety(self) -> Safety:
        """How this request may be retried."""
        return _SAFETY[self.op]

    @property
    def changes_state(self) -> bool:
        """Whether this request changes state on the server."""
        return _CHANGES[self.op]

    @property
    def target(self) -> str:
        """Path and query, encoded."""
        return f"{self.path}?{self.query}" if self.query else self.path


# --- argument checks -------------------------------------------------------------------------


def check_phone(argument: str, value: object) -> str:
    """An E.164 number with its leading ``+``."""
    if not isinstance(value, str) or _E164.fullmatch(value) is None:
        raise InvalidInputError(
            argument, "must be an E.164 phone number such as '+12025550134'", value
        )
    return value


def check_region(argument: str, value: object) -> str:
    """An ISO 3166-1 alpha-2 code; lower case is accepted and upper-cased."""
    if not isinstance(value, str) or _REGION.fullmatch(value) is None:
        raise InvalidInputError(
            argument, "must be an ISO 3166-1 alpha-2 region code such as 'US'", value
        )
    return value.upper()


def check_enum(argument: str, value: object, enum_cls: type[E]) -> str:
    """A member of ``enum_cls``, given as the member or its string value.

    A string that is not a known value is refused (a typo, most likely). A value newer
    than this version goes through when given as a pseudo-member of the open enum,
    ``NumberType("SHORT_CODE")``: that spelling says it is meant, and the API decides
    (docs/api-facts.md#enum-values-in-arguments).
    """
    if isinstance(value, enum_cls):
        return str(value.value)
    known = enum_cls._value2member_map_
    if isinstance(value, str) and value in known:
        return str(known[value].value)
    allowed = ", ".join(repr(member.value) for member in enum_cls)
    newer = f"; a value newer than this version: {enum_cls.__name__}({value!r})"
    rule = f"must be one of {allowed}" + (newer if isinstance(value, str) else "")
    raise InvalidInputError(argument, rule, value)


def check_enum_list(argument: str, values: object, enum_cls: type[E]) -> list[str]:
    """One member or a non-empty iterable of members (duplicates dropped, order kept)."""
    if isinstance(values, str):  # a bare "SMS" means ["SMS"], never ["S", "M", "S"]
        values = [values]
    if not isinstance(values, Iterable):
        raise InvalidInputError(argument, f"must be a list of {enum_cls.__name__} values", values)
    checked = list(dict.fromkeys(check_enum(argument, v, enum_cls) for v in values))
    if not checked:
        raise InvalidInputError(argument, "must not be empty (pass None to leave it out)")
    return checked


def check_positive_int(argument: str, value: object) -> int:
    """An ``int`` from 1 to 2**31-1 (``bool`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _INT32_MAX:
        raise InvalidInputError(argument, f"must be an integer from 1 to {_INT32_MAX}", value)
    return value


def check_positive_number(argument: str, value: object) -> float:
    """An ``int`` or ``float`` greater than zero (``bool`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise InvalidInputError(argument, "must be a number greater than 0", value)
    return float(value)


def check_non_negative_number(argument: str, value: object) -> float:
    """An ``int`` or ``float`` of zero or more (``bool`` and NaN are refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InvalidInputError(argument, "must be a number >= 0", value)
    return float(value)


def check_str(
    argument: str, value: object, *, allow_empty: bool = True, secret: bool = False
) -> str:
    """A string; ``allow_empty=False`` also refuses ``""``; a ``secret`` is never echoed."""
    if not isinstance(value, str) or (not allow_empty and not value):
        rule = "must be a string" if allow_empty else "must be a non-empty string"
        raise InvalidInputError(argument, rule, None if secret else value)
    return value


def check_credential(argument: str, value: object, *, secret: bool = False) -> str:
    """A non-blank string without control characters (it travels in a header or a path)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(argument, "must be a non-empty, non-blank string")
    if _CONTROL.search(value):
        raise InvalidInputError(
            argument, "must not contain control characters", None if secret else value
        )
    return value


def check_url(argument: str, value: object, *, allow_empty: bool = False) -> str:
    """An absolute http(s) URL with a host (or ``""`` where clearing is allowed).

    No whitespace or control characters anywhere, and a port, if given, from 1 to 65535.
    """
    if allow_empty and value == "":
        return ""
    rule = "must be an absolute http:// or https:// URL with a host"
    if not isinstance(value, str) or _URL_SPACE.search(value):
        raise InvalidInputError(argument, rule + ", without spaces", _redacted(value))
    try:
        url = URL(value)
        port = url.explicit_port
    except (ValueError, TypeError):
        port_text = urlsplit(value).netloc.rpartition(":")[2]
        if port_text.isdigit():
            rule = "must have a port from 1 to 65535"
        raise InvalidInputError(argument, rule, _redacted(value)) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidInputError(argument, rule, _redacted(value))
    if port is not None and not 1 <= port <= _MAX_PORT:
        raise InvalidInputError(argument, "must have a port from 1 to 65535", _redacted(value))
    return value


def check_origin(argument: str, value: object) -> str:
    """A URL the client sends to (``base_url``, ``auth_url``): ``check_url`` and more.

    No query string or fragment: either would be dropped or misplaced when paths are
    joined to it. No user info (``user:password@``): aiohttp would send it as a Basic
    ``Authorization`` header that collides with the client's own, so every call would
    fail. Plain ``http://`` to a host other than loopback draws an
    ``InsecureTransportWarning``: the key pair or the bearer token would cross the
    network in clear.
    """
    checked = check_url(argument, value)
    url = URL(checked)
    if "?" in checked or "#" in checked or url.query_string or url.fragment:
        raise InvalidInputError(
            argument, "must not have a query string or fragment", redact_url(checked)
        )
    if url.raw_user is not None or url.raw_password is not None or "@" in url.raw_authority:
        raise InvalidInputError(
            argument,
            "must not carry user info (user:password@): the client authenticates with "
            "its key, and a proxy's credentials belong in the session's proxy settings",
            redact_url(checked),
        )
    if url.scheme == "http" and not _is_loopback(url.host or ""):
        warnings.warn(
            f"{argument}={checked!r} is plain http:// to a host that is not loopback: the "
            "access key or bearer token travels unencrypted; use https://",
            InsecureTransportWarning,
            stacklevel=3,  # the caller of NumbersClient(...)
        )
    return checked


def _is_loopback(host: str) -> bool:
    """``localhost`` (and names under it), 127.0.0.0/8 and ::1; never resolved."""
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def redact_url(value: str) -> str:
    """``value`` with any ``user:password@`` replaced by ``***@`` (for reprs and errors)."""
    try:
        url = URL(value)
    except (ValueError, TypeError):
        return "<unparseable URL>"
    if url.user is None and url.password is None:
        return value
    return str(url.with_user(None)).replace("://", "://***@", 1)


def _redacted(value: object) -> object:
    return redact_url(value) if isinstance(value, str) and "@" in value else value


def _pattern_pairs(pattern: object, search_pattern: object) -> list[tuple[str, str]]:
    if pattern is None:
        if search_pattern is not None:
            raise InvalidInputError("search_pattern", "needs a pattern to apply to")
        return []
    if not isinstance(pattern, str) or _PATTERN.fullmatch(pattern) is None:
        raise InvalidInputError(
            "pattern", "must be digits, optionally after a leading '+', e.g. '+1206'", pattern
        )
    pairs = [("numberPattern.pattern", pattern)]
    if search_pattern is not None:
        pairs.append(
            (
                "numberPattern.searchPattern",
                check_enum("search_pattern", search_pattern, SearchPattern),
            )
        )
    return pairs


#: The id each voice configuration type must send (its own: an app, a trunk, a service).
_VOICE_IDS: Final[Mapping[type[Any], str]] = {
    RtcVoiceConfiguration: "app_id",
    EstVoiceConfiguration: "trunk_id",
    FaxVoiceConfiguration: "service_id",
}


def _configuration(argument: str, value: object, cls: type[Any]) -> dict[str, Any]:
    if not isinstance(value, cls):
        raise InvalidInputError(argument, f"must be a {cls.__name__}", value)
    return {k: v for k, v in unstructure(value).items() if k not in _READ_ONLY}


def _sms(value: object) -> dict[str, Any]:
    wire = _configuration("sms", value, SmsConfiguration)
    if "servicePlanId" not in wire:
        # The API refuses an SMS configuration without its service plan
        # (docs/api-facts.md#the-api-beyond-the-10-spec); "" (unlink) is one.
        raise InvalidInputError(
            "sms", "SmsConfiguration must set service_plan_id ('' to unlink the number)"
        )
    for key, field in (("servicePlanId", "service_plan_id"), ("campaignId", "campaign_id")):
        if key in wire and not isinstance(wire[key], str):
            raise InvalidInputError("sms", f"SmsConfiguration.{field} must be a string", wire[key])
    return wire


def _voice(value: object) -> dict[str, Any]:
    own_id = _VOICE_IDS.get(type(value))
    if own_id is None:
        if isinstance(value, UnknownVoiceConfiguration):
            raise InvalidInputError(
                "voice",
                f"voice type {value.type!r} is newer than this version, which cannot send "
                "it; give an RtcVoiceConfiguration, EstVoiceConfiguration or "
                "FaxVoiceConfiguration",
            )
        raise InvalidInputError(
            "voice",
            "must be an RtcVoiceConfiguration, EstVoiceConfiguration or FaxVoiceConfiguration",
            value,
        )
    linked = getattr(value, own_id)
    if not isinstance(linked, str):
        # None: its type alone says nothing to change (spec, UpdateActiveNumber: no empty
        # object); anything else is not an id.
        raise InvalidInputError(
            "voice",
            f"{type(value).__name__} must set {own_id} to a string ('' to unlink the number)",
            None if linked is None else linked,
        )
    return {k: v for k, v in unstructure(value).items() if k not in _READ_ONLY}


def _provisioning_body(
    sms: object, voice: object, callback_url: object, *, allow_empty_url: bool
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if sms is not None:
        body["smsConfiguration"] = _sms(sms)
    if voice is not None:
        body["voiceConfiguration"] = _voice(voice)
    if callback_url is not None:
        body["callbackUrl"] = check_url("callback_url", callback_url, allow_empty=allow_empty_url)
    return body


def _phone_segment(phone: str) -> str:
    # check_phone let through only '+' and digits, all legal in a path segment as they
    # are; the API accepts the '+' literally (docs/api-facts.md#query-parameters-and-paths).
    return phone


def _json_request(
    op: Op, method: str, path: str, body: dict[str, Any], phone_number: str | None = None
) -> Request:
    return Request(op, method, path, body=_json.dumps(body), json=body, phone_number=phone_number)


# --- request builders, one per operation ------------------------------------------------------


def list_regions(types: object) -> Request:
    """GET availableRegions, optionally only regions offering ``types``."""
    query = []
    if types is not None:
        query = [("types", t) for t in check_enum_list("types", types, NumberType)]
    return Request(Op.LIST_REGIONS, "GET", "/availableRegions", urlencode(query))


def search_available(
    region_code: object,
    number_type: object,
    *,
    pattern: object,
    search_pattern: object,
    capabilities: object,
    size: object,
) -> Request:
    """GET availableNumbers; note the plural ``capabilities`` parameter here."""
    query = [
        ("regionCode", check_region("region_code", region_code)),
        ("type", check_enum("number_type", number_type, NumberType)),
        *_pattern_pairs(pattern, search_pattern),
    ]
    if capabilities is not None:
        query += [
            ("capabilities", c) for c in check_enum_list("capabilities", capabilities, Capability)
        ]
    if size is not None:
        query.append(("size", str(check_positive_int("size", size))))
    return Request(Op.SEARCH, "GET", "/availableNumbers", urlencode(query))


def get_available(phone_number: object) -> Request:
    """GET availableNumbers/{phone}."""
    phone = check_phone("phone_number", phone_number)
    path = f"/availableNumbers/{_phone_segment(phone)}"
    return Request(Op.GET_AVAILABLE, "GET", path, phone_number=phone)


def rent(phone_number: object, *, sms: object, voice: object, callback_url: object) -> Request:
    """POST availableNumbers/{phone}:rent."""
    phone = check_phone("phone_number", phone_number)
    body = _provisioning_body(sms, voice, callback_url, allow_empty_url=False)
    path = f"/availableNumbers/{_phone_segment(phone)}:rent"
    return _json_request(Op.RENT, "POST", path, body, phone)


def rent_any(
    region_code: object,
    number_type: object,
    *,
    pattern: object,
    search_pattern: object,
    capabilities: object,
    sms: object,
    voice: object,
    callback_url: object,
) -> Request:
    """POST availableNumbers:rentAny; filters travel in the body, not the query."""
    body: dict[str, Any] = {
        "regionCode": check_region("region_code", region_code),
        "type": check_enum("number_type", number_type, NumberType),
    }
    pattern_pairs = dict(_pattern_pairs(pattern, search_pattern))
    if pattern_pairs:
        body["numberPattern"] = {
            key.removeprefix("numberPattern."): value for key, value in pattern_pairs.items()
        }
    if capabilities is not None:
        body["capabilities"] = check_enum_list("capabilities", capabilities, Capability)
    body |= _provisioning_body(sms, voice, callback_url, allow_empty_url=False)
    return _json_request(Op.RENT_ANY, "POST", "/availableNumbers:rentAny", body)


def list_active_query(
    *,
    region_code: object,
    number_type: object,
    pattern: object,
    search_pattern: object,
    capabilities: object,
    page_size: object,
    order_by: object,
) -> list[tuple[str, str]]:
    """Query pairs of activeNumbers without the page token; note the singular ``capability``."""
    query: list[tuple[str, str]] = []
    if region_code is not None:
        query.append(("regionCode", check_region("region_code", region_code)))
    if number_type is not None:
        query.append(("type", check_enum("number_type", number_type, NumberType)))
    query += _pattern_pairs(pattern, search_pattern)
    if capabilities is not None:
        query += [
            ("capability", c) for c in check_enum_list("capabilities", capabilities, Capability)
        ]
    query.append(("pageSize", str(check_positive_int("page_size", page_size))))
    if order_by is not None and order_by not in _ORDER_BY:
        raise InvalidInputError("order_by", "must be 'phoneNumber' or 'displayName'", order_by)
    if order_by is not None:
        query.append(("orderBy", str(order_by)))
    return query


def list_active_page(query: str, page_token: str | None) -> Request:
    """GET activeNumbers for one page; ``query`` is ``list_active_query``'s, encoded once."""
    if page_token:
        query = f"{query}&pageToken={quote_plus(page_token, safe='')}"  # as urlencode does
    return Request(Op.LIST_ACTIVE, "GET", "/activeNumbers", query)


def get_active(phone_number: object) -> Request:
    """GET activeNumbers/{phone}."""
    phone = check_phone("phone_number", phone_number)
    return Request(
        Op.GET_ACTIVE, "GET", f"/activeNumbers/{_phone_segment(phone)}", phone_number=phone
    )


def update_active(
    phone_number: object, *, display_name: object, sms: object, voice: object, callback_url: object
) -> Request:
    """PATCH activeNumbers/{phone} with only the fields given."""
    phone = check_phone("phone_number", phone_number)
    body: dict[str, Any] = {}
    if display_name is not None:
        body["displayName"] = check_str("display_name", display_name)
    body |= _provisioning_body(sms, voice, callback_url, allow_empty_url=True)
    if not body:
        raise InvalidInputError(
            "update", "give at least one of display_name, sms, voice, callback_url"
        )
    return _json_request(Op.UPDATE, "PATCH", f"/activeNumbers/{_phone_segment(phone)}", body, phone)


def release(phone_number: object) -> Request:
    """POST activeNumbers/{phone}:release."""
    phone = check_phone("phone_number", phone_number)
    path = f"/activeNumbers/{_phone_segment(phone)}:release"
    return Request(Op.RELEASE, "POST", path, phone_number=phone)


def get_callbacks() -> Request:
    """GET callbackConfiguration."""
    return Request(Op.GET_CALLBACKS, "GET", "/callbackConfiguration")


def update_callbacks(hmac_secret: object) -> Request:
    """PATCH callbackConfiguration. The secret is checked but never echoed in an error."""
    if not isinstance(hmac_secret, str) or _HMAC_SECRET.fullmatch(hmac_secret) is None:
        raise InvalidInputError(
            "hmac_secret", "must be 32 to 64 characters from a-z, A-Z, 0-9 and '-'"
        )
    body = {"hmacSecret": hmac_secret}
    # json=None: the body holds a secret and Request.json ends up in error reports.
    return Request(Op.UPDATE_CALLBACKS, "PATCH", "/callbackConfiguration", body=_json.dumps(body))
