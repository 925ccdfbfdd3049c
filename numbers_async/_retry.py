"""The rules of retrying, and of ending a call that may have acted.

May this be retried, after how long, may it have been processed, and how does a call
end once one of its attempts may have acted? This module is the only place that answers
those questions, for API calls and for the OAuth2 token fetch alike, and for bulk jobs
that rerun what an earlier run left unknown. It does no I/O and knows nothing of HTTP
libraries: the request pipeline and bulk jobs ask it, then do the waiting and the
checking themselves.

- ``RetryPolicy`` (the caller's settings) and ``RetryEvent`` (what ``on_retry`` is told).
- ``Safety`` and ``safety_of``: what repeating an operation risks; ``changes_state``:
  whether it changes what the project has. ``generic_rules``: both, for a request the
  caller describes (``client.request``), from its method and what the caller says.
- ``RetryRules``: which failures a family of requests retries on, and whether it shares
  the client's outage gate and 429 pause (``API_RULES``, ``TOKEN_RULES``), as data.
- ``parse_retry_after``: ``Retry-After`` in seconds, parsed once when the error is built
  (``ApiError.retry_after``) and only read afterwards.
- ``maybe_processed``: whether the server may have acted on a request that failed.
- ``retry_delay``: the seconds to wait before the next attempt, or None to stop;
  ``notify_retry`` logs a retry and tells ``on_retry``.
- ``Settlement``, ``after_unknown`` and ``settlement``: how a call ends once an attempt
  may have acted — the error stands, the server is asked, it is done, or it is ambiguous.
- ``attempt_window`` and ``call_window``: how long one attempt, and one call with all its
  retries, can run (a bulk rerun waits that long for an earlier run's requests).
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any, Final

import attrs

from numbers_async.errors import (
    ApiError,
    AuthenticationError,
    ClientClosedError,
    DecodeError,
    InvalidInputError,
    NumbersError,
    TokenEndpointError,
    TransportError,
)

__all__ = [
    "AFTER_UNKNOWN",
    "API_RULES",
    "AUTH_OPERATION",
    "GENERIC_OPERATION",
    "IDEMPOTENT_METHODS",
    "MAX_RETRY_AFTER",
    "RETRYABLE_STATUS",
    "STATE_CHANGING",
    "TOKEN_MAX_RETRY_AFTER",
    "TOKEN_POLICY",
    "TOKEN_RULES",
    "UNBOUNDED_ATTEMPT",
    "RetryEvent",
    "RetryPolicy",
    "RetryRules",
    "Safety",
    "Settlement",
    "after_unknown",
    "attempt_window",
    "call_window",
    "changes_state",
    "generic_rules",
    "maybe_processed",
    "notify_retry",
    "parse_retry_after",
    "reason_for",
    "retry_delay",
    "safety_of",
    "settlement",
]

logger = logging.getLogger("numbers_async")


# --- the caller's settings ---------------------------------------------------------------------


def _non_negative(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise InvalidInputError(
            f"{type(instance).__name__}.{attribute.name}", "must be a number >= 0", value
        )


#: The longest ``Retry-After`` any policy may agree to wait (one hour): past it, a server's
#: hint cannot hold a call, however the policy is set; the call fails with the hint instead.
MAX_RETRY_AFTER: Final = 3600.0


def _retry_after_ceiling(instance: Any, attribute: Any, value: Any) -> None:
    _non_negative(instance, attribute, value)
    if value > MAX_RETRY_AFTER:
        raise InvalidInputError(
            f"{type(instance).__name__}.{attribute.name}",
            f"must be at most {MAX_RETRY_AFTER:g} seconds (a longer Retry-After is raised "
            "as RateLimitedError, whose retry_after says how long the server asked for)",
            value,
        )


def _at_least_one(instance: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(
            f"{type(instance).__name__}.{attribute.name}", "must be an integer >= 1", value
        )


@attrs.frozen
class RetryEvent:
    """What ``RetryPolicy.on_retry`` is told before each retry sleep.

    Attributes:
        operation: e.g. ``"active_numbers.get"``, or ``"oauth2.token"`` for the token fetch.
        attempt: the attempt that failed, from 1.
        reason: e.g. ``"HTTP 503"``, ``"TransportError: ServerDisconnectedError"``.
        delay: seconds until the next attempt.
        caused_by: the exception that failed the attempt (an ``ApiError``,
            ``TransportError``...), or None when the event was built by hand.
    """

    operation: str
    attempt: int
    reason: str
    delay: float
    caused_by: NumbersError | None = attrs.field(default=None, eq=False, kw_only=True)


@attrs.frozen
class RetryPolicy:
    """How failed requests are retried, only where it is safe.

    The rules are in [Configuration: retries](../guides/configuration.md#retries).

    Attributes:
        attempts: attempts in all, the first included (1 disables retries).
        backoff: the base delay in seconds; attempt *n* waits a random time up to
            ``backoff * 2**(n-1)`` ("full jitter"), capped by ``max_backoff``.
        max_backoff: the longest computed backoff.
        max_retry_after: the longest ``Retry-After`` the client will wait (at most one
            hour); a longer one raises ``RateLimitedError`` (with ``.retry_after``) at once.
        on_retry: called with a ``RetryEvent`` before each retry sleep (metrics, logs),
            token-endpoint retries included. An exception it raises ends the call; a
            call that may already have changed something then ends as any other does
            (checked, or ``AmbiguousOutcomeError`` with the exception chained).
        outage_wait: the longest one call waits out an outage, in seconds. When many
            connections fail at once the whole client pauses and probes the server with
            one request at a time; calls wait (their attempts meeting the outage are not
            counted) until it answers, this long at most, and never past their deadline.
            0 turns this off: every connect failure then counts as an attempt.
    """

    attempts: int = attrs.field(default=4, validator=_at_least_one)
    backoff: float = attrs.field(default=0.25, validator=_non_negative)
    max_backoff: float = attrs.field(default=8.0, validator=_non_negative)
    max_retry_after: float = attrs.field(default=60.0, validator=_retry_after_ceiling)
    on_retry: Callable[[RetryEvent], None] | None = attrs.field(default=None, eq=False)
    outage_wait: float = attrs.field(default=60.0, validator=_non_negative, kw_only=True)

    def backoff_ceiling(self, attempt: int) -> float:
        """The upper bound of the jittered delay after failed attempt ``attempt`` (from 1)."""
        return float(min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1)))


# --- what repeating an operation risks ---------------------------------------------------------


class Safety(enum.Enum):
    """What repeating a request risks, which decides how it may be retried.

    The rules are in [Configuration: retries](../guides/configuration.md#retries).
    """

    #: Reads, PATCHes and release: doing it twice leaves the same state.
    IDEMPOTENT = "idempotent"
    #: rent of a given number: a repeat fails once the first went through, and the
    #: outcome can be checked with GET activeNumbers/{phone}.
    RECONCILE = "reconcile"
    #: rentAny, and a ``client.request`` sent with ``idempotent=False``: a repeat may do
    #: it twice (rent and bill a second number); retry only what provably was not
    #: processed.
    AT_MOST_ONCE = "at-most-once"


#: How operations (by the name the client exposes) may be retried; any other is idempotent.
SAFETY: Final[Mapping[str, Safety]] = {
    "available_numbers.rent": Safety.RECONCILE,
    "available_numbers.rent_any": Safety.AT_MOST_ONCE,
    # Setting the same emergency address again leaves the same address: a lost answer
    # is settled by the retry's. Removing it again finds none (404), which AFTER_UNKNOWN
    # reads as done, as for a release. Validating changes nothing.
    "emergency_addresses.provision": Safety.IDEMPOTENT,
    "emergency_addresses.deprovision": Safety.IDEMPOTENT,
    "emergency_addresses.validate": Safety.IDEMPOTENT,
}


def safety_of(operation: str) -> Safety:
    """How the operation named ``operation`` may be retried."""
    return SAFETY.get(operation, Safety.IDEMPOTENT)


#: Operations that change what the project has or how it is set up: once one of their
#: attempts may have been processed, how the call ended does not say what happened.
STATE_CHANGING: Final = frozenset(
    {
        "available_numbers.rent",
        "available_numbers.rent_any",
        "active_numbers.update",
        "active_numbers.release",
        "callbacks.update",
        "emergency_addresses.provision",
        "emergency_addresses.deprovision",
    }
)


def changes_state(operation: str) -> bool:
    """Whether the operation named ``operation`` changes state on the server."""
    return operation in STATE_CHANGING


#: The name every request sent with ``client.request`` carries (logs, spans, errors).
GENERIC_OPERATION: Final = "request"
#: The methods HTTP defines as idempotent (RFC 9110, section 9.2.2). The HTTP stack may
#: send one again by itself after a dropped connection (aiohttp does, once; so may any
#: proxy), so no client can promise to send one at most once.
IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "PUT", "DELETE"})


def generic_rules(method: str, idempotent: object) -> tuple[Safety, bool]:
    """How a request sent with ``client.request`` may be retried, and whether it changes state.

    The client cannot know what an endpoint it does not wrap does, so its caller says:
    ``idempotent=True`` (sending it twice does no harm) retries it as a read is retried,
    and its failure stands however it ends (a repeat is harmless, so a repeat settles
    it); ``idempotent=False`` makes it ``AT_MOST_ONCE`` and state-changing: retried only
    while no attempt may have been processed, and ended in ``AmbiguousOutcomeError``
    once one may have been.

    A POST or a PATCH must say which (``None`` is refused: nothing that may spend money
    is retried by accident). GET, HEAD, PUT and DELETE are idempotent (``None`` means
    ``True``), and ``False`` is refused for them: ``IDEMPOTENT_METHODS`` says why.
    Anything but a ``bool`` or ``None`` is refused.
    """
    if idempotent is not None and not isinstance(idempotent, bool):
        raise InvalidInputError("idempotent", "must be True or False", idempotent)
    if method in IDEMPOTENT_METHODS:
        if idempotent is False:
            raise InvalidInputError(
                "idempotent",
                f"cannot be False for a {method}: HTTP defines {method} as idempotent, so "
                "the HTTP stack may send it again by itself after a dropped connection "
                "(aiohttp does, as may a proxy), and no client can send it at most once; "
                "an operation that must not run twice is a POST or a PATCH",
            )
        return Safety.IDEMPOTENT, False
    if idempotent is None:
        raise InvalidInputError(
            "idempotent",
            f"must be given for a {method}: True if sending it twice does no harm (it "
            "is then retried like a read), False if not (it is then never sent again "
            "once it may have been processed)",
        )
    if idempotent:
        return Safety.IDEMPOTENT, False
    return Safety.AT_MOST_ONCE, True


# --- which failures are retried ----------------------------------------------------------------

RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})


@attrs.frozen
class RetryRules:
    """Which failures a family of requests retries on, and what it shares with others.

    Attributes:
        statuses: HTTP statuses worth another attempt (any other status fails at once:
            a 401 from the token endpoint is a wrong key, not a hiccup).
        transport_errors: whether connect failures, resets and timeouts are retried.
        decode_errors: whether a 2xx whose body could not be decoded (truncated, not
            JSON, not the documented shape) is retried, as a 5xx would be. Only requests
            that are safe to repeat are (see ``retry_delay``).
        rides_outages: whether connect failures count towards the client's outage gate
            and the requests wait out an outage instead of spending attempts on it: only
            for the host the gate watches.
        pauses_client: whether a 429 pauses every call of the client (its rate limiter).
    """

    statuses: frozenset[int] = RETRYABLE_STATUS
    transport_errors: bool = True
    decode_errors: bool = True
    rides_outages: bool = True
    pauses_client: bool = True

    def retryable(self, error: NumbersError) -> bool:
        """Whether ``error`` is the kind of failure these rules retry."""
        if isinstance(error, TransportError):
            return self.transport_errors
        if isinstance(error, DecodeError):
            return self.decode_errors
        return isinstance(error, ApiError) and error.status in self.statuses


#: API calls: 429, 5xx, transport failures and undecodable 2xx bodies, each subject to the
#: operation's ``Safety``.
API_RULES: Final = RetryRules()
#: The token endpoint, another host with limits of its own: 429, 5xx and transport
#: failures (fetching a token twice is harmless), with or without ``Retry-After``; any
#: other status, or an unreadable token, fails at once. Its failures never count towards
#: the API's outage gate, and its 429s never pause the API calls.
TOKEN_RULES: Final = RetryRules(decode_errors=False, rides_outages=False, pauses_client=False)
#: The name token-endpoint retries carry in a ``RetryEvent``.
AUTH_OPERATION: Final = "oauth2.token"
#: The longest ``Retry-After`` of the token endpoint the token fetch waits, in seconds. Every
#: call that needs a token waits with the fetch, so a longer hint ends the fetch at once
#: with a ``TokenEndpointError`` saying how long the endpoint asked for; the next call
#: that needs a token asks again.
TOKEN_MAX_RETRY_AFTER: Final = 30.0
#: Attempts and backoff of the token fetch; ``Retry-After`` up to ``TOKEN_MAX_RETRY_AFTER``.
TOKEN_POLICY: Final = RetryPolicy(
    attempts=4, backoff=0.5, max_backoff=4.0, max_retry_after=TOKEN_MAX_RETRY_AFTER
)


# --- the decisions -----------------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no zone information
        when = when.replace(tzinfo=timezone.utc)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def maybe_processed(error: BaseException) -> bool:
    """Whether the server may have acted on a request that failed with ``error``.

    False only when it provably did not: the input was refused locally, the credentials
    were refused, no access token could be had (nothing was sent), no connection was
    ever made, the API answered a 4xx (a 429 included: it was refused before any work),
    or the client was closed before the call could act (``ClientClosedError``: a call
    cut off by ``aclose()`` after an attempt that may have acted is an
    ``AmbiguousOutcomeError`` instead). A 5xx, a reset or timeout after sending, a 2xx
    whose body could not be read, an ambiguous outcome: the server may have acted.
    """
    if isinstance(
        error, InvalidInputError | AuthenticationError | TokenEndpointError | ClientClosedError
    ):
        return False
    if isinstance(error, TransportError):
        return error.request_sent
    if isinstance(error, ApiError):
        return error.status >= 500
    return True


def retry_delay(
    error: NumbersError,
    *,
    attempt: int,
    policy: RetryPolicy,
    rules: RetryRules = API_RULES,
    safety: Safety = Safety.IDEMPOTENT,
) -> float | None:
    """Seconds to wait before the attempt after failed attempt ``attempt``, or None to stop.

    The caller still checks its deadline: a delay that would overshoot it means stop.
    """
    if attempt >= policy.attempts or not rules.retryable(error):
        return None
    if safety is Safety.AT_MOST_ONCE and maybe_processed(error):
        return None
    if isinstance(error, DecodeError) and safety is not Safety.IDEMPOTENT:
        return None  # processed: a rent is settled instead, a rentAny is ambiguous
    retry_after = error.retry_after if isinstance(error, ApiError) else None
    if retry_after is None:
        return random.uniform(0, policy.backoff_ceiling(attempt))  # noqa: S311 - jitter
    if retry_after > policy.max_retry_after:
        return None  # the server asks for longer than we may wait: tell the caller now
    return retry_after


def reason_for(error: BaseException) -> str:
    """A short reason for logs and ``RetryEvent.reason``: ``"HTTP 503"``, ``"TransportError"``."""
    if isinstance(error, ApiError):
        return f"HTTP {error.status}"
    cause = error.__cause__
    return f"{type(error).__name__}: {type(cause).__name__}" if cause else type(error).__name__


def notify_retry(
    operation: str, error: NumbersError, attempt: int, delay: float, policy: RetryPolicy
) -> None:
    """Log a retry of ``operation`` and tell ``policy.on_retry`` (if any) about it."""
    reason = reason_for(error)
    rid = error.request_id if isinstance(error, ApiError) else None
    logger.info(
        "%s: attempt %d failed (%s%s); retrying in %.2fs",
        operation,
        attempt,
        reason,
        f", request id {rid}" if rid else "",
        delay,
    )
    if policy.on_retry is not None:
        policy.on_retry(RetryEvent(operation, attempt, reason, delay, caused_by=error))


# --- how a call that may have acted ends -------------------------------------------------------


class Settlement(enum.Enum):
    """How a call ends once one of its attempts was answered or may have acted."""

    #: What ended the call stands: it says all there is to know.
    RAISE = "raise"
    #: Ask the server what the earlier attempt did (a rent: is the number owned now?).
    RECONCILE = "reconcile"
    #: An earlier attempt did it: the call succeeded (a release answered "not owned").
    DONE = "done"
    #: Nothing can tell: ``AmbiguousOutcomeError``, with what ended the call chained.
    AMBIGUOUS = "ambiguous"


#: What a refusal of a repeat means once an earlier attempt of the same call was answered
#: or may have acted, by (operation, status). A server may act on a request and still
#: answer 429 or 5xx (a gateway giving up on a backend that went on), so any earlier
#: answer counts. Bulk reruns apply the same rule to what an earlier run left unknown.
AFTER_UNKNOWN: Final[Mapping[tuple[str, int], Settlement]] = {
    # "Not available": maybe because the earlier attempt rented it. Only the project's
    # numbers can say.
    ("available_numbers.rent", 400): Settlement.RECONCILE,
    ("available_numbers.rent", 404): Settlement.RECONCILE,
    # "Not owned": the earlier attempt released it.
    ("active_numbers.release", 404): Settlement.DONE,
    # The request itself is refused: so was the earlier, identical one.
    ("active_numbers.release", 400): Settlement.RAISE,
    # No address any more: the earlier attempt removed it. (A 400 refuses the number:
    # nothing says whether the earlier attempt acted.)
    ("emergency_addresses.deprovision", 404): Settlement.DONE,
}


def after_unknown(operation: str, status: int) -> Settlement | None:
    """What ``status`` answering a repeat of ``operation`` means (``AFTER_UNKNOWN``), if known."""
    return AFTER_UNKNOWN.get((operation, status))


def settlement(
    operation: str,
    error: BaseException,
    *,
    safety: Safety,
    changes: bool,
    answered_before: bool,
    may_have_acted: bool,
    can_send: bool,
) -> Settlement:
    """How a call of ``operation`` that ended with ``error`` ends for its caller.

    ``safety`` and ``changes``: the request's ``Safety`` and whether it changes state
    (``safety_of`` and ``changes_state`` for an operation of the client, ``generic_rules``
    for a ``client.request``). ``answered_before``: ``error`` answered an attempt after one
    that was answered or may have acted. ``may_have_acted``: some attempt of the call (the
    last included) may have been processed. ``can_send``: the client can still send a
    request to check.

    A refusal after an answered attempt means what ``AFTER_UNKNOWN`` says. Otherwise a
    call that changes state and may have acted is reconciled where its ``Safety`` allows
    (a rent), else ambiguous — however it ended: attempts spent, a deadline, a token
    failure, a hook that raised, the client closed. Anything else stands.
    """
    if answered_before and isinstance(error, ApiError):
        meaning = after_unknown(operation, error.status)
        if meaning is Settlement.RECONCILE and not can_send:
            return Settlement.AMBIGUOUS
        if meaning is not None:
            return meaning
    if not may_have_acted or not changes:
        return Settlement.RAISE
    if safety is Safety.RECONCILE and can_send:
        return Settlement.RECONCILE
    return Settlement.AMBIGUOUS


# --- how long requests can run -----------------------------------------------------------------

UNBOUNDED_ATTEMPT: Final = 300.0
"""Seconds one attempt is taken to last at most when ``Timeouts`` bound neither the attempt
(``total=None``) nor the call (``deadline=None``): a cap, since nothing else bounds it."""


def attempt_window(*, total: float | None, deadline: float | None) -> float:
    """The longest, in seconds, one attempt can run: ``total`` (or the cap), within ``deadline``."""
    attempt = UNBOUNDED_ATTEMPT if total is None else total
    if deadline is not None:
        attempt = min(attempt, deadline)
    return float(attempt)


def call_window(policy: RetryPolicy, *, total: float | None, deadline: float | None) -> float:
    """The longest, in seconds, one call (all its attempts and retry sleeps) can run.

    Every attempt lasts at most ``total`` (``UNBOUNDED_ATTEMPT`` if that is ``None``);
    between attempts the client sleeps at most the larger of the backoff ceiling and
    ``max_retry_after``. A ``deadline`` caps the whole.
    """
    attempt = UNBOUNDED_ATTEMPT if total is None else total
    sleeps = sum(
        max(policy.backoff_ceiling(failed), policy.max_retry_after)
        for failed in range(1, policy.attempts)
    )
    window = policy.attempts * attempt + sleeps
    if deadline is not None:
        window = min(window, deadline)
    return float(window)
