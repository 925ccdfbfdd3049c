"""Run the project's nox sessions from any Python 3.10+, installing nothing outside the clone.

    python3 scripts/dev.py demo     # the main job: the guided demo against the fake server
    python3 scripts/dev.py test     # lint, mypy --strict, the suite with coverage, the docs
    python3 scripts/dev.py nox ARGS # any nox command line (``nox -l`` lists the sessions)

It makes a virtual environment for nox in ``.nox/_bootstrap`` (nox keeps its session
environments beside it, so ``rm -rf .nox`` removes everything this made) and runs nox from
there. Nothing is installed into the interpreter that runs this file, so it works where that
interpreter is "externally managed" (PEP 668: Debian 12, Ubuntu 23.04 and later, Homebrew),
without a ``python`` alias and without pyenv. Where ``venv`` cannot install pip (Debian's
``python3`` without the ``python3-venv`` package), pip's wheel is fetched from the package
index pip would use and checked against the index's SHA-256.

Standard library only, on purpose: this file runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import venv
from pathlib import Path

#: What the bootstrap environment holds; a change here rebuilds it on the next run.
REQUIREMENTS = ("nox>=2024.4.15",)
MINIMUM_PYTHON = (3, 10)
#: The commands; ``nox`` passes the rest of the command line through.
COMMANDS = {"demo": ["-s", "demo"], "test": []}

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".nox" / "_bootstrap"
STAMP = VENV / "bootstrap.json"


def venv_python(where: Path) -> Path:
    """The interpreter of the virtual environment at ``where``."""
    if os.name == "nt":  # pragma: no cover - the project is developed on Linux and macOS
        return where / "Scripts" / "python.exe"
    return where / "bin" / "python"


def wanted_stamp() -> dict[str, object]:
    """What a usable bootstrap environment was made from, as its JSON stamp reads back."""
    return {
        "python": sys.version,
        "executable": sys.executable,
        "requirements": list(REQUIREMENTS),  # JSON has lists, not tuples
    }


def is_current() -> bool:
    """Whether ``.nox/_bootstrap`` exists and was made by this interpreter for these needs."""
    try:
        return json.loads(STAMP.read_text()) == wanted_stamp() and venv_python(VENV).exists()
    except (OSError, ValueError):
        return False


def index_url() -> str:
    """The package index pip would use: ``PIP_INDEX_URL``, pip's configuration, or PyPI."""
    configured = os.environ.get("PIP_INDEX_URL")
    if configured:
        return configured.rstrip("/")
    try:
        # The system pip, if there is one, knows the machine's configuration.
        answer = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        answer = None
    if answer is not None and answer.returncode == 0 and answer.stdout.strip():
        return answer.stdout.strip().rstrip("/")
    return "https://pypi.org/simple"


def install_pip_from_index(python: Path) -> None:
    """Put pip into a venv made without it, from the newest pure-Python pip wheel."""
    url = f"{index_url()}/pip/"
    print(f"scripts/dev.py: this Python's venv has no pip; fetching pip from {url}", flush=True)
    request = urllib.request.Request(  # noqa: S310 - an https (or configured) index URL
        url, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            files = json.load(response)["files"]
    except (OSError, ValueError, KeyError) as exc:
        raise SystemExit(
            f"scripts/dev.py: could not read {url} ({exc}); install your system's venv "
            f"package (Debian and Ubuntu: apt install python3-venv) or set PIP_INDEX_URL"
        ) from None
    wheels = [
        f
        for f in files
        if f["filename"].endswith("-py3-none-any.whl")
        and not f.get("yanked")
        and "sha256" in f.get("hashes", {})
        and re.fullmatch(r"[0-9]+(\.[0-9]+)*", f["filename"].split("-")[1])  # no pre-releases
    ]
    if not wheels:
        raise SystemExit(f"scripts/dev.py: no pip wheel found at {url}")
    wheel = max(wheels, key=lambda f: _version_key(f["filename"].split("-")[1]))
    try:
        with urllib.request.urlopen(wheel["url"], timeout=120) as response:  # noqa: S310
            data = response.read()
    except OSError as exc:
        raise SystemExit(f"scripts/dev.py: could not fetch {wheel['url']} ({exc})") from None
    if hashlib.sha256(data).hexdigest() != wheel["hashes"]["sha256"]:
        raise SystemExit(f"scripts/dev.py: {wheel['filename']} does not match its SHA-256")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / wheel["filename"]
        path.write_bytes(data)
        # A pip wheel runs as pip from the zip itself: it installs itself.
        run([str(python), f"{path}/pip", "install", "--quiet", str(path)])


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def create() -> None:
    """Make ``.nox/_bootstrap`` with nox in it."""
    print(f"scripts/dev.py: making {VENV.relative_to(ROOT)} with nox", flush=True)
    # Debian leaves ensurepip out of python3 unless python3-venv is installed (and its venv
    # then exits instead of raising): make the environment without pip and fetch pip.
    if importlib.util.find_spec("ensurepip") is not None:
        venv.EnvBuilder(clear=True, with_pip=True).create(VENV)
    else:
        venv.EnvBuilder(clear=True, with_pip=False).create(VENV)
        install_pip_from_index(venv_python(VENV))
    python = str(venv_python(VENV))
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS])
    STAMP.write_text(json.dumps(wanted_stamp()))


def run(command: list[str]) -> None:
    """Run ``command``, stopping with its exit status if it fails."""
    done = subprocess.run(command, check=False)  # noqa: S603 - our own interpreter and args
    if done.returncode:
        raise SystemExit(done.returncode)


def main(argv: list[str]) -> int:
    """Parse the command line, make the environment if needed and run nox."""
    if sys.version_info < MINIMUM_PYTHON:
        wanted = ".".join(map(str, MINIMUM_PYTHON))
        print(f"scripts/dev.py: needs Python {wanted} or newer, not {sys.version.split()[0]}")
        return 2
    if not argv or (argv[0] not in COMMANDS and argv[0] != "nox"):
        print(__doc__.split("\n\n")[1] if __doc__ else "", file=sys.stderr)
        return 2
    nox_args = argv[1:] if argv[0] == "nox" else [*COMMANDS[argv[0]], *argv[1:]]
    if not is_current():
        create()
    os.chdir(ROOT)
    return subprocess.run(  # noqa: S603 - our own interpreter and the user's arguments
        [str(venv_python(VENV)), "-m", "nox", *nox_args], check=False
    ).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
