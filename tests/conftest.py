"""Shared fixtures: a fresh fake Sinch server per test and a client pointed at it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from numbers_async import NumbersClient
from numbers_async._auth import OAuth2
from numbers_async._rate import RateGate
from numbers_async._sender import Sender
from numbers_async._transport import AiohttpTransport
from numbers_async.testing import FakeNumbersServer

# Hypothesis's per-example deadline (200 ms) and its "too slow" health check measure wall
# time: on a loaded two-core machine running the suite on four workers they fail tests for
# the machine's sake, not the code's. Examples are still random and still failures.
settings.register_profile(
    "numbers-async", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("numbers-async")


@pytest.fixture
async def fake() -> AsyncIterator[FakeNumbersServer]:
    async with FakeNumbersServer() as server:
        yield server


@pytest.fixture
async def client(fake: FakeNumbersServer) -> AsyncIterator[NumbersClient]:
    async with fake.client() as numbers_client:
        yield numbers_client


def api_requests(fake: FakeNumbersServer) -> list[str]:
    """Routes of every Numbers API request the fake saw (token endpoint left out)."""
    return [r.route for r in fake.requests if r.route != "token"]


def basic_authorization(fake: FakeNumbersServer) -> dict[str, str]:
    """The header that authenticates a raw request to the fake with its key pair."""
    key_pair = base64.b64encode(f"{fake.key_id}:{fake.key_secret}".encode()).decode()
    return {"Authorization": f"Basic {key_pair}"}


def bare_sender(
    fake: FakeNumbersServer, *, max_concurrency: int, clock: Callable[[], float] = time.monotonic
) -> Sender:
    """The request pipeline alone, on ``fake``, without a client around it.

    ``clock`` is the token's clock (for moving a token past its refresh point); ``aclose``
    the sender when done.
    """
    auth = OAuth2(fake.key_id, fake.key_secret, fake.auth_url, clock=clock)
    transport = AiohttpTransport()
    return Sender(
        base_url=fake.url,
        project_id=fake.project_id,
        auth=auth,
        transport=transport,
        close_transport=transport.aclose,
        limiter=RateGate(None),
        max_concurrency=max_concurrency,
    )


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (polling the fake's counters), or fail."""
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")


LIVE_TIMEOUT = 5.0
"""A Redis call timeout for tests whose calls must succeed.

No load on a CI machine makes a live call this slow (0.5 s was within reach, and a live
call then looked like an outage), while a stopped server still refuses at once and a
dead pooled connection is still reset at once.
"""


class LoopLag:
    """How long a loaded machine kept this event loop from running, while it is entered.

    A ticker sleeps ``period`` at a time and adds up how much later than asked it woke:
    the time the process waited for a core, or the loop was blocked. An upper bound on
    elapsed wall time adds ``total`` to what it allows, so a busy CI machine cannot fail
    it, while on an idle one the bound still holds to within a few milliseconds.
    """

    def __init__(self, period: float = 0.01) -> None:
        self.period = period
        self.total = 0.0
        self._ticker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopLag:
        self._ticker = asyncio.create_task(self._tick())
        await asyncio.sleep(0)  # the ticker is running before the measured code starts
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._ticker is not None
        self._ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._ticker

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + self.period
            await asyncio.sleep(self.period)
            self.total += max(0.0, loop.time() - asked)


# --- a real Redis server ------------------------------------------------------------------------


class RedisServer:
    """A ``redis-server`` child on a free loopback port; can be restarted.

    Without ``directory`` it keeps nothing: a restart starts it empty. With one, it keeps
    an append-only file there, fsynced on every write (``appendfsync always``): a restart
    loses nothing it acknowledged.
    """

    def __init__(self, binary: str, directory: str | None = None) -> None:
        self.binary = binary
        self.directory = directory
        # The port stays ours until close(), also while the server is stopped: a socket
        # bound to it with SO_REUSEADDR, never listening, which redis-server (also
        # SO_REUSEADDR) may bind beside on Linux, and no other server or outgoing
        # connection of the machine's test workers may take before a restart.
        self._hold = socket.socket()
        self._hold.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._hold.bind(("127.0.0.1", 0))
        self.port = self._hold.getsockname()[1]
        if sys.platform != "linux":  # elsewhere redis-server could not bind beside it
            self._hold.close()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._child: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and wait until it answers PING (it starts empty)."""
        command = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip
        if self.directory is not None:
            command[-1] = "yes"
            command += ["--appendfsync", "always", "--dir", self.directory]
        self._child = subprocess.Popen(  # noqa: S603 - a fixed binary, our own arguments
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._child.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._child.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait for it."""
        child, self._child = self._child, None
        if child is None:
            return
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    def close(self) -> None:
        """Stop the server, and let its port go."""
        self.stop()
        self._hold.close()

    def flush(self) -> None:
        """Delete every key (between tests)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as conn:
            conn.sendall(b"FLUSHALL\r\n")
            if not conn.recv(64).startswith(b"+OK"):
                raise RuntimeError("FLUSHALL failed")


def redis_binary() -> str:
    """The ``redis-server`` to run; skips the test without one, fails in CI."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.path.exists(binary):
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed (.ci/run installs it)")
        pytest.skip("redis-server is not installed")
    return binary


@pytest.fixture(scope="session")
def redis_server_session() -> Iterator[RedisServer]:
    server = RedisServer(redis_binary())
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_server(redis_server_session: RedisServer) -> RedisServer:
    """The session's Redis server, emptied for this test."""
    redis_server_session.flush()
    return redis_server_session


@pytest.fixture
def persistent_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server for this test alone that keeps its data across a restart."""
    server = RedisServer(redis_binary(), str(tmp_path))
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A Redis server for this test alone, which it may stop and start again."""
    server = RedisServer(redis_binary())
    server.start()
    try:
        yield server
    finally:
        server.close()
