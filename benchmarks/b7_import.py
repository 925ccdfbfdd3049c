"""B7: the time ``import numbers_async`` takes, against importing its four dependencies.

What is measured: milliseconds for ``import numbers_async`` in a fresh interpreter, against
``import aiohttp, attrs, cattrs, yarl`` (what any library built on them pays at least).
Only the import statement is timed (``time.perf_counter`` around it, inside the child), so
interpreter start-up, which is the same for both, does not dilute the ratio. Whatever
``numbers_async`` imports beyond the four (orjson when installed, the converter it builds
at import) counts against it.

How: ``--rounds`` pairs of child processes (``python -c ...``), alternating which goes
first; bytecode caches are warm (one untimed run of each first), as they are for a user.
The children write their caches to a temporary ``PYTHONPYCACHEPREFIX`` and never see
``PYTHONDONTWRITEBYTECODE``: with it set (as it is in some shells and containers), this
checkout's modules were compiled from source in every round while the dependencies came
from the caches pip wrote at install, so the ratio measured the compiler.
Medians, spread and the paired per-round ratio ours / dependencies.

Target (docs/performance.md): <= 1.3x the dependencies' import time.

Run: ``python benchmarks/b7_import.py [--rounds 15]``; ``python -X importtime -c "import
numbers_async"`` shows where the time goes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable

from _common import Row, Stat, alternate, paired_ratio, parser, pythonpath, report

TIMED_IMPORT = (
    "import time; started = time.perf_counter(); import {modules}; "
    "print((time.perf_counter() - started) * 1000)"
)


def child_env(pycache: str) -> dict[str, str]:
    """The children's environment: this checkout first, bytecode cached in ``pycache``."""
    env = {**os.environ, "PYTHONPATH": pythonpath(), "PYTHONPYCACHEPREFIX": pycache}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def import_ms(modules: str, env: dict[str, str]) -> Callable[[], float]:
    """A round: a fresh interpreter imports ``modules``; returns milliseconds."""
    command = [sys.executable, "-c", TIMED_IMPORT.format(modules=modules)]

    def run() -> float:
        output = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
        return float(output.stdout.strip())

    return run


def main() -> None:
    args = parser(__doc__.splitlines()[0], rounds=15).parse_args()
    with tempfile.TemporaryDirectory(prefix="b7-pycache-") as pycache:
        env = child_env(pycache)
        contenders = {
            "ours": import_ms("numbers_async", env),
            "deps": import_ms("aiohttp, attrs, cattrs, yarl", env),
        }
        for run in contenders.values():  # bytecode caches
            run()
        values = alternate(args.rounds, contenders)
    row = Row(
        benchmark="B7",
        what="import numbers_async",
        unit="ms",
        ours=Stat.of(values["ours"]),
        baseline_label="import aiohttp, attrs, cattrs, yarl",
        baseline=Stat.of(values["deps"]),
        ratio=paired_ratio(values["ours"], values["deps"]),
        target="<= 1.3x (time)",
        goal="ratio_at_most",
        goal_value=1.3,
    )
    report("b7_import", [row], {"rounds": args.rounds}, args.out)


if __name__ == "__main__":
    main()
