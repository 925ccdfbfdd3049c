"""``numbers-async fake-server``: the fake Sinch API as a standalone process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from numbers_async.testing import FakeNumbersServer

__all__ = ["serve"]


async def serve(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM, printing where to connect."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not available on Windows
            loop.add_signal_handler(sig, stop.set)
    async with FakeNumbersServer(
        host=args.host,
        port=args.port,
        project_id=args.project_id,
        key_id=args.key_id,
        key_secret=args.key_secret,
        provisioning_delay=args.provisioning_delay,
    ) as fake:
        print(f"fake Sinch Numbers API listening on {fake.url}", flush=True)
        print(f"  SINCH_NUMBERS_URL={fake.url}", flush=True)
        print(f"  SINCH_AUTH_URL={fake.auth_url}", flush=True)
        print(f"  SINCH_PROJECT_ID={fake.project_id} SINCH_KEY_ID={fake.key_id}", flush=True)
        await stop.wait()
    print("fake server stopped", flush=True)
    return 0
