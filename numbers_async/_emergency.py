"""`client.emergency_addresses`: the address emergency services get for a US voice number.

The four operations of the API's 1.0.3 description
(docs/api-facts.md#the-api-beyond-the-10-spec): their argument checks and request
builders (pure functions, like `_operations`) and the resource group. How each may be
retried, whether it changes state, and what a repeated deprovision's 404 means are
decided in `_retry` (`SAFETY`, `STATE_CHANGING`, `AFTER_UNKNOWN`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from numbers_async._convert import unstructure
from numbers_async._operations import Op, Request, _json_request, check_phone, check_str
from numbers_async._resource import _Resource
from numbers_async._responses import decode
from numbers_async.errors import InvalidInputError

if TYPE_CHECKING:
    from numbers_async._addresses import AddressValidation, EmergencyAddress

__all__ = [
    "EmergencyAddresses",
    "check_address",
    "deprovision_address",
    "get_address",
    "provision_address",
    "validate_address",
]

# The models (``_addresses``) are imported when first needed, and the patterns compiled
# then, through ``re``'s cache: most programs never manage an emergency address, and
# ``import numbers_async`` stays lean (benchmark B7).
_STATE: Final = r"[A-Za-z]{2}"
_ZIP: Final = r"\d{5}"
_ZIP_PLUS_FOUR: Final = r"(\d{4})?"
#: The fields a request must give (the API marks them required when sent).
_REQUIRED: Final = ("street_number", "street_info", "city", "state", "postal_code")


def check_address(argument: str, value: object) -> dict[str, Any]:
    """An `EmergencyAddress` a request may carry, as wire JSON (the state upper-cased)."""
    from numbers_async._addresses import EmergencyAddress

    if not isinstance(value, EmergencyAddress):
        raise InvalidInputError(argument, "must be an EmergencyAddress", value)
    for name in _REQUIRED:
        field = getattr(value, name)
        if not isinstance(field, str) or not field.strip():
            raise InvalidInputError(f"{argument}.{name}", "must be a non-empty string", field)
    if re.fullmatch(_STATE, str(value.state)) is None:
        raise InvalidInputError(
            f"{argument}.state", "must be the state's two-letter code, e.g. 'GA'", value.state
        )
    if re.fullmatch(_ZIP, str(value.postal_code)) is None:
        raise InvalidInputError(
            f"{argument}.postal_code",
            "must be a five-digit ZIP code, e.g. '30326'",
            value.postal_code,
        )
    plus_four: object = value.postal_code_plus_four  # typed as text; given, maybe not
    if plus_four is not None and (
        not isinstance(plus_four, str) or re.fullmatch(_ZIP_PLUS_FOUR, plus_four) is None
    ):
        raise InvalidInputError(
            f"{argument}.postal_code_plus_four", "must be four digits, or ''", plus_four
        )
    if value.location is not None:
        check_str(f"{argument}.location", value.location)
    wire: dict[str, Any] = unstructure(value)
    wire["state"] = str(value.state).upper()
    return wire


def _path(phone_number: object) -> tuple[str, str]:
    phone = check_phone("phone_number", phone_number)
    return phone, f"/activeNumbers/{phone}/emergencyAddress"


def _with_address(
    op: Op, action: str, phone_number: object, address: object, display_name: object
) -> Request:
    phone, path = _path(phone_number)
    body = {
        "displayName": check_str("display_name", display_name, allow_empty=False),
        "address": check_address("address", address),
    }
    return _json_request(op, "POST", f"{path}:{action}", body, phone)


def get_address(phone_number: object) -> Request:
    """GET activeNumbers/{phone}/emergencyAddress."""
    phone, path = _path(phone_number)
    return Request(Op.GET_EMERGENCY_ADDRESS, "GET", path, phone_number=phone)


def provision_address(phone_number: object, address: object, display_name: object) -> Request:
    """POST activeNumbers/{phone}/emergencyAddress:provision."""
    return _with_address(
        Op.PROVISION_EMERGENCY_ADDRESS, "provision", phone_number, address, display_name
    )


def deprovision_address(phone_number: object) -> Request:
    """POST activeNumbers/{phone}/emergencyAddress:deprovision, without a body."""
    phone, path = _path(phone_number)
    return Request(
        Op.DEPROVISION_EMERGENCY_ADDRESS, "POST", f"{path}:deprovision", phone_number=phone
    )


def validate_address(phone_number: object, address: object, display_name: object) -> Request:
    """POST activeNumbers/{phone}/emergencyAddress:validate."""
    return _with_address(
        Op.VALIDATE_EMERGENCY_ADDRESS, "validate", phone_number, address, display_name
    )


def _nothing(status: int, body: bytes) -> None:
    """A 2xx whose body says nothing (deprovision answers none)."""


def _address(status: int, body: bytes) -> EmergencyAddress:
    """A 2xx carrying an address."""
    from numbers_async._addresses import EmergencyAddress

    return decode(status, body, EmergencyAddress)


def _validation(status: int, body: bytes) -> AddressValidation:
    """A 2xx carrying a validation."""
    from numbers_async._addresses import AddressValidation

    return decode(status, body, AddressValidation)


class EmergencyAddresses(_Resource):
    """`client.emergency_addresses`: the address emergency services get for a number.

    Only US numbers with the `VOICE` capability have one; for any other number the API
    answers with an error (`InvalidArgumentError` from the fake server). Validate an
    address before provisioning it: a `NEAR_MATCH` comes back corrected.

    Examples:
        ```python
        import asyncio

        from numbers_async import EmergencyAddress, NumbersClient


        async def main() -> None:
            async with NumbersClient.from_env() as client:
                number = await client.available_numbers.rent_any(
                    "US", "LOCAL", capabilities=["VOICE"]
                )
                phone = number.phone_number
                address = EmergencyAddress(
                    street_number="3500",
                    street_info="Lenox Road NE",
                    city="Atlanta",
                    state="GA",
                    postal_code="30326",
                )
                checked = await client.emergency_addresses.validate(
                    phone, address, display_name="Head office"
                )
                if checked.corrected_address is not None:
                    address = checked.corrected_address
                await client.emergency_addresses.provision(
                    phone, address, display_name="Head office"
                )
                print(await client.emergency_addresses.get(phone))


        asyncio.run(main())
        ```
    """

    async def get(self, phone_number: str) -> EmergencyAddress:
        """The emergency address provisioned for `phone_number`.

        Raises:
            NotFoundError: the project does not own the number, or it has no address.
            InvalidArgumentError: the number cannot have one (not a US voice number).
        """
        return await self._call(get_address(phone_number), _address)

    async def provision(
        self, phone_number: str, address: EmergencyAddress, *, display_name: str
    ) -> EmergencyAddress:
        """Set the emergency address of `phone_number` (replacing any earlier one).

        `display_name` is the name emergency services see with the address. A repeat sets
        the same address, so this is retried like an update, and a lost answer is
        settled by the retry's.

        Raises:
            InvalidInputError: an argument breaks its rule (the phone number is not E.164,
                the address misses a required field, the state is not two letters, the
                ZIP code not five digits); nothing was sent.
            InvalidArgumentError: the API refused the number or the address.
        """
        return await self._call(provision_address(phone_number, address, display_name), _address)

    async def deprovision(self, phone_number: str) -> None:
        """Remove the emergency address of `phone_number`.

        Retried like a release: when an attempt's answer was lost and the retry finds no
        address, the lost attempt removed it, and that is success.

        Raises:
            NotFoundError: the project does not own the number, or it has no address
                (and no earlier attempt of this call may have removed it).
        """
        return await self._call(deprovision_address(phone_number), _nothing)

    async def validate(
        self, phone_number: str, address: EmergencyAddress, *, display_name: str
    ) -> AddressValidation:
        """Check `address` for `phone_number`; nothing is provisioned.

        The result says `EXACT_MATCH`, `NEAR_MATCH` (with `corrected_address`) or
        `NO_MATCH` (with `candidate_addresses`). It changes nothing, so it is retried
        like a read.

        Raises:
            InvalidInputError: an argument breaks its rule; nothing was sent.
        """
        return await self._call(validate_address(phone_number, address, display_name), _validation)
