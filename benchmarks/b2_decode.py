"""B2: decoding a 100-item ``ListActiveNumbersResponse`` page, against pydantic v2 and msgspec.

What is measured: microseconds to turn the raw body (bytes) of one page of 100 active
numbers into typed objects, for every payload shape (``_payloads.SHAPES``: settled,
provisioning in flight, minimal, unknown fields and enum values, mixed):

- ours: ``numbers_async._operations.decode(200, body, Page)``, exactly what
  ``active_numbers.list`` runs per page (orjson when installed, then the converter);
- pydantic v2: ``model_validate_json`` on models of the same shape (same fields and types:
  camelCase aliases, ``Decimal`` money, aware ``datetime``, open enums as ``Enum | str``
  tried left to right, tuples, frozen), pydantic's fastest path (JSON parsed and
  validated in Rust);
- msgspec: ``msgspec.json.Decoder(Page).decode`` on ``Struct`` models of the same shape
  (enum fields as ``str``: msgspec has no open enums);
- for reference, the official SDK (``pip install sinch``): its own pydantic models, decoded
  the way its transport does (``json.loads``, then ``TypeAdapter(...).validate_python``).

How: in one process, each contender decodes the page ``--repeat`` times per round (after
a warm-up), with ``gc.collect()`` before each contender's round so that no contender pays
for another's garbage; rounds rotate the order. The figure is the mean CPU time per page
in a round (``time.process_time``); medians over rounds, spread min-max, and the paired
per-round ratio ours / theirs. One more row per shape compares our time on that shape with
our time on the settled shape in the same round (per-number cost of the shape).

Targets (docs/performance.md): ours / pydantic <= 1.0x on every shape; every shape within 1.5x of
the settled shape; the EST/FAX shape within 1.1x of the provisioning shape (the same numbers
on RTC). msgspec and the SDK rows have no target.

Run: ``python benchmarks/b2_decode.py [--rounds 7] [--repeat 300] [--shapes settled,mixed]``;
``--profile`` runs ours under cProfile instead (on ``--shapes``' first shape).
"""

from __future__ import annotations

import enum
import gc
import json
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
import pydantic
from _common import Row, Stat, alternate, paired_ratio, parser, profile, report
from _payloads import SHAPES, page_body
from pydantic.alias_generators import to_camel

from numbers_async._responses import decode
from numbers_async.models import Page

# --- pydantic v2 models of the same shape ----------------------------------------------------


class NumberType(str, enum.Enum):
    MOBILE = "MOBILE"
    LOCAL = "LOCAL"
    TOLL_FREE = "TOLL_FREE"


class Capability(str, enum.Enum):
    SMS = "SMS"
    VOICE = "VOICE"


class ProvisioningStatus(str, enum.Enum):
    WAITING = "WAITING"
    IN_PROGRESS = "IN_PROGRESS"
    FAILED = "FAILED"


# Open enums, like ours: a known value becomes the member, any other string is kept.
_OPEN = pydantic.Field(union_mode="left_to_right")
OpenNumberType = Annotated[NumberType | str, _OPEN]
OpenCapability = Annotated[Capability | str, _OPEN]
OpenStatus = Annotated[ProvisioningStatus | str, _OPEN]


class _PydanticModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(alias_generator=to_camel, frozen=True, extra="ignore")


class PMoney(_PydanticModel):
    currency_code: str | None = None
    amount: Decimal | None = None


class PScheduledSmsProvisioning(_PydanticModel):
    service_plan_id: str | None = None
    campaign_id: str | None = None
    status: OpenStatus | None = None
    last_updated_time: datetime | None = None
    error_codes: tuple[str, ...] | None = None


# The voice objects as one flat model with all three ids and the type (the Node SDK's
# VoiceConfigurationResponse): every member ours reads, read here too.
class PScheduledVoiceProvisioning(_PydanticModel):
    type: str | None = None
    app_id: str | None = None
    trunk_id: str | None = None
    service_id: str | None = None
    status: OpenStatus | None = None
    last_updated_time: datetime | None = None


class PSmsConfiguration(_PydanticModel):
    service_plan_id: str | None = None
    campaign_id: str | None = None
    scheduled_provisioning: PScheduledSmsProvisioning | None = None


