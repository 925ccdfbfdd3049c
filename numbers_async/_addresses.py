"""The emergency-address models: `EmergencyAddress`, `AddressValidation` and its result.

`numbers_async.models` (and `numbers_async`) export them, importing this module when one
is first used: most programs never manage an emergency address, and building these
classes was a good part of what `import numbers_async` cost (benchmark B7).
"""

from __future__ import annotations

import attrs

from numbers_async._enums import _OpenEnum

__all__ = ["AddressValidation", "AddressValidationResult", "EmergencyAddress"]


@attrs.frozen
class EmergencyAddress:
    """The address emergency services get for calls from a US voice number.

    Sent with `client.emergency_addresses.provision` and `.validate`, received from them
    and from `.get`. A request needs `street_number`, `street_info`, `city`, `state` (two
    letters) and `postal_code` (five digits); `location` and `postal_code_plus_four` are
    optional (`None` leaves them out).

    Examples:
        ```python
        from numbers_async import EmergencyAddress

        address = EmergencyAddress(
            street_number="3500",
            street_info="Lenox Rd NE",
            city="Atlanta",
            state="GA",
            postal_code="30326",
            location="Suite 400",
        )
        ```
    """

    street_number: str | None = None
    """The number of the building in its street, e.g. `"3500"` (wire: `streetNumber`).
    `None` when the server leaves it out.
    """

    street_info: str | None = None
    """The street, e.g. `"Lenox Rd NE"` (wire: `streetInfo`). `None` when the server leaves
    it out.
    """

    location: str | None = None
    """Where in the building, e.g. `"Suite 400"` (wire: `location`); `""` when none.
    `None` when the server leaves it out.
    """

    city: str | None = None
    """The city (wire: `city`). `None` when the server leaves it out."""

    state: str | None = None
    """The state's two-letter code, e.g. `"GA"` (wire: `state`). `None` when the server
    leaves it out.
    """

    postal_code: str | None = None
    """The five-digit ZIP code, e.g. `"30326"` (wire: `postalCode`). `None` when the
    server leaves it out.
    """

    postal_code_plus_four: str | None = None
    """The four-digit ZIP+4 extension, e.g. `"4228"` (wire: `postalCodePlusFour`); `""`
    when none. `None` when the server leaves it out.
    """


class AddressValidationResult(_OpenEnum):
    """How well an address matched a known one (`AddressValidation.validation_result`).

    Open: a newer value arrives as a pseudo-member.
    """

    EXACT_MATCH = "EXACT_MATCH"
    """The address is valid as sent."""
    NEAR_MATCH = "NEAR_MATCH"
    """Close to a valid address; `corrected_address` is that address."""
    NO_MATCH = "NO_MATCH"
    """Not a valid address; `candidate_addresses` may list what was meant."""
    ADDRESS_VALIDATION_RESULT_CODE_UNSPECIFIED = "ADDRESS_VALIDATION_RESULT_CODE_UNSPECIFIED"
    """No result given (the zero value of the API's enum)."""


@attrs.frozen
class AddressValidation:
    """What `client.emergency_addresses.validate` found out about an address.

    Provision `corrected_address` after a `NEAR_MATCH`; after a `NO_MATCH`, pick one of
    `candidate_addresses` (or fix the address) and validate again.
    """

    phone_number: str | None = None
    """The number the address is for, E.164 (wire: `phoneNumber`). `None` when the server
    leaves it out.
    """

    display_name: str | None = None
    """The name sent with the address (wire: `displayName`). `None` when the server leaves
    it out.
    """

    validated_address: EmergencyAddress | None = None
    """The address as it was validated (wire: `validatedAddress`). `None` when the server
    leaves it out.
    """

    validation_result: AddressValidationResult | None = None
    """`EXACT_MATCH`, `NEAR_MATCH` or `NO_MATCH` (wire: `validationResult`). `None` when the
    server leaves it out.
    """

    validation_message: str | None = None
    """What the validation found, several messages joined by `|` (wire:
    `validationMessage`); `messages` splits them. `None` when the server leaves it out.
    """

    corrected_address: EmergencyAddress | None = None
    """The valid address closest to the one sent, after a `NEAR_MATCH` (wire:
    `correctedAddress`); its fields are empty after a `NO_MATCH`. `None` when the server
    leaves it out.
    """

    candidate_addresses: tuple[EmergencyAddress, ...] | None = None
    """Valid addresses that may be the one meant, after a `NO_MATCH` (wire:
    `candidateAddresses`). `None` when the server leaves it out.
    """

    @property
    def messages(self) -> tuple[str, ...]:
        """`validation_message` split at each `|` (empty parts dropped)."""
        text = self.validation_message or ""
        return tuple(part.strip() for part in text.split("|") if part.strip())
