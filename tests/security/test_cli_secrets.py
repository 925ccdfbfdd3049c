"""Item 5 of the review: the command line keeps secrets out of the process list.

Secrets come from the environment, a file or a prompt; one given as an argument (where
``ps`` and ``/proc/PID/cmdline`` show it to every user) still works but draws a warning.
Run in-process against one ``numbers-async fake-server`` child.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from numbers_async.cli import main
from tests.test_cli import Server

KEY_SECRET = "fake-key-secret"
HMAC_SECRET = "0123456789abcdef0123456789abcdef"
WARNING = "puts the secret where every user of this machine can read it"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[Server]:
    server = Server()
    yield server
    server.stop()


@pytest.fixture
def without_secret(fake_server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    """Every ``SINCH_*`` variable for the fake server but the key secret."""
    for name, value in fake_server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SINCH_KEY_SECRET")
    monkeypatch.delenv("SINCH_CALLBACK_SECRET", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: nothing is asked
    return fake_server


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_key_secret_on_the_command_line_works_but_warns(
    without_secret: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before: accepted silently.
    code, out, err = run(capsys, "--key-secret", KEY_SECRET, "regions", "--json")

    assert code == 0
    assert json.loads(out)
    assert "--key-secret " + WARNING in err
    assert KEY_SECRET not in err


def test_the_key_secret_is_read_from_a_file(
    without_secret: Server, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Before: --key-secret-file did not exist (a usage error).
    secret_file = tmp_path / "key-secret"
    secret_file.write_text(KEY_SECRET + "\n")

    code, out, err = run(capsys, "--key-secret-file", str(secret_file), "regions", "--json")

    assert (code, err) == (0, "")
    assert json.loads(out)


def test_the_key_secret_is_asked_for_on_a_terminal(
    without_secret: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: "missing credentials", with no way to type the secret in.
    asked: list[str] = []
    terminal = io.StringIO("")
    monkeypatch.setattr(terminal, "isatty", lambda: True)
    monkeypatch.setattr("sys.stdin", terminal)

    def getpass(prompt: str, stream: object) -> str:
        asked.append(prompt)
        return KEY_SECRET

    monkeypatch.setattr("getpass.getpass", getpass)

    code, out, _ = run(capsys, "regions", "--json")

    assert code == 0
    assert json.loads(out)
    assert asked == ["numbers-async: access key secret: "]


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "cannot read --key-secret-file"), ("\n", "the first line is empty")],
)
def test_an_unusable_secret_file_is_a_usage_error(
    without_secret: Server,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    content: str | None,
    words: str,
) -> None:
    secret_file = tmp_path / "key-secret"
    if content is not None:
        secret_file.write_text(content)

    code, _, err = run(capsys, "--key-secret-file", str(secret_file), "regions")

    assert code == 2
    assert words in err


def test_a_secret_and_a_secret_file_together_are_refused(
    without_secret: Server, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    secret_file = tmp_path / "key-secret"
    secret_file.write_text(KEY_SECRET)

    code, _, err = run(
        capsys, "--key-secret", KEY_SECRET, "--key-secret-file", str(secret_file), "regions"
    )

    assert code == 2
    assert "give --key-secret or --key-secret-file, not both" in err


def test_the_callback_secret_on_the_command_line_works_but_warns(
    without_secret: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SINCH_KEY_SECRET", KEY_SECRET)

    code, out, err = run(capsys, "update-callbacks", HMAC_SECRET, "--json")

    assert code == 0
    assert json.loads(out)["hmacSecret"] == "******** (32 characters)"
    assert "update-callbacks SECRET " + WARNING in err
    assert HMAC_SECRET not in err


@pytest.mark.parametrize("source", ["file", "environment", "prompt"])
def test_the_callback_secret_comes_from_a_file_the_environment_or_a_prompt(
    without_secret: Server,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    source: str,
) -> None:
    # Before: the secret had to be an argument or stdin ("-").
    monkeypatch.setenv("SINCH_KEY_SECRET", KEY_SECRET)
    args = ["update-callbacks", "--json"]
    if source == "file":
        secret_file = tmp_path / "hmac-secret"
        secret_file.write_text(HMAC_SECRET + "\n")
        args += ["--hmac-secret-file", str(secret_file)]
    elif source == "environment":
        monkeypatch.setenv("SINCH_CALLBACK_SECRET", HMAC_SECRET)
    else:
        terminal = io.StringIO("")
        monkeypatch.setattr(terminal, "isatty", lambda: True)
        monkeypatch.setattr("sys.stdin", terminal)
        monkeypatch.setattr("getpass.getpass", lambda prompt, stream: HMAC_SECRET)

    code, out, err = run(capsys, *args)

    assert (code, err) == (0, "")
    assert json.loads(out)["hmacSecret"] == "******** (32 characters)"


def test_update_callbacks_without_any_secret_is_a_usage_error(
    without_secret: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SINCH_KEY_SECRET", KEY_SECRET)

    code, _, err = run(capsys, "update-callbacks")

    assert code == 2
    assert "update-callbacks needs the secret" in err
