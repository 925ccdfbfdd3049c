"""What every part of the command shares: exit codes, usage errors, connecting, confirming.

The other CLI modules import from here (never from each other's internals, never from the
package ``__init__``), so the CLI has no import cycle. It uses the library's public names
only; ``as_wire_dict`` is the one place that turns a model into its wire-format dict.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator
from typing import Any

from numbers_async import (
    EmergencyAddress,
    EstVoiceConfiguration,
    FaxVoiceConfiguration,
    InvalidInputError,
    NumbersClient,
    RtcVoiceConfiguration,
    SmsConfiguration,
    VoiceConfiguration,
    to_dict,
)

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "STDIN",
    "UsageError",
    "address_of",
    "as_wire_dict",
    "confirmed",
    "connect",
    "one_line",
    "option",
    "sms_of",
    "voice_of",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PROG = "numbers-async"
STDIN = "-"

# The flag that gives each credential the library reads from the environment.
_CREDENTIAL_FLAGS = {
    "SINCH_PROJECT_ID": "--project-id",
    "SINCH_KEY_ID": "--key-id",
    "SINCH_KEY_SECRET": "--key-secret",
}


class UsageError(Exception):
    """A usage or configuration problem: reported in one line, exit code 2."""


def option(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    """A global option (given before or after the command name), or ``default``."""
    return getattr(args, name, default)


def one_line(error: BaseException) -> str:
    """An error's message on one line."""
    return " ".join(str(error).split())


def as_wire_dict(model: Any) -> Any:
    """A model as the API's JSON (camelCase keys, unset fields left out, secrets masked)."""
    return to_dict(model, wire_names=True, omit_none=True)


@contextlib.asynccontextmanager
async def connect(
    args: argparse.Namespace, *, max_concurrency: int | None = None
) -> AsyncIterator[NumbersClient]:
    """A client for the flags and ``SINCH_*`` variables, or for an embedded fake (``--fake``).

    ``max_concurrency=None`` keeps the client's own default.
    """
    if option(args, "fake", False):
        from numbers_async.cli._fake_server import describe
        from numbers_async.testing import FakeNumbersServer

        async with FakeNumbersServer() as fake:
            print(
                f"{PROG}: --fake: a new fake Sinch server, gone when this command ends: "
                f"{describe(fake)}",
                file=sys.stderr,
                flush=True,
            )
            async with fake.client(max_concurrency=max_concurrency) as client:
                yield client
        return
    limit: dict[str, Any] = {} if max_concurrency is None else {"max_concurrency": max_concurrency}
    try:
        client = NumbersClient.from_env(
            project_id=option(args, "project_id"),
            key_id=option(args, "key_id"),
            key_secret=option(args, "key_secret"),
            auth=option(args, "auth", "oauth2"),
            base_url=option(args, "base_url"),
            auth_url=option(args, "auth_url"),
            **limit,
        )
    except InvalidInputError as exc:
        flag = _CREDENTIAL_FLAGS.get(exc.argument)
        if flag is not None:
            raise UsageError(
                f"missing credentials: set {exc.argument} (or pass {flag}), or use --fake"
            ) from None
        raise UsageError(one_line(exc)) from None
    async with client:
        yield client


def confirmed(args: argparse.Namespace, action: str) -> bool:
    """Whether the user agrees to ``action`` (e.g. ``"rent +12025550100 (this costs money)"``).

    ``--yes`` agrees in advance, and ``--fake`` needs no agreement (nothing real is spent).
    Otherwise the question is asked on stderr when stdin is a terminal; when it is not,
    nothing waits for an answer that cannot come: a ``UsageError`` says to pass ``--yes``.
    """
    if option(args, "yes", False) or option(args, "fake", False):
        return True
    stdin = sys.stdin
    if stdin is None or not stdin.isatty():
        raise UsageError(
            f"{args.command} would {action}; pass --yes to confirm "
            "(stdin is not a terminal, so nothing can be asked)"
        )
    print(f"{PROG}: {action[0].upper()}{action[1:]}? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = stdin.readline()
    if answer.strip().lower() in ("y", "yes"):
        return True
    print(f"{PROG}: not confirmed; nothing was sent", file=sys.stderr)
    return False


def sms_of(args: argparse.Namespace) -> SmsConfiguration | None:
    """``--sms-service-plan`` / ``--sms-campaign`` as an ``SmsConfiguration``."""
    plan, campaign = args.sms_service_plan, args.sms_campaign
    if plan is None and campaign is None:
        return None
    return SmsConfiguration(service_plan_id=plan, campaign_id=campaign)


def voice_of(args: argparse.Namespace) -> VoiceConfiguration | None:
    """``--voice-app``, ``--voice-trunk`` or ``--voice-fax-service`` (one at most)."""
    if args.voice_app is not None:
        return RtcVoiceConfiguration(app_id=args.voice_app)
    if args.voice_trunk is not None:
        return EstVoiceConfiguration(trunk_id=args.voice_trunk)
    if args.voice_fax_service is not None:
        return FaxVoiceConfiguration(service_id=args.voice_fax_service)
    return None


def address_of(args: argparse.Namespace) -> EmergencyAddress:
    """The ``--street-number``, ``--city``... options as an ``EmergencyAddress``."""
    return EmergencyAddress(
        street_number=args.street_number,
        street_info=args.street_info,
        location=args.location,
        city=args.city,
        state=args.state,
        postal_code=args.postal_code,
        postal_code_plus_four=args.postal_code_plus_four,
    )
