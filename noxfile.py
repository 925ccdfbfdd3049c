"""Development sessions. ``python3 scripts/dev.py test`` runs the default ones.

The default sessions are what a contributor runs before each commit: lint, typecheck, the
suite with branch coverage on the interpreter nox runs on, and the docs build. CI
(``.ci/run``) runs them and then the suite on the other supported Pythons and without
orjson. Outside CI a Python that is not installed is reported and skipped; with ``CI`` set it
is an error, so CI proves every supported version. ``tests_floors`` runs the suite on the
lowest dependency versions pyproject.toml allows, and ``audit`` runs pip-audit (see
docs/security.md#dependencies).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import nox
from packaging.requirements import Requirement

nox.options.sessions = ["lint", "typecheck", "tests", "docs"]
nox.options.error_on_missing_interpreters = bool(os.environ.get("CI"))

# Supported Pythons, as the classifiers in pyproject.toml say. ``tests`` runs the suite on
# the interpreter nox runs on; ``tests_versions`` on the others.
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
RUNNING_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
OTHER_PYTHONS = [version for version in PYTHONS if version != RUNNING_PYTHON]
# The suite mostly waits (loopback I/O, servers starting, short sleeps), so it runs with
# two workers per core: on two cores that takes the suite from ~200 s to ~75 s.
TEST_WORKERS = str(min(8, 2 * (os.cpu_count() or 1)))


def _find_pyenv_pythons() -> None:
    """Put pyenv's installed interpreters of PYTHONS on PATH (at the end), if there are any.

    So ``python3 -m nox`` finds 3.10-3.13 wherever pyenv installed them, whatever
    ``pyenv global`` says; interpreters already on PATH still come first.
    """
    versions = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if not versions.is_dir():
        return
    path = os.environ.get("PATH", "").split(os.pathsep)
    for version in PYTHONS:
        installed = sorted(
            versions.glob(f"{version}.*/bin/python{version}"),
            key=lambda found: [int(part) for part in found.parts[-3].split(".") if part.isdigit()],
        )
        if installed and str(installed[-1].parent) not in path:
            path.append(str(installed[-1].parent))
    os.environ["PATH"] = os.pathsep.join(path)


_find_pyenv_pythons()
TEST_DEPS = [
    "pytest>=8",
    "pytest-asyncio>=0.24",
    "pytest-cov>=5",
    "pytest-timeout>=2.3",
    "pytest-xdist>=3.5",
    "hypothesis>=6.100",
    "uvicorn>=0.29",
    # tests/test_docs.py reads docstrings the way the API reference does; griffelib 2.4
    # needs Python 3.11, and 2.3 reads them the same way.
    "griffelib>=2.4; python_version >= '3.11'",
    "griffelib>=2.3; python_version < '3.11'",
    # tests/test_docs_site.py builds the site and reads it (skipped on 3.10, which the
    # docs toolchain no longer supports).
    "mkdocs>=1.6; python_version >= '3.11'",
    "mkdocs-material>=9.5; python_version >= '3.11'",
    "mkdocstrings[python]>=1.0; python_version >= '3.11'",
    "mkdocstrings-python>=2.0; python_version >= '3.11'",
    "ruff>=0.6",
    # tests/test_otel.py and the observability guide read spans and metrics back with the
    # SDK's in-memory exporters; the package itself needs only the API (the otel extra).
    "opentelemetry-sdk>=1.30.0",
]
LINT_DEPS = ["ruff>=0.6"]
TYPECHECK_DEPS = ["mypy>=1.11", "nox>=2024.4.15", *TEST_DEPS]


def _install(session: nox.Session, extras: str = "fast,fastapi,cli,redis,otel") -> None:
    session.install(f".[{extras}]")


# The optional dependencies whose floors are tested: every extra but ``testing`` (pytest
# and pytest-asyncio, which the suite itself needs newer: TEST_DEPS).
FLOOR_EXTRAS = ("fast", "fastapi", "cli", "redis", "otel")


def floor_pins(pyproject: Path = Path(__file__).parent / "pyproject.toml") -> list[str]:
    """Every runtime dependency pinned to its floor: ``aiohttp>=3.14.4`` gives ``aiohttp==3.14.4``.

    Read from ``[project]`` in pyproject.toml (the dependencies and FLOOR_EXTRAS), so the
    floors are written down once. A requirement without exactly one ``>=`` is refused:
    a floor that is not stated cannot be tested.
    """
    project = nox.project.load_toml(pyproject)["project"]
    requirements = list(project["dependencies"])
    for extra in FLOOR_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    pins = []
    for text in requirements:
        requirement = Requirement(text)
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != ">=":
            raise ValueError(f"{text!r}: a dependency needs exactly one '>=' floor")
        marker = f"; {requirement.marker}" if requirement.marker else ""
        pins.append(f"{requirement.name}=={specifiers[0].version}{marker}")
    return pins


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    session.install(*LINT_DEPS)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package, the tests, the examples and this file."""
    _install(session)
    session.install(*TYPECHECK_DEPS)
    session.run("mypy", "--strict", "numbers_async", "tests", "examples", "scripts", "noxfile.py")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, in parallel, with branch coverage, on the Python nox runs on."""
    _install(session)
    session.install(*TEST_DEPS)
    session.run(
        "pytest",
        "--numprocesses",
        TEST_WORKERS,
        "--durations=10",
        "--cov=numbers_async",
        "--cov-branch",
        "--cov-report=term-missing:skip-covered",
        "--timeout=300",  # a hung test fails alone instead of stalling the whole run
        *session.posargs,
    )


@nox.session(python=OTHER_PYTHONS, default=False)
def tests_versions(session: nox.Session) -> None:
    """The test suite on the other supported Pythons (CI runs 3.10 and 3.13)."""
    _install(session)
    session.install(*TEST_DEPS)
    session.run("pytest", "-q", "--numprocesses", TEST_WORKERS, "--timeout=300", *session.posargs)


# The Python tests_stdlib_json runs on. CI runs the suite on 3.12 only this way (and not
# also with orjson in tests_versions): one suite run less, and orjson is the same on every
# Python, which the runs on 3.10, 3.11 and 3.13 cover.
STDLIB_JSON_PYTHON = "3.12"


@nox.session(python=STDLIB_JSON_PYTHON, default=False)
def tests_stdlib_json(session: nox.Session) -> None:
    """The test suite on Python 3.12 without orjson: the stdlib JSON fallback (CI runs it)."""
    _install(session, "fastapi,cli,redis,otel")
    session.install(*TEST_DEPS)
    session.run("pytest", "-q", "--numprocesses", TEST_WORKERS, "--timeout=300", *session.posargs)


@nox.session(default=False)
def tests_floors(session: nox.Session) -> None:
    """The suite (hostile and security tests included) on the lowest declared versions.

    Installs every floor of pyproject.toml exactly (``floor_pins``), then the package
    without letting pip move them, and runs the whole suite in parallel. Not run by
    default; CI runs it (``nox -s tests_floors``).
    """
    session.install(*floor_pins(), *TEST_DEPS)
    session.install("--no-deps", ".")
    session.run("python", "-m", "pip", "check")
    session.run("python", "-m", "pip", "list", "--format=freeze")
    session.run(
        "pytest",
        "-q",
        "--numprocesses",
        TEST_WORKERS,
        "-p",
        "no:cacheprovider",
        "--timeout=300",
        *session.posargs,
    )


# Advisories the audit may report without failing, each with the reason it does not
# apply. Empty: every advisory found must be fixed by raising a floor.
AUDIT_IGNORED: dict[str, str] = {}


@nox.session(default=False)
def audit(session: nox.Session) -> None:
    """pip-audit over the floors and over what an install resolves to today.

    Fails when any package has a known advisory (unless AUDIT_IGNORED explains it) or
    could not be audited at all: an audit that looked at nothing must not pass.
    """
    _install(session)
    installed = session.run(
        "python", "-m", "pip", "freeze", "--exclude-editable", silent=True, external=True
    )
    tmp = Path(session.create_tmp())
    sets = {
        "floors": floor_pins(),
        "installed": [line for line in str(installed).splitlines() if "==" in line],
    }
    session.install("pip-audit>=2.7")
    problems = []
    for name, pins in sets.items():
        requirements = tmp / f"{name}.txt"
        requirements.write_text("\n".join(pins) + "\n", encoding="utf-8")
        report = tmp / f"{name}.json"
        ignored = [arg for vuln in AUDIT_IGNORED for arg in ("--ignore-vuln", vuln)]
        session.run(
            "pip-audit", "--requirement", str(requirements), "--no-deps", "--disable-pip",
            "--progress-spinner", "off", "--format", "json", "--output", str(report),
            *ignored, success_codes=[0, 1],
        )  # fmt: skip
        problems += _audit_problems(name, json.loads(report.read_text(encoding="utf-8")))
    if problems:
        session.error("audit failed:\n  " + "\n  ".join(problems))
    session.log("audit: no known advisory in the floors or in the installed set")


@nox.session(default=False)
def audit_latest(session: nox.Session) -> None:
    """What an install resolves to today, audited through PyPI's per-project JSON API.

    For networks where ``audit`` cannot work (PyPI's per-release API and OSV not
    reachable): that API lists the advisories of a project's latest release only, so a
    package that is not its latest release counts as not audited, and fails the audit.
    The floors cannot be audited this way.
    """
    _install(session)
    session.install("--upgrade", "pip", "setuptools", "wheel")  # the venv's own, too
    ignored = [arg for vuln in AUDIT_IGNORED for arg in ("--ignore", vuln)]
    session.run("python", "scripts/audit_latest.py", *ignored, "numbers-async")


def _audit_problems(name: str, report: dict[str, Any]) -> list[str]:
    problems = []
    for dependency in report["dependencies"]:
        package = f"{dependency['name']} {dependency.get('version', '')}".strip()
        if "skip_reason" in dependency:
            problems.append(f"{name}: {package} not audited: {dependency['skip_reason']}")
        for vuln in dependency.get("vulns") or []:
            problems.append(f"{name}: {package} has {vuln['id']}, fixed in {vuln['fix_versions']}")
    return problems


@nox.session
def demo(session: nox.Session) -> None:
    """The main job: ``numbers-async demo`` against the embedded fake server."""
    _install(session, "fast,cli")
    session.run("numbers-async", "demo", *session.posargs)


@nox.session(default=False)
def mutate(session: nox.Session) -> None:
    """Mutation testing (mutmut) of retries, settling, bulk jobs and webhook receivers.

    Slow (tens of minutes on two cores), so not run by CI; ``[tool.mutmut]`` in
    pyproject.toml says what is mutated and which tests judge it. Mutants are kept in
    ``mutants/`` so a rerun only tests what changed; ``nox -s mutate -- "numbers_async._retry*"``
    runs some of them. Ends with the list of survivors.
    """
    _install(session)
    session.install(*TEST_DEPS, "mutmut>=3.3")
    # The tests must import the mutated copy in mutants/, never an installed package.
    session.run("python", "-m", "pip", "uninstall", "--quiet", "--yes", "numbers-async")
    session.run("mutmut", "run", *session.posargs)
    session.run("mutmut", "results")


# ruff formats the separated signatures in the API reference. mkdocstrings-python 2 is
# the first with the options mkdocs.yml uses (heading, scoped cross-references, griffe
# extensions by path); it needs Python 3.11, as the rest of the toolchain now does.
DOCS_DEPS = [
    "mkdocs>=1.6",
    "mkdocs-material>=9.5",
    "mkdocstrings[python]>=1.0",
    "mkdocstrings-python>=2.0",
    "ruff>=0.6",
]


def _docs_toolchain(session: nox.Session) -> None:
    """Install the package and the docs toolchain, or skip on a Python too old for it."""
    if RUNNING_PYTHON in {"3.10"}:  # not sys.version_info: mypy checks this file as 3.10
        message = f"the docs toolchain needs Python 3.11+, nox runs on {RUNNING_PYTHON}"
        if os.environ.get("CI"):
            session.error(message)
        session.skip(message)
    _install(session)
    session.install(*DOCS_DEPS)
    # mkdocs-material 9.7 prints a banner on every build: the theme is maintained until
    # May 2027 and has a successor. Known and tracked in docs/contributing-docs.md; the
    # banner would otherwise read as a warning in every CI log.
    session.env["NO_MKDOCS_2_WARNING"] = "1"


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ (offline; any warning fails the build)."""
    _docs_toolchain(session)
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", *session.posargs)


