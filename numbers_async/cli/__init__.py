"""The ``numbers-async`` command (also ``python -m numbers_async``).

One subcommand per API operation (``regions``, ``search``, ``get-available``, ``rent``,
``rent-any``, ``list``, ``get``, ``update``, ``release``, ``get-callbacks``,
``update-callbacks``, ``get-emergency-address``, ``validate-emergency-address``,
``provision-emergency-address``, ``deprovision-emergency-address``), bulk jobs
(``bulk-rent``, ``bulk-rent-any``, ``bulk-update``, ``bulk-release``), ``fake-server`` and
``demo``. ``numbers-async COMMAND --help`` says more.

Commands that rent or release numbers (``rent``, ``rent-any``, ``release``, ``bulk-rent``,
``bulk-rent-any``, ``bulk-release``) or remove an emergency address
(``deprovision-emergency-address``) ask for confirmation on a terminal unless ``--yes`` is
given; when stdin is not a terminal they never wait for an answer: without ``--yes`` they
refuse (exit 2). ``--fake`` spends nothing and asks nothing.

Exit codes: 0 success; 1 the API refused, some items of a bulk job failed, or a
confirmation was declined; 2 a usage or configuration error (one line on stderr, no
traceback); 130 interrupted (Ctrl-C).

Modules: ``_parser`` (the argparse definition, ``build_parser()``), ``_common`` (exit
codes, connecting, confirming, the wire-format dict), ``_run`` (the operations and
``list``), ``_bulk`` (the bulk jobs), ``_output`` (tables, JSON, CSV), ``_progress``,
``_demo`` and ``_fake_server``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

from numbers_async.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    UsageError,
)
from numbers_async.cli._parser import build_parser, parse

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "UsageError",
    "build_parser",
    "entry_point",
    "main",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = parse(None if argv is None else list(argv))
    except SystemExit as exit_:  # --help, --version, or a usage error already printed
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    from numbers_async.cli._run import run
    from numbers_async.errors import InvalidInputError, NumbersError

    try:
        return asyncio.run(run(args))
    except (UsageError, InvalidInputError) as exc:  # a bad argument, journal or file
        return _fail(exc, EXIT_USAGE)
    except NumbersError as exc:
        return _fail(exc, EXIT_FAILED)
    except BrokenPipeError:
        # The reader went away (``| head``): say nothing more, and let the interpreter's
        # final flush of stdout fail silently (https://docs.python.org/3/library/signal.html).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except OSError as exc:  # an input file or journal that cannot be read or written
        return _fail(exc, EXIT_USAGE)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def entry_point() -> NoReturn:
    """The ``numbers-async`` script and ``python -m numbers_async``: ``main()``, then exit.

    Once the command has finished and printed its summary, a Ctrl-C could only kill the
    process while it exits (status -2, nothing said), so from then on it is ignored.
    """
    try:
        code = main()
    except KeyboardInterrupt:  # pressed in the instant between main()'s end and here
        code = EXIT_INTERRUPTED
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise SystemExit(code)


def _fail(error: BaseException, code: int) -> int:
    print(f"{PROG}: error: {' '.join(str(error).split())}", file=sys.stderr)
    return code
