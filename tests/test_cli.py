"""The numbers-async command, run as a subprocess the way people run it."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from numbers_async import NumbersClient
from numbers_async.cli import main

CLI = [sys.executable, "-W", "error", "-m", "numbers_async"]


async def run(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *CLI, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_demo_walks_through_every_step_and_exits_0() -> None:
    code, out, err = await run("demo", "--count", "3")
    assert code == 0, err
    for step in (
        "[1] Regions",
        "[2] Search 3",
        "[3] Rent 3",
        "[4] Provisioning",
        "[5] Name",
        "[6] Release",
    ):
        assert step in out
    assert "3 numbers in 2 pages." in out
    assert "The project now owns 0 numbers." in out
    assert "every rented number rented exactly once: True" in out
    assert err == ""


async def test_demo_refuses_a_bad_count_with_exit_2() -> None:
    code, _, err = await run("demo", "--count", "0")
    assert code == 2
    assert "--count" in err
    assert "Traceback" not in err


async def test_unknown_subcommand_is_a_usage_error() -> None:
    code, _, err = await run("frobnicate")
    assert code == 2
    assert "invalid choice" in err


async def test_fake_server_serves_a_client_and_stops_on_sigint() -> None:
    process = await asyncio.create_subprocess_exec(
        *CLI,
        "fake-server",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        first = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
        url = first.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        async with NumbersClient(
            "fake-project",
            "fake-key-id",
            "fake-key-secret",
            base_url=url,
            auth_url=url + "/oauth2/token",
        ) as client:
            regions = await client.available_regions.list()
        assert {r.region_code for r in regions} >= {"US", "GB"}
    finally:
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    assert "fake server stopped" in out.decode()


def test_demo_in_process_prints_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--count", "2", "--latency", "0"]) == 0
    out = capsys.readouterr().out
    assert "2 numbers in 1 page." in out
    assert "1 token request(s)" in out


def test_demo_in_process_rejects_a_bad_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--count", "51"]) == 2
    assert "--count must be from 1 to 50" in capsys.readouterr().err
