"""The README's "Bulk jobs" and "Command line" examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.test_cli import Server, _env

README = Path(__file__).parent.parent / "README.md"


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_the_bulk_jobs_example_runs() -> None:
    (code,) = [
        block
        for block in re.findall(r"```python\n(.*?)```", section("Bulk jobs"), flags=re.DOTALL)
        if "asyncio.run" in block
    ]
    result = subprocess.run(  # noqa: S603 - our own interpreter and our own README
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env({}),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "20 ok, 0 failed" in result.stdout
    assert "released 20 in " in result.stdout


def test_the_command_line_examples_run_against_a_fake_server(tmp_path: Path) -> None:
    commands = [
        line.removeprefix("$ ")
        for line in re.findall(r"^\$ numbers-async .*$", section("Command line"), flags=re.M)
        if "YOUR_" not in line  # needs a real account
    ]
    assert len(commands) >= 5
    run_cli = f"{sys.executable} -m numbers_async"
    server = Server("--active", "40")
    try:
        for command in commands:
            result = subprocess.run(  # noqa: S603 - the README's own commands
                ["/bin/sh", "-c", command.replace("numbers-async", run_cli)],
                stdin=subprocess.DEVNULL,  # as in a script: nothing may wait for an answer
                capture_output=True,
                text=True,
                timeout=60,
                cwd=tmp_path,
                env=_env(server.env),
                check=False,
            )
            assert result.returncode == 0, (command, result.stdout, result.stderr)
    finally:
        server.stop()
    assert (tmp_path / "numbers.csv").read_text().startswith("phoneNumber,")
    assert (tmp_path / "release.jsonl").exists()
