"""The fake's number inventory: regions, deterministic number generation and search filters.

Numbers are plain wire-format dicts (``AvailableNumber`` in the spec), so what the fake
stores is exactly what it sends.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

import attrs

from ._wire import Json

NUMBER_TYPES = ("MOBILE", "LOCAL", "TOLL_FREE")
CAPABILITIES = ("SMS", "VOICE")
SEARCH_PATTERNS = ("START", "CONTAINS", "END")

REGION_NAMES: Mapping[str, str] = {
    "CA": "Canada",
    "DE": "Germany",
    "GB": "United Kingdom",
    "SE": "Sweden",
    "US": "United States",
}


@attrs.frozen
class Bucket:
    """How the numbers of one (region, type) look and cost."""

    region_code: str
    number_type: str
    prefixes: tuple[str, ...]  # E.164 prefixes, used round-robin so each one is represented
    digits: int  # digits after "+" in a full number
    capabilities: tuple[tuple[str, ...], ...]  # drawn uniformly; repeat an entry to weight it
    setup_price: str
    monthly_price: str
    payment_interval_months: int = 1
    documentation_required: bool = False


BOTH = ("SMS", "VOICE")
BUCKETS: tuple[Bucket, ...] = (
    Bucket(
        "US",
        "LOCAL",
        ("+1206", "+1208", "+1312", "+1415", "+1512", "+1617", "+1646", "+1720"),
        11,
        (BOTH, BOTH, ("SMS",), ("VOICE",)),
        "0.00",
        "2.00",
    ),
    Bucket(
        "US",
        "TOLL_FREE",
        ("+1833", "+1844", "+1855", "+1866", "+1877", "+1888"),
        11,
        (BOTH, ("VOICE",)),
        "0.00",
        "3.00",
    ),
    Bucket("CA", "LOCAL", ("+1416", "+1514", "+1604"), 11, (BOTH, ("VOICE",)), "0.00", "2.00"),
    Bucket(
        "GB",
        "MOBILE",
        ("+4474", "+4475", "+4477", "+4478", "+4479"),
        12,
        (BOTH, ("SMS",)),
        "0.00",
        "2.50",
    ),
    Bucket("GB", "LOCAL", ("+44161", "+44203", "+44207"), 12, (("VOICE",),), "0.00", "1.50"),
    Bucket("SE", "MOBILE", ("+4670", "+4672", "+4673", "+4676"), 11, (BOTH,), "0.00", "3.50"),
    Bucket(
        "DE",
        "LOCAL",
        ("+4930", "+4940", "+4989"),
        12,
        (("VOICE",),),
        "5.00",
        "2.00",
        documentation_required=True,
    ),
)


def money(amount: str) -> Json:
    """A ``Money`` object; the amount stays a decimal string."""
    return {"currencyCode": "USD", "amount": amount}


def find_bucket(region_code: str, number_type: str) -> Bucket | None:
    """The bucket for a region and type, if the fake has one."""
    for bucket in BUCKETS:
        if (bucket.region_code, bucket.number_type) == (region_code, number_type):
            return bucket
    return None


def available_number(phone: str, bucket: Bucket, capability: Iterable[str]) -> Json:
    """An ``AvailableNumber`` as the API sends it."""
    return {
        "phoneNumber": phone,
        "regionCode": bucket.region_code,
        "type": bucket.number_type,
        "capability": list(capability),
        "setupPrice": money(bucket.setup_price),
        "monthlyPrice": money(bucket.monthly_price),
        "paymentIntervalMonths": bucket.payment_interval_months,
        "supportingDocumentationRequired": bucket.documentation_required,
    }


def generate_inventory(seed: int, per_bucket: int) -> dict[str, Json]:
    """``per_bucket`` available numbers for every bucket, the same for the same seed."""
    rng = random.Random(seed)
    numbers: dict[str, Json] = {}
    for bucket in BUCKETS:
        made = 0
        while made < per_bucket:
            prefix = bucket.prefixes[made % len(bucket.prefixes)]
            rest = bucket.digits - (len(prefix) - 1)
            # A leading 0 or 1 after the area code is not dialable in most plans.
            phone = prefix + str(rng.randint(2, 9))
            phone += "".join(rng.choice("0123456789") for _ in range(rest - 1))
            if phone in numbers:
                continue
            numbers[phone] = available_number(phone, bucket, rng.choice(bucket.capabilities))
            made += 1
    return numbers


def sequential_numbers(prefix: str, count: int, taken: Callable[[str], bool]) -> list[str]:
    """``count`` unused E.164 numbers ``prefix`` + zero-padded counter, lowest first.

    Numbers under ``+1`` have 11 digits (NANP), others 12.
    """
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    if not re.fullmatch(r"\+[1-9]\d{0,12}", prefix):
        raise ValueError(f"prefix must be '+' and 1-13 digits, got {prefix!r}")
    width = (11 if prefix.startswith("+1") else 12) - (len(prefix) - 1)
    if width < 1:
        raise ValueError(f"prefix {prefix!r} leaves no digits for the counter")
    found: list[str] = []
    for counter in range(10**width):
        if len(found) == count:
            break
        phone = f"{prefix}{counter:0{width}d}"
        if not taken(phone):
            found.append(phone)
    if len(found) < count:
        raise ValueError(f"only {len(found)} free numbers under prefix {prefix!r}")
    return found


def region_list(numbers: Iterable[Mapping[str, Any]], types: Collection[str]) -> list[Json]:
    """``AvailableRegion`` objects for the buckets and numbers given, filtered by type."""
    offered: dict[str, set[str]] = {}
    for bucket in BUCKETS:
        offered.setdefault(bucket.region_code, set()).add(bucket.number_type)
    for number in numbers:
        offered.setdefault(number["regionCode"], set()).add(number["type"])
    return [
        {
            "regionCode": code,
            "regionName": REGION_NAMES.get(code, code),
            "types": [t for t in NUMBER_TYPES if t in offered[code]],
        }
        for code in sorted(offered)
        if not types or offered[code] & set(types)
    ]


@attrs.frozen
class NumberFilter:
    """The search criteria shared by availableNumbers, rentAny and activeNumbers."""

    region_code: str | None = None
    number_type: str | None = None
    pattern: str = ""
    search_pattern: str = "CONTAINS"
    capabilities: frozenset[str] = frozenset()

    def matches(self, number: Mapping[str, Any]) -> bool:
        """Whether a wire-format number satisfies every criterion."""
        if self.region_code is not None and number["regionCode"] != self.region_code:
            return False
        if self.number_type is not None and number["type"] != self.number_type:
            return False
        if not self.capabilities <= set(number["capability"]):
            return False
        return matches_pattern(number["phoneNumber"], self.pattern, self.search_pattern)


def matches_pattern(phone: str, pattern: str, search_pattern: str) -> bool:
    """Apply ``numberPattern``: the pattern is compared literally against the E.164 text.

    So ``START`` needs the ``+`` (spec: "a plus sign (+) must be included"), and a ``+``
    that arrived as a space matches nothing.
    """
    if search_pattern == "START":
        return phone.startswith(pattern)
    if search_pattern == "END":
        return phone.endswith(pattern)
    return pattern in phone
