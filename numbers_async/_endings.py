"""The settle layer's endings for a call that may have acted, other than its own error.

``_settle`` decides which ending a call gets; these build them:

- ``ambiguous_outcome``: the ``AmbiguousOutcomeError`` of a call that can no longer tell
  whether it took effect, saying why and what to check;
- ``check_failed``: the same for a rent whose settling check (``GET activeNumbers/{phone}``)
  failed;
- ``done_before``: the result of a release, or an emergency address deprovision, that an
  earlier attempt whose answer was lost had already done.

Each error names the call's method, path and last request id.
"""

from __future__ import annotations

import logging
from typing import TypeVar

from numbers_async import _json
from numbers_async._call import Call
from numbers_async._headers import request_id
from numbers_async._operations import Op, Request
from numbers_async._retry import Safety, reason_for
from numbers_async._retrying import Decode, Deferred
from numbers_async.errors import AmbiguousOutcomeError, ClientClosedError

__all__ = ["ambiguous_outcome", "check_failed", "done_before"]

logger = logging.getLogger("numbers_async")

T = TypeVar("T")


def done_before(request: Request, decode: Decode[T]) -> T | Deferred[T]:
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
        "path": call.path,
        "request_id": None if answer is None else request_id(answer.headers),
    }


def ambiguous_outcome(call: Call, error: BaseException) -> AmbiguousOutcomeError:
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


def check_failed(call: Call, error: Exception) -> AmbiguousOutcomeError:
    """The error of a rent that may have happened, when the check that would tell failed."""
    request = call.request
    return AmbiguousOutcomeError(
        request.op.value,
        f"{request.phone_number} may have been rented, and checking failed ({reason_for(error)})",
        request.json,
        **_named(call),
    )
