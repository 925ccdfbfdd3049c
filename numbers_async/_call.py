"""What one request carries down the pipeline (``Call``), and what comes back (``Response``).

A ``Call`` is one logical request in flight — an API operation, a check that settles one,
or a token fetch — with the settings it runs under and what its attempts so far have
left: how many there were, whether one may have been processed, the last failure. Each
layer reads it and the retry layer keeps it up to date, so the settle layer can tell how
the call must end. A ``Response`` is one answer of the server as the transport gave it,
with the request it answered, its attempt and how long the exchange took: it flows from
the attempt layer to decoding and into errors without losing anything on the way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

from numbers_async._config import Timeouts
from numbers_async._operations import Request
from numbers_async._retry import RetryPolicy, RetryRules, maybe_processed
from numbers_async._transport import Timeout
from numbers_async.errors import NumbersTimeoutError

if TYPE_CHECKING:
    from numbers_async._observe import Watch

__all__ = ["Call", "CallOptions", "Response"]


@attrs.frozen
class CallOptions:
    """The retry policy and timeouts one call runs with."""

    retry: RetryPolicy
    timeouts: Timeouts
    #: ``timeouts`` as the transport takes them, built once rather than per request.
    timeout: Timeout = attrs.field(init=False, eq=False, repr=False)

    @timeout.default
    def _timeout(self) -> Timeout:
        return Timeout(self.timeouts.connect, self.timeouts.read, self.timeouts.total)


class Response:
    """One answer of the server: the response value every layer above the transport sees.

    ``headers`` ignore the case of names. ``attempt`` counts from 1 (a replay after a
    ``401`` answers the same attempt); ``elapsed`` is the seconds the exchange took, from
    sending to the last byte of the body.
    """

    __slots__ = ("attempt", "body", "elapsed", "headers", "request", "status", "url")

    def __init__(
        self,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        request: Request,
        url: str,
        attempt: int,
        elapsed: float,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.request = request
        self.url = url
        self.attempt = attempt
        self.elapsed = elapsed

    @property
    def operation(self) -> str:
        """The operation answered, e.g. ``"active_numbers.get"`` or ``"oauth2.token"``."""
        return self.request.op.value

    def __repr__(self) -> str:
        return f"<Response {self.status} to {self.operation}, attempt {self.attempt}>"


class Call:
    """One logical request in flight, and what its attempts so far have left."""

    # What the attempts left starts as these class defaults: a call that succeeds at
    # once (most do) never sets them, which keeps building a call cheap.
    attempt: int = 0  # the attempt being made, from 1
    failure: BaseException | None = None  # what failed the last failed attempt
    answered: bool = False  # some attempt was answered, or may have been processed
    answered_before: bool = False  # ...before the attempt that failed last
    maybe_processed: bool = False  # some attempt may have been processed
    ride_until: float | None = None  # when the call stops waiting out an outage
    response: Response | None = None  # the last answer, whatever its status
    watch: Watch | None = None  # what observes the call (_observe), when anything does

    def __init__(
        self,
        request: Request,
        url: str,
        retry: RetryPolicy,
        rules: RetryRules,
        timeout: Timeout,
        deadline_at: float | None,
    ) -> None:
        self.request = request
        self.url = url  # absolute and percent-encoded, query included
        self.retry = retry
        self.rules = rules
        self.timeout = timeout  # per attempt, before the deadline cuts it short
        self.deadline_at = deadline_at  # clock time by which the call must be over

    @property
    def path(self) -> str:
        """The request's path, as errors show it: no query string (it may hold page tokens)."""
        return urlsplit(self.url).path

    def deadline_passed(self) -> NumbersTimeoutError:
        """The error of a call whose deadline passed before its next attempt: nothing sent."""
        request = self.request
        return NumbersTimeoutError(
            "deadline passed",
            request_sent=False,
            operation=request.op.value,
            method=request.method,
            path=self.path,
        )

    def failed(self, error: BaseException, *, answered: bool) -> None:
        """Record that the current attempt failed with ``error`` (``answered``: by the server)."""
        processed = maybe_processed(error)
        self.failure = error
        self.answered_before = self.answered
        self.answered = self.answered or answered or processed
        self.maybe_processed = self.maybe_processed or processed
