"""Verify and parse the number events Sinch POSTs to a callback URL.

Pure functions, no I/O: bytes in, a
[`NumbersEvent`][numbers_async.webhooks.NumbersEvent] or an error out. The ready-made
receivers live in [`numbers_async.webhooks.aiohttp`][numbers_async.webhooks.aiohttp] and
[`numbers_async.webhooks.fastapi`][numbers_async.webhooks.fastapi] and are only imported
when used.

Sinch signs each event with ``X-Sinch-Signature``, the lowercase hex HMAC-SHA1 of the raw
request body under the project's callback secret
([API facts: callbacks](../api-facts.md#callbacks)). The signature covers the exact bytes
received, so always verify before decoding, and pass the body as bytes.

Examples:
    An aiohttp.web handler:

    ```python
    from numbers_async.webhooks import SIGNATURE_HEADER, parse_event


    async def sinch_events(request):
        event = parse_event(
            await request.read(),
            signature=request.headers.get(SIGNATURE_HEADER),
            secret=HMAC_SECRET,
        )
        ...
    ```
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import math
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import attrs

from numbers_async import _json
from numbers_async._enums import _OpenEnum
from numbers_async._timestamps import parse_datetime
from numbers_async.errors import (
    InvalidEventError,
    InvalidInputError,
    InvalidSignatureError,
    StaleEventError,
)
from numbers_async.webhooks._dedupe import EventDeduplicator, RecentEventIds

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "DEFAULT_MAX_AGE",
    "SIGNATURE_HEADER",
    "EventDeduplicator",
    "EventStatus",
    "EventType",
    "FailureCode",
    "NumbersEvent",
    "RecentEventIds",
    "ResourceType",
    "compute_signature",
    "parse_event",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Sinch-Signature"
"""The request header that carries the event's HMAC-SHA1 signature."""

DEFAULT_MAX_AGE = 86_400.0
"""Seconds after its ``timestamp`` that an event is still accepted: one day.

Sinch stamps an event when it queues it, and a redelivery carries the same stamp (and
the same signature): the window has to outlast Sinch's retries, which go on for almost a
day after a receiver stops answering. Older events are refused as replays
(``StaleEventError``); the de-duplication memory covers the window, so a replay inside it
is recognised too.
"""

DEFAULT_CLOCK_SKEW = 300.0
"""Seconds an event's ``timestamp`` may lie in the future (the clocks disagreeing): five minutes."""


class ResourceType(_OpenEnum):
    """What kind of resource an event is about (unknown values are kept)."""

    ACTIVE_NUMBER = "ACTIVE_NUMBER"
    """The event is about a number the project rents; ``resource_id`` is the phone number."""


class EventType(_OpenEnum):
    """What happened to the resource (unknown values are kept).

    ``DEPROVISIONING_FROM_VOICE_PLATFORM`` is the current name of "unlinked from Voice";
    ``DEPROVISIONING_TO_VOICE_PLATFORM``, the name of the API's 1.0 description, is
    deprecated in its 1.0.3 description
    ([API facts](../api-facts.md#the-api-beyond-the-10-spec)) but may still arrive. Both
    mean the same: handle both.
    """

    PROVISIONING_TO_SMS_PLATFORM = "PROVISIONING_TO_SMS_PLATFORM"
    """The number was linked to an SMS service plan."""
    DEPROVISIONING_FROM_SMS_PLATFORM = "DEPROVISIONING_FROM_SMS_PLATFORM"
    """The number was unlinked from its SMS service plan."""
    PROVISIONING_TO_CAMPAIGN = "PROVISIONING_TO_CAMPAIGN"
    """The number was linked to a 10DLC campaign."""
    DEPROVISIONING_FROM_CAMPAIGN = "DEPROVISIONING_FROM_CAMPAIGN"
    """The number was unlinked from its 10DLC campaign."""
    PROVISIONING_TO_VOICE_PLATFORM = "PROVISIONING_TO_VOICE_PLATFORM"
    """The number was linked to Voice (an app, a SIP trunk or a fax service)."""
    DEPROVISIONING_FROM_VOICE_PLATFORM = "DEPROVISIONING_FROM_VOICE_PLATFORM"
    """The number was unlinked from Voice."""
    DEPROVISIONING_TO_VOICE_PLATFORM = "DEPROVISIONING_TO_VOICE_PLATFORM"
    """Deprecated name of ``DEPROVISIONING_FROM_VOICE_PLATFORM``: the number was unlinked
    from Voice."""
    NUMBER_ORDER_PROCESSING = "NUMBER_ORDER_PROCESSING"
    """A number order (for numbers that need regulatory registration) moved to a new
    state, which ``status`` names (``IN_REVIEW``, ``COMPLETED``, ...); ``resource_id`` is
    the order."""


