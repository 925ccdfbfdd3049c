"""How ``AiohttpTransport`` reads bodies: whole when the length is declared, else streamed.

A loopback aiohttp server answers with a declared length or chunked; either way the body
comes back byte for byte, and a body over ``max_response_size`` is refused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from numbers_async import ResponseTooLargeError
from numbers_async._transport import AiohttpTransport, Timeout

BODY = bytes(range(256)) * 4096  # 1 MiB: many socket reads
TIMEOUT = Timeout(connect=5.0, read=5.0, total=10.0)


async def declared(request: web.Request) -> web.Response:
    return web.Response(body=BODY)  # with Content-Length


async def chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for start in range(0, len(BODY), 65536):
        await response.write(BODY[start : start + 65536])
    await response.write_eof()
    return response


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_get("/declared", declared)
    app.router.add_get("/chunked", chunked)
    test_server = TestServer(app)
    await test_server.start_server()
    try:
        yield test_server
    finally:
        await test_server.close()


async def fetch(server: TestServer, path: str, limit: int | None) -> bytes:
    transport = AiohttpTransport(max_response_size=limit)
    try:
        status, _, body = await transport.request(
            "GET", str(server.make_url(path)), {}, None, TIMEOUT
        )
    finally:
        await transport.aclose()
    assert status == 200
    return body


@pytest.mark.parametrize("path", ["/declared", "/chunked"])
async def test_a_body_under_the_limit_is_returned_whole(server: TestServer, path: str) -> None:
    assert await fetch(server, path, len(BODY)) == BODY


@pytest.mark.parametrize("path", ["/declared", "/chunked"])
async def test_a_body_one_byte_over_the_limit_is_refused(server: TestServer, path: str) -> None:
    with pytest.raises(ResponseTooLargeError):
        await fetch(server, path, len(BODY) - 1)
