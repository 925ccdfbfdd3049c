"""The arguments of the emergency-address commands, for ``build_parser()``.

``get-emergency-address``, ``validate-emergency-address``, ``provision-emergency-address``
and ``deprovision-emergency-address``; ``_run`` runs them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from numbers_async.cli._common import PROG

__all__ = ["add_address_commands"]

#: ``build_parser``'s ``command(name, help, example)``: adds a subcommand and returns it.
Command = Callable[[str, str, str], argparse.ArgumentParser]

_EXAMPLE = (
    "+12025550100 --display-name HQ --street-number 1 --street-info Broadway "
    "--city Albany --state NY --postal-code 12207"
)


def _address(parser: argparse.ArgumentParser) -> None:
    """The emergency address of a number: a display name and the US postal address."""
    parser.add_argument("phone", help="an owned US voice number, E.164 (+ and digits)")
    group = parser.add_argument_group("the address")
    group.add_argument(
        "--display-name", required=True, metavar="NAME", help="the name shown with it"
    )
    group.add_argument("--street-number", required=True, metavar="N", help="e.g. 3500")
    group.add_argument("--street-info", required=True, metavar="STREET", help="e.g. 'Lenox Rd NE'")
    group.add_argument("--location", metavar="TEXT", help="where in the building, e.g. 'Suite 4'")
    group.add_argument("--city", required=True, help="e.g. Atlanta")
    group.add_argument("--state", required=True, type=str.upper, help="two letters, e.g. GA")
    group.add_argument("--postal-code", required=True, metavar="ZIP", help="five digits")
    group.add_argument("--postal-code-plus-four", metavar="DIGITS", help="the ZIP+4 digits")


def add_address_commands(command: Command) -> None:
    """Add the four emergency-address commands through ``command``."""
    get_address = command(
        "get-emergency-address",
        "show the emergency address of a US voice number",
        f"{PROG} get-emergency-address +12025550100",
    )
    get_address.add_argument("phone", help="an owned US voice number, E.164 (+ and digits)")
    _address(
        command(
            "validate-emergency-address",
            "check an emergency address for a number (nothing is changed)",
            f"{PROG} validate-emergency-address {_EXAMPLE}",
        )
    )
    _address(
        command(
            "provision-emergency-address",
            "set the emergency address of a US voice number",
            f"{PROG} provision-emergency-address {_EXAMPLE}",
        )
    )
    deprovision = command(
        "deprovision-emergency-address",
        "remove the emergency address of a number",
        f"{PROG} deprovision-emergency-address +12025550100 --yes",
    )
    deprovision.add_argument("phone", help="an owned number, E.164 (+ and digits)")
