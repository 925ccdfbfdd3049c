"""Fault injection for the fake server: what can go wrong, and on which requests.

Build a ``Fault`` with one of its class methods and hand it to
``FakeNumbersServer.inject``; the server consults its faults before handling each
request, in the order they were injected.
"""

from __future__ import annotations

import math
import random
from typing import Literal

import attrs

from ._wire import ROUTES, Answer, envelope, gateway_html, json_answer, reason

FaultKind = Literal[
    "status",
    "status_after",
    "latency",
    "reset_before",
    "reset_after",
    "truncated_json",
    "expire_token",
]
BodyKind = Literal["json", "html", "empty"]

# Kinds that answer instead of the request being handled; the others let it through.
_PRE_EMPTIVE = frozenset({"status", "reset_before", "expire_token"})


@attrs.frozen
class Fault:
    """Something going wrong on a request.

    Build one with the class methods, e.g. ``Fault.status(503, body="html")``,
    ``Fault.status_after(503)`` or ``Fault.reset_after()``, and pass it to
    ``FakeNumbersServer.inject``.
    """

    kind: FaultKind
    """What goes wrong (``"status"``, ``"latency"``, ``"reset_before"``, ...)."""
    status_code: int = 0
    """The status a ``status`` fault answers."""
    body: BodyKind = "json"
    """The body a ``status`` fault answers: the JSON error envelope, HTML or nothing."""
    retry_after: str | None = None
    """The ``Retry-After`` header a ``status`` fault sends, if any."""
    seconds: float = 0.0
    """The delay a ``latency`` fault adds."""

    @classmethod
    def status(cls, code: int, *, body: BodyKind = "json", retry_after: str | None = None) -> Fault:
        """Answer ``code`` instead of handling the request; nothing changes on the server.

        ``body``: ``"json"`` is the API's error envelope for that status, ``"html"`` a
        gateway-style HTML page, ``"empty"`` no body at all. ``retry_after`` is sent
        verbatim as the ``Retry-After`` header (seconds or an HTTP date).
        """
        _check_status(code, body)
        return cls("status", status_code=code, body=body, retry_after=retry_after)

    @classmethod
    def status_after(
        cls, code: int, *, body: BodyKind = "json", retry_after: str | None = None
    ) -> Fault:
        """Handle the request fully, then answer ``code`` instead of its response.

        The state change (a rent, a release) happened, but the client is told it failed:
        a gateway timing out after the backend did the work, say. ``body`` and
        ``retry_after`` are as for [`status`][]. A retry then meets the changed state
        (a second rent of the number answers 404), so a client that retries without
        reconciling is caught renting twice (``rent_counts``).
        """
        _check_status(code, body)
        return cls("status_after", status_code=code, body=body, retry_after=retry_after)

    @classmethod
    def latency(cls, seconds: float) -> Fault:
        """Wait ``seconds`` before handling the request normally."""
        if not seconds >= 0:
            raise ValueError(f"seconds must be >= 0, got {seconds}")
        return cls("latency", seconds=seconds)

    @classmethod
    def reset_before(cls) -> Fault:
        """Drop the connection without handling the request: nothing changes on the server."""
        return cls("reset_before")

    @classmethod
    def reset_after(cls) -> Fault:
        """Handle the request fully, then drop the connection instead of answering.

        The response is lost but the state change (a rent, a release) happened.
        """
        return cls("reset_after")

    @classmethod
    def truncated_json(cls) -> Fault:
        """Handle the request, then send only the first half of the JSON body."""
        return cls("truncated_json")

    @classmethod
    def expire_token(cls) -> Fault:
        """Expire every issued token now and answer ``401`` with ``Bearer error="expired"``."""
        return cls("expire_token")

    @property
    def pre_emptive(self) -> bool:
        """Whether this fault answers instead of the request being handled."""
        return self.kind in _PRE_EMPTIVE

    def _answer(self) -> Answer:
        """The answer of a ``status``, ``status_after`` or ``reset_before`` fault."""
        if self.kind == "reset_before":
            return Answer(0, drop=True)
        code = self.status_code
        headers = {} if self.retry_after is None else {"Retry-After": self.retry_after}
        if self.body == "json":
            return json_answer(code, envelope(code, reason(code)), headers)
        if self.body == "html":
            return Answer(code, gateway_html(code), "text/html", headers)
        return Answer(code, headers=headers)

    def _distort(self, answer: Answer) -> Answer:
        """Spoil the answer of a handled request (``reset_after``, ``status_after``...)."""
        if self.kind == "status_after":
            return self._answer()
        if self.kind == "reset_after":
            return attrs.evolve(answer, drop=True)
        if self.kind == "truncated_json":
            return attrs.evolve(answer, body=answer.body[: len(answer.body) // 2])
        return answer


def _check_status(code: int, body: str) -> None:
    if not 200 <= code <= 599:
        raise ValueError(f"status code must be 200-599, got {code}")
    if body not in ("json", "html", "empty"):
        raise ValueError(f"body must be 'json', 'html' or 'empty', got {body!r}")


class FaultHandle:
    """An injected fault: how often it has fired, and a way to withdraw it."""

    def __init__(
        self,
        plan: FaultPlan,
        fault: Fault,
        route: str | None,
        times: int | None,
        probability: float | None,
    ) -> None:
        self._plan = plan
        self.fault = fault
        """The fault injected."""
        self.route = route
        """The route it affects; ``None``: every Numbers API route."""
        self.remaining = times
        """How many more requests it will affect; ``None`` means forever."""
        self.probability = probability
        """The chance it affects a matching request; ``None``: always."""
        self.applied = 0
        """How many requests it has affected so far."""

    @property
    def active(self) -> bool:
        """Whether the fault can still fire."""
        return self in self._plan.handles

    def cancel(self) -> None:
        """Withdraw the fault; harmless if it is already spent."""
        self._plan.remove(self)

    def __repr__(self) -> str:
        return (
            f"FaultHandle({self.fault!r}, route={self.route!r}, remaining={self.remaining!r},"
            f" applied={self.applied})"
        )


class FaultPlan:
    """The injected faults, in order, and the seeded dice for probabilistic ones."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.handles: list[FaultHandle] = []

    def add(
        self, fault: Fault, route: str | None, times: int | None, probability: float | None
    ) -> FaultHandle:
        """Append a fault; see ``FakeNumbersServer.inject``."""
        if route is not None and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; expected one of {', '.join(ROUTES)}")
        if times is not None and times < 1:
            raise ValueError(f"times must be >= 1 or None, got {times}")
        if probability is not None and not 0 < probability <= 1:
            raise ValueError(f"probability must be in (0, 1], got {probability}")
        handle = FaultHandle(self, fault, route, times, probability)
        self.handles.append(handle)
        return handle

    def remove(self, handle: FaultHandle) -> None:
        """Forget one fault."""
        if handle in self.handles:
            self.handles.remove(handle)

    def clear(self) -> None:
        """Forget every fault."""
        self.handles.clear()

    def select(self, route: str) -> tuple[float, Fault | None]:
        """The faults a request on ``route`` meets: total extra latency, deciding fault.

        Every matching latency fault adds its delay; the first matching fault of any other
        kind decides what happens to the request. Each fault that fires uses up one of its
        ``times``.
        """
        delay, decisive = 0.0, None
        for handle in list(self.handles):
            is_latency = handle.fault.kind == "latency"
            if not self._targets(handle, route) or (decisive is not None and not is_latency):
                continue
            if handle.probability is not None and self._rng.random() >= handle.probability:
                continue
            self._use(handle)
            if is_latency:
                delay += handle.fault.seconds
            else:
                decisive = handle.fault
        return delay, decisive

    @staticmethod
    def _targets(handle: FaultHandle, route: str) -> bool:
        # route=None means the Numbers API: the token endpoint only fails when named, so
        # "fail the next request" does not end up failing the client's token fetch instead.
        if handle.route is None:
            return route != "token"
        return handle.route == route

    def _use(self, handle: FaultHandle) -> None:
        handle.applied += 1
        if handle.remaining is not None:
            handle.remaining -= 1
            if handle.remaining == 0:
                self.remove(handle)


class TokenBucket:
    """A token bucket: ``rate`` requests per second on average, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated = now

    def take(self, now: float) -> float:
        """Take a token: ``0.0`` if one was there, else seconds until one will be."""
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate


def retry_after_header(wait: float) -> str:
    """A ``Retry-After`` value in whole seconds, never 0 (0 would invite a tight loop)."""
    return str(max(1, math.ceil(wait)))
