"""What the command prints: tables for people, JSON and CSV for scripts.

JSON is the API's own wire format (camelCase, as Sinch returns it); CSV has one row per
object with the flat columns listed in ``*_CSV`` below; tables are the same data made
readable. A ``Writer`` is chosen once per command from ``--json`` / ``--csv``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from numbers_async.cli._common import as_wire_dict
from numbers_async.models import (
    ActiveNumber,
    AddressValidation,
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    EmergencyAddress,
    EstScheduledVoiceProvisioning,
    EstVoiceConfiguration,
    FaxScheduledVoiceProvisioning,
    FaxVoiceConfiguration,
    Money,
    RtcScheduledVoiceProvisioning,
    RtcVoiceConfiguration,
    ScheduledVoiceProvisioning,
    VoiceConfiguration,
)

__all__ = ["Column", "Writer", "table"]


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Left-aligned columns separated by two spaces, with a rule under the header."""
    cells = [
        [str(h) for h in headers],
        *[["" if c is None else str(c) for c in row] for row in rows],
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


class Column:
    """One column: its header in tables, its name in CSV, and how to read it."""

    def __init__(self, human: str, csv_name: str, read: Callable[[Any], object]) -> None:
        self.human = human
        self.csv_name = csv_name
        self.read = read


def _text(value: object) -> str:
    if value is None:
        return ""
    if hasattr(value, "value"):  # an enum member
        return str(value.value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat()).replace("+00:00", "Z")
    if isinstance(value, tuple | list):
        return " ".join(_text(v) for v in value)
    return str(value)


def _date(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d")


def _money(money: Money | None) -> str:
    if money is None or money.amount is None:
        return ""
    return f"{money.amount} {money.currency_code or ''}".strip()


def _sms_human(number: ActiveNumber) -> str:
    sms = number.sms_configuration
    if sms is None:
        return ""
    scheduled = sms.scheduled_provisioning
    if scheduled is not None and scheduled.status is not None:
        wanted = " / ".join(filter(None, (scheduled.service_plan_id, scheduled.campaign_id)))
        return f"{_text(scheduled.status)} -> {wanted}"
    return " / ".join(filter(None, (sms.service_plan_id, sms.campaign_id)))


def _voice_id(voice: VoiceConfiguration | ScheduledVoiceProvisioning | None) -> str | None:
    """The id a voice configuration links (app, trunk or service); None for a newer type."""
    if isinstance(voice, RtcVoiceConfiguration | RtcScheduledVoiceProvisioning):
        return voice.app_id
    if isinstance(voice, EstVoiceConfiguration | EstScheduledVoiceProvisioning):
        return voice.trunk_id
    if isinstance(voice, FaxVoiceConfiguration | FaxScheduledVoiceProvisioning):
        return voice.service_id
    return None


def _voice_link(voice: VoiceConfiguration | ScheduledVoiceProvisioning) -> str:
    """``"EST trunk-1"``; ``""`` when nothing is linked; the type alone if it is unknown."""
    linked = _voice_id(voice)
    if linked == "":
        return ""
    return voice.type if linked is None else f"{voice.type} {linked}"


def _voice_human(number: ActiveNumber) -> str:
    voice = number.voice_configuration
    if voice is None:
        return ""
    scheduled = voice.scheduled_voice_provisioning
    if scheduled is not None and scheduled.status is not None:
        return f"{_text(scheduled.status)} -> {_voice_link(scheduled)}"
    return _voice_link(voice)


def _sms_status(number: ActiveNumber) -> object:
    sms = number.sms_configuration
    scheduled = sms.scheduled_provisioning if sms else None
    return scheduled.status if scheduled else None


def _voice_status(number: ActiveNumber) -> object:
    voice = number.voice_configuration
    scheduled = voice.scheduled_voice_provisioning if voice else None
    return scheduled.status if scheduled else None


ACTIVE: Sequence[Column] = (
    Column("number", "phoneNumber", lambda n: n.phone_number),
    Column("name", "displayName", lambda n: n.display_name),
    Column("region", "regionCode", lambda n: n.region_code),
    Column("type", "type", lambda n: n.type),
    Column("capabilities", "capability", lambda n: n.capability),
    Column("monthly", "monthlyAmount", lambda n: _money(n.money)),
    Column("sms", "smsServicePlanId", lambda n: _sms_human(n)),
    Column("voice", "voice", lambda n: _voice_human(n)),
    Column("next charge", "nextChargeDate", lambda n: _date(n.next_charge_date)),
    Column("expires", "expireAt", lambda n: _date(n.expire_at)),
)


def _sms_field(name: str) -> Callable[[ActiveNumber], object]:
    return lambda n: getattr(n.sms_configuration, name, None)


def _voice_field(cls: type[VoiceConfiguration]) -> Callable[[ActiveNumber], object]:
    """The id of a number's voice configuration if it is a ``cls``, else nothing."""

    def read(number: ActiveNumber) -> object:
        voice = number.voice_configuration
        return _voice_id(voice) if isinstance(voice, cls) else None

    return read


ACTIVE_CSV: Sequence[Column] = (
    *ACTIVE[:5],
    Column("", "monthlyAmount", lambda n: n.money.amount if n.money else None),
    Column("", "currencyCode", lambda n: n.money.currency_code if n.money else None),
    Column("", "smsServicePlanId", _sms_field("service_plan_id")),
    Column("", "smsCampaignId", _sms_field("campaign_id")),
    Column("", "smsProvisioningStatus", _sms_status),
    Column("", "voiceAppId", _voice_field(RtcVoiceConfiguration)),
    Column(
        "", "voiceType", lambda n: n.voice_configuration.type if n.voice_configuration else None
    ),
    Column("", "voiceTrunkId", _voice_field(EstVoiceConfiguration)),
    Column("", "voiceServiceId", _voice_field(FaxVoiceConfiguration)),
    Column("", "voiceProvisioningStatus", _voice_status),
    Column("", "callbackUrl", lambda n: n.callback_url),
    Column("", "nextChargeDate", lambda n: n.next_charge_date),
    Column("", "expireAt", lambda n: n.expire_at),
)
AVAILABLE: Sequence[Column] = (
    Column("number", "phoneNumber", lambda n: n.phone_number),
    Column("region", "regionCode", lambda n: n.region_code),
    Column("type", "type", lambda n: n.type),
    Column("capabilities", "capability", lambda n: n.capability),
    Column("setup", "setupPrice", lambda n: _money(n.setup_price)),
    Column("monthly", "monthlyPrice", lambda n: _money(n.monthly_price)),
    Column(
        "docs required",
        "supportingDocumentationRequired",
        lambda n: n.supporting_documentation_required,
    ),
)
REGIONS: Sequence[Column] = (
    Column("region", "regionCode", lambda r: r.region_code),
    Column("name", "regionName", lambda r: r.region_name),
    Column("types", "types", lambda r: r.types),
)


def _address_line(address: EmergencyAddress | None) -> str:
    """``3500 Lenox Rd NE, Suite 4, Atlanta, GA 30326-4228`` (empty parts left out)."""
    if address is None:
        return ""
    street = " ".join(filter(None, (address.street_number, address.street_info)))
    code = "-".join(filter(None, (address.postal_code, address.postal_code_plus_four)))
    region = " ".join(filter(None, (address.state, code)))
    return ", ".join(filter(None, (street, address.location, address.city, region)))


ADDRESS: Sequence[Column] = (
    Column("street number", "streetNumber", lambda a: a.street_number),
    Column("street", "streetInfo", lambda a: a.street_info),
    Column("location", "location", lambda a: a.location),
    Column("city", "city", lambda a: a.city),
    Column("state", "state", lambda a: a.state),
    Column("postal code", "postalCode", lambda a: a.postal_code),
    Column("plus four", "postalCodePlusFour", lambda a: a.postal_code_plus_four),
)
VALIDATION: Sequence[Column] = (
    Column("number", "phoneNumber", lambda v: v.phone_number),
    Column("display name", "displayName", lambda v: v.display_name),
    Column("result", "validationResult", lambda v: v.validation_result),
    Column("message", "validationMessage", lambda v: v.validation_message),
    Column("validated", "validatedAddress", lambda v: _address_line(v.validated_address)),
    Column("corrected", "correctedAddress", lambda v: _address_line(v.corrected_address)),
    Column(
        "candidates",
        "candidateAddresses",
        lambda v: " | ".join(_address_line(a) for a in v.candidate_addresses or ()),
    ),
)


def _mask(secret: str | None) -> str | None:
    if not secret:
        return secret
    return "*" * 8 + f" ({len(secret)} characters)"


class Writer:
    """Prints results in the chosen format (``table``, ``json`` or ``csv``) to ``out``."""

    def __init__(self, fmt: str, out: TextIO, *, show_secret: bool = False) -> None:
        self.format = fmt
        self.out = out
        self.show_secret = show_secret

    def line(self, text: str = "") -> None:
        """A line for people; scripts (JSON, CSV) do not get it."""
        if self.format == "table":
            print(text, file=self.out)

    def json(self, value: Any) -> None:
        """Print ``value`` as indented JSON."""
        print(json.dumps(value, indent=2, default=str), file=self.out)

    def rows(
        self,
        columns: Sequence[Column],
        items: Iterable[Any],
        *,
        csv_columns: Sequence[Column] | None = None,
        header: bool = True,
    ) -> None:
        """Print items as a table or CSV (JSON callers use ``json``)."""
        if self.format == "csv":
            chosen = csv_columns or columns
            writer = csv.writer(self.out, lineterminator="\n")
            if header:
                writer.writerow([c.csv_name for c in chosen])
            writer.writerows([_text(c.read(item)) for c in chosen] for item in items)
        else:
            print(table([c.human for c in columns], self.cells(columns, items)), file=self.out)

    @staticmethod
    def cells(columns: Sequence[Column], items: Iterable[Any]) -> list[list[str]]:
        """The table cells of ``items``."""
        return [[_text(c.read(item)) for c in columns] for item in items]

    def many(self, columns: Sequence[Column], items: Sequence[Any]) -> None:
        """Print several objects: a JSON array, CSV rows or a table."""
        if self.format == "json":
            self.json([as_wire_dict(item) for item in items])
        else:
            self.rows(columns, items)

    def one(
        self, columns: Sequence[Column], item: Any, *, csv_columns: Sequence[Column] | None = None
    ) -> None:
        """Print one object: JSON, a one-row CSV, or a ``field  value`` listing."""
        if self.format == "json":
            self.json(as_wire_dict(item))
        elif self.format == "csv":
            self.rows(columns, [item], csv_columns=csv_columns)
        else:
            listing = [[c.human, _text(c.read(item))] for c in (csv_columns or columns) if c.human]
            print(table(("field", "value"), listing), file=self.out)

    def active_number(self, number: ActiveNumber) -> None:
        """One ``ActiveNumber``."""
        if self.format == "table":
            fields = [*ACTIVE, Column("callback url", "callbackUrl", lambda n: n.callback_url)]
            listing = [[c.human, _text(c.read(number))] for c in fields]
            print(table(("field", "value"), listing), file=self.out)
        else:
            self.one(ACTIVE, number, csv_columns=ACTIVE_CSV)

    def available_numbers(self, numbers: Sequence[AvailableNumber]) -> None:
        """Several ``AvailableNumber``."""
        self.many(AVAILABLE, numbers)

    def available_number(self, number: AvailableNumber) -> None:
        """One ``AvailableNumber``."""
        self.one(AVAILABLE, number)

    def regions(self, regions: Sequence[AvailableRegion]) -> None:
        """Several ``AvailableRegion``."""
        self.many(REGIONS, regions)

    def emergency_address(self, address: EmergencyAddress) -> None:
        """One ``EmergencyAddress``."""
        self.one(ADDRESS, address)

    def address_validation(self, validation: AddressValidation) -> None:
        """What a validation found; CSV and tables write each address on one line."""
        self.one(VALIDATION, validation)

    def deprovisioned(self, phone: str) -> None:
        """That ``phone`` no longer has an emergency address."""
        data = {"phoneNumber": phone, "emergencyAddress": None}
        if self.format == "json":
            self.json(data)
        elif self.format == "csv":
            self.rows([Column("", "phoneNumber", lambda d: d["phoneNumber"])], [data])
        else:
            print(f"{phone} has no emergency address now", file=self.out)

    def callbacks(self, config: CallbackConfiguration) -> None:
        """The callback configuration; the secret is masked unless ``--show-secret``."""
        secret = config.hmac_secret if self.show_secret else _mask(config.hmac_secret)
        data: Mapping[str, Any] = {"projectId": config.project_id, "hmacSecret": secret}
        if self.format == "json":
            self.json(data)
        else:
            columns = (
                Column("project", "projectId", lambda d: d["projectId"]),
                Column("hmac secret", "hmacSecret", lambda d: d["hmacSecret"]),
            )
            self.one(columns, data)