class PVoiceConfiguration(_PydanticModel):
    type: str | None = None
    app_id: str | None = None
    trunk_id: str | None = None
    service_id: str | None = None
    last_updated_time: datetime | None = None
    scheduled_voice_provisioning: PScheduledVoiceProvisioning | None = None


class PActiveNumber(_PydanticModel):
    phone_number: str
    project_id: str | None = None
    display_name: str | None = None
    region_code: str | None = None
    type: OpenNumberType | None = None
    capability: tuple[OpenCapability, ...] | None = None
    money: PMoney | None = None
    payment_interval_months: int | None = None
    next_charge_date: datetime | None = None
    expire_at: datetime | None = None
    sms_configuration: PSmsConfiguration | None = None
    voice_configuration: PVoiceConfiguration | None = None
    callback_url: str | None = None


class PPage(_PydanticModel):
    active_numbers: tuple[PActiveNumber, ...] = ()
    next_page_token: str | None = None
    total_size: int | None = None


# --- msgspec models of the same shape ----------------------------------------------------------


class _Struct(msgspec.Struct, rename="camel", frozen=True):
    pass


# (frozen=True is repeated on each subclass only so that mypy sees it too.)


class MMoney(_Struct, frozen=True):
    currency_code: str | None = None
    amount: Decimal | None = None


class MScheduledSmsProvisioning(_Struct, frozen=True):
    service_plan_id: str | None = None
    campaign_id: str | None = None
    status: str | None = None
    last_updated_time: datetime | None = None
    error_codes: tuple[str, ...] | None = None


class MScheduledVoiceProvisioning(_Struct, frozen=True):
    type: str | None = None
    app_id: str | None = None
    trunk_id: str | None = None
    service_id: str | None = None
    status: str | None = None
    last_updated_time: datetime | None = None


class MSmsConfiguration(_Struct, frozen=True):
    service_plan_id: str | None = None
    campaign_id: str | None = None
    scheduled_provisioning: MScheduledSmsProvisioning | None = None


class MVoiceConfiguration(_Struct, frozen=True):
    type: str | None = None
    app_id: str | None = None
    trunk_id: str | None = None
    service_id: str | None = None
    last_updated_time: datetime | None = None
    scheduled_voice_provisioning: MScheduledVoiceProvisioning | None = None


class MActiveNumber(_Struct, frozen=True):
    phone_number: str
    project_id: str | None = None
    display_name: str | None = None
    region_code: str | None = None
    type: str | None = None
    capability: tuple[str, ...] | None = None
    money: MMoney | None = None
    payment_interval_months: int | None = None
    next_charge_date: datetime | None = None
    expire_at: datetime | None = None
    sms_configuration: MSmsConfiguration | None = None
    voice_configuration: MVoiceConfiguration | None = None
    callback_url: str | None = None


class MPage(_Struct, frozen=True):
    active_numbers: tuple[MActiveNumber, ...] = ()
    next_page_token: str | None = None
    total_size: int | None = None


# --- the contenders ----------------------------------------------------------------------------


def sdk_decoder() -> Callable[[bytes], Any] | None:
    """The official SDK's own decoding of a list page, if ``sinch`` is installed."""
    try:
        from pydantic import TypeAdapter
        from sinch.domains.numbers.models.v1.internal import ListActiveNumbersResponse
    except ImportError:
        return None

    def decode_like_the_sdk(body: bytes) -> Any:
        # sinch.core.endpoint.BaseHTTPEndpoint._process_response_model, after requests'
        # response.json().
        return TypeAdapter(ListActiveNumbersResponse).validate_python(json.loads(body))

    return decode_like_the_sdk


def per_page(decode_one: Callable[[bytes], Any], body: bytes, repeat: int) -> Callable[[], float]:
    """A round: decode ``body`` ``repeat`` times, return CPU µs per page."""

    def run() -> float:
        gc.collect()  # start clean: no contender pays for the previous one's garbage
        started = time.process_time()
        for _ in range(repeat):
            decode_one(body)
        return (time.process_time() - started) / repeat * 1e6

    return run


def check_same_content(body: bytes) -> None:
    """Every contender reads the same numbers out of the page (a sanity check)."""
    page = decode(200, body, Page)
    theirs = PPage.model_validate_json(body)
    spec = msgspec.json.decode(body, type=MPage)
    assert len(page.items) == len(theirs.active_numbers) == len(spec.active_numbers)
    for a, b, c in zip(page.items, theirs.active_numbers, spec.active_numbers, strict=True):
        assert a.phone_number == b.phone_number == c.phone_number
        assert a.next_charge_date == b.next_charge_date == c.next_charge_date
        amounts = {None if x.money is None else x.money.amount for x in (a, b, c)}
        assert len(amounts) == 1, amounts


