"""What every resource group (`client.active_numbers`, ...) is built on: `_Resource`.

A resource group checks its arguments, builds a `Request` and hands it, with a decoder
for the 2xx answer, to `_Resource._call`, the one way into the sender. A group built with
`raw=True` (for `client.with_raw_response`) returns each result as a `RawResponse`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

from numbers_async._call import CallOptions
from numbers_async._operations import Request
from numbers_async._responses import decode, decode_list
from numbers_async._sender import Sender

__all__ = ["Decode", "_Resource", "_many", "_one"]

T = TypeVar("T")
#: Turns the status and body of a 2xx answer into the call's result.
Decode = Callable[[int, bytes], T]


# Partials, not closures: no Python frame of their own on the hot path.
def _one(cls: type[T]) -> Decode[T]:
    return functools.partial(decode, cls=cls)


def _many(cls: type[T], key: str) -> Decode[list[T]]:
    return functools.partial(decode_list, cls=cls, key=key)


class _Resource:
    """A group of operations sharing the client's sender and call options."""

    def __init__(self, sender: Sender, options: CallOptions, *, raw: bool = False) -> None:
        self._sender = sender
        self._options = options
        self._raw = raw

    def _call(self, request: Request, decode: Decode[T]) -> Coroutine[Any, Any, T]:
        """Send `request` (with retries) and decode its 2xx answer: await the result.

        A body that does not decode is a failed attempt, retried where that is safe.
        Not a coroutine function itself: it returns the sender's coroutine, so the
        caller's `await` drives that one directly, with no frame of its own in between
        (one coroutine less per call, measured by `benchmarks/b1_counts.py`).
        """
        sender, options = self._sender, self._options
        if self._raw:
            # A RawResponse[T]: client.with_raw_response types the methods so (_with_raw).
            raw = sender.send_raw(request, options, decode, sender.deadline_for(options))
            return cast("Coroutine[Any, Any, T]", raw)
        return sender.send(request, options, decode, sender.deadline_for(options))
