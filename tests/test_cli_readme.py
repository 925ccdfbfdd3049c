"""The README's "Bulk jobs" and "Command line" examples, and the command-line page's, run as
written; the README keeps its two commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.test_cli import Server, _env

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
CLI_PAGE = ROOT / "docs" / "cli.md"


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


def _commands(text: str) -> list[str]:
    """The ``$ numbers-async ...`` commands of the first console block that can run on a fake.

    A command continued on the next line (`` \\`` at the end, to fit 80 columns) is joined.
    """
    block = text.split("```console\n", 1)[1].split("```", 1)[0].replace(" \\\n", " ")
    return [
        line.removeprefix("$ ")
        for line in re.findall(r"^\$ numbers-async .*$", block, flags=re.M)
        if "YOUR_" not in line  # needs a real account
    ]


def _run_against_a_fake_server(commands: list[str], cwd: Path) -> None:
    assert len(commands) >= 5
    run_cli = f"{sys.executable} -m numbers_async"
    server = Server("--active", "40")
    try:
        for command in commands:
            result = subprocess.run(  # noqa: S603 - the page's own commands
                ["/bin/sh", "-c", command.replace("numbers-async", run_cli)],
                stdin=subprocess.DEVNULL,  # as in a script: nothing may wait for an answer
                capture_output=True,
                text=True,
                timeout=60,
                cwd=cwd,
                env=_env(server.env),
                check=False,
            )
            assert result.returncode == 0, (command, result.stdout, result.stderr)
    finally:
        server.stop()
    assert (cwd / "numbers.csv").read_text().startswith("phoneNumber,")
    assert (cwd / "release.jsonl").exists()


def test_the_command_line_examples_run_against_a_fake_server(tmp_path: Path) -> None:
    _run_against_a_fake_server(_commands(section("Command line")), tmp_path)


def test_the_command_line_page_examples_run_against_a_fake_server(tmp_path: Path) -> None:
    _run_against_a_fake_server(_commands(CLI_PAGE.read_text()), tmp_path)


def test_the_readme_keeps_its_two_commands() -> None:
    text = README.read_text()
    assert "\npython3 scripts/dev.py demo\n" in text
    assert "\npython3 scripts/dev.py test\n" in text
