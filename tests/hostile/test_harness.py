"""The hostile server does what its behaviours say (checked with a bare aiohttp client).

These keep the other hostile tests honest: a redirect target that did not answer 200, or a
"bomb" that did not inflate, would make a client look safe for the wrong reason.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from .server import (
    PHONE,
    PROJECT_ID,
    HostileServer,
    MiB,
    active_number,
    gzip_bomb,
    gzip_zeros,
    huge_body,
    page_chain,
    redirect,
    truncated_json,
)

GET_ACTIVE = f"/v1/projects/{PROJECT_ID}/activeNumbers/%2B12025550134"
LIST_ACTIVE = f"/v1/projects/{PROJECT_ID}/activeNumbers"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_plausible_answer_is_a_complete_active_number(
    hostile_server: HostileServer, http: aiohttp.ClientSession
) -> None:
    async with http.get(hostile_server.url + GET_ACTIVE) as response:
        assert response.status == 200
        assert await response.json() == active_number(PHONE)
    assert hostile_server.routes() == ["get_active"]
    assert hostile_server.received[0].phone == PHONE


async def test_followed_redirect_lands_on_a_plausible_200(
    hostile_server: HostileServer, http: aiohttp.ClientSession
) -> None:
    hostile_server.on("get_active", redirect(302))
    async with http.get(hostile_server.url + GET_ACTIVE) as response:
        assert response.status == 200
        assert [r.status for r in response.history] == [302]
        assert (await response.json())["phoneNumber"] == PHONE
    assert hostile_server.routes() == ["get_active", "landing"]


async def test_rule_with_times_falls_back_to_the_plausible_answer(
    hostile_server: HostileServer, http: aiohttp.ClientSession
) -> None:
    hostile_server.on("get_active", truncated_json(), times=1)
    bodies = []
    for _ in range(2):
        async with http.get(hostile_server.url + GET_ACTIVE) as response:
            bodies.append(await response.read())
    assert len(bodies[0]) == len(bodies[1]) // 2
    assert json.loads(bodies[1]) == active_number(PHONE)


def test_gzip_zeros_inflate_to_the_declared_size() -> None:
    stream = b"".join(gzip_zeros(16 * MiB))
    inflater = zlib.decompressobj(31)
    inflated = inflater.decompress(stream)
    assert len(stream) < 32 * 1024
    assert len(inflated) == 16 * MiB
    assert inflated.count(0) == 16 * MiB
    assert inflater.eof  # the trailer's CRC and size were checked


async def test_gzip_bomb_is_small_on_the_wire_and_inflates(
    hostile_server: HostileServer, http: aiohttp.ClientSession
) -> None:
    hostile_server.on("get_active", gzip_bomb(8 * MiB), times=2)
    async with http.get(hostile_server.url + GET_ACTIVE) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert "Content-Length" not in response.headers
        assert len(await response.read()) == 8 * MiB
    async with http.get(hostile_server.url + GET_ACTIVE, auto_decompress=False) as response:
        assert len(await response.read()) < 16 * 1024


async def test_huge_body_is_valid_json_of_the_declared_size(
    hostile_server: HostileServer, http: aiohttp.ClientSession
) -> None:
    hostile_server.on("get_active", huge_body(3 * MiB))
    async with http.get(hostile_server.url + GET_ACTIVE) as response:
        assert "Content-Length" not in response.headers
        body = await response.read()
    assert len(body) == 3 * MiB
    value = json.loads(body)
    assert value["phoneNumber"] == PHONE
    assert set(value["displayName"]) == {"a"}


async def test_revoked_token_is_answered_401_without_expired(
    hostile_server: HostileServer, http: aiohttp.ClientSession
) -> None:
    hostile_server.revoke("tok-1")
    headers = {"Authorization": "Bearer tok-1"}
    async with http.get(hostile_server.url + GET_ACTIVE, headers=headers) as response:
        assert response.status == 401
        assert "expired" not in response.headers["WWW-Authenticate"]
    headers = {"Authorization": "Bearer tok-2"}
    async with http.get(hostile_server.url + GET_ACTIVE, headers=headers) as response:
        assert response.status == 200
    assert [r.bearer for r in hostile_server.received] == ["tok-1", "tok-2"]


async def test_page_chain_stops_at_its_limit(
    hostile_server: HostileServer, http: aiohttp.ClientSession
) -> None:
    hostile_server.on("list_active", page_chain({None: "A", "A": "A"}, limit=3))
    tokens: list[str] = []
    token = ""
    for _ in range(3):
        params = {"pageToken": token} if token else {}
        async with http.get(hostile_server.url + LIST_ACTIVE, params=params) as response:
            token = (await response.json())["nextPageToken"]
            tokens.append(token)
    assert tokens == ["A", "A", ""]
