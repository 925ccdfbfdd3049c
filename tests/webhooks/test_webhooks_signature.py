"""verify_signature and compute_signature: the X-Sinch-Signature HMAC-SHA1 check."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from numbers_async.errors import InvalidInputError
from numbers_async.webhooks import compute_signature, verify_signature

from .vectors import VECTOR_BODY, VECTOR_DIGEST, VECTOR_SECRET


def test_signature_of_the_documented_vector_is_the_documented_digest() -> None:
    assert compute_signature(VECTOR_BODY, VECTOR_SECRET) == VECTOR_DIGEST


def test_documented_vector_verifies() -> None:
    assert verify_signature(VECTOR_BODY, VECTOR_DIGEST, VECTOR_SECRET) is True


def test_uppercase_hex_signature_is_accepted() -> None:
    assert verify_signature(VECTOR_BODY, VECTOR_DIGEST.upper(), VECTOR_SECRET) is True


def test_surrounding_whitespace_in_the_header_is_ignored() -> None:
    assert verify_signature(VECTOR_BODY, f" {VECTOR_DIGEST}\t", VECTOR_SECRET) is True


def test_signature_under_another_secret_is_rejected() -> None:
    assert verify_signature(VECTOR_BODY, VECTOR_DIGEST, "another-secret") is False


def test_missing_signature_is_rejected() -> None:
    assert verify_signature(VECTOR_BODY, None, VECTOR_SECRET) is False


@pytest.mark.parametrize("signature", ["", "   "])
def test_empty_signature_is_rejected(signature: str) -> None:
    assert verify_signature(VECTOR_BODY, signature, VECTOR_SECRET) is False


def test_truncated_signature_is_rejected() -> None:
    assert verify_signature(VECTOR_BODY, VECTOR_DIGEST[:-1], VECTOR_SECRET) is False


@pytest.mark.parametrize(
    "signature",
    [
        "zz" * 20,  # right length, not hex
        "sha1=" + VECTOR_DIGEST,  # another provider's prefix style
        "dc5c24fef35df8f37273f3b3a802d2603d94302\u00e9",  # non-ASCII, right length
    ],
)
def test_malformed_signature_is_rejected_without_raising(signature: str) -> None:
    assert verify_signature(VECTOR_BODY, signature, VECTOR_SECRET) is False


def test_body_re_encoded_after_decoding_no_longer_verifies() -> None:
    re_encoded = json.dumps(json.loads(VECTOR_BODY)).encode()  # same JSON, other bytes

    assert verify_signature(re_encoded, VECTOR_DIGEST, VECTOR_SECRET) is False


@pytest.mark.parametrize("body", [bytearray(VECTOR_BODY), memoryview(VECTOR_BODY)])
def test_bytearray_and_memoryview_bodies_verify(body: bytearray | memoryview) -> None:
    assert verify_signature(body, VECTOR_DIGEST, VECTOR_SECRET) is True


@pytest.mark.parametrize("body", [VECTOR_BODY.decode(), json.loads(VECTOR_BODY)])
def test_decoded_body_raises_type_error_asking_for_the_raw_bytes(body: object) -> None:
    with pytest.raises(TypeError, match=r"raw request body as bytes.*exact bytes received"):
        verify_signature(body, VECTOR_DIGEST, VECTOR_SECRET)  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", ["", b"my-callback-secret"])
def test_empty_or_non_text_secret_is_refused_rather_than_used(secret: object) -> None:
    with pytest.raises(InvalidInputError, match="secret"):
        verify_signature(VECTOR_BODY, VECTOR_DIGEST, secret)  # type: ignore[arg-type]


def test_signature_that_is_not_text_raises_type_error() -> None:
    with pytest.raises(TypeError, match="signature"):
        verify_signature(VECTOR_BODY, VECTOR_DIGEST.encode(), VECTOR_SECRET)  # type: ignore[arg-type]


secrets = st.text(min_size=1)


@given(body=st.binary(), signature=st.none() | st.text(), secret=secrets)
def test_any_signature_verifies_exactly_when_it_is_the_digest_in_any_case(
    body: bytes, signature: str | None, secret: str
) -> None:
    expected = compute_signature(body, secret)
    matches = signature is not None and signature.strip().lower() == expected

    assert verify_signature(body, signature, secret) is matches


@given(body=st.binary(), secret=secrets, upper=st.booleans())
def test_the_right_digest_always_verifies(body: bytes, secret: str, upper: bool) -> None:
    digest = compute_signature(body, secret)

    assert verify_signature(body, digest.upper() if upper else digest, secret) is True


@given(body=st.binary(), secret=secrets, cut=st.integers(min_value=0, max_value=39))
def test_a_truncated_digest_never_verifies(body: bytes, secret: str, cut: int) -> None:
    assert verify_signature(body, compute_signature(body, secret)[:cut], secret) is False
