"""Run one client call in a fresh process and report its outcome and peak memory growth.

Usage: ``python memory_probe.py '<json config>'``; prints one JSON line. The config names
the server (``base_url``, ``auth_url``), the ``route`` of the operation to call, the
client's ``kwargs``, whether to ``warm_up`` (one plausible call first, so the session and
token exist before measuring), ``ballast``: bytes the probe itself allocates while
measuring (to check the measurement), and ``cap``: address space allowed beyond what the process
has at the start, so that a client which reads everything fails with ``MemoryError``
instead of taking the machine's memory.

Peak growth is measured by resetting the kernel's high-water mark (``/proc/self/clear_refs``)
just before the call and reading ``VmHWM`` after it, minus ``VmRSS`` before it.
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from numbers_async import NumbersError, RetryPolicy
from tests.hostile.operations import BY_ROUTE
from tests.hostile.server import KEY_ID, KEY_SECRET, PROJECT_ID


def status_kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"/proc/self/status has no {field}")
    return int(match[1])


def reset_peak() -> None:
    """Make ``VmHWM`` start again from the current RSS (Linux ``clear_refs``)."""
    Path("/proc/self/clear_refs").write_text("5")


async def probe(config: dict[str, Any]) -> dict[str, Any]:
    from numbers_async import NumbersClient

    kwargs = dict(config["kwargs"])
    kwargs["retry"] = RetryPolicy(attempts=config.get("attempts", 1), backoff=0.01)
    client = NumbersClient(
        PROJECT_ID,
        KEY_ID,
        KEY_SECRET,
        base_url=config["base_url"],
        auth_url=config["auth_url"],
        **kwargs,
    )
    async with client:
        if config["warm_up"]:
            await client.callbacks.get()
        before = status_kib("VmRSS")
        reset_peak()
        report: dict[str, Any]
        ballast = bytearray(b"x" * int(config.get("ballast", 0)))
        try:
            await BY_ROUTE[config["route"]].call(client)
        except BaseException as exc:  # noqa: BLE001 - the report says what it was
            report = {
                "outcome": "raised",
                "type": type(exc).__name__,
                "is_numbers_error": isinstance(exc, NumbersError),
                "message": str(exc)[:2000],
            }
        else:
            report = {"outcome": "returned", "type": "", "is_numbers_error": False, "message": ""}
        report["growth"] = (status_kib("VmHWM") - before) * 1024
        del ballast
    return report


def main() -> None:
    config = json.loads(sys.argv[1])
    allowed = status_kib("VmSize") * 1024 + int(config["cap"])
    resource.setrlimit(resource.RLIMIT_AS, (allowed, allowed))
    print(json.dumps(asyncio.run(probe(config))))


if __name__ == "__main__":
    main()
