"""Every exception numbers_async raises, under one root.

```text
NumbersError
├── InvalidInputError      also ValueError: rejected locally, nothing sent
├── TransportError         connect/reset/DNS: the request may not have arrived
│   └── NumbersTimeoutError  also TimeoutError
├── AmbiguousOutcomeError  a call that may have changed state; outcome unknown
├── DecodeError            a 2xx body that is not the documented JSON
├── ResponseTooLargeError  a body over max_response_size
├── ClientClosedError      also RuntimeError: a call after aclose() or cut by it
├── WrongEventLoopError    also RuntimeError: used from a second event loop
├── TokenEndpointError     the OAuth2 token endpoint kept failing: no token
├── InvalidSignatureError  a webhook whose signature does not verify
├── InvalidEventError      also ValueError: a webhook body that is not an event
│   └── StaleEventError    a signed event outside max_age: a replay
├── JournalError           a bulk journal file the OS would not let us use
└── ApiError               status, code, message...; operation, method, path
    ├── InvalidArgumentError     400  (.field_violations)
    ├── AuthenticationError      401, and the token endpoint refusing the key
    ├── PermissionDeniedError    403
    ├── NotFoundError            404  (.resource_info)
    ├── RateLimitedError         429  (.retry_after)
    ├── ServerError              5xx
    └── UnexpectedRedirectError  3xx  (.location): never followed
```

``ApiError`` is raised for any other status too (409, 418, ...).

An error of a call says which call, in one line that can be quoted to Sinch support:
``str(error)`` of an ``ApiError``, a ``TransportError`` or an ``AmbiguousOutcomeError`` is
``"<operation>: <METHOD> <path>: <what happened> (request id <id>)"``, for example
``active_numbers.get: GET /v1/projects/p/activeNumbers/+12025550100: HTTP 404
NOT_FOUND: Number not found (request id 3f2a...)``; each part the error does not know is
left out. ``ApiError.request_id`` is the id on its own. Messages never contain a
credential: the key secret, the bearer token and the HMAC secret are only ever sent, never
echoed. Where a message quotes a response body (``DecodeError``, or ``ApiError`` for a
body that is not the API's JSON envelope), the value of a secret member in it
(``"hmacSecret"``, ``"access_token"``) is shown as ``"***"``; the ``body`` attribute keeps
the raw bytes.

Every exception here survives ``pickle``, ``copy.copy`` and ``copy.deepcopy`` with the same
type, ``str``, ``args`` and attributes, so it can cross a process boundary (multiprocessing,
``concurrent.futures``, task queues). As with any exception, ``__cause__``, ``__context__``
and the traceback are not carried.

One warning lives here too: ``InsecureTransportWarning`` (a ``UserWarning``), issued when
a client is built to send its credentials over plain ``http://`` to a host that is not
loopback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from numbers_async._headers import Headers, request_id
from numbers_async._redact import redact_secrets

__all__ = [
    "AmbiguousOutcomeError",
    "ApiError",
    "AuthenticationError",
    "ClientClosedError",
    "DecodeError",
    "FieldViolation",
    "InsecureTransportWarning",
    "InvalidArgumentError",
    "InvalidEventError",
    "InvalidInputError",
    "InvalidSignatureError",
    "JournalError",
    "NotFoundError",
    "NumbersError",
    "NumbersTimeoutError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ResponseTooLargeError",
    "ServerError",
    "StaleEventError",
    "TokenEndpointError",
    "TransportError",
    "UnexpectedRedirectError",
    "WrongEventLoopError",
]


class NumbersError(Exception):
    """Root of every exception raised by numbers_async."""

    def __reduce__(self) -> tuple[Any, ...]:
        # The default rebuilds an exception by calling ``type(self)(*self.args)``, which
        # breaks for every subclass whose constructor takes something other than its
        # message. Rebuild without the constructor instead: the same args (hence the same
        # ``str``) and the same attributes, for this class and any subclass of it.
        return (_rebuild, (type(self), self.args), dict(self.__dict__))


class InvalidInputError(NumbersError, ValueError):
    """An argument was rejected before anything was sent.

    ``argument`` names the offending parameter and ``rule`` says what it must satisfy.
    """

    def __init__(self, argument: str, rule: str, value: object = None) -> None:
        self.argument = argument
        """The name of the rejected parameter, e.g. ``"phone_number"``."""
        self.rule = rule
        """What the argument must satisfy, e.g. ``"must be E.164"``."""
        shown = "" if value is None else f" (got {_short_repr(value)})"
        super().__init__(f"{argument}: {rule}{shown}")


class TransportError(NumbersError):
    """The request could not be completed on the wire (connect, reset, DNS, protocol).

    ``request_sent`` is False when no connection was ever made, so the server cannot have
    acted on the request; True when it may have reached the server (a reset or timeout
    after sending), in which case its effect is unknown. ``operation``, ``method`` and
    ``path`` name the request, as in ``ApiError``; ``str(error)`` starts with them.
    """

    def __init__(
        self,
        message: str,
        *,
        request_sent: bool = True,
        operation: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.request_sent = request_sent
        """False when no connection was made (the server cannot have acted on it), else True."""
        self.operation = operation
        """The call that failed, e.g. ``"active_numbers.get"`` (``None`` if unknown)."""
        self.method = method
        """The request's HTTP method, e.g. ``"GET"`` (``None`` if unknown)."""
        self.path = path
        """The request's path, without query string (``None`` if unknown)."""
        super().__init__(message)

    def __str__(self) -> str:
        # The client names the call once the error reaches it: composed when shown.
        return _quotable(self.operation, self.method, self.path, super().__str__())


