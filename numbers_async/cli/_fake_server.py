"""``numbers-async fake-server``: the fake Sinch API as a standalone process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from numbers_async.testing import FakeNumbersServer

__all__ = ["serve"]


async def serve(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM, printing where to connect, then a summary of the rents."""
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
        callback_out_of_order=args.callback_out_of_order,
        callback_duplicates=args.callback_duplicates,
    ) as fake:
        if args.active:
            fake.add_active_numbers(args.active)
        if args.hmac_secret:
            fake.callback_configuration["hmacSecret"] = args.hmac_secret
        print(f"fake Sinch Numbers API listening on {fake.url}", flush=True)
        print(f"  SINCH_NUMBERS_URL={fake.url}", flush=True)
        print(f"  SINCH_AUTH_URL={fake.auth_url}", flush=True)
        print(f"  SINCH_PROJECT_ID={fake.project_id} SINCH_KEY_ID={fake.key_id}", flush=True)
        print(f"  SINCH_KEY_SECRET={fake.key_secret}", flush=True)
        await stop.wait()
    api_requests = sum(1 for r in fake.requests if r.route != "token")
    rents = sum(fake.rent_counts.values())
    twice = sorted(phone for phone, count in fake.rent_counts.items() if count > 1)
    print(
        f"fake server stopped: {api_requests} API requests, {rents} rents of "
        f"{len(fake.rent_counts)} numbers, "
        + (f"rented more than once: {' '.join(twice)}" if twice else "no number rented twice"),
        flush=True,
    )
    return 0
