"""The fake's emergency address validation: a small, predictable stand-in for Sinch's.

Pure functions on wire-format dicts. The real service checks addresses against postal
data; the fake follows three rules, so tests can reach every answer:

- a state that is not a US state or territory code, or a ZIP code that is not five
  digits: ``NO_MATCH`` (no correction, no candidates);
- a street written with long words the postal form abbreviates (``Road``, ``Street``,
  ``Northeast``, ...): ``NEAR_MATCH``, corrected to the abbreviations;
- anything else: ``EXACT_MATCH``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._parsing import ADDRESS_FIELDS
from ._wire import Json

# Fifty states, DC and the inhabited territories.
US_STATES = frozenset(
    re.findall(
        r"[A-Z]{2}",
        "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV "
        "NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP",
    )
)
#: Street words and the abbreviations the postal form uses.
ABBREVIATIONS = {
    "Avenue": "Ave",
    "Boulevard": "Blvd",
    "Court": "Ct",
    "Drive": "Dr",
    "Lane": "Ln",
    "Place": "Pl",
    "Road": "Rd",
    "Street": "St",
    "North": "N",
    "South": "S",
    "East": "E",
    "West": "W",
    "Northeast": "NE",
    "Northwest": "NW",
    "Southeast": "SE",
    "Southwest": "SW",
}
_WORD = re.compile(r"[A-Za-z]+")


def _abbreviated(street: str) -> str:
    return _WORD.sub(lambda m: ABBREVIATIONS.get(m[0].title(), m[0]), street)


def validate(phone: str, display_name: str, address: Mapping[str, str]) -> Json:
    """The ``ValidateAddressResponse`` for ``address`` (every field given, ``""`` if unset)."""
    validated = {field: address[field] for field in ADDRESS_FIELDS}
    answer: Json = {"phoneNumber": phone, "displayName": display_name}
    answer["validatedAddress"] = validated
    if validated["state"].upper() not in US_STATES or not re.fullmatch(
        r"\d{5}", validated["postalCode"]
    ):
        answer["validationResult"] = "NO_MATCH"
        answer["validationMessage"] = "Invalid address - no correction found|Address is Invalid"
        answer["correctedAddress"] = dict.fromkeys(ADDRESS_FIELDS, "")
    else:
        corrected = {
            **validated,
            "state": validated["state"].upper(),
            "streetInfo": _abbreviated(validated["streetInfo"]),
        }
        if corrected != validated:
            answer["validationResult"] = "NEAR_MATCH"
            answer["validationMessage"] = (
                "Corrected to valid address|Corrected address abbreviations"
            )
        else:
            answer["validationResult"] = "EXACT_MATCH"
            answer["validationMessage"] = "Address is valid"
        answer["correctedAddress"] = corrected
    answer["candidateAddresses"] = []
    return answer


def supports_emergency_address(number: Mapping[str, object]) -> bool:
    """Whether a number may have an emergency address: a US number with ``VOICE``."""
    capability = number.get("capability")
    return (
        number.get("regionCode") == "US"
        and isinstance(capability, list)
        and ("VOICE" in capability)
    )