class NumbersTimeoutError(TransportError, TimeoutError):
    """An attempt or the overall deadline ran out."""


class AmbiguousOutcomeError(NumbersError):
    """A non-idempotent request failed in a way that leaves its outcome unknown.

    Raised for ``rent_any`` when the request may have been processed but its response was
    lost: retrying could rent (and pay for) a second number. Raised too for a call that
    changes state (``update``, ``release``...) when an earlier attempt may have been
    processed and the last one was refused (a 5xx, then 429s until out of attempts): the
    call's outcome is what its most uncertain attempt left, not what the last one said.
    ``operation``, ``method`` and ``path`` name the call, ``request`` is the JSON body that
    was sent (no key or token; a ``callbackUrl`` in it keeps any user info you gave it,
    though the message never shows it), ``request_id`` the id of the last answer it had,
    and ``__cause__`` is the underlying failure. Check the state (for ``rent_any``,
    ``active_numbers.list``) before trying again.
    """

    def __init__(
        self,
        operation: str,
        message: str,
        request: Mapping[str, Any] | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        request_id: str | None = None,
    ):
        self.operation = operation
        """The call whose outcome is unknown, e.g. ``"available_numbers.rent_any"``."""
        self.request = dict(request) if request is not None else None
        """The JSON body that was sent, or ``None`` (no key or token; a ``callbackUrl`` keeps
        the user info it was given)."""
        self.method = method
        """The request's HTTP method, e.g. ``"POST"`` (``None`` if unknown)."""
        self.path = path
        """The request's path, without query string (``None`` if unknown)."""
        self.request_id = request_id
        """The request id of the last answer the call had, if it had one: quote it to
        Sinch support (``None`` when no attempt was answered, or the answer had none)."""
        super().__init__(_quotable(operation, method, path, message, request_id))


class DecodeError(NumbersError):
    """A successful (2xx) response whose body is not the documented JSON."""

    def __init__(self, message: str, *, status: int, body: bytes) -> None:
        self.status = status
        """The HTTP status of the response (a 2xx)."""
        self.body = body
        """The raw response body that could not be decoded, exactly as it came.

        Kept raw for diagnosis, so it may hold a secret the server sent (the
        ``hmacSecret`` of a callback configuration): treat it like the model it failed
        to become. The message quotes it with such values replaced by ``"***"``.
        """
        super().__init__(f"{message} (HTTP {status}, {len(body)} bytes: {_short_body(body)})")


class ResponseTooLargeError(NumbersError):
    """A response body (after decompression) longer than the client's ``max_response_size``.

    ``limit`` is that size in bytes. The request was sent and may have been processed; the
    rest of the body was not read. Not retried: the same answer would be as large again.
    """

    def __init__(self, message: str, *, limit: int) -> None:
        self.limit = limit
        """The ``max_response_size`` in bytes that the body went past."""
        super().__init__(f"{message}: larger than max_response_size={limit} bytes")


class ClientClosedError(NumbersError, RuntimeError):
    """A call on a ``NumbersClient`` after ``aclose()``; nothing was sent for it.

    Also what a call still in flight when ``aclose(timeout=...)`` ran out is cut off with,
    unless it may have changed state (then ``AmbiguousOutcomeError``). ``operation`` names
    the call (``None`` if raised below the client).
    """

    def __init__(self, message: str, *, operation: str | None = None) -> None:
        self.operation = operation
        """The call refused, e.g. ``"active_numbers.get"`` (``None`` below the client)."""
        super().__init__(f"{operation}: {message}" if operation else message)


