"""The command's help teaches, and commands that spend or give up money ask first.

Most tests run ``main()`` in process. Refusals are shown to happen before anything is sent
by running them without credentials: a command that tried to connect would fail on those.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from numbers_async.cli import build_parser, main
from tests.test_cli import CLI, Server, _env, assert_usage_error, cli

CLI_DIR = Path(__file__).parent.parent / "numbers_async" / "cli"
GLOBAL_FLAGS = ("--json", "--csv", "--progress", "--fake", "--project-id", "--key-secret")
# The global options' own help lines (fake-server has flags of the same name, of its own).
GLOBAL_HELP = (
    "JSON, the API's format",
    "progress bars on stderr",
    "use an embedded fake Sinch server",
    "the OAuth2 token endpoint",
    "Credentials come from",
)
# Each confirming command, with arguments that make it valid.
CONFIRMING = {
    "rent": ["rent", "+12025550100"],
    "rent-any": ["rent-any", "US", "LOCAL"],
    "release": ["release", "+12025550100"],
    "bulk-rent": ["bulk-rent", "/dev/null"],
    "bulk-rent-any": ["bulk-rent-any", "3", "US", "LOCAL"],
    "bulk-release": ["bulk-release", "/dev/null"],
    "deprovision-emergency-address": ["deprovision-emergency-address", "+12025550100"],
}


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


class Terminal(io.StringIO):
    """A stdin that a person is typing into."""

    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    """A stdin fed by another program."""

    def isatty(self) -> bool:
        return False


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    fake = Server()
    yield fake
    fake.stop()


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SINCH_"):
            monkeypatch.delenv(name)


# --- the parser ---------------------------------------------------------------------------------


def test_build_parser_is_public_and_names_every_command() -> None:
    assert isinstance(build_parser(), argparse.ArgumentParser)
    assert set(subcommands()) >= {*CONFIRMING, "update", "list", "demo", "fake-server"}


def test_global_options_are_listed_once_in_the_top_level_help() -> None:
    text = build_parser().format_help()

    for flag in GLOBAL_FLAGS:
        assert f"  {flag}" in text, flag
    for line in GLOBAL_HELP:
        assert text.count(line) == 1, line


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_a_command_help_shows_its_own_options_and_one_example(name: str) -> None:
    text = subcommands()[name].format_help()

    for line in GLOBAL_HELP:
        assert line not in text, (name, line)
    assert text.count("example:\n  numbers-async ") == 1 or (
        name == "update-callbacks" and "| numbers-async update-callbacks -" in text
    )


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_the_example_in_a_command_help_parses(name: str) -> None:
    text = subcommands()[name].format_help()
    example = text.split("example:\n  ", 1)[1].splitlines()[0]
    words = example.rsplit("| ", 1)[-1].split(">")[0].split()

    assert words[0] == "numbers-async"
    args = build_parser().parse_args(words[1:])
    assert args.command == name


def test_rent_help_shows_no_text_that_belongs_to_update() -> None:
    rent, update = (
        " ".join(subcommands()[name].format_help().split()) for name in ("rent", "update")
    )

    assert "unlinks" not in rent
    assert "(update)" not in rent
    assert "'' unlinks it" in update


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_only_commands_that_spend_money_or_give_something_up_take_yes(name: str) -> None:
    text = subcommands()[name].format_help()

    assert ("--yes" in text) is (name in CONFIRMING)


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "--csv", "list"],
        ["list", "--json", "--csv"],
        ["--json", "list", "--csv"],
        ["--csv", "get", "+12025550100", "--json"],
    ],
    ids=["both-before", "both-after", "either-side", "reversed"],
)
def test_json_and_csv_exclude_each_other(args: list[str]) -> None:
    assert_usage_error(cli(*args), "--csv: not allowed with argument --json")


# --- confirmation -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CONFIRMING))
def test_without_a_terminal_a_confirming_command_refuses_before_connecting(
    name: str, no_credentials: None
) -> None:
    result = cli(*CONFIRMING[name])  # no SINCH_* variables: connecting would fail

    assert_usage_error(result, f"{name} would ", "pass --yes", "stdin is not a terminal")


def test_a_command_that_changes_nothing_needs_no_confirmation(no_credentials: None) -> None:
    assert_usage_error(cli("update", "+12025550100", "--display-name", "x"), "missing credentials")


def test_on_a_terminal_no_sends_nothing_and_exits_1(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))

    code = main(["release", "+12025550100"])

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err == (
        "numbers-async: Release +12025550100 (the project gives it up)? [y/N] "
        "numbers-async: not confirmed; nothing was sent\n"
    )


def test_on_a_terminal_an_empty_answer_is_no(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", Terminal(""))

    assert main(["bulk-rent-any", "5", "US", "LOCAL"]) == 1
    assert "Rent 5 US LOCAL numbers (this costs money)? [y/N]" in capsys.readouterr().err


def test_on_a_terminal_yes_goes_ahead(
    server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))

    code = main(["rent-any", "US", "LOCAL", "--json"])

    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["phoneNumber"].startswith("+1")
    assert "Rent one US LOCAL number (this costs money)? [y/N]" in err


def test_a_real_terminal_is_asked_and_its_answer_read(server: Server) -> None:
    controller, terminal = os.openpty()
    try:
        job = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*CLI, "rent-any", "US", "LOCAL", "--json"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(server.env),
        )
        os.write(controller, b"y\n")
        out, err = job.communicate(timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)

    assert job.returncode == 0, err
    assert err == "numbers-async: Rent one US LOCAL number (this costs money)? [y/N] "
    assert json.loads(out)["phoneNumber"].startswith("+1")


def test_a_bulk_question_counts_the_numbers_in_the_file(
    no_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("phoneNumber\n+12025550100\n+12025550101\n")
    monkeypatch.setattr(sys, "stdin", Terminal("no\n"))

    assert main(["bulk-release", str(numbers)]) == 1
    assert f"Release the 2 numbers in {numbers} (the project gives them up)?" in (
        capsys.readouterr().err
    )


def test_numbers_piped_in_need_yes(
    no_credentials: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", Pipe("+12025550100\n"))

    assert main(["bulk-release"]) == 2
    assert "release the numbers read from stdin" in capsys.readouterr().err


def test_yes_and_fake_need_no_terminal() -> None:
    assert cli("--fake", "rent-any", "US", "LOCAL").returncode == 0
    assert cli("rent-any", "US", "LOCAL", "--fake", "--yes").returncode == 0


def test_the_demo_never_asks() -> None:
    result = cli("demo", "--count", "3", "--latency", "0")

    assert result.returncode == 0, result.stderr
    assert "[y/N]" not in result.stdout + result.stderr


# --- the modules --------------------------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_cli_modules_import_no_private_module() -> None:
    for path in sorted(CLI_DIR.glob("*.py")):
        private = {
            name
            for name in _imports(path)
            if name.startswith("numbers_async.")
            and name.split(".")[1].startswith("_")
            and not name.split(".")[1].startswith("__")
        }
        assert private == set(), path.name


def test_cli_modules_have_no_import_cycle() -> None:
    modules = {path.stem: path for path in CLI_DIR.glob("*.py")}
    graph = {
        name: {
            other
            for other in modules
            if other != name
            and (
                f"numbers_async.cli.{other}" in _imports(path)
                or (other == "__init__" and "numbers_async.cli" in _imports(path))
            )
        }
        for name, path in modules.items()
    }

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
            for nxt in graph[start]
        )

    assert [name for name in graph if reaches(name, name)] == []
