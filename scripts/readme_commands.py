"""Run the README's two commands as a new user would, and time them.

    python3 scripts/readme_commands.py          # both, in a fresh clone of HEAD
    python3 scripts/readme_commands.py --list   # only print them

Each command is read from the README's "The two commands" block and run exactly as written,
with ``bash -c``, in a fresh ``git clone`` of the committed HEAD (uncommitted changes are not
part of the check), with a clean environment: an empty temporary ``HOME``, ``PATH`` set to
``/usr/bin:/bin`` (the system ``python3``; no pyenv, no virtual environment) and nothing else
but ``LANG`` and, when set, ``CI`` and pip's proxy and index settings. CI runs this (it is how
``.ci/run`` calls the README's test command); it exits with the first failing status.

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SECTION = "## The two commands"
CLEAN_PATH = "/usr/bin:/bin"
#: Variables passed through to the clean environment when set: CI (missing interpreters are
#: errors there) and what a machine needs to reach its package index.
PASSED_THROUGH = (
    "CI",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "PIP_INDEX_URL",
)


def readme_commands(text: str) -> list[str]:
    """The commands of the README's "The two commands" block: lines that are not comments."""
    try:
        section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    except IndexError:
        raise SystemExit(f"README.md has no {SECTION!r} section") from None
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    if block is None:
        raise SystemExit(f"README.md's {SECTION!r} section has no console block")
    lines = [line.strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def clean_environment(home: str) -> dict[str, str]:
    """A new user's environment: an empty home, the system's PATH, no Python settings."""
    env = {"HOME": home, "PATH": CLEAN_PATH, "LANG": "C.UTF-8"}
    env.update({name: os.environ[name] for name in PASSED_THROUGH if name in os.environ})
    return env


def main(argv: list[str]) -> int:
    """Print, or clone and run, the README's commands; the first failure's status."""
    commands = readme_commands(README.read_text(encoding="utf-8"))
    if len(commands) != 2:
        print(f"README.md's {SECTION!r} block should hold two commands, not {commands!r}")
        return 1
    if argv == ["--list"]:
        print("\n".join(commands))
        return 0
    dirty = subprocess.run(  # noqa: S603 - fixed git command
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if dirty:
        print("readme_commands: uncommitted changes are not part of this check (HEAD is)")
    with tempfile.TemporaryDirectory(prefix="readme-commands-") as tmp:
        clone = Path(tmp) / "numbers-async"
        home = Path(tmp) / "home"
        home.mkdir()
        subprocess.run(  # noqa: S603 - fixed git command
            ["git", "clone", "--quiet", str(ROOT), str(clone)],  # noqa: S607
            check=True,
        )
        for command in commands:
            print(f"readme_commands: $ {command}", flush=True)
            started = time.monotonic()
            done = subprocess.run(  # noqa: S603 - the README's own command, in our clone
                [shutil.which("bash") or "/bin/bash", "-c", command],
                cwd=clone,
                env=clean_environment(str(home)),
                check=False,
            )
            took = time.monotonic() - started
            print(f"readme_commands: exit {done.returncode} after {took:.0f} s: {command}")
            if done.returncode:
                return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