@nox.session(default=False)
def docs_serve(session: nox.Session) -> None:
    """``mkdocs serve``: the site on http://127.0.0.1:8000, rebuilt as pages change."""
    _docs_toolchain(session)
    session.run("mkdocs", "serve", "--dev-addr", "127.0.0.1:8000", *session.posargs)


CHROMIUM = "/usr/bin/chromium"


@nox.session(default=False)
def docs_browser(session: nox.Session) -> None:
    """The built site in headless Chromium: pages, code widths, search, console errors.

    Needs Debian's ``chromium`` (``apt-get install -y chromium``), driven by Playwright
    (no browser download). Without it the session is skipped, except under ``CI``, where
    that fails. Screenshots are kept in ``site-screenshots/``.
    """
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            session.error(f"{CHROMIUM} is missing: apt-get install -y chromium")
        session.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    _docs_toolchain(session)
    session.install("playwright>=1.40")
    site = Path(session.create_tmp()) / "site"
    session.run("mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site))
    session.run(
        "python", "-m", "tests.docs_browser", "--site", str(site), "--out", "site-screenshots"
    )


# Baselines the benchmarks compare against, and the OpenTelemetry SDK B9 records with;
# never runtime dependencies.
BENCH_DEPS = ["pydantic>=2", "msgspec>=0.18", "sinch>=2.3", "opentelemetry-sdk>=1.30.0"]


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks B1-B10 against their baselines: one table, JSON in benchmarks/results/.

    ``nox -s bench -- --quick`` for a smoke run, ``-- --only b2,b3`` for some of them.
    Never fails on a number (only if a benchmark crashes).
    """
    _install(session, "fast,redis,otel")
    session.install(*BENCH_DEPS)
    session.run("python", "benchmarks/run_all.py", *session.posargs)


@nox.session
def bench_stdlib_json(session: nox.Session) -> None:
    """B1-B3 without orjson: the client and the bare baselines both parse with ``json``.

    Writes ``latest.json`` like ``bench`` (never ``reference.json``: it runs with ``--only``).
    """
    _install(session, "cli")
    session.install(*BENCH_DEPS)
    session.run("python", "benchmarks/run_all.py", "--only", "b1,b2,b3", *session.posargs)


@nox.session(python=False, default=False)
def readme_commands(session: nox.Session) -> None:
    """The README's two commands, as pasted, in a fresh clone with the system ``python3``.

    A clean environment (empty ``HOME``, ``PATH=/usr/bin:/bin``), as a new user on a stock
    Debian or Ubuntu runs them; CI runs this. Checks the committed HEAD.
    """
    session.run(sys.executable, "scripts/readme_commands.py", external=True)