def main() -> None:
    args_parser = parser(__doc__.splitlines()[0], rounds=7, profiling=True)
    args_parser.add_argument("--repeat", type=int, default=300, help="decodes per round")
    args_parser.add_argument("--items", type=int, default=100, help="numbers on the page")
    args_parser.add_argument(
        "--shapes", default=",".join(SHAPES), help="comma-separated payload shapes"
    )
    args = args_parser.parse_args()
    shapes = [shape for shape in args.shapes.split(",") if shape]
    unknown = sorted(set(shapes) - set(SHAPES))
    if unknown:
        args_parser.error(f"unknown shapes {unknown}; choose among {list(SHAPES)}")
    bodies = {shape: page_body(0, pages=2, page_size=args.items, shape=shape) for shape in shapes}
    for body in bodies.values():
        check_same_content(body)
    msgspec_decoder = msgspec.json.Decoder(MPage)
    sdk = sdk_decoder()
    contenders: dict[str, Callable[[], float]] = {}
    for shape, body in bodies.items():
        contenders[f"ours/{shape}"] = per_page(lambda b: decode(200, b, Page), body, args.repeat)
        contenders[f"pydantic/{shape}"] = per_page(PPage.model_validate_json, body, args.repeat)
        contenders[f"msgspec/{shape}"] = per_page(msgspec_decoder.decode, body, args.repeat)
        if sdk is not None:
            contenders[f"sdk/{shape}"] = per_page(sdk, body, max(1, args.repeat // 5))
    if args.profile:
        profile("b2_decode", contenders[f"ours/{shapes[0]}"])
        return
    for run in contenders.values():  # warm-up: caches, lazily built validators
        run()
    values = alternate(args.rounds, contenders)
    rows = []
    for shape in shapes:
        what = f"decode a {args.items}-item page, {shape}"
        ours = values[f"ours/{shape}"]
        baselines = [
            ("pydantic", "pydantic v2", "<= 1.0x (time)", "ratio_at_most", 1.0),
            ("msgspec", "msgspec", "(reference)", "none", None),
            ("sdk", "official SDK models", "(reference)", "none", None),
        ]
        for key, label, target, goal, goal_value in baselines:
            theirs = values.get(f"{key}/{shape}")
            if theirs is None:
                continue
            rows.append(
                Row(
                    benchmark="B2",
                    what=what,
                    unit="µs",
                    ours=Stat.of(ours),
                    baseline_label=label,
                    baseline=Stat.of(theirs),
                    ratio=paired_ratio(ours, theirs),
                    target=target,
                    goal=goal,  # type: ignore[arg-type]
                    goal_value=goal_value,
                )
            )
        if shape == "est_fax" and "provisioning" in shapes:
            # The same numbers as "provisioning" on the other voice types: what the
            # union on "type" costs per number.
            rows.append(
                Row(
                    benchmark="B2",
                    what=what,
                    unit="µs",
                    ours=Stat.of(ours),
                    baseline_label="ours, provisioning shape",
                    baseline=Stat.of(values["ours/provisioning"]),
                    ratio=paired_ratio(ours, values["ours/provisioning"]),
                    target="<= 1.1x (time)",
                    goal="ratio_at_most",
                    goal_value=1.1,
                )
            )
        if shape != "settled" and "settled" in shapes:
            settled = values["ours/settled"]
            rows.append(
                Row(
                    benchmark="B2",
                    what=what,
                    unit="µs",
                    ours=Stat.of(ours),
                    baseline_label="ours, settled shape",
                    baseline=Stat.of(settled),
                    ratio=paired_ratio(ours, settled),
                    target="<= 1.5x (time)",
                    goal="ratio_at_most",
                    goal_value=1.5,
                )
            )
    params = {"rounds": args.rounds, "repeat": args.repeat, "items": args.items, "shapes": shapes}
    sizes = {shape: len(body) for shape, body in bodies.items()}
    report("b2_decode", rows, params | {"body_bytes": sizes}, args.out)


if __name__ == "__main__":
    main()
