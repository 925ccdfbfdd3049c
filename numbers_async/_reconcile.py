"""Settling Numbers calls whose earlier attempt may have gone through.

The sender knows only that an earlier attempt reached the server (a server may act on a
request and still answer 429 or 5xx); this module knows what that means for the Numbers API:

- a rent retried after such an attempt and answered "not available" (400/404), or a rent
  out of attempts, is settled by ``GET activeNumbers/{phone}``: owned means rented;
- a release retried after such an attempt and answered 404 was released by the lost
  attempt: that is success;
- so was an emergency address deprovision retried and answered 404: the lost attempt
  removed the address, and the call answers as if it had said so.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

from numbers_async import _json
from numbers_async import _operations as ops
from numbers_async._operations import Op, Request
from numbers_async._retry import describe
from numbers_async.errors import AmbiguousOutcomeError, ApiError, NotFoundError, NumbersError

__all__ = ["NumbersSettler", "Send"]

logger = logging.getLogger("numbers_async")

#: Send a follow-up request with the same options and deadline; its 2xx (status, body).
Send = Callable[[Request], Awaitable[tuple[int, bytes]]]

#: Answers to a repeated rent or release that mean "already done" once an earlier attempt
#: may have gone through: the number is no longer available / no longer owned.
_ALREADY_DONE_STATUS: Final = frozenset({400, 404})


def _status(error: NumbersError) -> int | None:
    return error.status if isinstance(error, ApiError) else None


class NumbersSettler:
    """The sender's hook for settling rent and release (see the module docstring)."""

    def already_done(self, request: Request, error: NumbersError) -> bool:
        """A rent answered "not available", a release "not owned", a deprovision "none"."""
        if request.op is Op.DEPROVISION_EMERGENCY_ADDRESS:
            return _status(error) == 404  # a 400 refuses the number: not done
        return request.op in (Op.RENT, Op.RELEASE) and _status(error) in _ALREADY_DONE_STATUS

    async def settle(self, request: Request, error: NumbersError, send: Send) -> tuple[int, bytes]:
        """An earlier attempt may have succeeded: find out, and answer as if it had.

        Raises ``error`` when there is nothing to settle, and ``AmbiguousOutcomeError``
        when checking failed.
        """
        phone = request.phone_number
        if request.op is Op.RELEASE and phone is not None and _status(error) == 404:
            # The lost attempt released it. The API has nothing more to say about a number
            # the project no longer owns, so the answer carries only the number.
            logger.info("%s %s: already released by an earlier attempt", request.op.value, phone)
            return 200, _json.dumps({"phoneNumber": phone})
        if request.op is Op.DEPROVISION_EMERGENCY_ADDRESS and _status(error) == 404:
            logger.info("%s %s: already removed by an earlier attempt", request.op.value, phone)
            return 200, b""  # what the deprovision itself answers: nothing
        if request.op is Op.RENT and phone is not None:
            try:
                status, body = await send(ops.get_active(phone))
            except NotFoundError:
                raise error from None  # not ours: the rent really did not happen
            except NumbersError as exc:
                raise AmbiguousOutcomeError(
                    request.op.value,
                    f"{phone} may have been rented, and checking failed ({describe(exc)})",
                    request.json,
                ) from exc
            logger.info("%s %s: rented by an earlier attempt (reconciled)", request.op.value, phone)
            return status, body
        raise error
