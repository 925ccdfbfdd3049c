"""The settle layer: where a logical operation starts and ends, and its one exit.

``Settle.run`` opens the ``Call`` of an operation and hands it to the retry layer. Whatever
ends it — an answer, the attempts spent, the deadline, a token failure, a hook or callback
that raised, the client closed — comes back here. A call none of whose attempts reached the
server ends as it ended. Otherwise ``_retry.settlement`` says how it ends:

- the error stands (a read; a refusal that says all there is to know);
- reconcile: a rent is checked with ``GET activeNumbers/{phone}`` — owned means rented, and
  that answer is the result; not owned means the rent did not happen, and the error stands;
  a check that fails leaves it ambiguous;
- done: a release answered "not owned" after a lost attempt was released by that attempt,
  and an emergency address deprovision answered "none" was removed by it;
- ambiguous: ``AmbiguousOutcomeError``, with what ended the call as its ``__cause__``.

Cancellation is not an ending: ``CancelledError`` passes through at once, no check delays it.

An ambiguous ending is logged at WARNING. A watched call (``_observe``) starts and ends
its operation here — its span is the current one while it runs — and its settling check
is an operation of its own, below it. ``run_raw`` returns the result with the answer that
gave it (``RawResponse``): the check's answer for a call a check settled.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

from numbers_async import _json
from numbers_async import _operations as ops
from numbers_async._call import Call, CallOptions, Response
from numbers_async._headers import request_id
from numbers_async._observe import Observer, outcome_of
from numbers_async._operations import Op, Request
from numbers_async._raw import RawResponse
from numbers_async._retry import API_RULES, Safety, Settlement, reason_for, settlement
from numbers_async._retrying import Decode, Deferred, Retrying
from numbers_async.errors import AmbiguousOutcomeError, ClientClosedError, NotFoundError

__all__ = ["Settle"]

logger = logging.getLogger("numbers_async")

T = TypeVar("T")


class Settle:
    """Runs one API operation to its end (see the module docstring)."""

    def __init__(
        self,
        prefix: str,
        retrying: Retrying,
        send: Callable[[Call], Awaitable[Response]],
        can_send: Callable[[], bool],
        observer: Observer,
        clock: Callable[[], float],
    ) -> None:
        self._prefix = prefix  # the project's URL: every request's path goes below it
        self._retrying = retrying
        self._send = send  # one attempt with its credential: the auth flow
        self._can_send = can_send
        self._observer = observer
        self._clock = clock

    async def run(
        self, request: Request, options: CallOptions, decode: Decode[T], deadline_at: float | None
    ) -> T:
        """Send ``request`` under ``options`` and return its result as ``decode`` makes it."""
        url = self._prefix + request.target
        call = Call(request, url, options.retry, API_RULES, options.timeout, deadline_at)
        if self._observer.watching():
            return await self._watched(call, decode)
        try:
            return await self._retrying.run(call, self._send, decode)
        except Exception as error:  # noqa: BLE001 - _settle re-raises what it cannot settle
            return await self._settle(call, error, decode)

    async def run_raw(
        self, request: Request, options: CallOptions, decode: Decode[T], deadline_at: float | None
    ) -> RawResponse[T]:
        """``run``, and what the answer that gave the result said (``RawResponse``)."""
        started = self._clock()
        url = self._prefix + request.target
        call = Call(request, url, options.retry, API_RULES, options.timeout, deadline_at)
        if self._observer.watching():
            parsed = await self._watched(call, decode)
        else:
            try:
                parsed = await self._retrying.run(call, self._send, decode)
            except Exception as error:  # noqa: BLE001 - as in run
                parsed = await self._settle(call, error, decode)
        answer = call.response
        if answer is None:  # every result comes from an answer, or from settling one
            raise AssertionError(f"{request.op.value}: a result without an answer")
        return RawResponse(
            parsed=parsed,
            status_code=answer.status,
            headers=answer.headers,
            operation=request.op.value,
            elapsed=self._clock() - started,
            retries=call.attempt - 1,
        )

    async def _watched(self, call: Call, decode: Decode[T]) -> T:
        """``run`` for a call something watches: its operation starts and ends here."""
        request = call.request
        # A client.request's span also shows its method and its path below the project.
        route = request.path[1:] if request.op is Op.REQUEST else None
        watch = call.watch = self._observer.watch(
            request.op.value, request.phone_number, route=route, method=request.method
        )
        token = watch.attach()
        try:
            try:
                result = await self._retrying.run(call, self._send, decode)
                outcome = "succeeded"
            except Exception as error:  # noqa: BLE001 - as in run
                result = await self._settle(call, error, decode)
                outcome = "reconciled"
        except BaseException as error:
            watch.detach(token)
            ambiguous = isinstance(error, AmbiguousOutcomeError)
            watch.ended("ambiguous" if ambiguous else outcome_of(error), call.attempt, error)
            raise
        watch.detach(token)
        watch.ended(outcome, call.attempt, None)
        return result

    async def _settle(self, call: Call, error: Exception, decode: Decode[T]) -> T:
        """How a call that ended with ``error`` ends for its caller: raise, or a result."""
        if not call.answered:  # nothing reached the server: how it ended stands
            raise error
        request = call.request
        verdict = settlement(
            request.op.value,
            error,
            safety=request.safety,
            changes=request.changes_state,
            answered_before=call.answered_before and error is call.failure,
            may_have_acted=call.maybe_processed,
            can_send=self._can_send(),
        )
        if verdict is Settlement.RAISE:
            raise error
        if verdict is Settlement.AMBIGUOUS:
            ambiguous = _ambiguous(call, error)
            logger.warning("%s", ambiguous)
            raise ambiguous from error
        if verdict is Settlement.DONE:
            done = _done(request, decode)
            return await done.finish() if isinstance(done, Deferred) else done
        return await self._reconcile(call, error, decode)

    async def _reconcile(self, call: Call, error: Exception, decode: Decode[T]) -> T:
        """Ask the server whether an earlier attempt of a rent went through."""
        request = call.request
        phone = request.phone_number
        check = ops.get_active(phone)
        url = self._prefix + check.target
        follow_up = Call(check, url, call.retry, API_RULES, call.timeout, call.deadline_at)
        watch = None
        if call.watch is not None:
            # Its span is a child of the rent's, current while the rent runs.
            watch = follow_up.watch = self._observer.watch(
                check.op.value, phone, settles=request.op.value
            )
        try:
            owned = await self._retrying.run(follow_up, self._send, decode)
        except NotFoundError as exc:
            if watch is not None:
                watch.ended("failed", follow_up.attempt, exc)
            # not ours: the rent really did not happen, as the error says
        except Exception as exc:
            if watch is not None:
                watch.ended("failed", follow_up.attempt, exc)
            ambiguous = AmbiguousOutcomeError(
                request.op.value,
                f"{phone} may have been rented, and checking failed ({reason_for(exc)})",
                request.json,
                **_named(call),
            )
            logger.warning("%s", ambiguous)
            raise ambiguous from exc
        else:
            if watch is not None:
                watch.ended("succeeded", follow_up.attempt, None)
            call.response = follow_up.response  # the answer that settled the call
            logger.info("%s %s: rented by an earlier attempt (reconciled)", request.op.value, phone)
            return owned
        raise error


def _done(request: Request, decode: Decode[T]) -> T | Deferred[T]:
    """The result of a release or a deprovision that an earlier, lost attempt did."""
    phone = request.phone_number
    if request.op is Op.DEPROVISION_EMERGENCY_ADDRESS:
        logger.info("%s %s: already removed by an earlier attempt", request.op.value, phone)
        return decode(200, b"")  # what the deprovision itself answers: nothing
    logger.info("%s %s: already released by an earlier attempt", request.op.value, phone)
    # The API has nothing more to say about a number the project no longer owns, so the
    # answer carries only the number.
    return decode(200, _json.dumps({"phoneNumber": phone}))


def _named(call: Call) -> dict[str, str | None]:
    """The method, path and last request id an ``AmbiguousOutcomeError`` of ``call`` shows."""
    answer = call.response
    return {
        "method": call.request.method,
        "path": urlsplit(call.url).path,
        "request_id": None if answer is None else request_id(answer.headers),
    }


def _ambiguous(call: Call, error: BaseException) -> AmbiguousOutcomeError:
    """The error of a call that may have acted and can no longer tell."""
    request = call.request
    reason = reason_for(error)
    if isinstance(error, ClientClosedError):
        message = (
            "the client was closed while the call was in flight, after an attempt that "
            "may have been processed; whether it took effect is unknown"
        )
    elif request.op is Op.REQUEST:
        message = (
            f"the request may have been processed but its outcome is unknown ({reason}); "
            "it was not sent again because it was sent with idempotent=False. Check "
            "what it did before sending it again."
        )
    elif request.safety is Safety.AT_MOST_ONCE:
        message = (
            f"the request may have been processed but its outcome is unknown ({reason}); "
            "it was not retried because a repeat could rent a second number. Check "
            "active_numbers.list before trying again."
        )
    else:
        message = (
            f"an attempt may have been processed, and the call then ended ({reason}); "
            "whether the change took effect is unknown"
        )
    return AmbiguousOutcomeError(request.op.value, message, request.json, **_named(call))
