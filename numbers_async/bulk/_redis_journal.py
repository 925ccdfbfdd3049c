"""``RedisJournal``: a bulk job's journal in Redis, shared by every worker on the job.

Re-exported as ``numbers_async.redis.RedisJournal`` (the ``redis`` extra). The store keeps
its settings and, for ``from_url``, opens a connection per job (closed with the job) and
per report; ``_redis_session`` is a worker's open journal, ``_redis_scripts`` what runs
inside Redis, ``_redis_link`` the calls.
"""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from collections.abc import Mapping
from typing import Any, Final

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from yarl import URL

from numbers_async import _operations as ops
from numbers_async._operations import redact_url
from numbers_async.bulk import _redis_scripts as scripts
from numbers_async.bulk._redis_link import Link, check_record, item_of, key_names, text
from numbers_async.bulk._redis_session import Session
from numbers_async.bulk._results import JournalFailure, JournalReport
from numbers_async.bulk._state import sort_key
from numbers_async.bulk._store import Reconcile, request_digest, shown_request
from numbers_async.errors import InvalidInputError

__all__ = ["RedisJournal"]

FORMAT: Final = "numbers_async.bulk.redis"
VERSION: Final = "1"
DEFAULT_PREFIX: Final = "numbers_async"
_JOB_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_SCRIPTS: Final = {
    name: getattr(scripts, name)
    for name in (
        "BEGIN",
        "LOAD",
        "SEAL",
        "BASELINE",
        "CLAIM",
        "RECORD",
        "RENEW",
        "QUIET",
        "SNAPSHOT",
        "RECONCILED",
        "RELEASE",
        "REPORT",
    )
}
# Settings a URL's query may carry (the CLI's --journal is only a URL), and their kinds.
_URL_SETTINGS: Final = {"job": str, "lease": float, "batch": int, "max_outage": float}


