"""Shared benchmark plumbing: the server child process, paired rounds, statistics, output.

Every benchmark measures our client and its baseline in the same run, in alternating
rounds (the order flips every round), and reports medians with their spread (min-max)
and the *paired* ratio: the median of the per-round ratios, which cancels most of the
drift of a shared, noisy machine. Results go to stdout as a table and to
``benchmarks/results/<benchmark>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from numbers_async import NumbersClient

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
REPO_DIR = BENCH_DIR.parent

# The benchmarks import the package from this checkout even when it is not installed.
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))


def pythonpath() -> str:
    """``PYTHONPATH`` for a child process that must import this checkout."""
    return os.pathsep.join(filter(None, [str(REPO_DIR), os.environ.get("PYTHONPATH")]))


# --- the JSON parser the client uses ------------------------------------------------------------


def client_json() -> tuple[Callable[[bytes], Any], str]:
    """The JSON parser our client uses (orjson with the ``fast`` extra, else the stdlib)
    and its name: bare-aiohttp baselines parse with the same one, so they compare fairly."""
    from numbers_async import _json

    loads = _json.loads
    return loads, ("orjson" if getattr(loads, "__module__", "") == "orjson" else "json")


# --- the server child process ------------------------------------------------------------------


@dataclass(frozen=True)
class ServerInfo:
    """Where a benchmark server listens and the credentials it accepts."""

    url: str
    auth_url: str
    project_id: str
    key_id: str
    key_secret: str
    phones: list[str]

    def client(self, **options: Any) -> NumbersClient:
        """Our client, pointed at this server (``options`` go to ``NumbersClient``)."""
        from numbers_async import NumbersClient  # imported late: B6 measures memory

        return NumbersClient(
            self.project_id,
            self.key_id,
            self.key_secret,
            base_url=self.url,
            auth_url=self.auth_url,
            **options,
        )


def start_server(
    kind: Literal["fixed", "fake"], *options: str
) -> tuple[subprocess.Popen[str], ServerInfo]:
    """Start ``_server.py kind options...`` in a child process; return it and where it is."""
    command = [sys.executable, str(BENCH_DIR / "_server.py"), kind, *options]
    env = {**os.environ, "PYTHONPATH": pythonpath()}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        stop_server(child)
        raise RuntimeError(f"benchmark server did not start: {' '.join(command)}")
    return child, ServerInfo(**json.loads(line))


def stop_server(child: subprocess.Popen[str]) -> str:
    """Terminate the server child; return what it printed after its first line."""
    child.terminate()
    try:
        output, _ = child.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        child.kill()
        output, _ = child.communicate()
    return output or ""


@contextlib.contextmanager
def server(kind: Literal["fixed", "fake"], *options: str) -> Iterator[ServerInfo]:
    """Run a benchmark server child for the duration of the ``with`` block."""
    child, info = start_server(kind, *options)
    try:
        yield info
    finally:
        stop_server(child)


# --- rounds and statistics ---------------------------------------------------------------------


def alternate(rounds: int, contenders: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
    """Run every contender once per round, rotating who goes first; collect the values."""
    names = list(contenders)
    values: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            values[name].append(contenders[name]())
        summary = "  ".join(f"{name}={values[name][-1]:.4g}" for name in names)
        print(f"  round {index + 1}/{rounds}: {summary}", file=sys.stderr, flush=True)
    return values


@dataclass(frozen=True)
class Stat:
    """The median of some samples and their spread."""

    median: float
    low: float
    high: float
    samples: list[float]

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stat:
        """Summarise ``samples`` (at least one)."""
        return cls(statistics.median(samples), min(samples), max(samples), list(samples))


def paired_ratio(ours: Sequence[float], baseline: Sequence[float]) -> Stat:
    """Per-round ``ours / baseline``, summarised."""
    return Stat.of([a / b for a, b in zip(ours, baseline, strict=True)])


def profile(name: str, run: Callable[[], object], *, top: int = 30) -> Path:
    """Run ``run`` once under cProfile; save the stats and print the costliest functions."""
    # Not in results/: only JSON is git-ignored there.
    path = Path(tempfile.gettempdir()) / f"numbers_async-{name}.prof"
    profiler = cProfile.Profile()
    profiler.runcall(run)
    profiler.dump_stats(path)
    pstats.Stats(str(path)).sort_stats("tottime").print_stats(top)
    print(f"(wrote {path}; e.g. python -m pstats {path})")
    return path


# --- results -----------------------------------------------------------------------------------

Goal = Literal["ratio_at_least", "ratio_at_most", "ours_at_most", "none"]


@dataclass(frozen=True)
class Row:
    """One line of the results table: our figure against one baseline, and the target."""

    benchmark: str  # "B1"
    what: str  # "active_numbers.get, concurrency 64"
    unit: str  # "req/s"
    ours: Stat
    baseline_label: str
    baseline: Stat | None
    ratio: Stat | None  # ours / baseline, paired per round
    target: str  # ">= 0.85x bare" (human text)
    goal: Goal
    goal_value: float | None
    notes: str = ""
    met: bool | None = field(init=False)

    def __post_init__(self) -> None:
        met: bool | None = None
        if self.goal == "ratio_at_least" and self.ratio is not None:
            met = self.ratio.median >= (self.goal_value or 0.0)
        elif self.goal == "ratio_at_most" and self.ratio is not None:
            met = self.ratio.median <= (self.goal_value or 0.0)
        elif self.goal == "ours_at_most":
            met = self.ours.median <= (self.goal_value or 0.0)
        object.__setattr__(self, "met", met)


def commit() -> str | None:
    """The checkout's commit, with ``-dirty`` when files differ from it (None outside git)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"],  # noqa: S607 - git from PATH
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_DIR), "status", "--porcelain", "-uno"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions: dict[str, str] = {}
    for package in ("aiohttp", "attrs", "cattrs", "yarl", "orjson", "pydantic", "msgspec", "sinch"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[package] = version(package)
    return {
        "commit": commit(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "packages": versions,
    }


def write_result(name: str, rows: list[Row], params: dict[str, Any], out: Path | None) -> Path:
    """Write the rows, parameters and machine as JSON; return the path."""
    path = out or RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": name,
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "params": params,
        "machine": machine(),
        "rows": [asdict(row) for row in rows],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def _number(value: float, unit: str = "") -> str:
    text = f"{value:,.1f}" if unit in ("ms", "µs", "MB") or abs(value) < 100 else f"{value:,.0f}"
    return f"{text} {unit}" if unit else text


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The results table (rows as written to JSON), aligned for a terminal or Markdown."""
    header = ["benchmark", "ours", "baseline", "ratio (paired, min-max)", "target", "met?"]
    lines = [header]
    for row in rows:
        ours = row["ours"]
        baseline = row["baseline"]
        ratio = row["ratio"]
        met = {True: "yes", False: "**no**", None: "—"}[row["met"]]
        lines.append(
            [
                f"{row['benchmark']} {row['what']}",
                f"{_number(ours['median'], row['unit'])} "
                f"({_number(ours['low'])}-{_number(ours['high'])})",
                (
                    f"{_number(baseline['median'], row['unit'])} ({row['baseline_label']})"
                    if baseline
                    else row["baseline_label"]
                ),
                (
                    f"{ratio['median']:.2f}x ({ratio['low']:.2f}-{ratio['high']:.2f})"
                    if ratio
                    else "—"
                ),
                row["target"],
                met,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        out.append(
            "| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + " |"
        )
        if index == 0:
            out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)


def report(name: str, rows: list[Row], params: dict[str, Any], out: Path | None) -> None:
    """Print the table and write the JSON."""
    path = write_result(name, rows, params, out)
    print(format_table([asdict(row) for row in rows]))
    print(f"\n(wrote {path})")


def parser(description: str, *, rounds: int, profiling: bool = False) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes (and ``--profile``)."""
    result = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    result.add_argument("--rounds", type=int, default=rounds, help="alternating rounds")
    result.add_argument("--out", type=Path, default=None, help="JSON result path")
    if profiling:
        result.add_argument(
            "--profile",
            action="store_true",
            help="run ours once under cProfile instead (stats saved in the temp directory)",
        )
    return result
