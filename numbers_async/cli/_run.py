"""Running a parsed command: confirming, the fifteen operations, and ``list``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from numbers_async import AuthenticationError, InvalidInputError, NumbersClient, NumbersError
from numbers_async.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    PROG,
    STDIN,
    UsageError,
    address_of,
    as_wire_dict,
    confirmed,
    connect,
    one_line,
    option,
    read_secret,
    sms_of,
    voice_of,
)
from numbers_async.cli._output import ACTIVE, ACTIVE_CSV, Writer, table
from numbers_async.cli._progress import Progress

__all__ = ["OPERATIONS", "run"]

# The largest page the API serves: ``list --all`` reads in pages this big unless told.
ALL_PAGE_SIZE = 1000


async def run(args: argparse.Namespace) -> int:
    """Run the command ``args`` describes; return the exit code."""
    if args.command == "demo":
        from numbers_async.cli._demo import run_demo

        if args.count > 1000:
            raise UsageError("--count must be from 1 to 1000")
        return await run_demo(latency=args.latency, count=args.count)
    if args.command == "fake-server":
        from numbers_async.cli._fake_server import serve

        return await serve(args)
    with verbose(bool(option(args, "verbose", False))):
        return await _run(args)


async def _run(args: argparse.Namespace) -> int:
    writer = Writer(args.format, sys.stdout, show_secret=bool(option(args, "show_secret", False)))
    if args.command.startswith("bulk-"):
        from numbers_async.cli._bulk import run_bulk

        exit_code: int = await run_bulk(args, writer)
        return exit_code
    confirm = CONFIRMATIONS.get(args.command)
    if confirm is not None and not confirmed(args, confirm(args)):
        return EXIT_FAILED
    async with connect(args) as client:
        try:
            await OPERATIONS[args.command](client, args, writer)
        except (InvalidInputError, AuthenticationError) as exc:
            raise UsageError(one_line(exc)) from None
        except NumbersError as exc:
            print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
            return EXIT_FAILED
    return EXIT_OK


# What each confirming command is about to do, as the question puts it.
CONFIRMATIONS: dict[str, Callable[[argparse.Namespace], str]] = {
    "rent": lambda args: f"rent {args.phone} (this costs money)",
    "rent-any": lambda args: f"rent one {args.region} {args.type} number (this costs money)",
    "release": lambda args: f"release {args.phone} (the project gives it up)",
    "deprovision-emergency-address": lambda args: (
        f"remove the emergency address of {args.phone} (emergency calls from it will then "
        "carry no address)"
    ),
}


# --- the operations ----------------------------------------------------------------------------


async def _regions(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    out.regions(await client.available_regions.list(types=args.types))


async def _search(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    found = await client.available_numbers.search(
        args.region,
        args.type,
        pattern=args.pattern,
        search_pattern=args.search_pattern,
        capabilities=args.capabilities,
        size=args.size,
    )
    out.available_numbers(found)


async def _get_available(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    out.available_number(await client.available_numbers.get(args.phone))


async def _rent(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    number = await client.available_numbers.rent(
        args.phone, sms=sms_of(args), voice=voice_of(args), callback_url=args.callback_url
    )
    out.active_number(number)


async def _rent_any(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    number = await client.available_numbers.rent_any(
        args.region,
        args.type,
        pattern=args.pattern,
        search_pattern=args.search_pattern,
        capabilities=args.capabilities,
        sms=sms_of(args),
        voice=voice_of(args),
        callback_url=args.callback_url,
    )
    out.active_number(number)


async def _get(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    out.active_number(await client.active_numbers.get(args.phone))


async def _update(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    number = await client.active_numbers.update(
        args.phone,
        display_name=args.display_name,
        sms=sms_of(args),
        voice=voice_of(args),
        callback_url=args.callback_url,
    )
    out.active_number(number)


async def _release(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    out.active_number(await client.active_numbers.release(args.phone))


async def _get_callbacks(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    out.callbacks(await client.callbacks.get())


async def _update_callbacks(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    given: str | None = args.hmac_secret
    if given == STDIN:
        secret: str | None = sys.stdin.readline().strip()
    else:
        secret = read_secret(
            given=given,
            flag="update-callbacks SECRET",
            path=args.hmac_secret_file,
            path_flag="--hmac-secret-file",
            variable="SINCH_CALLBACK_SECRET",
            prompt="new HMAC secret",
        )
    if not secret:
        raise UsageError(
            "update-callbacks needs the secret: '-' (stdin), --hmac-secret-file, "
            "SINCH_CALLBACK_SECRET, or a terminal to type it in"
        )
    out.callbacks(await client.callbacks.update(secret))


async def _get_address(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    out.emergency_address(await client.emergency_addresses.get(args.phone))


async def _provision_address(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    address = await client.emergency_addresses.provision(
        args.phone, address_of(args), display_name=args.display_name
    )
    out.emergency_address(address)


async def _deprovision_address(
    client: NumbersClient, args: argparse.Namespace, out: Writer
) -> None:
    await client.emergency_addresses.deprovision(args.phone)
    out.deprovisioned(args.phone)


async def _validate_address(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    validation = await client.emergency_addresses.validate(
        args.phone, address_of(args), display_name=args.display_name
    )
    out.address_validation(validation)


async def _list(client: NumbersClient, args: argparse.Namespace, out: Writer) -> None:
    # Without --page-size, one page is the client's default size; --all reads the largest.
    page_size = args.page_size or (ALL_PAGE_SIZE if args.all else None)
    pager = client.active_numbers.list(
        region_code=args.region,
        number_type=args.type,
        pattern=args.pattern,
        search_pattern=args.search_pattern,
        capabilities=args.capabilities,
        page_size=page_size,
        order_by=args.order_by,
        page_token=args.page_token,
        max_items=args.max_items,
    )
    listing = _Listing(out)
    enabled = option(args, "progress") if args.all else False
    with Progress("list", total=None, enabled=enabled) as progress:
        async with contextlib.aclosing(pager.pages()) as pages:
            async for page in pages:
                if listing.count == 0 and page.total_size is not None:
                    total = page.total_size
                    progress.set_total(min(total, args.max_items or total))
                listing.add(page.items, page.next_page_token, page.total_size)
                progress.advance(len(page.items))
                if not args.all:
                    break
    listing.finish()


class _Listing:
    """Prints a listing as it arrives: JSON and CSV stream, a table waits for the end."""

    def __init__(self, out: Writer) -> None:
        self._out = out
        self.count = 0
        self._next_token: str | None = None
        self._total: int | None = None
        self._rows: list[list[str]] = []
        if out.format == "csv":
            self._out.rows(ACTIVE_CSV, [])  # the header
        elif out.format == "json":
            print('{"activeNumbers": [', file=out.out, end="")

    def add(self, items: Any, next_token: str | None, total: int | None) -> None:
        if self._out.format == "json":
            for item in items:
                separator = "," if self.count else ""
                print(
                    f"{separator}\n  {json.dumps(as_wire_dict(item))}", file=self._out.out, end=""
                )
                self.count += 1
        elif self._out.format == "csv":
            self._out.rows(ACTIVE_CSV, items, header=False)
            self.count += len(items)
        else:
            self._rows.extend(self._out.cells(ACTIVE, items))
            self.count += len(items)
        self._next_token = next_token or None
        self._total = total

    def finish(self) -> None:
        out = self._out
        if out.format == "json":
            tail = {"nextPageToken": self._next_token, "totalSize": self._total}
            print(f"\n], {json.dumps(tail)[1:]}", file=out.out)
        elif out.format == "table":
            print(table([c.human for c in ACTIVE], self._rows), file=out.out)
            summary = f"{self.count} number{'' if self.count == 1 else 's'}"
            if self._total is not None:
                summary += f" of {self._total}"
            if self._next_token:
                summary += f"; more with --page-token {self._next_token}"
            print(summary, file=out.out)


Operation = Callable[[NumbersClient, argparse.Namespace, Writer], Awaitable[None]]

OPERATIONS: dict[str, Operation] = {
    "regions": _regions,
    "search": _search,
    "get-available": _get_available,
    "rent": _rent,
    "rent-any": _rent_any,
    "list": _list,
    "get": _get,
    "update": _update,
    "release": _release,
    "get-callbacks": _get_callbacks,
    "update-callbacks": _update_callbacks,
    "get-emergency-address": _get_address,
    "provision-emergency-address": _provision_address,
    "deprovision-emergency-address": _deprovision_address,
    "validate-emergency-address": _validate_address,
}


@contextlib.contextmanager
def verbose(on: bool) -> Iterator[None]:
    """With ``on``, log every request on stderr while the command runs.

    ``numbers_async.http`` writes one line per attempt: the operation, the attempt, the
    method and path, the status, the time and the request id; retries and waits follow.
    """
    if not on:
        yield
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    library = logging.getLogger("numbers_async")
    level = library.level
    library.addHandler(handler)
    library.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        library.removeHandler(handler)
        library.setLevel(level)
