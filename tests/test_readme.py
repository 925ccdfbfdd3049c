"""The README's runnable example really runs (against the fake server)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def runnable_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    return [b for b in blocks if "FakeNumbersServer()" in b and "asyncio.run" in b]


def test_readme_has_a_runnable_example() -> None:
    assert len(runnable_blocks()) == 1


def test_readme_fake_server_example_runs() -> None:
    (code,) = runnable_blocks()
    # A fresh interpreter, as a reader would run it; -W error turns any warning into a failure.
    result = subprocess.run(  # noqa: S603 - our own interpreter and our own README
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
