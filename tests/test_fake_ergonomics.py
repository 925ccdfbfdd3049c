"""Pointing an app at the fake: ``fake.env()``, ``fake-server``'s ``export`` lines and
inventory size, and the note ``--fake`` starts with."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from numbers_async import NumbersClient
from numbers_async.testing import FakeNumbersServer

ROOT = Path(__file__).parent.parent
CLI = [sys.executable, "-W", "error", "-m", "numbers_async"]
# A secret a shell would mangle unquoted: spaces, quotes, a dollar sign, a glob.
AWKWARD_SECRET = 'it\'s a "secret" with $HOME and *'
SH = "/bin/sh"  # POSIX: what `eval "$(...)"` runs in


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SINCH_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return {**env, **extra}


class FakeServerProcess:
    """``numbers-async fake-server`` running; ``lines`` is what it printed before serving."""

    def __init__(self, *options: str) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*CLI, "fake-server", "--port", "0", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        assert self.process.stdout is not None
        self.lines: list[str] = []
        while not self.lines or not self.lines[-1].startswith("# the project owns"):
            line = self.process.stdout.readline()
            assert line, self.process.stderr.read() if self.process.stderr else ""
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> str:
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, err
        return out


@pytest.fixture
def awkward_server() -> Iterator[FakeServerProcess]:
    server = FakeServerProcess("--key-secret", AWKWARD_SECRET, "--inventory", "300")
    yield server
    server.stop()


async def test_env_names_every_variable_from_env_reads() -> None:
    async with FakeNumbersServer() as fake:
        assert fake.env() == {
            "SINCH_PROJECT_ID": "fake-project",
            "SINCH_KEY_ID": "fake-key-id",
            "SINCH_KEY_SECRET": "fake-key-secret",
            "SINCH_NUMBERS_URL": fake.url,
            "SINCH_AUTH_URL": f"{fake.url}/oauth2/token",
        }


async def test_a_from_env_client_with_fake_env_reaches_the_fake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeNumbersServer(key_secret="another-secret") as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        async with NumbersClient.from_env() as client:
            regions = await client.available_regions.list()
        assert regions
        assert [r.route for r in fake.requests] == ["token", "list_regions"]
        assert fake.requests[-1].status == 200


def test_env_before_start_says_the_fake_is_not_started() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        FakeNumbersServer().env()


def test_fake_server_prints_one_export_line_per_variable(
    awkward_server: FakeServerProcess,
) -> None:
    exports = [line for line in awkward_server.lines if line.startswith("export ")]
    assert [line.split("=", 1)[0] for line in exports] == [
        "export SINCH_PROJECT_ID",
        "export SINCH_KEY_ID",
        "export SINCH_KEY_SECRET",
        "export SINCH_NUMBERS_URL",
        "export SINCH_AUTH_URL",
    ]
    # Everything else it prints is a shell comment.
    assert all(line.startswith(("export ", "# ")) for line in awkward_server.lines)


def test_a_shell_can_eval_what_fake_server_prints(awkward_server: FakeServerProcess) -> None:
    printed = "\n".join(awkward_server.lines)
    script = 'eval "$1"; printf "%s\\n" "$SINCH_KEY_SECRET" "$SINCH_NUMBERS_URL"'
    result = subprocess.run(  # noqa: S603 - a fixed script; the output is its argument
        [SH, "-c", script, "sh", printed],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
        timeout=30,
    )
    secret, url = result.stdout.splitlines()
    assert secret == AWKWARD_SECRET
    assert url.startswith("http://127.0.0.1:")


def test_a_from_env_program_runs_against_the_evaluated_exports(
    awkward_server: FakeServerProcess,
) -> None:
    program = (
        "import asyncio\n"
        "from numbers_async import NumbersClient\n"
        "async def main():\n"
        "    async with NumbersClient.from_env() as client:\n"
        "        found = await client.available_numbers.search('US', 'LOCAL', size=300)\n"
        "    print(len(found))\n"
        "asyncio.run(main())\n"
    )
    printed = "\n".join(awkward_server.lines)
    result = subprocess.run(  # noqa: S603 - a fixed script; the output is its argument
        [SH, "-c", 'eval "$1"; exec "$2" -W error -c "$3"', "sh", printed, sys.executable, program],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "300\n"  # --inventory 300: the search is not cut at 50


def test_fake_server_says_what_state_it_starts_with() -> None:
    server = FakeServerProcess("--active", "3", "--inventory", "10")
    try:
        assert server.lines[-1] == (
            "# the project owns 3 numbers; 70 available to rent (10 each in US LOCAL, "
            "US TOLL_FREE, CA LOCAL, GB MOBILE, GB LOCAL, SE MOBILE, DE LOCAL)"
        )
    finally:
        out = server.stop()
    assert out.splitlines()[-1].startswith("# fake server stopped: 0 API requests")


def test_fake_option_says_on_one_stderr_line_what_the_fake_starts_with() -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter and module
        [*CLI, "--fake", "list", "--json"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "numbers-async: --fake: a new fake Sinch server, gone when this command ends: the "
        "project owns no numbers; 350 available to rent (50 each in US LOCAL, US TOLL_FREE, "
        "CA LOCAL, GB MOBILE, GB LOCAL, SE MOBILE, DE LOCAL)\n"
    )
    assert json.loads(result.stdout)["totalSize"] == 0  # stdout stays machine-readable