class EventStatus(_OpenEnum):
    """How the reported operation ended, or the state it moved to (unknown values kept).

    Provisioning events are ``SUCCEEDED`` or ``FAILED``; a ``NUMBER_ORDER_PROCESSING``
    event names the state its number order moved to.
    """

    SUCCEEDED = "SUCCEEDED"
    """The operation succeeded."""
    FAILED = "FAILED"
    """The operation failed; ``failure_code`` (and ``internal_failure_code``) say why."""
    IN_REVIEW = "IN_REVIEW"
    """The number order is being reviewed."""
    BLOCKED = "BLOCKED"
    """The number order is blocked until something is supplied or fixed."""
    COMPLETED = "COMPLETED"
    """The number order is done."""
    REJECTED = "REJECTED"
    """The number order was rejected."""
    EXPIRED = "EXPIRED"
    """The number order expired before it was completed."""


class FailureCode(_OpenEnum):
    """Why a ``FAILED`` event failed (unknown values are kept).

    The members are the spec's list; Sinch also sends codes outside it, such as
    ``PROVISIONING_TO_VOICE_PLATFORM_FAILED``
    ([API facts: callbacks](../api-facts.md#callbacks)), which arrive as pseudo-members:
    ``FailureCode.is_known(code)`` tells them apart.
    """

    CAMPAIGN_NOT_AVAILABLE = "CAMPAIGN_NOT_AVAILABLE"
    """The campaign does not exist or is not available to the project."""
    EXCEEDED_10DLC_LIMIT = "EXCEEDED_10DLC_LIMIT"
    """The campaign has as many numbers as 10DLC allows."""
    NUMBER_PROVISIONING_FAILED = "NUMBER_PROVISIONING_FAILED"
    """The number could not be provisioned."""
    PARTNER_SERVICE_UNAVAILABLE = "PARTNER_SERVICE_UNAVAILABLE"
    """A carrier or partner service did not answer; it may work later."""
    CAMPAIGN_PENDING_ACCEPTANCE = "CAMPAIGN_PENDING_ACCEPTANCE"
    """The campaign is not accepted yet."""
    MNO_SHARING_ERROR = "MNO_SHARING_ERROR"
    """The campaign could not be shared with the mobile network operators."""
    CAMPAIGN_PROVISIONING_FAILED = "CAMPAIGN_PROVISIONING_FAILED"
    """The campaign could not be provisioned."""
    CAMPAIGN_EXPIRED = "CAMPAIGN_EXPIRED"
    """The campaign has expired."""
    CAMPAIGN_MNO_REJECTED = "CAMPAIGN_MNO_REJECTED"
    """A mobile network operator rejected the campaign."""
    CAMPAIGN_MNO_SUSPENDED = "CAMPAIGN_MNO_SUSPENDED"
    """A mobile network operator suspended the campaign."""
    CAMPAIGN_MNO_REVIEW = "CAMPAIGN_MNO_REVIEW"
    """The campaign is under review by a mobile network operator."""
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    """The account's balance does not cover the operation."""
    MOCK_CAMPAIGN_NOT_ALLOWED = "MOCK_CAMPAIGN_NOT_ALLOWED"
    """A mock (test) campaign cannot be used here."""
    TFN_NOT_ALLOWED = "TFN_NOT_ALLOWED"
    """Toll-free numbers cannot be linked to a 10DLC campaign."""
    INVALID_NNID = "INVALID_NNID"
    """The campaign's network node id (NNID) is invalid."""


