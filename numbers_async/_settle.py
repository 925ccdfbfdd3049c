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

from numbers_async import _operations as ops
from numbers_async._call import Call, CallOptions, Response
from numbers_async._endings import ambiguous_outcome, check_failed, done_before
from numbers_async._observe import Observer, outcome_of
from numbers_async._operations import Op, Request
from numbers_async._raw import RawResponse
from numbers_async._retry import API_RULES, Settlement, settlement
from numbers_async._retrying import Decode, Deferred, Retrying
from numbers_async.errors import AmbiguousOutcomeError, NotFoundError

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
            ambiguous = ambiguous_outcome(call, error)
            logger.warning("%s", ambiguous)
            raise ambiguous from error
        if verdict is Settlement.DONE:
            done = done_before(request, decode)
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
            ambiguous = check_failed(call, exc)
            logger.warning("%s", ambiguous)
            raise ambiguous from exc
        else:
            if watch is not None:
                watch.ended("succeeded", follow_up.attempt, None)
            call.response = follow_up.response  # the answer that settled the call
            logger.info("%s %s: rented by an earlier attempt (reconciled)", request.op.value, phone)
            return owned
        raise error
