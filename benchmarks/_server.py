"""Loopback servers the benchmarks start in a child process (see ``_common.server``).

``fixed``: a minimal HTTP/1.1 keep-alive server on a bare ``asyncio.Protocol`` that answers
with bodies serialised once at start-up (``_payloads``): the token endpoint, ``GET
activeNumbers/{phone}`` and a listing of ``--pages`` pages of ``--page-size`` numbers. It
spends a few microseconds per request, so on a 2-core machine the client under test, not
the server, is what a throughput benchmark measures. It understands exactly what the
benchmarked clients send (no chunked bodies, no pipelining beyond what it buffers).

``fake``: the library's own ``FakeNumbersServer`` (stateful, spec-faithful, slower) with
``--latency`` seconds added to every answer, ``--active`` owned numbers and an optional
``--rate-limit`` (requests/s, 429 with ``Retry-After`` beyond it). When terminated it
prints one more JSON line: how many requests each route got, by status, and when the
first and last arrived.

Either way the child first prints one JSON line (``url``, ``auth_url``, credentials, the
owned ``phones``) to stdout, then serves until it is terminated (SIGTERM).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _payloads  # after the path tweak that makes it importable


def _response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("ascii") + body


class FixedBodies:
    """Every answer the fixed server can give, serialised once."""

    def __init__(self, *, pages: int, page_size: int, shape: str = "settled") -> None:
        self.token = _response("200 OK", _payloads.token_body())
        self.number = _response("200 OK", _payloads.active_number_body(0, shape))
        self.pages = [
            _response(
                "200 OK", _payloads.page_body(page, pages=pages, page_size=page_size, shape=shape)
            )
            for page in range(pages)
        ]
        self.not_found = _response(
            "404 Not Found",
            _payloads.dumps({"error": {"code": 404, "message": "", "status": "NOT_FOUND"}}),
        )

    def answer(self, method: bytes, target: bytes) -> bytes:
        """The response bytes for one request line."""
        parts = urlsplit(target.decode("ascii", "replace"))
        path = parts.path
        if method == b"POST" and path.endswith("/oauth2/token"):
            return self.token
        if method == b"GET" and "/activeNumbers/" in path:
            return self.number
        if method == b"GET" and path.endswith("/activeNumbers"):
            token = parse_qs(parts.query).get("pageToken", ["p0"])[0]
            index = int(token[1:]) if token[:1] == "p" and token[1:].isdigit() else -1
            if 0 <= index < len(self.pages):
                return self.pages[index]
        return self.not_found


class FixedProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive: parse a request head (and body), write the canned answer."""

    def __init__(self, bodies: FixedBodies, latency: float) -> None:
        self._bodies = bodies
        self._latency = latency
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self._buffer) < end + 4 + length:
                return
            self._buffer = self._buffer[end + 4 + length :]
            method, target, _version = head.split(b"\r\n", 1)[0].split(b" ", 2)
            answer = self._bodies.answer(method, target)
            if self._latency:
                asyncio.get_running_loop().call_later(self._latency, self._write, answer)
            else:
                self._write(answer)

    def _write(self, answer: bytes) -> None:
        if self._transport is not None:
            self._transport.write(answer)


def _announce(
    url: str,
    auth_url: str,
    project_id: str,
    key_id: str,
    key_secret: str,
    phones: list[str] | None = None,
) -> None:
    line = {
        "url": url,
        "auth_url": auth_url,
        "project_id": project_id,
        "key_id": key_id,
        "key_secret": key_secret,
        "phones": phones or [],
    }
    print(json.dumps(line), flush=True)


async def _until_terminated() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve_fixed(args: argparse.Namespace) -> None:
    """Run the fixed-body server until SIGTERM."""
    bodies = FixedBodies(pages=args.pages, page_size=args.page_size, shape=args.shape)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: FixedProtocol(bodies, args.latency), "127.0.0.1", 0, backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    _announce(
        url, f"{url}/oauth2/token", _payloads.PROJECT_ID, _payloads.KEY_ID, _payloads.KEY_SECRET
    )
    async with server:
        await _until_terminated()


async def serve_fake(args: argparse.Namespace) -> None:
    """Run ``FakeNumbersServer`` until SIGTERM, then print what it answered per route."""
    from numbers_async.testing import FakeNumbersServer

    async with FakeNumbersServer(latency=args.latency, numbers_per_bucket=1) as fake:
        phones = fake.add_active_numbers(args.active)
        if args.rate_limit:
            fake.set_rate_limit(args.rate_limit)
        _announce(fake.url, fake.auth_url, fake.project_id, fake.key_id, fake.key_secret, phones)
        await _until_terminated()
        routes: dict[str, dict[str, Any]] = {}
        for request in fake.requests:
            route = routes.setdefault(
                request.route, {"statuses": {}, "first": request.at, "last": request.at}
            )
            statuses = route["statuses"]
            statuses[str(request.status)] = statuses.get(str(request.status), 0) + 1
            route["last"] = request.at
        print(json.dumps({"routes": routes}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["fixed", "fake"])
    parser.add_argument("--pages", type=int, default=1, help="fixed: pages in the listing")
    parser.add_argument("--page-size", type=int, default=100, help="fixed: numbers per page")
    parser.add_argument(
        "--shape", default="settled", choices=list(_payloads.SHAPES), help="fixed: numbers' shape"
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--active", type=int, default=0, help="fake: owned numbers to add")
    parser.add_argument(
        "--rate-limit", type=float, default=0.0, help="fake: requests/s before 429 (0: none)"
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_fixed(args) if args.kind == "fixed" else serve_fake(args))


if __name__ == "__main__":
    main()
