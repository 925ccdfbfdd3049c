"""``client.emergency_addresses``: requests, argument checks, the fake, retries and settling."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from numbers_async import (
    AddressValidation,
    AddressValidationResult,
    AmbiguousOutcomeError,
    EmergencyAddress,
    InvalidArgumentError,
    InvalidInputError,
    NotFoundError,
    NumbersClient,
    RetryPolicy,
)
from numbers_async import _emergency as emergency
from numbers_async._operations import Op
from numbers_async._retry import Safety, changes_state
from numbers_async.testing import FakeNumbersServer, Fault
from numbers_async.testing._emergency import validate as fake_validate

from .conftest import api_requests

PHONE = "+12025550134"
ADDRESS = EmergencyAddress(
    street_number="3500",
    street_info="Lenox Rd NE",
    city="Atlanta",
    state="GA",
    postal_code="30326",
)
WIRE_ADDRESS = {
    "streetNumber": "3500",
    "streetInfo": "Lenox Rd NE",
    "city": "Atlanta",
    "state": "GA",
    "postalCode": "30326",
}
# As the API answers it: the optional fields there, empty.
STORED = EmergencyAddress(
    street_number="3500",
    street_info="Lenox Rd NE",
    location="",
    city="Atlanta",
    state="GA",
    postal_code="30326",
    postal_code_plus_four="",
)
FAST_RETRY = RetryPolicy(backoff=0.001)


# --- requests -----------------------------------------------------------------------------------


def test_each_operation_has_its_method_path_and_body() -> None:
    get = emergency.get_address(PHONE)
    provision = emergency.provision_address(PHONE, ADDRESS, "Head office")
    deprovision = emergency.deprovision_address(PHONE)
    validate = emergency.validate_address(PHONE, ADDRESS, "Head office")

    assert (get.method, get.target, get.body) == (
        "GET",
        f"/activeNumbers/{PHONE}/emergencyAddress",
        None,
    )
    assert (deprovision.method, deprovision.target, deprovision.body) == (
        "POST",
        f"/activeNumbers/{PHONE}/emergencyAddress:deprovision",
        None,
    )
    body = {"displayName": "Head office", "address": WIRE_ADDRESS}
    assert (provision.method, provision.target, provision.json) == (
        "POST",
        f"/activeNumbers/{PHONE}/emergencyAddress:provision",
        body,
    )
    assert (validate.method, validate.target, validate.json) == (
        "POST",
        f"/activeNumbers/{PHONE}/emergencyAddress:validate",
        body,
    )
    assert [r.phone_number for r in (get, provision, deprovision, validate)] == [PHONE] * 4


def test_optional_fields_are_sent_when_given_and_the_state_upper_cased() -> None:
    address = EmergencyAddress(
        street_number="1",
        street_info="Broadway",
        location="Floor 2",
        city="Albany",
        state="ny",
        postal_code="12207",
        postal_code_plus_four="",
    )
    request = emergency.provision_address(PHONE, address, "Desk")
    assert request.json is not None
    assert request.json["address"] == {
        "streetNumber": "1",
        "streetInfo": "Broadway",
        "location": "Floor 2",
        "city": "Albany",
        "state": "NY",
        "postalCode": "12207",
        "postalCodePlusFour": "",
    }


def _with(**changes: Any) -> EmergencyAddress:
    import attrs

    return attrs.evolve(ADDRESS, **changes)


@pytest.mark.parametrize(
    ("phone", "address", "display_name", "argument", "rule"),
    [
        ("2025550134", ADDRESS, "HQ", "phone_number", "must be an E.164 phone number"),
        (PHONE, WIRE_ADDRESS, "HQ", "address", "must be an EmergencyAddress"),
        (PHONE, ADDRESS, "", "display_name", "must be a non-empty string"),
        (PHONE, ADDRESS, None, "display_name", "must be a non-empty string"),
        (PHONE, _with(street_number=None), "HQ", "address.street_number", "non-empty"),
        (PHONE, _with(street_info="  "), "HQ", "address.street_info", "non-empty"),
        (PHONE, _with(city=""), "HQ", "address.city", "non-empty"),
        (PHONE, _with(state=None), "HQ", "address.state", "non-empty"),
        (PHONE, _with(postal_code=None), "HQ", "address.postal_code", "non-empty"),
        (PHONE, _with(state="Georgia"), "HQ", "address.state", "two-letter code"),
        (PHONE, _with(postal_code="3032"), "HQ", "address.postal_code", "five-digit ZIP"),
        (PHONE, _with(postal_code="30326-4228"), "HQ", "address.postal_code", "five-digit"),
        (PHONE, _with(postal_code_plus_four="42"), "HQ", "address.postal_code_plus_four", "four"),
        (PHONE, _with(postal_code_plus_four=4228), "HQ", "address.postal_code_plus_four", "four"),
        (PHONE, _with(location=5), "HQ", "address.location", "must be a string"),
    ],
)
@pytest.mark.parametrize("build", [emergency.provision_address, emergency.validate_address])
def test_bad_arguments_are_refused_naming_them(
    build: Callable[[object, object, object], object],
    phone: str,
    address: object,
    display_name: object,
    argument: str,
    rule: str,
) -> None:
    with pytest.raises(InvalidInputError, match=rule) as caught:
        build(phone, address, display_name)
    assert caught.value.argument == argument


@pytest.mark.parametrize("build", [emergency.get_address, emergency.deprovision_address])
def test_a_phone_number_that_is_not_e164_is_refused(build: Callable[[object], object]) -> None:
    with pytest.raises(InvalidInputError) as caught:
        build("+1 202 555 0134")
    assert caught.value.argument == "phone_number"


async def test_nothing_is_sent_for_a_bad_argument(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    with pytest.raises(InvalidInputError):
        await client.emergency_addresses.provision(PHONE, _with(state="G"), display_name="HQ")
    with pytest.raises(InvalidInputError):
        await client.emergency_addresses.validate("12025550134", ADDRESS, display_name="HQ")
    assert fake.requests == []


def test_validation_messages_are_split() -> None:
    validation = AddressValidation(validation_message="Corrected|Abbreviated||")
    assert validation.messages == ("Corrected", "Abbreviated")
    assert AddressValidation().messages == ()


# --- against the fake server ------------------------------------------------------------------


@pytest.fixture
def owned(fake: FakeNumbersServer) -> str:
    (phone,) = fake.add_active_numbers(1)
    return phone


async def test_validate_provision_get_and_deprovision(
    fake: FakeNumbersServer, client: NumbersClient, owned: str
) -> None:
    sent = _with(street_info="Lenox Road NE")

    validation = await client.emergency_addresses.validate(owned, sent, display_name="HQ")

    assert validation.validation_result is AddressValidationResult.NEAR_MATCH
    assert validation.messages == ("Corrected to valid address", "Corrected address abbreviations")
    assert validation.corrected_address == STORED
    assert validation.candidate_addresses == ()
    assert owned not in fake.emergency_addresses  # validating changes nothing

    assert validation.corrected_address is not None
    provisioned = await client.emergency_addresses.provision(
        owned, validation.corrected_address, display_name="HQ"
    )
    assert provisioned == STORED
    assert await client.emergency_addresses.get(owned) == STORED

    await client.emergency_addresses.deprovision(owned)
    assert owned not in fake.emergency_addresses
    with pytest.raises(NotFoundError):
        await client.emergency_addresses.get(owned)


async def test_provision_replaces_the_earlier_address(
    fake: FakeNumbersServer, client: NumbersClient, owned: str
) -> None:
    await client.emergency_addresses.provision(owned, ADDRESS, display_name="HQ")
    moved = _with(street_number="3600", postal_code_plus_four="4228")
    await client.emergency_addresses.provision(owned, moved, display_name="HQ")

    stored = await client.emergency_addresses.get(owned)
    assert (stored.street_number, stored.postal_code_plus_four) == ("3600", "4228")


async def test_an_invalid_address_is_refused_by_the_api(client: NumbersClient, owned: str) -> None:
    validation = await client.emergency_addresses.validate(
        owned, _with(state="ZZ"), display_name="HQ"
    )
    assert validation.validation_result is AddressValidationResult.NO_MATCH
    with pytest.raises(InvalidArgumentError, match="Invalid address"):
        await client.emergency_addresses.provision(owned, _with(state="ZZ"), display_name="HQ")


@pytest.mark.parametrize(
    "options",
    [{"region_code": "GB", "number_type": "LOCAL", "prefix": "+44"}, {"capability": ("SMS",)}],
    ids=["not-us", "not-voice"],
)
@pytest.mark.parametrize(
    "call",
    [
        lambda c, p: c.emergency_addresses.get(p),
        lambda c, p: c.emergency_addresses.provision(p, ADDRESS, display_name="HQ"),
        lambda c, p: c.emergency_addresses.deprovision(p),
        lambda c, p: c.emergency_addresses.validate(p, ADDRESS, display_name="HQ"),
    ],
    ids=["get", "provision", "deprovision", "validate"],
)
async def test_only_us_voice_numbers_have_an_emergency_address(
    fake: FakeNumbersServer,
    client: NumbersClient,
    options: dict[str, Any],
    call: Callable[[NumbersClient, str], Awaitable[object]],
) -> None:
    (phone,) = fake.add_active_numbers(1, **options)
    with pytest.raises(InvalidArgumentError) as caught:
        await call(client, phone)
    assert caught.value.field_violations[0].field == "phone_number"
    assert "US numbers with the VOICE capability" in str(caught.value)


async def test_a_number_the_project_does_not_own_is_not_found(client: NumbersClient) -> None:
    with pytest.raises(NotFoundError, match="not found"):
        await client.emergency_addresses.get("+12025550199")


async def test_deprovisioning_a_number_without_an_address_is_not_found(
    client: NumbersClient, owned: str
) -> None:
    with pytest.raises(NotFoundError, match="No emergency address"):
        await client.emergency_addresses.deprovision(owned)


async def test_a_released_number_takes_its_address_with_it(
    fake: FakeNumbersServer, client: NumbersClient
) -> None:
    number = await client.available_numbers.rent_any("US", "LOCAL", capabilities="VOICE")
    await client.emergency_addresses.provision(number.phone_number, ADDRESS, display_name="HQ")
    await client.active_numbers.release(number.phone_number)
    assert fake.emergency_addresses == {}


# --- the fake's validation rules ---------------------------------------------------------------


def _fake_address(**changes: str) -> dict[str, str]:
    return {**dict.fromkeys(("location", "postalCodePlusFour"), ""), **WIRE_ADDRESS, **changes}


@pytest.mark.parametrize(
    ("changes", "result", "corrected_street"),
    [
        ({}, "EXACT_MATCH", "Lenox Rd NE"),
        ({"streetInfo": "Lenox Road Northeast"}, "NEAR_MATCH", "Lenox Rd NE"),
        ({"state": "ga"}, "NEAR_MATCH", "Lenox Rd NE"),
        ({"state": "XX"}, "NO_MATCH", ""),
        ({"postalCode": "3032"}, "NO_MATCH", ""),
    ],
)
def test_the_fake_validates_by_three_rules(
    changes: dict[str, str], result: str, corrected_street: str
) -> None:
    answer = fake_validate(PHONE, "HQ", _fake_address(**changes))
    assert answer["validationResult"] == result
    assert answer["correctedAddress"]["streetInfo"] == corrected_street
    assert answer["validatedAddress"] == _fake_address(**changes)
    assert answer["candidateAddresses"] == []


# --- retries and settling -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "changes"),
    [
        (Op.GET_EMERGENCY_ADDRESS, False),
        (Op.PROVISION_EMERGENCY_ADDRESS, True),
        (Op.DEPROVISION_EMERGENCY_ADDRESS, True),
        (Op.VALIDATE_EMERGENCY_ADDRESS, False),  # a POST that changes nothing
    ],
)
def test_every_emergency_operation_is_retried_as_idempotent(op: Op, changes: bool) -> None:
    request = {
        Op.GET_EMERGENCY_ADDRESS: emergency.get_address(PHONE),
        Op.PROVISION_EMERGENCY_ADDRESS: emergency.provision_address(PHONE, ADDRESS, "HQ"),
        Op.DEPROVISION_EMERGENCY_ADDRESS: emergency.deprovision_address(PHONE),
        Op.VALIDATE_EMERGENCY_ADDRESS: emergency.validate_address(PHONE, ADDRESS, "HQ"),
    }[op]
    assert request.op is op
    assert request.safety is Safety.IDEMPOTENT
    assert changes_state(op.value) is changes


@pytest.mark.parametrize("fault", [Fault.status(503), Fault.reset_before()], ids=repr)
async def test_a_failed_get_is_retried(fake: FakeNumbersServer, owned: str, fault: Fault) -> None:
    fake.emergency_addresses[owned] = _fake_address()
    fake.inject(fault, route="get_emergency_address")
    async with fake.client(retry=FAST_RETRY) as client:
        assert await client.emergency_addresses.get(owned) == STORED
    assert api_requests(fake) == ["get_emergency_address"] * 2


@pytest.mark.parametrize(
    "fault", [Fault.reset_after(), Fault.status_after(503), Fault.truncated_json()], ids=repr
)
async def test_a_provision_whose_answer_was_lost_is_settled_by_the_retry(
    fake: FakeNumbersServer, owned: str, fault: Fault
) -> None:
    fake.inject(fault, route="provision_emergency_address")
    async with fake.client(retry=FAST_RETRY) as client:
        provisioned = await client.emergency_addresses.provision(owned, ADDRESS, display_name="HQ")
    assert provisioned == STORED
    assert api_requests(fake) == ["provision_emergency_address"] * 2
    assert fake.emergency_addresses == {owned: _fake_address()}


@pytest.mark.parametrize(
    ("fault", "first"), [(Fault.reset_after(), 0), (Fault.status_after(502), 502)], ids=repr
)
async def test_a_deprovision_whose_answer_was_lost_is_settled_by_the_retrys_404(
    fake: FakeNumbersServer, owned: str, fault: Fault, first: int
) -> None:
    fake.emergency_addresses[owned] = _fake_address()
    fake.inject(fault, route="deprovision_emergency_address")
    async with fake.client(retry=FAST_RETRY) as client:
        await client.emergency_addresses.deprovision(owned)  # no error: done
    statuses = [r.status for r in fake.requests_for("deprovision_emergency_address")]
    assert statuses == [first, 404]  # 0: the connection was dropped after the work
    assert fake.emergency_addresses == {}


async def test_a_deprovision_refused_by_a_400_after_a_maybe_processed_attempt_is_not_done(
    fake: FakeNumbersServer,
) -> None:
    # Only a 404 means "already removed"; a 400 is the API refusing the number, so the
    # outcome of the earlier attempt stays unknown.
    (phone,) = fake.add_active_numbers(1, capability=("SMS",))
    fake.inject(Fault.status(503), route="deprovision_emergency_address")
    async with fake.client(retry=FAST_RETRY) as client:
        with pytest.raises(AmbiguousOutcomeError) as caught:
            await client.emergency_addresses.deprovision(phone)
    assert isinstance(caught.value.__cause__, InvalidArgumentError)


async def test_a_provision_that_may_have_acted_then_was_refused_is_ambiguous(
    fake: FakeNumbersServer, owned: str
) -> None:
    fake.inject(Fault.status_after(503), route="provision_emergency_address")
    fake.inject(Fault.status(400), route="provision_emergency_address")
    async with fake.client(retry=FAST_RETRY) as client:
        with pytest.raises(AmbiguousOutcomeError):
            await client.emergency_addresses.provision(owned, ADDRESS, display_name="HQ")


async def test_a_validate_that_may_have_been_processed_then_was_refused_is_not_ambiguous(
    fake: FakeNumbersServer, owned: str
) -> None:
    # Validating changes nothing: its outcome is what the last answer says, as for a read.
    fake.inject(Fault.status_after(503), route="validate_emergency_address")
    fake.inject(Fault.status(400), route="validate_emergency_address")
    async with fake.client(retry=FAST_RETRY) as client:
        with pytest.raises(InvalidArgumentError):
            await client.emergency_addresses.validate(owned, ADDRESS, display_name="HQ")
    assert api_requests(fake) == ["validate_emergency_address"] * 2


async def test_a_validate_whose_answer_was_lost_is_retried(
    fake: FakeNumbersServer, owned: str
) -> None:
    fake.inject(Fault.reset_after(), route="validate_emergency_address")
    async with fake.client(retry=FAST_RETRY) as client:
        validation = await client.emergency_addresses.validate(owned, ADDRESS, display_name="HQ")
    assert validation.validation_result is AddressValidationResult.EXACT_MATCH
