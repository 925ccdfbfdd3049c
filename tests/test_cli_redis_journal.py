"""The command line with a job in Redis: ``--journal redis://...?job=NAME``, workers that
share it, ``--rate-limit`` shared through the same Redis, and ``bulk-status``.

The commands run as subprocesses (as people run them) against a fake server in this
process and a real ``redis-server``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from numbers_async.testing import FakeNumbersServer
from tests.conftest import RedisServer

ROOT = Path(__file__).parent.parent
CLI = [sys.executable, "-W", "error", "-m", "numbers_async"]


async def cli(fake: FakeNumbersServer, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SINCH_")}
    env |= fake.env() | {"PYTHONPATH": str(ROOT)}
    child = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), 120)
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


def numbers_file(tmp_path: Path, phones: list[str]) -> str:
    path = tmp_path / "numbers.txt"
    path.write_text("\n".join(phones) + "\n")
    return str(path)


async def test_two_cli_workers_share_a_job_and_its_rate_limit(
    fake: FakeNumbersServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    # 60 releases at a shared 40/s take at least 59/40 s, however many workers run them.
    owned = fake.add_active_numbers(60)
    numbers = numbers_file(tmp_path, owned)
    journal = f"{redis_server.url}?job=release-60"
    command = ["bulk-release", numbers, "--journal", journal, "--rate-limit", "40", "--yes"]
    started = time.monotonic()

    results = await asyncio.gather(*(cli(fake, *command, "--json") for _ in range(2)))

    assert time.monotonic() - started >= 59 / 40
    summaries: list[dict[str, Any]] = [json.loads(out) for _, out, _ in results]
    assert [code for code, _, _ in results] == [0, 0]
    released = [phone for summary in summaries for phone in summary["numbers"]]
    assert sorted(released) == sorted(owned)  # each by one worker
    job = summaries[0]["job"]
    assert (job["items"], job["succeeded"], job["failed"], job["finished"]) == (60, 60, 0, True)
    assert fake.active == {}


async def test_bulk_status_prints_the_jobs_totals_and_failures(
    fake: FakeNumbersServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    owned = fake.add_active_numbers(3)
    missing = "+12025550199"
    numbers = numbers_file(tmp_path, [*owned, missing])
    journal = f"{redis_server.url}?job=with-failure"
    code, out, _ = await cli(fake, "bulk-release", numbers, "--journal", journal, "--yes")
    assert code == 1
    assert "job redis://127.0.0.1" in out
    assert "3 succeeded, 1 failed" in out

    code, out, _ = await cli(fake, "bulk-status", "--journal", journal)
    assert code == 1  # the job has a failure
    assert "(release), 4 items: 3 succeeded, 1 failed, 0 in flight, 0 not started" in out
    assert "finished; 0 workers alive" in out
    assert missing in out
    assert "NotFoundError" in out

    code, out, _ = await cli(fake, "bulk-status", "--journal", journal, "--json")
    status = json.loads(out)
    assert (status["items"], status["succeeded"], status["failed"]) == (4, 3, 1)
    assert status["failures"][0]["item"] == missing


async def test_bulk_status_reads_a_journal_file_too(
    fake: FakeNumbersServer, tmp_path: Path
) -> None:
    owned = fake.add_active_numbers(2)
    journal = str(tmp_path / "release.jsonl")
    code, _, _ = await cli(
        fake, "bulk-release", numbers_file(tmp_path, owned), "--journal", journal, "--yes"
    )
    assert code == 0

    code, out, _ = await cli(fake, "bulk-status", "--journal", journal, "--csv")

    assert code == 0
    assert out.splitlines() == ["item,error,status,message,outcomeUnknown"]
    code, out, _ = await cli(fake, "bulk-status", "--journal", journal)
    assert "(release), items seen: 2 succeeded, 0 failed, 0 in flight" in out


@pytest.mark.parametrize(
    ("journal", "message"),
    [
        ("redis://127.0.0.1:6379/0", "name the job"),
        ("redis://127.0.0.1:6379/0?job=a:b", "job:"),
        ("redis://127.0.0.1:6379/0?job=x&lease=soon", "lease: must be a float"),
    ],
)
async def test_a_bad_redis_journal_url_is_a_usage_error(
    fake: FakeNumbersServer, tmp_path: Path, journal: str, message: str
) -> None:
    numbers = numbers_file(tmp_path, fake.add_active_numbers(1))

    code, _, err = await cli(fake, "bulk-release", numbers, "--journal", journal, "--yes")

    assert code == 2
    assert message in err
    assert fake.requests == []
