"""One job's link to Redis: every call, outages waited out, what comes back checked.

- A call that cannot reach Redis (connection refused, reset, a command slower than
  ``timeout``) is tried again with a short backoff, while Redis has been unreachable for
  less than ``max_outage`` seconds; after that it raises ``JournalError``. Every call of
  the job shares the clock of one outage, so no wait outlasts ``max_outage`` by more
  than one ``timeout``.
- Redis refusing a script (an error inside it, keys of the wrong type) is a
  ``JournalError`` at once: retrying would not change it.
- A reply of the wrong shape, or a record that is not a journal's (garbage in the job's
  keys), is a ``JournalError``, never trusted; so is a job whose keys vanished
  (``gone``).
- A call's timeout (``within``) never swallows the cancellation of its caller, which
  ``asyncio.wait_for`` does on Python 3.10 and 3.11 when the reply lands at the same
  moment: a worker's lease renewal cancelled that way went on renewing forever, and the
  job waiting for it to end never ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
)
from typing import Any, Final, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from numbers_async.bulk._lines import line_problem, number_problem
from numbers_async.bulk._redis_scripts import KEY_NAMES
from numbers_async.bulk._results import Item
from numbers_async.bulk._store import MAX_WINDOW
from numbers_async.errors import JournalError

__all__ = [
    "Batcher",
    "Link",
    "check_number",
    "check_record",
    "each",
    "item_of",
    "key_names",
    "loads",
    "mismatch",
    "phones_of",
    "text",
    "whole",
    "within",
]

T = TypeVar("T")

logger = logging.getLogger("numbers_async.bulk")

UNREACHABLE: Final = (RedisError, OSError, asyncio.TimeoutError)
_BACKOFF: Final = (0.05, 0.1, 0.2, 0.5, 1.0)
_GONE: Final = (
    "the job's state is gone from Redis (restarted without persistence, or its keys "
    "deleted); nothing more is sent. Check what the job did (active_numbers.list) "
    "before starting it again under a new name"
)
_STATUSES: Final = frozenset({"succeeded", "failed", "unknown"})


async def drop_idle_connections(redis: aioredis.Redis) -> None:
    """Close ``redis``'s idle pooled connections once it answers again after an outage.

    A connection left idle in the pool while the server was away can still look open
    when it is back (seen with Python 3.10); its first command would fail, and be taken
    for another outage. Connections in use are left alone; fresh ones open as needed.
    """
    pool = getattr(redis, "connection_pool", None)
    if pool is not None:
        with contextlib.suppress(Exception):  # closing a dead connection may complain
            await pool.disconnect(inuse_connections=False)


class Link:
    """The scripts of one job, called with outages waited out and replies checked."""

    def __init__(
        self,
        redis: aioredis.Redis,
        scripts: Mapping[str, str],
        keys: list[str],
        *,
        where: str,
        timeout: float,
        max_outage: float,
        count: Callable[[], None],
    ) -> None:
        self.where = where
        self._keys = keys
        self._timeout = timeout
        self._max_outage = max_outage
        self._count = count
        self._redis = redis
        self._scripts = {name: redis.register_script(source) for name, source in scripts.items()}
        self._down_since: float | None = None  # monotonic: when Redis stopped answering

    @property
    def timeout(self) -> float:
        """Seconds one call may take before Redis counts as unreachable."""
        return self._timeout

    @property
    def down(self) -> bool:
        """Whether the last call found Redis unreachable."""
        return self._down_since is not None

    async def call(self, name: str, *args: Any) -> list[Any]:
        """Run script ``name``; its reply as a list whose first element is text."""
        attempt = 0
        while True:
            try:
                reply = await within(
                    self._scripts[name](keys=self._keys, args=list(args)), self._timeout
                )
            except ResponseError as exc:
                raise JournalError(
                    self.where, f"Redis refused the journal's {name}: {exc}"
                ) from exc
            except UNREACHABLE as exc:
                self._unreachable(exc)
                await asyncio.sleep(_BACKOFF[min(attempt, len(_BACKOFF) - 1)])
                attempt += 1
                continue
            self._count()
            if self._down_since is not None:
                self._down_since = None
                logger.warning("Redis is reachable again: the journal %s goes on", self.where)
                await drop_idle_connections(self._redis)
            if not isinstance(reply, list) or not reply:
                raise self.garbage(f"{name} answered {reply!r:.80}")
            if text(reply[0], self) == "gone":
                raise JournalError(self.where, _GONE)
            return reply

    def _unreachable(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            logger.warning(
                "Redis is unreachable (%s): the journal %s starts nothing new and waits up "
                "to %g s for it",
                type(exc).__name__,
                self.where,
                self._max_outage,
            )
        if now - self._down_since >= self._max_outage:
            raise JournalError(
                self.where,
                f"Redis was unreachable for {self._max_outage:g} s ({type(exc).__name__}); "
                "the items in flight are left for the next run to settle",
            ) from exc

    def garbage(self, what: str) -> JournalError:
        """The error for a reply or record that is not a journal's."""
        return JournalError(self.where, f"Redis holds something that is not a journal's: {what}")


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """``awaitable``'s result, or ``asyncio.TimeoutError`` once ``seconds`` have passed.

    What ``asyncio.wait_for`` does, except that cancelling the caller always cancels it:
    ``wait_for`` (Python 3.10, 3.11) returns the result instead when it arrived at the
    same moment as the cancellation, and its caller goes on as if never cancelled.
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=seconds)
    except BaseException:
        _abandon(task)
        raise
    if not done:
        _abandon(task)
        raise asyncio.TimeoutError
    return task.result()


def _abandon(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and retrieve its outcome, whatever it is, when it has one."""
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


