"""What a bulk job's results say about themselves: their properties, computed from their
fields (``_results`` has no other logic; mutmut does not mutate methods of attrs classes,
so these were checked by changing each line by hand)."""

from __future__ import annotations

import pytest

from numbers_async import ActiveNumber, ServerError
from numbers_async.bulk import (
    BulkFailure,
    BulkOutcome,
    BulkProgress,
    BulkReport,
    JournalFailure,
    JournalReport,
)

NUMBER = ActiveNumber(phone_number="+12065550100")
LOST = BulkFailure(item="+12065550101", error=ServerError(503), outcome_unknown=True)
REFUSED = BulkFailure(item="+12065550102", error=ServerError(500))


def test_an_outcome_is_ok_without_an_error() -> None:
    assert BulkOutcome(item="+12065550100", number=NUMBER).ok
    assert not BulkOutcome(item="+12065550101", error=ServerError(503)).ok


def test_progress_rate_is_items_done_per_second_so_far() -> None:
    progress = BulkProgress(None, done=30, succeeded=28, failed=2, total=100, elapsed=4.0)
    assert progress.rate == 7.5
    assert BulkProgress(None, done=0, succeeded=0, failed=0, total=None, elapsed=0.0).rate == 0.0


@pytest.mark.parametrize(
    ("failed", "stopped", "ok"),
    [([], False, True), ([REFUSED], False, False), ([], True, False)],
    ids=["all succeeded", "one failed", "stopped early"],
)
def test_a_report_is_ok_only_if_nothing_failed_and_it_was_not_stopped(
    failed: list[BulkFailure], stopped: bool, ok: bool
) -> None:
    report = BulkReport("release", [NUMBER], failed, elapsed=1.0, stopped=stopped)
    assert report.ok is ok


def test_a_reports_totals_and_rate() -> None:
    report = BulkReport("release", [NUMBER] * 3, [LOST, REFUSED], elapsed=0.5)
    assert (report.total, report.unknown, report.rate) == (5, 1, 10.0)
    assert BulkReport("release", [], [], elapsed=0.0).rate == 0.0


def test_a_journal_reports_pending_items_net_of_those_in_flight() -> None:
    failures = [
        JournalFailure(item="+12065550101", error="ServerError", outcome_unknown=True),
        JournalFailure(item="+12065550102", error="NotFoundError", status=404),
    ]
    report = JournalReport("release", "j.jsonl", 10, succeeded=5, failed=failures, in_flight=2)
    assert (report.pending, report.unknown) == (1, 1)
    assert JournalReport("release", "j.jsonl", None, succeeded=5, failed=[]).pending is None
    crowded = JournalReport("release", "j.jsonl", 3, succeeded=5, failed=[], in_flight=1)
    assert crowded.pending == 0  # never negative (another worker's items counted too)