@attrs.frozen
class NumbersEvent:
    """One number event (the spec's ``CallbackPayload``); every field may be ``None``.

    Attributes:
        event_id: unique per event; Sinch may deliver the same event twice on retries.
        timestamp: when the event was queued, an aware UTC datetime (the wire form has no
            zone and up to 9 fractional digits; microseconds are kept).
        project_id: the project the number belongs to.
        resource_id: the resource, for ``ACTIVE_NUMBER`` the phone number in E.164.
        resource_type: what kind of resource ``resource_id`` names.
        event_type: what happened, for example ``EventType.PROVISIONING_TO_CAMPAIGN``.
        status: ``EventStatus.SUCCEEDED`` or ``EventStatus.FAILED``.
        failure_code: why it failed, when ``status`` is ``FAILED``.
        internal_failure_code: Sinch's own code for the failure, when ``status`` is
            ``FAILED`` and the process has one (campaign provisioning, for example:
            ``"CRS0018"``); Sinch's provisioning errors page explains each.
        raw: the whole decoded JSON object, including fields this version does not know.
            It is not part of equality, hashing or ``repr``.

    Examples:
        ```python
        event = parse_event(body, signature=header, secret=secret)
        if event.status is EventStatus.FAILED:
            log.warning(
                "%s failed on %s: %s",
                event.event_type,
                event.resource_id,
                event.failure_code,
            )
        ```
    """

    event_id: str | None = None
    timestamp: datetime | None = None
    project_id: str | None = None
    resource_id: str | None = None
    resource_type: ResourceType | None = None
    event_type: EventType | None = None
    status: EventStatus | None = None
    failure_code: FailureCode | None = None
    internal_failure_code: str | None = None
    # Sinch adds fields over time (the spec already anticipates hosting orders and brands as
    # resources); keeping the decoded object lets an application read them without waiting
    # for a release. Left out of eq/repr so events compare by their documented fields and
    # log lines stay short.
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The event as Sinch sends it: camelCase keys, unset fields left out.

        ``timestamp`` is written in UTC without a zone and with six fractional digits, the
        form callbacks use. Members of ``raw`` this version does not model are written too,
        as received: nothing a parsed event carried is dropped. Useful to build signed test
        events.

        Examples:
            ```python
            body = json.dumps(event.to_dict()).encode()
            headers = {SIGNATURE_HEADER: compute_signature(body, secret)}
            ```
        """
        wire: dict[str, Any] = {
            "eventId": self.event_id,
            "timestamp": None if self.timestamp is None else _format_timestamp(self.timestamp),
            "projectId": self.project_id,
            "resourceId": self.resource_id,
            "resourceType": self.resource_type,
            "eventType": self.event_type,
            "status": self.status,
            "failureCode": self.failure_code,
            "internalFailureCode": self.internal_failure_code,
        }
        out = {
            key: value.value if isinstance(value, _OpenEnum) else value
            for key, value in wire.items()
            if value is not None
        }
        unmodelled = {key: value for key, value in self.raw.items() if key not in wire}
        out.update(copy.deepcopy(unmodelled))  # a copy: the event's own stays as received
        return out


def compute_signature(body: bytes | bytearray | memoryview, secret: str) -> str:
    """The ``X-Sinch-Signature`` value for ``body``: lowercase hex HMAC-SHA1 under ``secret``.

    Args:
        body: the exact request body bytes.
        secret: the project's callback HMAC secret.

    Raises:
        TypeError: ``body`` is not bytes (text or parsed JSON cannot be verified).
        InvalidInputError: ``secret`` is empty or not a string; an empty key would let
            anyone forge a valid signature, so it is refused rather than used.

    Examples:
        ```python
        signature = compute_signature(b"{}", "my-callback-secret")
        assert signature == "4d88da5309fe994b66b1e846fd9728ce56cb8827"
        ```
    """
    raw = _require_raw_body(body)
    key: object = secret  # checked at run time too: callers without a type checker pass bytes
    if not isinstance(key, str) or not key:
        # The value is deliberately not echoed: it is a credential.
        raise InvalidInputError("secret", "must be a non-empty string (the HMAC secret)")
    return hmac.new(key.encode(), raw, hashlib.sha1).hexdigest()


def verify_signature(
    body: bytes | bytearray | memoryview, signature: str | None, secret: str
) -> bool:
    """Whether ``signature`` is the HMAC-SHA1 of ``body`` under ``secret``, in constant time.

    The header is compared case-insensitively and with surrounding whitespace ignored.
    A missing, empty, truncated or non-hex signature is simply ``False``.

    Args:
        body: the exact request body bytes, before any decoding.
        signature: the ``X-Sinch-Signature`` header value, or ``None`` if it was absent.
        secret: the project's callback HMAC secret.

    Raises:
        TypeError: ``body`` is not bytes, or ``signature`` is neither ``str`` nor ``None``.
        InvalidInputError: ``secret`` is empty or not a string.

    Examples:
        ```python
        body = await request.read()
        if not verify_signature(body, request.headers.get(SIGNATURE_HEADER), secret):
            raise web.HTTPUnauthorized()
        ```
    """
    expected = compute_signature(body, secret)
    if signature is None:
        return False
    if not isinstance(signature, str):
        raise TypeError(f"signature must be the header value as str, got {type(signature)!r}")
    candidate = signature.strip()
    # compare_digest refuses non-ASCII text; such a header can never be a hex digest anyway,
    # and rejecting it early reveals nothing about the expected value.
    if not candidate.isascii():
        return False
    return hmac.compare_digest(expected, candidate.lower())


def parse_event(
    body: bytes | bytearray | memoryview,
    *,
    signature: str | None = None,
    secret: str | None = None,
    max_age: float | None = DEFAULT_MAX_AGE,
    clock_skew: float = DEFAULT_CLOCK_SKEW,
    now: datetime | None = None,
) -> NumbersEvent:
    """Decode a callback body into a ``NumbersEvent``, verifying it first if asked.

    With ``secret``, the signature is checked before the body is decoded. Without it, nothing
    is verified, so only do that for projects that have no callback secret configured.
    Then the event's signed ``timestamp`` must be at most ``max_age`` seconds old and at
    most ``clock_skew`` seconds in the future: a delivery recorded and replayed later is
    refused. Unknown fields are ignored (and kept in ``raw``); unknown enum values are kept.

    Args:
        body: the exact request body bytes, e.g. ``await request.read()``.
        signature: the ``X-Sinch-Signature`` header value, or ``None`` if absent.
        secret: the project's callback HMAC secret.
        max_age: the oldest event accepted, in seconds after its ``timestamp`` (default
            one day, ``DEFAULT_MAX_AGE``: longer than Sinch goes on retrying, since a
            redelivery keeps the original stamp). ``None`` accepts any age, and events
            without a timestamp.
        clock_skew: how far in the future a ``timestamp`` may be (default five minutes).
        now: the time to compare with (default: the current time); a naive datetime is UTC.

    Raises:
        TypeError: ``body`` is ``str``, a ``dict`` or anything else that is not bytes.
        InvalidSignatureError: ``secret`` was given and the signature is missing or wrong.
        InvalidEventError: the body is not a JSON object, or a field has the wrong type.
        StaleEventError: the ``timestamp`` is older than ``max_age``, further in the future
            than ``clock_skew``, or missing (an ``InvalidEventError`` too).
        InvalidInputError: ``secret`` is empty, or a ``signature`` was given without a
            ``secret`` (it could not be checked, and ignoring it would hide a configuration
            mistake that accepts forged events), or ``max_age`` / ``clock_skew`` is out of
            range.

    Examples:
        ```python
        signature = headers.get(SIGNATURE_HEADER)
        event = parse_event(body, signature=signature, secret=secret)
        ```
    """
    raw = _require_raw_body(body)
    _check_freshness_settings(max_age, clock_skew)
    if secret is not None:
        _check_signature(raw, signature, secret)
    elif signature is not None:
        raise InvalidInputError(
            "secret", "is required when a signature is given, to verify it against the body"
        )
    event = _event_from_object(_decode_object(raw))
    if max_age is not None:
        _check_fresh(event.timestamp, max_age, clock_skew, now)
    return event


def _check_freshness_settings(max_age: object, clock_skew: object) -> None:
    """Refuse a ``max_age`` other than ``None`` or positive seconds, a negative ``clock_skew``."""
    if max_age is not None and (
        isinstance(max_age, bool)
        or not isinstance(max_age, int | float)
        or not 0 < max_age < math.inf
    ):
        raise InvalidInputError(
            "max_age", "must be None (no limit) or a positive number of seconds", max_age
        )
    if (
        isinstance(clock_skew, bool)
        or not isinstance(clock_skew, int | float)
        or not 0 <= clock_skew < math.inf
    ):
        raise InvalidInputError("clock_skew", "must be zero or more seconds", clock_skew)


def _check_fresh(
    timestamp: datetime | None, max_age: float, clock_skew: float, now: datetime | None
) -> None:
    if timestamp is None:
        raise StaleEventError(
            "event has no timestamp, so its age cannot be checked (max_age=None accepts it)"
        )
    if now is None:
        now = datetime.now(timezone.utc)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    age = now - timestamp
    stamp = _format_timestamp(timestamp)
    if age > timedelta(seconds=max_age):
        raise StaleEventError(
            f"event timestamp {stamp} is {age.total_seconds():.0f} s old, more than "
            f"max_age={max_age:g} s: a delivery replayed, or this clock is wrong"
        )
    if -age > timedelta(seconds=clock_skew):
        raise StaleEventError(
            f"event timestamp {stamp} is {-age.total_seconds():.0f} s in the future, more "
            f"than clock_skew={clock_skew:g} s: the sender's clock or this one is wrong"
        )


def _require_raw_body(body: object) -> bytes | bytearray | memoryview:
    if isinstance(body, (bytes, bytearray, memoryview)):
        return body
    raise TypeError(
        f"body must be the raw request body as bytes, got {type(body).__name__}: the signature "
        "is computed over the exact bytes received, so pass the raw body (for example "
        "`await request.read()`), not decoded text or parsed JSON"
    )


def _check_signature(
    body: bytes | bytearray | memoryview, signature: str | None, secret: str
) -> None:
    # The messages never carry the secret or the expected digest: they may reach a log or an
    # HTTP response, and the digest would tell a forger what to send.
    if signature is None or not signature.strip():
        raise InvalidSignatureError(f"missing {SIGNATURE_HEADER} header: the event is not signed")
    if not verify_signature(body, signature, secret):
        raise InvalidSignatureError(
            f"{SIGNATURE_HEADER} does not match the body: the secret differs, or the body was "
            "altered (for example decoded and re-encoded) before verification"
        )


def _decode_object(body: bytes | bytearray | memoryview) -> dict[str, Any]:
    try:
        data = _json.loads(bytes(body))
    except ValueError as exc:  # every decoder error, invalid UTF-8 included, is a ValueError
        raise InvalidEventError(f"event body is not valid JSON: {exc}") from exc
    except RecursionError:
        # Thousands of "[" exhaust the stdlib decoder's stack: malformed input, not a crash.
        raise InvalidEventError("event body is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidEventError(f"event body must be a JSON object, got {_json_type(data)}")
    return data


def _event_from_object(data: dict[str, Any]) -> NumbersEvent:
    return NumbersEvent(
        event_id=_string(data, "eventId"),
        timestamp=_timestamp(data, "timestamp"),
        project_id=_string(data, "projectId"),
        resource_id=_string(data, "resourceId"),
        resource_type=_member(data, "resourceType", ResourceType),
        event_type=_member(data, "eventType", EventType),
        status=_member(data, "status", EventStatus),
        failure_code=_member(data, "failureCode", FailureCode),
        internal_failure_code=_string(data, "internalFailureCode"),
        raw=data,
    )


def _string(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise InvalidEventError(f"{key} must be a string, got {_json_type(value)}")


_E = TypeVar("_E", bound=_OpenEnum)


def _member(data: dict[str, Any], key: str, enum_cls: type[_E]) -> _E | None:
    value = _string(data, key)
    return None if value is None else enum_cls(value)


def _timestamp(data: dict[str, Any], key: str) -> datetime | None:
    text = _string(data, key)
    if text is None:
        return None
    try:
        return parse_datetime(text).astimezone(timezone.utc)
    except (ValueError, OverflowError):  # OverflowError: an offset pushing year 1 out of range
        raise InvalidEventError(f"{key} is not an ISO 8601 date-time: {text[:40]!r}") from None


def _format_timestamp(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def _json_type(value: object) -> str:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return "a string"
