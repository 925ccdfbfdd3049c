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
    AvailableNumber,
    AvailableRegion,
    CallbackConfiguration,
    Money,
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


def _voice_human(number: ActiveNumber) -> str:
    voice = number.voice_configuration
    if voice is None:
        return ""
    scheduled = voice.scheduled_voice_provisioning
    if scheduled is not None and scheduled.status is not None:
        return f"{_text(scheduled.status)} -> {scheduled.app_id}"
    return voice.app_id or ""


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
    Column("voice", "voiceAppId", lambda n: _voice_human(n)),
    Column("next charge", "nextChargeDate", lambda n: _date(n.next_charge_date)),
    Column("expires", "expireAt", lambda n: _date(n.expire_at)),
)


def _sms_field(name: str) -> Callable[[ActiveNumber], object]:
    return lambda n: getattr(n.sms_configuration, name, None)


def _voice_app(number: ActiveNumber) -> object:
    return number.voice_configuration.app_id if number.voice_configuration else None


ACTIVE_CSV: Sequence[Column] = (
    *ACTIVE[:5],
    Column("", "monthlyAmount", lambda n: n.money.amount if n.money else None),
    Column("", "currencyCode", lambda n: n.money.currency_code if n.money else None),
    Column("", "smsServicePlanId", _sms_field("service_plan_id")),
    Column("", "smsCampaignId", _sms_field("campaign_id")),
    Column("", "smsProvisioningStatus", _sms_status),
    Column("", "voiceAppId", _voice_app),
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