class WrongEventLoopError(NumbersError, RuntimeError):
    """A ``NumbersClient`` used from an event loop other than the one it first ran in.

    One client belongs to one event loop (its connections and locks are bound to it);
    create one client per loop, for example one per thread that runs ``asyncio.run``.
    ``operation`` names the call that was refused; nothing was sent for it.
    """

    def __init__(self, message: str, *, operation: str) -> None:
        self.operation = operation
        """The call refused, e.g. ``"active_numbers.get"``."""
        super().__init__(f"{operation}: {message}")


class TokenEndpointError(NumbersError):
    """The OAuth2 token endpoint kept failing, so no access token could be had.

    Its answers were ``429`` or ``5xx`` through every token attempt, or asked (with
    ``Retry-After``) to wait longer than the 30 s a token fetch waits, or it could not be
    reached, reset the connection, timed out, or sent an answer too large or unreadable,
    or a token the client does not keep: not a bearer token, or with characters outside
    RFC 6750's ``b64token`` (CR/LF, spaces...). The message never quotes the token.
    This is not a wrong key (that is ``AuthenticationError``): the same call may succeed
    once the token endpoint recovers. The API request that needed the token was not sent
    (a call that changes state and had already sent an earlier attempt ends in
    ``AmbiguousOutcomeError`` instead, this error chained). ``status`` is the token
    endpoint's last HTTP status (``None`` when it sent none), ``attempts`` how many token
    requests were made, and ``__cause__`` the last failure.
    """

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        self.status = status
        """The token endpoint's last HTTP status, or ``None`` if it never answered."""
        self.attempts = attempts
        """How many token requests were made before giving up."""
        super().__init__(message)


class InvalidSignatureError(NumbersError):
    """A webhook body whose ``X-Sinch-Signature`` is missing or does not match."""


class InvalidEventError(NumbersError, ValueError):
    """A webhook body that is not a JSON ``CallbackPayload`` object."""


class StaleEventError(InvalidEventError):
    """A signed webhook event whose ``timestamp`` is outside the accepted window.

    Older than ``max_age``, stamped further in the future than ``clock_skew`` allows, or
    without a timestamp at all: a recorded delivery replayed later, never one to act on.
    The receivers answer it ``400``, which Sinch does not retry.
    """


class InsecureTransportWarning(UserWarning):
    """A client sends its credentials over plain ``http://`` to a host that is not loopback.

    The key pair (``auth="basic"``) or the bearer token and the key pair that fetches it
    would cross the network unencrypted. Use ``https://``; silence the warning only for a
    network you trust, with ``warnings.filterwarnings("ignore",
    category=InsecureTransportWarning)``.
    """


class JournalError(NumbersError):
    """A bulk job's journal file could not be opened, read or written.

    ``path`` is the file and ``reason`` the cause (for example ``"No space left on
    device"``, or ``"not a regular file"``). The job stops; what its journal recorded
    before the error stays valid, so a rerun with a usable file (the same one once the
    cause is fixed) finishes the job.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        """The journal file, as the job was given it."""
        self.reason = reason
        """Why it could not be used, e.g. ``"No space left on device"``."""
        super().__init__(path, reason)

    def __str__(self) -> str:
        return f"journal {self.path}: {self.reason}"


@attrs.frozen
class FieldViolation:
    """One entry of a ``BadRequest`` detail: which field was wrong and why."""

    field: str
    """The request field the server rejected, e.g. ``"order_by"``."""
    description: str
    """Why it was rejected, in the server's words."""


