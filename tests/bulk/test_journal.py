"""The journal's verbs: each one's effect, seen in a journal reopened from its file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from numbers_async import ActiveNumber, NotFoundError, TransportError
from numbers_async.bulk._journal import Journal

PHONE = "+12065550100"
OTHER = "+12065550101"


async def reopen(path: Path, operation: str = "rent_any") -> Journal:
    return await Journal.open(path, operation, {})


async def written(path: Path, *verbs: Any) -> Journal:
    """Open a new journal, apply ``verbs`` (async functions of it), close it, reopen it."""
    journal = await reopen(path)
    try:
        for verb in verbs:
            await verb(journal)
    finally:
        await journal.aclose()
    return await reopen(path)


def last_line(path: Path) -> dict[str, Any]:
    line: dict[str, Any] = json.loads(path.read_text().splitlines()[-1])
    return line


async def test_a_new_journal_knows_nothing_of_any_item(tmp_path: Path) -> None:
    journal = await written(tmp_path / "j.jsonl")
    try:
        assert journal.status(PHONE) is None
        assert journal.succeeded(PHONE) is None
        assert journal.baseline is None
        assert journal.unknown_items() == []
    finally:
        await journal.aclose()


async def test_record_baseline_is_read_back_as_the_baseline(tmp_path: Path) -> None:
    async def verb(journal: Journal) -> None:
        await journal.record_baseline([OTHER, PHONE])

    journal = await written(tmp_path / "j.jsonl", verb)
    try:
        assert journal.baseline == frozenset({PHONE, OTHER})
    finally:
        await journal.aclose()


async def test_record_intent_leaves_the_item_unknown(tmp_path: Path) -> None:
    async def verb(journal: Journal) -> None:
        await journal.record_intent(PHONE)

    journal = await written(tmp_path / "j.jsonl", verb)
    try:
        assert journal.status(PHONE) == "unknown"
        assert journal.unknown_items() == [PHONE]
    finally:
        await journal.aclose()


async def test_record_success_is_read_back_with_its_number(tmp_path: Path) -> None:
    number = ActiveNumber(phone_number=PHONE, display_name="desk")

    async def verb(journal: Journal) -> None:
        await journal.record_intent(PHONE)
        await journal.record_success(PHONE, number)

    journal = await written(tmp_path / "j.jsonl", verb)
    try:
        assert journal.status(PHONE) == "succeeded"
        assert journal.succeeded(PHONE) == number
        assert journal.succeeded_phones() == {PHONE}
        assert journal.unknown_items() == []
    finally:
        await journal.aclose()


async def test_a_reconciled_success_says_so_in_its_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"

    async def verb(journal: Journal) -> None:
        await journal.record_success(3, ActiveNumber(phone_number=PHONE), reconciled=True)

    journal = await written(path, verb)
    await journal.aclose()
    assert last_line(path)["reconciled"] is True


async def test_record_failure_that_was_refused_reads_back_as_failed(tmp_path: Path) -> None:
    async def verb(journal: Journal) -> None:
        await journal.record_failure(PHONE, NotFoundError(404, message="gone"), unknown=False)

    path = tmp_path / "j.jsonl"
    journal = await written(path, verb)
    try:
        assert journal.status(PHONE) == "failed"
        assert journal.unknown_items() == []
    finally:
        await journal.aclose()
    line = last_line(path)
    assert (line["error"], line["status"], line["message"]) == (
        "NotFoundError",
        404,
        "HTTP 404: gone",
    )


async def test_record_failure_that_may_have_acted_reads_back_as_unknown(tmp_path: Path) -> None:
    async def verb(journal: Journal) -> None:
        await journal.record_intent(PHONE)
        await journal.record_failure(PHONE, TransportError("reset"), unknown=True)

    journal = await written(tmp_path / "j.jsonl", verb)
    try:
        assert journal.status(PHONE) == "unknown"
    finally:
        await journal.aclose()


async def test_a_success_is_not_undone_by_a_later_failure(tmp_path: Path) -> None:
    number = ActiveNumber(phone_number=PHONE)

    async def verb(journal: Journal) -> None:
        await journal.record_success(PHONE, number)
        await journal.record_failure(PHONE, NotFoundError(404), unknown=False)

    journal = await written(tmp_path / "j.jsonl", verb)
    try:
        assert journal.status(PHONE) == "succeeded"
        assert journal.succeeded(PHONE) == number
    finally:
        await journal.aclose()


async def test_a_failed_item_tried_again_is_unknown_once_its_intent_is_recorded(
    tmp_path: Path,
) -> None:
    async def verb(journal: Journal) -> None:
        await journal.record_failure(PHONE, NotFoundError(404), unknown=False)
        await journal.record_intent(PHONE)

    journal = await written(tmp_path / "j.jsonl", verb)
    try:
        assert journal.status(PHONE) == "unknown"
    finally:
        await journal.aclose()


async def test_forget_clears_an_unknown_item_for_this_run_only(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"

    async def verb(journal: Journal) -> None:
        await journal.record_intent(PHONE)
        journal.forget(PHONE)
        assert journal.status(PHONE) is None
        assert journal.unknown_items() == []

    journal = await written(path, verb)
    try:
        assert journal.status(PHONE) == "unknown"  # the proof is made again on a rerun
    finally:
        await journal.aclose()


async def test_forget_keeps_a_success(tmp_path: Path) -> None:
    async def verb(journal: Journal) -> None:
        await journal.record_success(PHONE, ActiveNumber(phone_number=PHONE))
        journal.forget(PHONE)
        assert journal.status(PHONE) == "succeeded"

    journal = await written(tmp_path / "j.jsonl", verb)
    await journal.aclose()


async def test_unknown_attempt_numbers_come_in_numeric_order(tmp_path: Path) -> None:
    async def verb(journal: Journal) -> None:
        for item in (10, 2, 1):
            await journal.record_intent(item)

    journal = await written(tmp_path / "j.jsonl", verb)
    try:
        assert journal.unknown_items() == [1, 2, 10]
    finally:
        await journal.aclose()
