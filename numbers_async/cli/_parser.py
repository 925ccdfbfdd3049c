"""The argparse definition of ``numbers-async``: ``build_parser()``.

Global options (output format, progress, connection) are defined once and listed once, in
``numbers-async --help``. Every command accepts them before or after its name, but its own
``--help`` shows only its own options, one example, and a pointer to the global ones.
Commands that spend or give up money, or remove a number's emergency address
(``CONFIRMING``), take ``--yes``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

from numbers_async import __version__
from numbers_async.cli._address import add_address_commands
from numbers_async.cli._common import EXIT_USAGE, PROG
from numbers_async.models import Capability, NumberType, SearchPattern

__all__ = ["CONFIRMING", "build_parser"]

NUMBER_TYPES = tuple(member.value for member in NumberType)
CAPABILITIES = tuple(member.value for member in Capability)
SEARCH_PATTERNS = tuple(member.value for member in SearchPattern)

# Commands that ask before they act (unless --yes): they rent (money) or release numbers.
CONFIRMING = frozenset(
    {
        "rent",
        "rent-any",
        "release",
        "bulk-rent",
        "bulk-rent-any",
        "bulk-release",
        # Not money, but emergency calls from the number then carry no address.
        "deprovision-emergency-address",
    }
)

GLOBAL_OPTIONS_NOTE = (
    "global options (--json, --csv, --progress, --fake, credentials) go before or\n"
    f"after the command: see '{PROG} --help'"
)
CONFIRMATION_NOTE = (
    "It asks for confirmation on a terminal; --yes skips the question. When stdin is\n"
    "not a terminal it never waits for an answer: without --yes it refuses (exit 2).\n"
    "With --fake it spends nothing and asks nothing."
)


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


def _rate(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected requests per second, got {value!r}") from None
    if not 0 < number < float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value}")
    return number


def _global_options(*, shown: bool) -> _Parser:
    """The options every API command takes; ``shown=False`` keeps them out of its help."""

    def text(help_text: str) -> str:
        return help_text if shown else argparse.SUPPRESS

    # SUPPRESS defaults let these options go before or after the command name.
    options = _Parser(add_help=False, argument_default=argparse.SUPPRESS)
    out = options.add_argument_group("output" if shown else None)
    # Not an argparse mutually exclusive group: one would not see both when they are on
    # either side of the command name, so parse() checks the pair once, wherever given.
    out.add_argument("--json", action="store_true", help=text("JSON, the API's format (or --csv)"))
    out.add_argument("--csv", action="store_true", help=text("CSV, one row per object (or --json)"))
    out.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help=text("progress bars on stderr (default: when stderr is a terminal)"),
    )
    verbose = "log every request on stderr: its attempts, status, time and request id"
    out.add_argument("-v", "--verbose", action="store_true", help=text(verbose))
    connection = options.add_argument_group(
        "connection" if shown else None,
        "Credentials come from SINCH_PROJECT_ID, SINCH_KEY_ID and SINCH_KEY_SECRET (and "
        "SINCH_NUMBERS_URL, SINCH_AUTH_URL) unless given here. Without a key secret, it is "
        "asked for when stdin is a terminal."
        if shown
        else None,
    )
    connection.add_argument(
        "--fake", action="store_true", help=text("use an embedded fake Sinch server")
    )
    connection.add_argument("--project-id", metavar="ID", help=text("the Sinch project"))
    connection.add_argument("--key-id", metavar="ID", help=text("the access key's ID"))
    connection.add_argument(
        "--key-secret",
        metavar="SECRET",
        help=text("the access key's secret; visible to other users: prefer the variable or a file"),
    )
    connection.add_argument(
        "--key-secret-file",
        metavar="PATH",
        help=text("read the access key's secret from the first line of this file"),
    )
    connection.add_argument("--base-url", metavar="URL", help=text("the Numbers API origin"))
    connection.add_argument("--auth-url", metavar="URL", help=text("the OAuth2 token endpoint"))
    connection.add_argument(
        "--auth", choices=("oauth2", "basic"), help=text("how to authenticate (default: oauth2)")
    )
    return options


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pattern", help="digits the number must contain, e.g. +1206")
    parser.add_argument(
        "--search-pattern",
        type=_upper,
        choices=SEARCH_PATTERNS,
        help="where --pattern must occur in the number",
    )
    parser.add_argument(
        "--capability",
        dest="capabilities",
        type=_upper,
        choices=CAPABILITIES,
        action="append",
        help="a capability the number must have; repeat for several",
    )


def _provisioning(parser: argparse.ArgumentParser, *, changing: bool) -> None:
    """SMS, voice and callback settings: applied on rent, changed on update."""
    group = parser.add_argument_group(
        "SMS, voice and callbacks",
        None if changing else "Sinch applies SMS and voice settings shortly after the rent.",
    )
    plan_help = "the SMS service plan to link the number to"
    if changing:
        plan_help += " ('' unlinks it)"
    group.add_argument("--sms-service-plan", metavar="ID", help=plan_help)
    group.add_argument(
        "--sms-campaign",
        metavar="ID",
        help="the SMS campaign (10DLC in the US); needs --sms-service-plan",
    )
    # One of the three at most (checked in parse(): a mutually exclusive group would print
    # as one piece too wide for the usage line).
    group.add_argument("--voice-app", metavar="ID", help="the Voice app that handles its calls")
    group.add_argument("--voice-trunk", metavar="ID", help="or the Elastic SIP Trunk (EST)")
    group.add_argument("--voice-fax-service", metavar="ID", help="or the Fax service (FAX)")
    group.add_argument("--callback-url", metavar="URL", help="where Sinch POSTs its events")


def _yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask for confirmation (required when stdin is not a terminal)",
    )


def _bulk_options(parser: argparse.ArgumentParser, *, reads_numbers: bool = True) -> None:
    from numbers_async.bulk import DEFAULT_CONCURRENCY

    if reads_numbers:
        parser.add_argument(
            "file",
            nargs="?",
            default="-",
            help="phone numbers, one per line; a CSV from 'list --csv' works ('-' or "
            "nothing: stdin)",
        )
    parser.add_argument(
        "--concurrency",
        type=_positive,
        metavar="N",
        help=f"requests in flight at once (default: {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--journal",
        metavar="PATH",
        help="record each outcome; rerun with it to resume. PATH is a file, or "
        "redis://HOST:PORT/DB?job=NAME to share the job among worker processes",
    )
    parser.add_argument(
        "--rate-limit",
        type=_rate,
        metavar="N",
        help="at most N requests per second; with a Redis journal, for all its workers",
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
    """The ``numbers-async`` argument parser (also what the CLI reference is built from)."""
    parser = _Parser(
        prog=PROG,
        description="An asyncio client for the Sinch Numbers API.",
        epilog="Exit codes: 0 ok, 1 failed (some items), 2 usage or configuration, "
        "130 interrupted. 'numbers-async COMMAND --help' shows a command's options and an "
        "example.",
        parents=[_global_options(shown=True)],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    hidden_globals = _global_options(shown=False)

    def command(
        name: str, help_text: str, example: str, *, api: bool = True
    ) -> argparse.ArgumentParser:
        epilog = f"example:\n  {example}"
        if api:
            epilog += f"\n\n{GLOBAL_OPTIONS_NOTE}"
        if name in CONFIRMING:
            epilog += f"\n\n{CONFIRMATION_NOTE}"
        sub = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[hidden_globals] if api else [],
        )
        if name in CONFIRMING:
            _yes(sub)
        return sub

    regions = command(
        "regions", "list the regions where numbers are offered", f"{PROG} regions --type LOCAL"
    )
    regions.add_argument(
        "--type",
        dest="types",
        type=_upper,
        choices=NUMBER_TYPES,
        action="append",
        help="only regions offering this type; repeat for several",
    )

    search = command(
        "search",
        "search numbers available to rent",
        f"{PROG} search US LOCAL --capability SMS --size 5",
    )
    search.add_argument("region", type=_upper, help="ISO 3166-1 alpha-2 code, e.g. US")
    search.add_argument("type", type=_upper, choices=NUMBER_TYPES, help="the kind of number")
    _filters(search)
    search.add_argument("--size", type=_positive, metavar="N", help="at most this many")

    get_available = command(
        "get-available",
        "show one available number and its prices",
        f"{PROG} get-available +12025550100",
    )
    get_available.add_argument("phone", help="the number, E.164 (+ and digits)")

    rent = command(
        "rent",
        "rent a number (costs money)",
        f"{PROG} rent +12025550100 --sms-service-plan PLAN_ID",
    )
    rent.add_argument("phone", help="an available number, E.164 (+ and digits)")
    _provisioning(rent, changing=False)

    rent_any = command(
        "rent-any",
        "rent any number matching the criteria (costs money)",
        f"{PROG} rent-any US LOCAL --pattern +1206 --yes",
    )
    rent_any.add_argument("region", type=_upper, help="ISO 3166-1 alpha-2 code, e.g. US")
    rent_any.add_argument("type", type=_upper, choices=NUMBER_TYPES, help="the kind of number")
    _filters(rent_any)
    _provisioning(rent_any, changing=False)

    listing = command(
        "list",
        "list the project's numbers (one page, or --all)",
        f"{PROG} list --all --csv > numbers.csv",
    )
    listing.add_argument("--region", type=_upper, help="only numbers of this region, e.g. US")
    listing.add_argument("--type", type=_upper, choices=NUMBER_TYPES, help="only this kind")
    _filters(listing)
    listing.add_argument(
        "--page-size",
        type=_positive,
        metavar="N",
        help="numbers per page (with --all: the largest, 1000)",
    )
    listing.add_argument(
        "--order-by", choices=("phoneNumber", "displayName"), help="the sort order"
    )
    listing.add_argument(
        "--page-token", metavar="TOKEN", help="resume from here (printed after each page)"
    )
    listing.add_argument(
        "--max-items", type=_positive, metavar="N", help="stop after this many numbers"
    )
    listing.add_argument("--all", action="store_true", help="every page, with a progress bar")

    get = command("get", "show one of the project's numbers", f"{PROG} get +12025550100 --json")
    get.add_argument("phone", help="an owned number, E.164 (+ and digits)")

    update = command(
        "update",
        "change one of the project's numbers",
        f"{PROG} update +12025550100 --display-name Support",
    )
    update.add_argument("phone", help="an owned number, E.164 (+ and digits)")
    update.add_argument("--display-name", metavar="NAME", help="a name for people")
    _provisioning(update, changing=True)

    release = command(
        "release",
        "give a number back (the project stops paying for it)",
        f"{PROG} release +12025550100",
    )
    release.add_argument("phone", help="an owned number, E.164 (+ and digits)")

    get_callbacks = command(
        "get-callbacks",
        "show the callback configuration (secret masked)",
        f"{PROG} get-callbacks --show-secret",
    )
    get_callbacks.add_argument(
        "--show-secret", action="store_true", help="print the HMAC secret itself"
    )
    update_callbacks = command(
        "update-callbacks",
        "set the HMAC secret that signs events",
        f"printf '%s\\n' \"$SECRET\" | {PROG} update-callbacks -",
    )
    update_callbacks.add_argument(
        "hmac_secret",
        metavar="SECRET",
        nargs="?",
        help=(
            "32-64 characters of a-z, A-Z, 0-9 and '-'; '-' reads it from stdin. Given "
            "here it is visible to other users: prefer '-', --hmac-secret-file or "
            "SINCH_CALLBACK_SECRET (asked for when none is given and stdin is a terminal)"
        ),
    )
    update_callbacks.add_argument(
        "--hmac-secret-file",
        metavar="PATH",
        help="read the HMAC secret from the first line of this file",
    )

    add_address_commands(command)

    bulk_rent = command(
        "bulk-rent",
        "rent many numbers (costs money)",
        f"{PROG} bulk-rent numbers.txt --journal rent.jsonl",
    )
    _bulk_options(bulk_rent)
    _provisioning(bulk_rent, changing=False)

    bulk_rent_any = command(
        "bulk-rent-any",
        "rent COUNT numbers matching the criteria (costs money)",
        f"{PROG} bulk-rent-any 50 US LOCAL --journal rent.jsonl",
    )
    bulk_rent_any.add_argument("count", type=_positive, help="how many numbers to rent")
    bulk_rent_any.add_argument("region", type=_upper, help="ISO 3166-1 alpha-2 code, e.g. US")
    bulk_rent_any.add_argument("type", type=_upper, choices=NUMBER_TYPES, help="the kind of number")
    _filters(bulk_rent_any)
    _provisioning(bulk_rent_any, changing=False)
    _bulk_options(bulk_rent_any, reads_numbers=False)

    bulk_update = command(
        "bulk-update",
        "apply one update to many numbers",
        f"{PROG} list --all --csv | {PROG} bulk-update --sms-service-plan PLAN_ID",
    )
    _bulk_options(bulk_update)
    bulk_update.add_argument("--display-name", metavar="NAME", help="a name for people")
    _provisioning(bulk_update, changing=True)

    bulk_release = command(
        "bulk-release",
        "release many numbers (the project stops paying for them)",
        f"{PROG} list --all --csv | {PROG} bulk-release --yes",
    )
    _bulk_options(bulk_release)

    bulk_status = command(
        "bulk-status",
        "the totals and failures of a bulk job, from its journal (exit 1 if any failed)",
        f"{PROG} bulk-status --journal 'redis://localhost:6379/0?job=release-may'",
    )
    bulk_status.add_argument(
        "--journal",
        required=True,
        metavar="PATH",
        help="the job's journal: a file, or redis://HOST:PORT/DB?job=NAME",
    )

    demo = command(
        "demo",
        "the showcase: bulk rent, list, bulk update and bulk release on a fake",
        f"{PROG} demo --count 50",
        api=False,
    )
    demo.add_argument(
        "--latency", type=_seconds, default=0.02, help="seconds the fake adds to every answer"
    )
    demo.add_argument("--count", type=_positive, default=200, help="numbers to rent (1-1000)")

    fake = command(
        "fake-server",
        "run the fake Sinch Numbers API until Ctrl-C",
        f"{PROG} fake-server --port 8080 --active 30",
        api=False,
    )
    fake.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    fake.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    fake.add_argument(
        "--project-id",
        dest="fake_project_id",
        default="fake-project",
        metavar="ID",
        help="the project it serves",
    )
    fake.add_argument(
        "--key-id",
        dest="fake_key_id",
        default="fake-key-id",
        metavar="ID",
        help="the access key it accepts",
    )
    fake.add_argument(
        "--key-secret",
        dest="fake_key_secret",
        default="fake-key-secret",
        metavar="SECRET",
        help="the access key's secret",
    )
    fake.add_argument("--latency", type=_seconds, default=0.0, help="seconds per answer")
    fake.add_argument("--active", type=int, default=0, metavar="N", help="start owning N numbers")
    fake.add_argument(
        "--inventory",
        type=_count,
        default=50,
        metavar="N",
        dest="numbers_per_bucket",
        help="available numbers in each region and type (searches return at most that many)",
    )
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


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; ``--json`` and ``--csv`` exclude each other wherever they are given.

    Sets ``format`` to ``"json"``, ``"csv"`` or ``"table"``. Raises ``SystemExit`` (after
    printing) for ``--help``, ``--version`` and usage errors, as argparse does.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "json", False) and getattr(args, "csv", False):
        parser.error("argument --csv: not allowed with argument --json")
    voice = [
        option
        for option in ("--voice-app", "--voice-trunk", "--voice-fax-service")
        if getattr(args, option[2:].replace("-", "_"), None) is not None
    ]
    if len(voice) > 1:
        parser.error(f"argument {voice[1]}: not allowed with argument {voice[0]}")
    args.format = (
        "json"
        if getattr(args, "json", False)
        else "csv"
        if getattr(args, "csv", False)
        else "table"
    )
    return args
