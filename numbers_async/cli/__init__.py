"""The ``numbers-async`` command (also ``python -m numbers_async``).

One subcommand per API operation (``regions``, ``search``, ``get-available``, ``rent``,
``rent-any``, ``list``, ``get``, ``update``, ``release``, ``get-callbacks``,
``update-callbacks``), bulk jobs (``bulk-rent``, ``bulk-rent-any``, ``bulk-update``,
``bulk-release``), ``fake-server`` and ``demo``. ``numbers-async COMMAND --help`` says more.

Exit codes: 0 success; 1 the API refused or some items of a bulk job failed; 2 a usage
or configuration error (one line on stderr, no traceback); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import NoReturn

from numbers_async._version import __version__

__all__ = ["entry_point", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PROG = "numbers-async"


class UsageError(Exception):
    """A usage or configuration problem: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line (``numbers-async: error: ...``) and exit 2."""

    def error(self, message: str) -> NoReturn:
        hint = f" (see '{self.prog} --help')"
        self.exit(EXIT_USAGE, f"{PROG}: error: {message}{hint}\n")


def _upper(value: str) -> str:
    return value.upper()


def _whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of at least ``minimum``."""

    def whole_number(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {number}")
        return number

    return whole_number


_positive = _whole_number(1)
_count = _whole_number(0)


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {value!r}") from None
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return number


NUMBER_TYPES = ("MOBILE", "LOCAL", "TOLL_FREE")
CAPABILITIES = ("SMS", "VOICE")
SEARCH_PATTERNS = ("START", "CONTAINS", "END")


def _common_options() -> _Parser:
    # SUPPRESS defaults let these options go before or after the subcommand name.
    common = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    out = common.add_argument_group("output")
    out.add_argument(
        "--json", dest="format", action="store_const", const="json", help="JSON for scripts"
    )
    out.add_argument(
        "--csv", dest="format", action="store_const", const="csv", help="CSV for scripts"
    )
    out.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="progress bars on stderr (default: when stderr is a terminal)",
    )
    creds = common.add_argument_group(
        "connection",
        "Credentials come from SINCH_PROJECT_ID, SINCH_KEY_ID and SINCH_KEY_SECRET (and "
        "SINCH_NUMBERS_URL, SINCH_AUTH_URL) unless given here.",
    )
    creds.add_argument("--fake", action="store_true", help="use an embedded fake Sinch server")
    creds.add_argument("--project-id", metavar="ID")
    creds.add_argument("--key-id", metavar="ID")
    creds.add_argument("--key-secret", metavar="SECRET", help="prefer SINCH_KEY_SECRET")
    creds.add_argument("--base-url", metavar="URL", help="the Numbers API origin")
    creds.add_argument("--auth-url", metavar="URL", help="the OAuth2 token endpoint")
    creds.add_argument("--auth", choices=("oauth2", "basic"), help="default: oauth2")
    return common


def _filters(parser: argparse.ArgumentParser, *, capability_flag: str = "--capability") -> None:
    parser.add_argument("--pattern", help="digits to match, e.g. +1206")
    parser.add_argument("--search-pattern", type=_upper, choices=SEARCH_PATTERNS)
    parser.add_argument(
        capability_flag,
        dest="capabilities",
        type=_upper,
        choices=CAPABILITIES,
        action="append",
        help="repeat for several",
    )


