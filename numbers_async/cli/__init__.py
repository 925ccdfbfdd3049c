"""The ``numbers-async`` command (also ``python -m numbers_async``).

Subcommands: ``demo`` (a guided tour against the embedded fake server, no credentials
needed) and ``fake-server`` (the fake Sinch API as a standalone process).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from numbers_async._version import __version__

__all__ = ["main"]

EXIT_OK = 0
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="numbers-async",
        description="An asyncio client for the Sinch Numbers API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="walk through search, rent, list, update and release on an embedded fake"
    )
    demo.add_argument(
        "--latency", type=float, default=0.005, help="seconds the fake adds to every response"
    )
    demo.add_argument("--count", type=int, default=5, help="how many numbers to rent (1-50)")

    fake = commands.add_parser("fake-server", help="run the fake Sinch Numbers API until Ctrl-C")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8080)
    fake.add_argument("--project-id", default="fake-project")
    fake.add_argument("--key-id", default="fake-key-id")
    fake.add_argument("--key-secret", default="fake-key-secret")
    fake.add_argument(
        "--provisioning-delay",
        type=float,
        default=2.0,
        help="seconds before scheduled SMS/Voice provisioning completes",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            if not 1 <= args.count <= 50:
                print("numbers-async: error: --count must be from 1 to 50", file=sys.stderr)
                return EXIT_USAGE
            from numbers_async.cli._demo import run_demo

            return asyncio.run(run_demo(latency=args.latency, count=args.count))
        from numbers_async.cli._fake_server import serve

        return asyncio.run(serve(args))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
