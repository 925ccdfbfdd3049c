"""``numbers-async fake-server``: the fake Sinch API as a standalone process."""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import shlex
import signal

from numbers_async.testing import FakeNumbersServer

__all__ = ["export_lines", "serve", "summary"]


def summary(fake: FakeNumbersServer) -> str:
    """The state a fake is in, in one line: what the project owns and what it can rent."""
    owned = len(fake.active)
    per_kind = collections.Counter(
        f"{number['regionCode']} {number['type']}" for number in fake.available.values()
    )
    sizes = set(per_kind.values())
    if len(sizes) == 1:
        kinds = f"{sizes.pop()} each in {', '.join(per_kind)}"
    else:
        kinds = ", ".join(f"{kind} {count}" for kind, count in per_kind.items())
    owns = "no numbers" if owned == 0 else f"{owned} number{'s' if owned != 1 else ''}"
    return f"the project owns {owns}; {len(fake.available)} available to rent ({kinds})"


def export_lines(fake: FakeNumbersServer) -> list[str]:
    """``export NAME=value`` for each variable of ``fake.env()``, quoted for a POSIX shell."""
    return [f"export {name}={shlex.quote(value)}" for name, value in fake.env().items()]


async def serve(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM; print the environment to use it, then a summary of the rents.

    Everything on stdout is shell: the ``export`` lines and ``#`` comments, so the first
    lines can be ``eval``-ed (or the output saved and sourced) while the server runs.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not available on Windows
            loop.add_signal_handler(sig, stop.set)
    async with FakeNumbersServer(
        host=args.host,
        port=args.port,
        project_id=args.fake_project_id,
        key_id=args.fake_key_id,
        key_secret=args.fake_key_secret,
        provisioning_delay=args.provisioning_delay,
        latency=args.latency,
        numbers_per_bucket=args.numbers_per_bucket,
        callback_out_of_order=args.callback_out_of_order,
        callback_duplicates=args.callback_duplicates,
    ) as fake:
        if args.active:
            fake.add_active_numbers(args.active)
        if args.hmac_secret:
            fake.callback_configuration["hmacSecret"] = args.hmac_secret
        print(f"# fake Sinch Numbers API (Ctrl-C stops it) listening on {fake.url}", flush=True)
        for line in export_lines(fake):
            print(line, flush=True)
        print(f"# {summary(fake)}", flush=True)
        await stop.wait()
    api_requests = sum(1 for r in fake.requests if r.route != "token")
    rents = sum(fake.rent_counts.values())
    twice = sorted(phone for phone, count in fake.rent_counts.items() if count > 1)
    print(
        f"# fake server stopped: {api_requests} API requests, {rents} rents of "
        f"{len(fake.rent_counts)} numbers, "
        + (f"rented more than once: {' '.join(twice)}" if twice else "no number rented twice"),
        flush=True,
    )
    return 0