def _provisioning(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("SMS, voice and callbacks")
    group.add_argument("--sms-service-plan", metavar="ID", help="'' unlinks (update)")
    group.add_argument("--sms-campaign", metavar="ID")
    group.add_argument("--voice-app", metavar="ID")
    group.add_argument("--callback-url", metavar="URL")


def _bulk_options(parser: argparse.ArgumentParser, *, reads_numbers: bool = True) -> None:
    if reads_numbers:
        parser.add_argument(
            "file",
            nargs="?",
            default="-",
            help="phone numbers, one per line ('-' or nothing: stdin)",
        )
    parser.add_argument("--concurrency", type=_positive, default=20, help="default: 20")
    parser.add_argument(
        "--journal", metavar="PATH", help="record each outcome; rerun with it to resume"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="time limit of each request attempt (default: 60); a rerun with --journal "
        "waits up to this long for the requests of a run that was killed",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``numbers-async`` argument parser."""
    common = _common_options()
    parser = _Parser(
        prog=PROG,
        description="An asyncio client for the Sinch Numbers API.",
        epilog="Exit codes: 0 ok, 1 failed (some items), 2 usage or configuration, "
        "130 interrupted.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help_text, description=help_text, parents=[common])

    regions = command("regions", "list the regions where numbers are offered")
    regions.add_argument("--type", dest="types", type=_upper, choices=NUMBER_TYPES, action="append")

    search = command("search", "search numbers available to rent")
    search.add_argument("region", type=_upper, help="e.g. US")
    search.add_argument("type", type=_upper, choices=NUMBER_TYPES)
    _filters(search)
    search.add_argument("--size", type=_positive, help="at most this many")

    get_available = command("get-available", "show one available number and its prices")
    get_available.add_argument("phone")

    rent = command("rent", "rent a number (costs money)")
    rent.add_argument("phone")
    _provisioning(rent)

    rent_any = command("rent-any", "rent any number matching the criteria (costs money)")
    rent_any.add_argument("region", type=_upper)
    rent_any.add_argument("type", type=_upper, choices=NUMBER_TYPES)
    _filters(rent_any)
    _provisioning(rent_any)

    listing = command("list", "list the project's numbers (one page, or --all)")
    listing.add_argument("--region", type=_upper)
    listing.add_argument("--type", type=_upper, choices=NUMBER_TYPES)
    _filters(listing)
    listing.add_argument("--page-size", type=_positive, help="default: 100 (1000 with --all)")
    listing.add_argument("--order-by", choices=("phoneNumber", "displayName"))
    listing.add_argument("--page-token", help="resume from here")
    listing.add_argument("--max-items", type=_positive)
    listing.add_argument("--all", action="store_true", help="every page, with a progress bar")

    get = command("get", "show one of the project's numbers")
    get.add_argument("phone")

    update = command("update", "change one of the project's numbers")
    update.add_argument("phone")
    update.add_argument("--display-name", metavar="NAME")
    _provisioning(update)

    release = command("release", "give a number back")
    release.add_argument("phone")

    command("get-callbacks", "show the callback configuration (secret masked)").add_argument(
        "--show-secret", action="store_true", help="print the HMAC secret itself"
    )
    update_callbacks = command("update-callbacks", "set the HMAC secret that signs events")
    update_callbacks.add_argument("hmac_secret", metavar="SECRET", help="'-' reads it from stdin")

    bulk_rent = command("bulk-rent", "rent many numbers (costs money)")
    _bulk_options(bulk_rent)
    _provisioning(bulk_rent)

    bulk_rent_any = command("bulk-rent-any", "rent COUNT numbers matching the criteria")
    bulk_rent_any.add_argument("count", type=_positive)
    bulk_rent_any.add_argument("region", type=_upper)
    bulk_rent_any.add_argument("type", type=_upper, choices=NUMBER_TYPES)
    _filters(bulk_rent_any)
    _provisioning(bulk_rent_any)
    _bulk_options(bulk_rent_any, reads_numbers=False)

    bulk_update = command("bulk-update", "apply one update to many numbers")
    _bulk_options(bulk_update)
    bulk_update.add_argument("--display-name", metavar="NAME")
    _provisioning(bulk_update)

    bulk_release = command("bulk-release", "release many numbers")
    _bulk_options(bulk_release)

    demo_help = "the showcase: bulk rent, list, bulk update and bulk release on a fake"
    demo = commands.add_parser("demo", help=demo_help, description=demo_help)
    demo.add_argument(
        "--latency", type=_seconds, default=0.02, help="seconds the fake adds to every answer"
    )
    demo.add_argument("--count", type=_positive, default=200, help="numbers to rent (1-1000)")

    fake_help = "run the fake Sinch Numbers API until Ctrl-C"
    fake = commands.add_parser("fake-server", help=fake_help, description=fake_help)
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    fake.add_argument("--project-id", dest="fake_project_id", default="fake-project")
    fake.add_argument("--key-id", dest="fake_key_id", default="fake-key-id")
    fake.add_argument("--key-secret", dest="fake_key_secret", default="fake-key-secret")
    fake.add_argument("--latency", type=_seconds, default=0.0, help="seconds per answer")
    fake.add_argument("--active", type=int, default=0, metavar="N", help="start owning N numbers")
    fake.add_argument(
        "--provisioning-delay",
        type=_seconds,
        default=2.0,
        help="seconds before scheduled SMS/Voice provisioning completes",
    )
    events = fake.add_argument_group("callbacks (events POSTed to each number's callbackUrl)")
    events.add_argument(
        "--hmac-secret",
        default="",
        help="the project's callback secret at start (events are signed when it is set)",
    )
    events.add_argument(
        "--callback-out-of-order",
        action="store_true",
        help="deliver the events of one change in shuffled order",
    )
    events.add_argument(
        "--callback-duplicates",
        type=_count,
        default=0,
        metavar="N",
        help="deliver every event N extra times (same eventId)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
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
