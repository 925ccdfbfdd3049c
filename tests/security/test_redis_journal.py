"""Security review, the Redis journal: what Redis hands back is bounded before it is
believed, and credentials never show.

Redis is trusted configuration, but what it holds may be damaged (another program writing
under the job's keys, a bad restore): garbage must be a ``JournalError`` naming the job,
never a raw ``ValueError``/``RecursionError``, a wait of years, or a number reported as
rented that the journal never recorded.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from numbers_async import InvalidInputError, JournalError, NumbersClient
from numbers_async.redis import RedisJournal
from numbers_async.testing import FakeNumbersServer
from tests.conftest import RedisServer

PHONE = "+15550000000"
STATE = "numbers_async:job:{job}:state"
SECRET_URL = "https://hooks:s3cret-pass@example.com/sinch"


@pytest.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def a_finished_release(client: NumbersClient, fake: FakeNumbersServer, url: str) -> str:
    """Release one number under job ``job``; its phone number."""
    (phone,) = fake.add_active_numbers(1)
    await client.bulk.release([phone], journal=RedisJournal.from_url(url, job="job"))
    return phone


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (b"not json at all", "Redis refused"),
        (b"[" * 50_000 + b"]" * 50_000, "journal"),
        (json.dumps({"s": "succeeded", "w": 1e300, "n": "{}"}).encode(), "w must be"),
        (json.dumps({"s": "unknown", "at": 0, "w": 1e9, "o": 1}).encode(), "w must be"),
        (json.dumps({"s": "won"}).encode(), "unknown status"),
        (json.dumps({"s": "succeeded", "n": json.dumps({"phoneNumber": 7})}).encode(), "E.164"),
    ],
    ids=["not-json", "deeply-nested", "window-1e300", "window-1e9", "status", "number"],
)
async def test_a_garbage_record_in_redis_is_a_journal_error(
    client: NumbersClient,
    fake: FakeNumbersServer,
    redis_server: RedisServer,
    raw: aioredis.Redis,
    record: bytes,
    problem: str,
) -> None:
    phone = await a_finished_release(client, fake, redis_server.url)
    await raw.hset(STATE, json.dumps(phone), record)
    fake.requests.clear()

    with pytest.raises(JournalError, match=problem) as raised:
        await client.bulk.release(
            [phone], journal=RedisJournal.from_url(redis_server.url, job="job")
        )

    assert "job=job" in raised.value.path
    assert [r for r in fake.requests if r.route != "token"] == []


async def test_a_key_of_the_wrong_type_is_a_journal_error(
    client: NumbersClient, fake: FakeNumbersServer, redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    phone = await a_finished_release(client, fake, redis_server.url)
    await raw.delete(STATE)
    await raw.set(STATE, b"a string where a hash belongs")

    with pytest.raises(JournalError, match="Redis refused"):
        await client.bulk.release(
            [phone], journal=RedisJournal.from_url(redis_server.url, job="job")
        )


async def test_a_garbage_report_is_a_journal_error(
    client: NumbersClient, fake: FakeNumbersServer, redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    phone = await a_finished_release(client, fake, redis_server.url)
    await raw.sadd("numbers_async:job:{job}:failed", json.dumps(phone))
    await raw.hset(STATE, json.dumps(phone), b'{"s": "failed", "at": "yesterday"}')

    with pytest.raises(JournalError, match="at must be a number"):
        await RedisJournal.from_url(redis_server.url, job="job").report()


async def test_callback_credentials_are_masked_in_the_redis_header_and_the_mismatch(
    client: NumbersClient, fake: FakeNumbersServer, redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    owned = fake.add_active_numbers(1)
    journal = RedisJournal.from_url(redis_server.url, job="job")
    await client.bulk.update(owned, callback_url=SECRET_URL, journal=journal)

    meta = await raw.hgetall("numbers_async:job:{job}:meta")
    assert "s3cret-pass" not in repr(meta)
    with pytest.raises(InvalidInputError, match="other arguments") as raised:
        await client.bulk.update(owned, display_name="other", journal=journal)
    assert "s3cret-pass" not in str(raised.value)
    assert "https://***@example.com/sinch" in str(raised.value)


async def test_the_redis_password_never_shows_in_a_journal_error(
    client: NumbersClient, fake: FakeNumbersServer
) -> None:
    journal = RedisJournal.from_url(
        "redis://:hunter2@127.0.0.1:1/0?job=job", max_outage=0.2, timeout=0.1
    )

    with pytest.raises(JournalError, match="unreachable") as raised:
        await client.bulk.release(fake.add_active_numbers(1), journal=journal)

    assert "hunter2" not in str(raised.value)
    assert "hunter2" not in repr(journal)
