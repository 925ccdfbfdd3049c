"""A response size limit, enforced while streaming and after decompression.

Each call runs in a fresh process (``memory_probe.py``) so that its peak memory is its own:
the assertion is on peak RSS growth, not only on the error. The probe caps its address
space, so a client that reads everything fails there with ``MemoryError`` instead of
taking the machine's memory.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

from .server import GiB, HostileServer, MiB, gzip_bomb, huge_body

PROBE = Path(__file__).with_name("memory_probe.py")
LIMIT = 4_000_000  # bytes: the max_response_size the tests configure
BOUNDED = 64 * MiB  # peak growth allowed around a 4 MB limit
CAP = GiB  # the probe's extra address space


def names_limit(message: str) -> bool:
    digits = re.sub(r"(?<=\d)[,_ ](?=\d)", "", message)
    return str(LIMIT) in digits or bool(re.search(r"\b4(\.0)? ?MB\b", message))


async def run_probe(
    server: HostileServer,
    route: str,
    kwargs: dict[str, Any],
    *,
    warm_up: bool = True,
    ballast: int = 0,
    cap: int = CAP,
) -> dict[str, Any]:
    config = {
        "base_url": server.url,
        "auth_url": server.auth_url,
        "route": route,
        "kwargs": kwargs,
        "warm_up": warm_up,
        "ballast": ballast,
        "cap": cap,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(PROBE),
        json.dumps(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, err.decode(errors="replace")[-3000:]
    report: dict[str, Any] = json.loads(out.decode().splitlines()[-1])
    return report


async def test_gzip_bomb_stops_at_the_limit_with_memory_bounded(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("get_active", gzip_bomb(GiB))
    report = await run_probe(hostile_server, "get_active", {"max_response_size": LIMIT})
    assert report["is_numbers_error"], report
    assert names_limit(report["message"]), report
    assert report["growth"] < BOUNDED, report
    assert hostile_server.api_calls() == [("GET", "get_callbacks"), ("GET", "get_active")]


async def test_huge_streamed_body_stops_at_the_limit_with_memory_bounded(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("get_active", huge_body(200 * MiB))
    report = await run_probe(hostile_server, "get_active", {"max_response_size": LIMIT})
    assert report["is_numbers_error"], report
    assert names_limit(report["message"]), report
    assert report["growth"] < BOUNDED, report
    assert hostile_server.api_calls() == [("GET", "get_callbacks"), ("GET", "get_active")]


async def test_huge_token_response_stops_at_the_limit_with_memory_bounded(
    hostile_server: HostileServer,
) -> None:
    hostile_server.on("token", huge_body(50 * MiB, field="access_token"))
    report = await run_probe(
        hostile_server, "get_callbacks", {"max_response_size": LIMIT}, warm_up=False
    )
    assert report["is_numbers_error"], report
    assert names_limit(report["message"]), report
    assert report["growth"] < BOUNDED, report
    # The token endpoint was asked; the API never was (there was no token to send).
    assert set(hostile_server.routes()) == {"token"}


async def test_gzip_bomb_is_stopped_by_the_default_limit(hostile_server: HostileServer) -> None:
    hostile_server.on("get_active", gzip_bomb(4 * GiB))
    report = await run_probe(hostile_server, "get_active", {})
    # A NumbersError, not MemoryError at the probe's cap; far less than the bomb.
    assert report["is_numbers_error"], report
    assert report["growth"] < 3 * GiB // 4, report
    assert hostile_server.api_calls() == [("GET", "get_callbacks"), ("GET", "get_active")]


async def test_body_under_the_limit_is_read(hostile_server: HostileServer) -> None:
    hostile_server.on("get_active", huge_body(LIMIT // 2))
    report = await run_probe(hostile_server, "get_active", {"max_response_size": LIMIT})
    assert report["outcome"] == "returned", report
    assert hostile_server.api_calls() == [("GET", "get_callbacks"), ("GET", "get_active")]


async def test_probe_sees_memory_taken_during_the_call(hostile_server: HostileServer) -> None:
    report = await run_probe(hostile_server, "get_active", {}, ballast=64 * MiB)
    assert report["outcome"] == "returned", report
    assert report["growth"] >= 64 * MiB, report
    assert hostile_server.api_calls() == [("GET", "get_callbacks"), ("GET", "get_active")]


async def test_probe_growth_of_a_plain_call_is_small(hostile_server: HostileServer) -> None:
    report = await run_probe(hostile_server, "get_active", {})
    assert report["outcome"] == "returned", report
    assert report["growth"] < 16 * MiB, report
    assert hostile_server.api_calls() == [("GET", "get_callbacks"), ("GET", "get_active")]
