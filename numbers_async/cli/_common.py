"""What every part of the command shares: exit codes, usage errors, connecting, confirming.

The other CLI modules import from here (never from each other's internals, never from the
package ``__init__``), so the CLI has no import cycle. It uses the library's public names
only; ``as_wire_dict`` is the one place that turns a model into its wire-format dict.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
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
    "read_secret",
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
    args: argparse.Namespace, *, max_concurrency: int | None = None, rate_limit: Any = None
) -> AsyncIterator[NumbersClient]:
    """A client for the flags and ``SINCH_*`` variables, or for an embedded fake (``--fake``).

    ``max_concurrency=None`` keeps the client's own default; ``rate_limit`` is the
    client's (requests per second, or a shared limiter).
    """
    limit: dict[str, Any] = {} if max_concurrency is None else {"max_concurrency": max_concurrency}
    if option(args, "fake", False):
        from numbers_async.cli._fake_server import summary
        from numbers_async.testing import FakeNumbersServer

        async with FakeNumbersServer() as fake:
            print(
                f"{PROG}: --fake: a new fake Sinch server, gone when this command ends: "
                f"{summary(fake)}",
                file=sys.stderr,
                flush=True,
            )
            async with fake.client(**limit, rate_limit=rate_limit) as client:
                yield client
        return
    project_id = option(args, "project_id") or os.environ.get("SINCH_PROJECT_ID")
    key_id = option(args, "key_id") or os.environ.get("SINCH_KEY_ID")
    key_secret = read_secret(
        given=option(args, "key_secret"),
        flag="--key-secret",
        path=option(args, "key_secret_file"),
        path_flag="--key-secret-file",
        variable="SINCH_KEY_SECRET",
        # Asked for only once the rest is known: no question before a certain failure.
        prompt="access key secret" if project_id and key_id else None,
    )
    try:
        client = NumbersClient.from_env(
            project_id=project_id,
            key_id=key_id,
            key_secret=key_secret,
            auth=option(args, "auth", "oauth2"),
            base_url=option(args, "base_url"),
            auth_url=option(args, "auth_url"),
            rate_limit=rate_limit,
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


def read_secret(
    *,
    given: str | None,
    flag: str,
    path: str | None,
    path_flag: str,
    variable: str,
    prompt: str | None,
) -> str | None:
    """A secret from the command line, a file, the environment or a prompt, in that order.

    One given on the command line works but draws a warning: any user of the machine can
    read a process's arguments (``ps``, ``/proc/PID/cmdline``). A file gives its first
    line; the prompt (no echo) is used only when ``prompt`` is set and stdin is a
    terminal. ``None`` when there is no secret anywhere.
    """
    if given is not None and path is not None:
        raise UsageError(f"give {flag} or {path_flag}, not both")
    if given is not None:
        print(
            f"{PROG}: warning: {flag} puts the secret where every user of this machine can "
            f"read it (the process list); prefer {variable} or {path_flag}",
            file=sys.stderr,
        )
        return given
    if path is not None:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {path_flag} {path}: {one_line(exc)}") from None
        if not lines or not lines[0].strip():
            raise UsageError(f"{path_flag} {path}: the first line is empty")
        return lines[0].strip()
    from_environment = os.environ.get(variable)
    if from_environment:
        return from_environment
    stdin = sys.stdin
    if prompt is not None and stdin is not None and stdin.isatty():
        return getpass.getpass(f"{PROG}: {prompt}: ", stream=sys.stderr).strip() or None
    return None


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
