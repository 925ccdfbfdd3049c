"""``Fault.status_after``: the fake does the work, then answers an error status."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
import yarl

from numbers_async.testing import FakeNumbersServer, Fault


@pytest.fixture
async def fake() -> AsyncIterator[FakeNumbersServer]:
    async with FakeNumbersServer() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


def first_available(fake: FakeNumbersServer) -> str:
    return next(p for p, n in sorted(fake.available.items()) if n["regionCode"] == "US")


async def rent(
    http: aiohttp.ClientSession, fake: FakeNumbersServer, phone: str
) -> tuple[int, dict[str, str], bytes]:
    pair = base64.b64encode(f"{fake.key_id}:{fake.key_secret}".encode()).decode()
    url = f"{fake.url}/v1/projects/{fake.project_id}/availableNumbers/%2B{phone[1:]}:rent"
    headers = {"Authorization": f"Basic {pair}", "Content-Type": "application/json"}
    async with http.post(yarl.URL(url, encoded=True), headers=headers, data=b"{}") as response:
        return response.status, dict(response.headers), await response.read()


async def test_status_after_answers_the_status_once_the_work_is_done(
    fake: FakeNumbersServer, http: aiohttp.ClientSession
) -> None:
    phone = first_available(fake)
    fake.inject(Fault.status_after(503), route="rent")
    status, _, body = await rent(http, fake, phone)
    assert status == 503
    assert json.loads(body)["error"]["code"] == 503
    # The rent happened although the answer says it failed.
    assert fake.rent_counts[phone] == 1
    assert phone in fake.active
    assert [r.status for r in fake.requests_for("rent")] == [503]


async def test_status_after_is_spent_after_its_times(
    fake: FakeNumbersServer, http: aiohttp.ClientSession
) -> None:
    phone = first_available(fake)
    handle = fake.inject(Fault.status_after(502), route="rent", times=1)
    first, _, _ = await rent(http, fake, phone)
    second, _, _ = await rent(http, fake, phone)
    assert (first, second) == (502, 404)  # the second rent meets the changed state
    assert handle.applied == 1
    assert not handle.active
    assert fake.rent_counts[phone] == 1


async def test_status_after_replaces_an_error_answer_too(
    fake: FakeNumbersServer, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.status_after(500), route="rent")
    status, _, _ = await rent(http, fake, "+12025550199")  # not in the inventory: 404
    assert status == 500
    assert sum(fake.rent_counts.values()) == 0


async def test_status_after_sends_the_chosen_body_and_retry_after(
    fake: FakeNumbersServer, http: aiohttp.ClientSession
) -> None:
    fake.inject(Fault.status_after(429, body="html", retry_after="3"), route="rent")
    status, headers, body = await rent(http, fake, first_available(fake))
    assert status == 429
    assert headers["Retry-After"] == "3"
    assert headers["Content-Type"].startswith("text/html")
    assert b"<html" in body.lower()


@pytest.mark.parametrize(("code", "body"), [(199, "json"), (600, "json"), (503, "xml")])
def test_status_after_rejects_a_bad_status_or_body(code: int, body: str) -> None:
    with pytest.raises(ValueError, match="must be"):
        Fault.status_after(code, body=body)  # type: ignore[arg-type]


def test_status_after_is_not_pre_emptive() -> None:
    assert not Fault.status_after(503).pre_emptive
    assert Fault.status(503).pre_emptive