def text(value: Any, link: Link) -> str:
    """A reply element that must be text."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise link.garbage(f"{value!r:.80}") from None
    if isinstance(value, str):
        return value
    raise link.garbage(f"{value!r:.80} where text was expected")


def _json(raw: str, link: Link) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise link.garbage("a value nested too deeply") from None
    except ValueError:
        raise link.garbage(f"{raw!r:.80} is not JSON") from None


def item_of(raw: Any, link: Link) -> Item:
    """An item key as the job stored it (JSON): a string, or a non-negative integer."""
    item = _json(text(raw, link), link)
    if isinstance(item, str) or (
        isinstance(item, int) and not isinstance(item, bool) and item >= 0
    ):
        return item
    raise link.garbage(f"item {item!r:.80}")


def check_record(raw: Any, link: Link) -> dict[str, Any]:
    """An item's record, checked field by field; ``{}`` for an item never tried."""
    source = text(raw, link)
    if not source:
        return {}
    record = _json(source, link)
    if not isinstance(record, dict):
        raise link.garbage(f"record {source!r:.80}")
    problem = _record_problem(record)
    if problem is not None:
        raise link.garbage(f"record {source!r:.80} ({problem})")
    return record


def _record_problem(record: dict[str, Any]) -> str | None:
    status = record.get("s")
    if status is not None and status not in _STATUSES:
        return "unknown status"
    for name in ("at", "ed", "w", "aw"):
        value = record.get(name)
        if value is not None and not _finite(value):
            return f"{name} must be a number"
    for name in ("w", "aw"):
        if record.get(name, 0) < 0 or record.get(name, 0) > MAX_WINDOW:
            return f"{name} must be from 0 to {MAX_WINDOW:g} s"
    seq = record.get("seq")
    if seq is not None and not (_finite(seq) and seq >= 0 and seq == int(seq)):
        return "seq must be a position"
    if status == "succeeded" and not isinstance(record.get("n"), str):
        return "a success must carry its number"
    return None


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def key_names(prefix: str, job: str) -> list[str]:
    """The job's Redis keys, in the order the scripts take them (one hash tag: one slot)."""
    return [f"{prefix}:job:{{{job}}}:{name}" for name in KEY_NAMES]


async def each(items: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[Any]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


def loads(raw: Any) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, TypeError, RecursionError):
        return None


def whole(value: Any, link: Link) -> int:
    """A reply element that must be a whole, non-negative number."""
    if isinstance(value, bytes | str):
        value = text(value, link)
        if not value.isdigit():
            raise link.garbage(f"{value!r:.40} where a number was expected")
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise link.garbage(f"{value!r:.40} where a number was expected")


def mismatch(where: str, stored: str, operation: str) -> str:
    header = loads(stored)
    if not isinstance(header, dict):
        return f"{where} holds another job's journal; use another job name"
    return (
        f"{where} was written by a bulk {header.get('operation')} job with request "
        f"{json.dumps(header.get('request'))}; it cannot drive this bulk {operation} job with "
        "other arguments (use the same arguments, or another job name)"
    )


def check_number(item: Item, record: dict[str, Any], link: Link) -> None:
    """A succeeded record's number must be an active number as the API describes it."""
    if record.get("s") != "succeeded":
        return
    problem = number_problem(loads(record["n"]))
    if problem is not None:
        raise link.garbage(f"the number of {item!r} ({problem})")


def phones_of(raw: str, link: Link) -> frozenset[str]:
    """A JSON list of E.164 numbers (a baseline, the numbers of succeeded items)."""
    phones = loads(raw)
    if line_problem({"baseline": phones}) is not None:
        raise link.garbage(f"phone numbers {raw!r:.80}")
    return frozenset(phones)


class Batcher:
    """Group commit: what is submitted while a batch is being sent goes in the next one.

    ``send`` sends a batch and returns a result for each entry; its error (or a
    cancellation) goes to every waiter of that batch and of the queue, never to the
    writer task itself (nobody would retrieve it).
    """

    def __init__(self, send: Callable[[list[dict[str, Any]]], Awaitable[list[str]]]) -> None:
        self._send = send
        self._queue: list[tuple[dict[str, Any], asyncio.Future[str]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, entry: dict[str, Any]) -> str:
        """Queue ``entry``; its result once the batch it went in was sent."""
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(
                self._drain(), name="numbers-async journal writer"
            )
        return await done

    async def finish(self) -> None:
        """Wait for what is queued to be sent (its waiters see any error)."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._writer)

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                results = await asyncio.shield(self._send([entry for entry, _ in batch]))
            except BaseException as exc:
                for _, waiter in batch + self._queue:
                    if not waiter.done():
                        if isinstance(exc, asyncio.CancelledError):
                            waiter.cancel()
                        else:
                            waiter.set_exception(exc)
                self._queue = []
                if isinstance(exc, asyncio.CancelledError):
                    raise
                return
            for (_, waiter), result in zip(batch, results, strict=True):
                if not waiter.done():
                    waiter.set_result(result)