class ApiError(NumbersError):
    """The API answered with an error status.

    Attributes:
        status: the HTTP status code.
        code: ``error.code`` from the envelope (usually equal to ``status``), else ``status``.
        status_text: ``error.status`` such as ``"NOT_FOUND"``, or ``""`` for non-JSON bodies.
        message: ``error.message``, or a short excerpt of a non-JSON body (a secret such
            as ``"hmacSecret": "..."`` in it shows as ``"hmacSecret":"***"``).
        details: ``error.details`` as decoded JSON objects (``ResourceInfo``, ``BadRequest``...).
        body: the raw response body, exactly as it came (not redacted).
        headers: the response headers (``Set-Cookie`` left out), a read-only mapping whose
            lookups ignore the case of names: ``headers["retry-after"]`` works.
        retry_after: the response's ``Retry-After`` in seconds, if it sent one (429, 503...).
        operation: the call that failed, e.g. ``"active_numbers.get"`` (``None`` if unknown).
        method: the request's HTTP method, e.g. ``"GET"`` (``None`` if unknown).
        path: the request's path, without query string (``None`` if unknown). Neither
            ``method`` nor ``path`` carries a credential: those travel in headers only.
    """

    def __init__(
        self,
        status: int,
        *,
        code: int | None = None,
        status_text: str = "",
        message: str = "",
        details: Sequence[Mapping[str, Any]] = (),
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
        operation: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        message = redact_secrets(message)
        self.status = status
        self.retry_after = retry_after
        self.code = status if code is None else code
        self.status_text = status_text
        self.message = message
        self.details: list[dict[str, Any]] = [dict(d) for d in details]
        self.body = body
        self.headers: Mapping[str, str] = Headers(
            (name, value) for name, value in (headers or {}).items() if name.lower() != "set-cookie"
        )
        self.operation = operation
        self.method = method
        self.path = path
        label = f"HTTP {status}" + (f" {status_text}" if status_text else "")
        text = f"{label}: {message}" if message else label
        super().__init__(_quotable(operation, method, path, text, self.request_id))

    @property
    def request_id(self) -> str | None:
        """The id the server gave this answer (its ``x-request-id`` header), or ``None``.

        Quote it to Sinch support; ``str(error)`` ends with it too.
        """
        return request_id(self.headers)

    @property
    def resource_info(self) -> dict[str, Any] | None:
        """The first ``ResourceInfo`` detail (``resourceType``, ``resourceName``...), if any."""
        for detail in self.details:
            if detail.get("type") == "ResourceInfo":
                return detail
        return None


class InvalidArgumentError(ApiError):
    """400: the server rejected an argument; ``field_violations`` lists which and why."""

    @property
    def field_violations(self) -> list[FieldViolation]:
        """Every ``fieldViolations`` entry of every ``BadRequest`` detail."""
        return [
            FieldViolation(str(v.get("field", "")), str(v.get("description", "")))
            for detail in self.details
            if detail.get("type") == "BadRequest"
            for v in detail.get("fieldViolations", ())
            if isinstance(v, Mapping)
        ]


class AuthenticationError(ApiError):
    """401 from the API, or the OAuth2 token endpoint refusing the key pair (a 4xx).

    A token endpoint that keeps failing (5xx, 429, unreachable) is a
    ``TokenEndpointError`` instead: the key may be right.
    """


class PermissionDeniedError(ApiError):
    """403: the credentials are valid but not allowed to do this (for example a trial account)."""


class NotFoundError(ApiError):
    """404: the number (or project) does not exist or is not available."""


class RateLimitedError(ApiError):
    """429: too many requests. ``retry_after`` is the server's hint in seconds, if it gave one."""

    def __init__(self, status: int = 429, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(status, retry_after=retry_after, **kw)


class ServerError(ApiError):
    """5xx: the server or a gateway in front of it failed."""


class UnexpectedRedirectError(ApiError):
    """3xx: the server answered with a redirect, which the client never follows.

    A followed redirect turns a ``POST`` into a ``GET`` and reports the target's answer as
    the result of something that did not happen. ``location`` is the ``Location`` header
    (without its query string), or ``None``. Not retried.
    """

    @property
    def location(self) -> str | None:
        """Where the server pointed, without query string or fragment."""
        value = self.headers.get("Location")
        if value is None:
            return None
        return value.split("?", 1)[0].split("#", 1)[0]


def _quotable(
    operation: str | None,
    method: str | None,
    path: str | None,
    text: str,
    request_id: str | None = None,
) -> str:
    """``"<operation>: <METHOD> <path>: <text> (request id <id>)"``, without what is unknown."""
    if method and path:
        text = f"{method} {path}: {text}"
    if operation:
        text = f"{operation}: {text}"
    return f"{text} (request id {request_id})" if request_id else text


def _rebuild(cls: type[NumbersError], args: tuple[Any, ...]) -> NumbersError:
    """An instance of ``cls`` with ``args``, built without calling its ``__init__``.

    Pickle and copy then restore the instance's attributes from its saved ``__dict__``.
    """
    error = cls.__new__(cls, *args)
    error.args = args  # OSError subclasses (TimeoutError) leave args to __init__
    return error


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_body(body: bytes, limit: int = 120) -> str:
    """The first ``limit`` bytes of ``body`` as a quoted string, secrets redacted."""
    text = redact_secrets(body[:limit].decode("utf-8", "replace"))
    return repr(text + ("..." if len(body) > limit else ""))