class RedisJournal:
    """A bulk job's journal in Redis: pass it as ``journal=`` to run one job on many workers.

    Every process given a ``RedisJournal`` for the same ``job`` works on the same job:
    each item is claimed by one worker at a time, under a lease the worker renews while it
    lives; the items of a worker that dies (SIGKILL, an evicted pod, a network cut) are
    taken over once its lease has run out *and* its requests must have ended (the
    window of each intent), and an unknown outcome is checked with the API before
    anything is sent again. ``rent_any`` rents exactly its ``count`` across all workers.
    The first worker loads the input into Redis; each worker takes items in batches as it
    has room, so no worker holds the whole job. A worker that joins a finished job
    reports it finished: every item resumed, nothing sent, failures retried (as a rerun
    with a journal file does). The rules are the file journal's: the operation, request
    and input are the job's identity (another job under the same name is refused before
    anything is sent), an intent is recorded before each rent, rent_any and release, and
    every outcome is recorded.

    Redis is the journal, so it must keep what it was told: use a Redis with persistence
    (``appendonly yes``, ``appendfsync always``). A job whose keys vanish (a restart
    without persistence) stops with ``JournalError`` rather than start again. While
    Redis cannot be reached, a worker claims nothing new; what it has in flight finishes
    and is recorded once Redis answers, and after ``max_outage`` seconds the job stops with
    ``JournalError`` (items still in flight are then settled by the next run). Share the
    rate limit too: ``NumbersClient(rate_limit=RedisRateLimiter(...))``.

    Args:
        redis: a ``redis.asyncio.Redis`` client (not closed by the journal); or use
            ``from_url``, which makes its own connection for each job.
        job: the job's name: letters, digits, ``.``, ``_`` and ``-`` (at most 128).
        lease: seconds a worker holds its claims without renewing them (renewed every
            third of it); a dead worker's items wait at least this long.
        batch: items a worker claims at a time.
        timeout: seconds one Redis command may take before Redis counts as unreachable.
        max_outage: seconds a worker waits for an unreachable Redis before the job stops.
        prefix: the start of every key (``{prefix}:job:{NAME}:...``).

    Raises:
        InvalidInputError: an argument is out of range.

    Examples:
        ```python
        journal = RedisJournal.from_url("redis://redis:6379/0?job=release-2026-05")
        report = await client.bulk.release(numbers, journal=journal)
        print(await journal.report())
        ```
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        job: str,
        lease: float = 30.0,
        batch: int = 50,
        timeout: float = 1.0,
        max_outage: float = 60.0,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self._job = _check_job(job)
        self._lease = _seconds("lease", lease)
        self._batch = ops.check_positive_int("batch", batch)
        self._timeout = _seconds("timeout", timeout)
        self._max_outage = _seconds("max_outage", max_outage)
        self._prefix = ops.check_str("prefix", prefix, allow_empty=False)
        self._redis: aioredis.Redis | None = redis
        self._url: str | None = None
        self._round_trips = 0
        kwargs = getattr(getattr(redis, "connection_pool", None), "connection_kwargs", {})
        origin = (
            f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
        )
        self._where = f"redis://{origin}?job={self._job}"

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        job: str | None = None,
        lease: float | None = None,
        batch: int | None = None,
        timeout: float = 1.0,
        max_outage: float | None = None,
        prefix: str = DEFAULT_PREFIX,
    ) -> RedisJournal:
        """A journal on the Redis at ``url`` (``redis://host:port/db?job=NAME``).

        ``job``, ``lease``, ``batch`` and ``max_outage`` may be given in the URL's query
        instead (an argument wins); the other arguments are the constructor's. A
        connection is made for each job that uses the journal and closed with it.
        """
        ops.check_str("url", url, allow_empty=False)
        try:
            parsed = URL(url)
        except (ValueError, TypeError):
            raise InvalidInputError("url", "must be a redis:// URL", redact_url(url)) from None
        if parsed.scheme not in ("redis", "rediss", "unix"):
            raise InvalidInputError(
                "url", "must be a redis://, rediss:// or unix:// URL", redact_url(url)
            )
        settings: dict[str, Any] = {}
        for name, kind in _URL_SETTINGS.items():
            if name in parsed.query:
                try:
                    settings[name] = kind(parsed.query[name])
                except ValueError:
                    raise InvalidInputError(
                        name, f"must be a {kind.__name__} in the URL", parsed.query[name]
                    ) from None
        given = {"job": job, "lease": lease, "batch": batch, "max_outage": max_outage}
        settings |= {name: value for name, value in given.items() if value is not None}
        if "job" not in settings:
            raise InvalidInputError("job", "name the job: job=... or ?job=NAME in the URL")
        plain = parsed.without_query_params(*_URL_SETTINGS)
        journal = cls(_connect(str(plain), timeout), timeout=timeout, prefix=prefix, **settings)
        journal._redis, journal._url = None, str(plain)
        journal._where = redact_url(str(plain.update_query(job=journal._job)))
        return journal

    @property
    def job(self) -> str:
        """The job's name."""
        return self._job

    @property
    def where(self) -> str:
        """The journal as messages name it: the Redis URL and job, never a password."""
        return self._where

    @property
    def round_trips(self) -> int:
        """Redis script calls made so far by the jobs and reports of this journal."""
        return self._round_trips

    async def open(self, operation: str, request: Mapping[str, Any], reconcile: Reconcile) -> Any:
        """Join (or create) the job as a worker; the journal this worker's job writes to."""
        redis, owned = self._connection()
        worker = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        session = Session(
            self._link(redis),
            worker=worker,
            operation=operation,
            reconcile=reconcile,
            lease=self._lease,
            batch=self._batch,
            closing=redis if owned else None,
        )
        header = {"journal": FORMAT, "version": int(VERSION), "operation": operation}
        header["request"] = shown_request(request)
        identity = f"{operation}:{request_digest(request)}"
        try:
            await session.join(header, identity, VERSION, uuid.uuid4().hex)
        except BaseException:
            await session.aclose()
            raise
        return session

    async def report(self) -> JournalReport:
        """The job's totals and failures, whichever workers ran it, while it runs and after.

        Raises:
            InvalidInputError: there is no such job in this Redis.
            JournalError: Redis cannot be reached within ``max_outage``, or holds garbage.
        """
        redis, owned = self._connection()
        try:
            link = self._link(redis)
            reply = await link.call("REPORT")
        finally:
            if owned:
                await redis.aclose()
        if text(reply[0], link) == "none":
            raise InvalidInputError("journal", f"{self._where}: there is no such job")
        if len(reply) < 8 or len(reply) % 2:
            raise link.garbage("a report of the wrong length")
        header = json.loads(text(reply[1], link) or "{}")
        failed = []
        for index in range(8, len(reply), 2):
            record = check_record(reply[index + 1], link)
            item = item_of(reply[index], link)
            failed.append(
                JournalFailure(
                    item,
                    str(record.get("e", "")),
                    str(record.get("m", "")),
                    record.get("c"),
                    record.get("s") == "unknown",
                )
            )
        total = text(reply[2], link)
        return JournalReport(
            operation=str(header.get("operation", "")) if isinstance(header, dict) else "",
            journal=self._where,
            items=int(total) if total.isdigit() else None,
            succeeded=int(reply[3]),
            failed=sorted(failed, key=lambda failure: sort_key(failure.item)),
            in_flight=int(reply[4]),
            finished=bool(int(reply[5])),
            workers=int(reply[6]),
            unaccounted=[str(phone) for phone in json.loads(text(reply[7], link))],
        )

    def _connection(self) -> tuple[aioredis.Redis, bool]:
        if self._redis is not None:
            return self._redis, False
        assert self._url is not None  # noqa: S101 - one of the two is always set
        return _connect(self._url, self._timeout), True

    def _link(self, redis: aioredis.Redis) -> Link:
        return Link(
            redis,
            _SCRIPTS,
            key_names(self._prefix, self._job),
            where=self._where,
            timeout=self._timeout,
            max_outage=self._max_outage,
            count=self._count,
        )

    def _count(self) -> None:
        self._round_trips += 1

    def __repr__(self) -> str:
        return f"<RedisJournal {self._where} lease={self._lease:g}s batch={self._batch}>"


def _connect(url: str, timeout: float) -> aioredis.Redis:
    # No retries inside redis-py: the journal waits out an outage itself, within max_outage.
    return aioredis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
    )


def _check_job(job: object) -> str:
    name = ops.check_str("job", job, allow_empty=False)
    if not _JOB_NAME.fullmatch(name):
        raise InvalidInputError(
            "job",
            "must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
            job,
        )
    return name


def _seconds(argument: str, value: object) -> float:
    number = ops.check_positive_number(argument, value)
    if number != number or number == float("inf"):
        raise InvalidInputError(argument, "must be a finite number", value)
    return number
