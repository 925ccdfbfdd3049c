"""The numbers-async command, run as a subprocess the way people run it.

Most tests share one ``numbers-async fake-server`` process (it starts owning 30 numbers)
and point the command at it through the ``SINCH_*`` variables.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from numbers_async.cli import main

CLI = [sys.executable, "-W", "error", "-m", "numbers_async"]
ROOT = Path(__file__).parent.parent
ACTIVE_AT_START = 30


class Server:
    """A ``numbers-async fake-server`` child process."""

    def __init__(self, *options: str) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*CLI, "fake-server", "--port", "0", *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env({}),
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        self.url = first.rsplit(" ", 1)[-1].strip()
        assert self.url.startswith("http://127.0.0.1:"), first
        self.env = {
            "SINCH_NUMBERS_URL": self.url,
            "SINCH_AUTH_URL": self.url + "/oauth2/token",
            "SINCH_PROJECT_ID": "fake-project",
            "SINCH_KEY_ID": "fake-key-id",
            "SINCH_KEY_SECRET": "fake-key-secret",
        }

    def stop(self) -> str:
        """Stop it with Ctrl-C; return what it printed."""
        self.process.send_signal(signal.SIGINT)
        out, err = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, err
        return out


def _env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SINCH_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return {**env, **extra}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    fake = Server("--active", str(ACTIVE_AT_START), "--provisioning-delay", "0.2")
    yield fake
    fake.stop()


def cli(
    *args: str, server: Server | None = None, stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    # stdin is never the terminal pytest may run in: a confirming command would ask there.
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [*CLI, *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(server.env if server else {}),
        check=False,
    )


def ok_json(*args: str, server: Server) -> Any:
    result = cli(*args, "--json", server=server)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


FAKE_NOTE = "numbers-async: --fake: "


def without_fake_note(stderr: str) -> str:
    """stderr less the one line ``--fake`` starts with (what state the fake is in)."""
    return "".join(line for line in stderr.splitlines(True) if not line.startswith(FAKE_NOTE))


def assert_usage_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    stderr = without_fake_note(result.stderr)
    assert stderr.startswith("numbers-async: error: ")
    assert stderr.count("\n") == 1  # one line, no traceback
    for word in words:
        assert word in stderr


def is_active_number(data: Any) -> bool:
    return isinstance(data, dict) and re.fullmatch(r"\+\d+", data["phoneNumber"]) is not None


# --- every operation --------------------------------------------------------------------------


def test_every_operation_prints_the_documented_json(server: Server) -> None:
    regions = ok_json("regions", "--type", "LOCAL", server=server)
    assert {r["regionCode"] for r in regions} >= {"US", "GB"}
    assert all("LOCAL" in r["types"] for r in regions)

    found = ok_json("search", "US", "LOCAL", "--capability", "SMS", "--size", "3", server=server)
    assert len(found) == 3
    assert all("SMS" in n["capability"] for n in found)
    phone = found[0]["phoneNumber"]

    available = ok_json("get-available", phone, server=server)
    assert available["phoneNumber"] == phone
    assert available["monthlyPrice"] == {"currencyCode": "USD", "amount": "2.00"}

    rented = ok_json("rent", phone, "--sms-service-plan", "plan-1", "--yes", server=server)
    assert rented["phoneNumber"] == phone
    assert rented["smsConfiguration"]["scheduledProvisioning"]["servicePlanId"] == "plan-1"

    anyone = ok_json("rent-any", "US", "LOCAL", "--pattern", "+1", "-y", server=server)
    assert is_active_number(anyone)
    assert anyone["phoneNumber"] != phone

    assert ok_json("get", phone, server=server)["phoneNumber"] == phone
    updated = ok_json("update", phone, "--display-name", "Support", server=server)
    assert updated["displayName"] == "Support"
    released = ok_json("release", anyone["phoneNumber"], "--yes", server=server)
    assert released["expireAt"]

    secret = "0123456789abcdef0123456789abcdef"
    updated_config = cli("update-callbacks", "-", "--json", server=server, stdin=secret + "\n")
    assert (updated_config.returncode, updated_config.stderr) == (0, "")
    config = json.loads(updated_config.stdout)
    assert config == {"projectId": "fake-project", "hmacSecret": "******** (32 characters)"}
    shown = ok_json("get-callbacks", "--show-secret", server=server)
    assert shown["hmacSecret"] == secret


def test_list_prints_one_page_and_its_token(server: Server) -> None:
    page = ok_json("list", "--page-size", "4", "--order-by", "phoneNumber", server=server)
    assert set(page) == {"activeNumbers", "nextPageToken", "totalSize"}
    assert len(page["activeNumbers"]) == 4
    assert page["nextPageToken"]
    assert page["totalSize"] >= ACTIVE_AT_START

    following = ok_json(
        "list", "--page-size", "4", "--page-token", page["nextPageToken"], server=server
    )
    first = {n["phoneNumber"] for n in page["activeNumbers"]}
    assert first.isdisjoint(n["phoneNumber"] for n in following["activeNumbers"])


def test_list_all_walks_every_page_with_a_progress_bar(server: Server) -> None:
    result = cli("list", "--all", "--page-size", "7", "--json", "--progress", server=server)
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    assert listing["nextPageToken"] is None
    assert len(listing["activeNumbers"]) == listing["totalSize"] >= ACTIVE_AT_START
    assert all(is_active_number(n) for n in listing["activeNumbers"])
    assert "/s" in result.stderr  # the bar's rate column
    assert "ETA" in result.stderr


def test_tables_and_csv_for_people_and_scripts(server: Server) -> None:
    human = cli("list", "--page-size", "3", server=server)
    assert human.returncode == 0, human.stderr
    header = human.stdout.splitlines()[0].split()
    assert header[:3] == ["number", "name", "region"]
    assert re.search(r"^3 numbers of \d+; more with --page-token ", human.stdout, re.M)

    spreadsheet = cli("list", "--max-items", "3", "--csv", server=server)
    assert spreadsheet.returncode == 0, spreadsheet.stderr
    rows = spreadsheet.stdout.splitlines()
    assert rows[0].startswith("phoneNumber,displayName,regionCode,type,capability,")
    assert len(rows) == 4


# --- bulk jobs --------------------------------------------------------------------------------


def test_bulk_release_reads_a_file_and_reports_each_failure(server: Server, tmp_path: Path) -> None:
    owned = [
        n["phoneNumber"]
        for n in ok_json("list", "--max-items", "5", server=server)["activeNumbers"]
    ]
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("# to release\n" + "\n".join(owned) + "\n+19995550000, not ours\n\n")

    result = cli("bulk-release", str(numbers), "--json", "--yes", server=server)

    assert result.returncode == 1  # one item failed
    report = json.loads(result.stdout)
    assert report["operation"] == "release"
    assert (report["ok"], report["total"], report["succeeded"], report["failed"]) == (
        False,
        6,
        5,
        1,
    )
    assert sorted(report["numbers"]) == sorted(owned)
    assert report["failures"] == [
        {
            "item": "+19995550000",
            "error": "NotFoundError",
            "status": 404,
            "message": report["failures"][0]["message"],
            "outcomeUnknown": False,
        }
    ]
    assert set(report) >= {"interrupted", "unknown", "resumed", "elapsed", "rate", "journal"}


def test_bulk_update_reads_stdin_and_streams_csv(server: Server) -> None:
    listing = cli("list", "--max-items", "4", "--csv", server=server).stdout
    phones = [line.split(",")[0] for line in listing.splitlines()[1:]]
    assert len(phones) == 4
    csv_in = "phoneNumber,displayName\n" + "\n".join(f"{p},old" for p in phones) + "\n"

    result = cli("bulk-update", "--display-name", "Fleet", "--csv", server=server, stdin=csv_in)

    assert result.returncode == 0, result.stderr
    rows = [line.split(",") for line in result.stdout.splitlines()]
    assert rows[0] == ["item", "outcome", "phoneNumber", "resumed", "error", "status", "message"]
    assert sorted(r[0] for r in rows[1:]) == sorted(phones)
    assert {r[1] for r in rows[1:]} == {"succeeded"}
    assert "bulk-update: 4 succeeded, 0 failed" in result.stderr  # the summary, off stdout


def test_bulk_rent_and_rent_any_with_a_human_summary(server: Server, tmp_path: Path) -> None:
    found = ok_json("search", "US", "LOCAL", "--size", "3", server=server)
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("\n".join(n["phoneNumber"] for n in found) + "\n")

    rent = cli("bulk-rent", str(numbers), "--sms-service-plan", "p", "--yes", server=server)
    assert rent.returncode == 0, rent.stderr
    assert rent.stdout.startswith("bulk-rent: 3 succeeded, 0 failed; 3 in ")

    rent_any = cli(
        "bulk-rent-any", "4", "US", "LOCAL", "--concurrency", "2", "--yes", server=server
    )
    assert rent_any.returncode == 0, rent_any.stderr
    assert rent_any.stdout.startswith("bulk-rent-any: 4 succeeded, 0 failed; 4 in ")


def test_a_journal_refuses_another_kind_of_job_with_exit_2(server: Server, tmp_path: Path) -> None:
    journal = tmp_path / "job.jsonl"
    numbers = tmp_path / "none.txt"
    numbers.write_text("")
    assert (
        cli(
            "bulk-release", str(numbers), "--journal", str(journal), "--yes", server=server
        ).returncode
        == 0
    )
    result = cli("bulk-rent", str(numbers), "--journal", str(journal), "--yes", server=server)
    assert_usage_error(result, "bulk release job; it cannot drive a bulk rent job")


def last_events(journal: Path) -> dict[Any, str]:
    """Each item's last journal event (a line torn by kill -9 is skipped)."""
    events = {}
    for line in journal.read_text().splitlines()[1:]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if "item" in entry:
            events[entry["item"]] = entry["event"]
    return events


def interrupt_until_exit(job: subprocess.Popen[str]) -> None:
    """Ctrl-C held down: SIGINT every 10 ms until the process has exited."""
    while job.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            job.send_signal(signal.SIGINT)
        time.sleep(0.01)


@pytest.mark.parametrize("stop", ["ctrl-c", "ctrl-c-twice", "ctrl-c-held", "kill-9"])
def test_an_interrupted_bulk_job_resumes_from_its_journal(tmp_path: Path, stop: str) -> None:
    """Ctrl-C (once, twice, held down) or kill -9 mid-job, then rerun: every number rented
    exactly once, and the interrupted run always ends with exit 130 and its summary."""
    count = 40
    rent_40 = ["bulk-rent-any", str(count), "US", "LOCAL", "--yes"]
    # Ctrl-C twice must land while requests are still in flight: they take 0.3 s there.
    server = Server("--latency", "0.3" if stop == "ctrl-c-twice" else "0.1")
    journal = tmp_path / "rent.jsonl"
    try:
        job = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            # --timeout: the rerun waits at most one attempt's limit for the killed run.
            [*CLI, *rent_40, "--concurrency", "4", "--journal", str(journal), "--timeout", "3"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(server.env),
        )
        assert job.stderr is not None
        for _ in range(1000):
            # Some numbers rented, and a request in flight (its intent is journaled
            # before it is sent): the press lands mid-request, not between batches.
            events = list(last_events(journal).values()) if journal.exists() else []
            if events.count("succeeded") >= 8 and "intent" in events:
                break
            time.sleep(0.01)
        seen = ""
        if stop == "kill-9":
            job.kill()
        else:
            job.send_signal(signal.SIGINT)
        if stop == "ctrl-c-twice":
            # Once the first press has been handled (its line is out), press again.
            while "stopping: waiting for" not in seen:
                line = job.stderr.readline()
                assert line, "the job ended before it acknowledged the first Ctrl-C"
                seen += line
            job.send_signal(signal.SIGINT)
        if stop == "ctrl-c-held":
            interrupt_until_exit(job)
        out, err = job.communicate(timeout=30)
        err = seen + err
        last = last_events(journal)
        if stop == "kill-9":
            assert job.returncode == -signal.SIGKILL
        else:
            assert job.returncode == 130, (job.returncode, err)
            assert "Traceback" not in err
            assert "stopping: waiting for" in err
            assert "rerun the same command with --journal" in out
            assert "bulk-rent-any: " in out  # the summary
        if stop == "ctrl-c":
            assert "interrupted: stopped;" in out
            assert "intent" not in last.values()  # stopped cleanly: every request settled
        if stop == "ctrl-c-twice":
            assert "interrupted: abandoned the requests in flight;" in out
            assert "intent" in last.values(), (out, err)  # settled by the rerun
            # The 8+ rented before the first press are in the summary, even those the
            # job had reached but not yet reported when it was abandoned.
            counted = re.search(r"bulk-rent-any: (\d+) succeeded", out)
            assert counted is not None
            assert int(counted.group(1)) >= 8, out
        assert len(last) < count

        rerun = cli(
            "bulk-rent-any",
            str(count),
            "US",
            "LOCAL",
            "--journal",
            str(journal),
            "--json",
            "--yes",
            server=server,
        )
        assert rerun.returncode == 0, rerun.stderr
        report = json.loads(rerun.stdout)
        assert report["ok"]
        assert report["succeeded"] == count
        assert report["resumed"] >= 8
        assert len(set(report["numbers"])) == count
    finally:
        summary = server.stop()
    assert f"{count} rents of {count} numbers, no number rented twice" in summary


def test_ctrl_c_while_a_bulk_job_waits_for_its_next_line_on_stdin_stops_it(
    tmp_path: Path,
) -> None:
    """Numbers piped in by a writer that has gone quiet: Ctrl-C ends the job now, not
    when (if ever) the next line comes."""
    journal = tmp_path / "update.jsonl"
    job = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [*CLI, "--fake", "bulk-update", "--display-name", "x", "--journal", str(journal)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env({}),
    )
    assert job.stdin is not None
    try:
        job.stdin.write("+19995550000\n")  # not the project's: fails at once (404)
        job.stdin.flush()
        for _ in range(3000):  # the job has its outcome, and waits for the next line
            if journal.exists() and "failed" in last_events(journal).values():
                break
            time.sleep(0.01)
        assert last_events(journal) == {"+19995550000": "failed"}
        job.send_signal(signal.SIGINT)
        # Ends within a second; 30 s means it waits for a line that never comes. (Not
        # communicate(): it would close stdin, and the end of input would end the job.)
        job.wait(timeout=30)
    finally:
        if job.poll() is None:
            job.kill()
        out, err = job.communicate()  # stdin stays open until the job has ended
    assert job.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted: stopped;" in out


# --- usage errors -----------------------------------------------------------------------------


def test_bad_arguments_exit_2_with_one_line() -> None:
    assert_usage_error(cli("frobnicate"), "invalid choice: 'frobnicate'")
    assert_usage_error(cli("search", "US"), "required: type")
    assert_usage_error(cli("bulk-release", "--concurrency", "0", "--fake"), "--concurrency")
    assert_usage_error(cli("--fake", "get", "12025550134"), "phone_number", "E.164")


def test_missing_credentials_exit_2_with_one_line() -> None:
    assert_usage_error(cli("regions"), "missing credentials", "SINCH_PROJECT_ID", "--fake")


def test_an_api_error_exits_1_with_one_line_to_quote(server: Server) -> None:
    result = cli("get", "+19995550000", server=server)
    assert result.returncode == 1
    # What failed, where, and the request id to quote to Sinch support.
    assert re.fullmatch(
        r"numbers-async: error: active_numbers\.get: GET /v1/projects/[\w-]+/activeNumbers/"
        r"\+19995550000: HTTP 404 NOT_FOUND: Number \+19995550000 not found "
        r"\(request id [0-9a-f]{32}\)\n",
        result.stderr,
    ), result.stderr


def test_verbose_shows_each_attempt_and_its_request_id(server: Server) -> None:
    result = cli("get-callbacks", "--verbose", server=server)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    attempts = [line for line in lines if line.startswith("numbers_async.http: ")]
    assert [line.split(" attempt ")[0] for line in attempts] == [
        "numbers_async.http: oauth2.token",
        "numbers_async.http: callbacks.get",
    ]
    assert re.fullmatch(
        r"numbers_async\.http: callbacks\.get attempt 1: GET /v1/projects/fake-project/"
        r"callbackConfiguration -> 200 in [\d.]+ ms \(request id [0-9a-f]{32}\)",
        attempts[1],
    ), attempts
    assert "fake-key-secret" not in result.stderr
    quiet = cli("get-callbacks", server=server)
    assert quiet.stderr == ""


def test_verbose_shows_a_failing_attempt_with_its_request_id(server: Server) -> None:
    result = cli("-v", "get", "+19995550000", server=server)
    assert result.returncode == 1
    assert re.search(
        r"active_numbers\.get attempt 1: GET \S+ -> 404 \(NotFoundError\) in [\d.]+ ms "
        r"\(request id (?P<id>[0-9a-f]{32})\)",
        result.stderr,
    )
    assert result.stderr.splitlines()[-1].startswith("numbers-async: error: active_numbers.get")


# --- demo and fake-server ---------------------------------------------------------------------


def test_demo_shows_bulk_jobs_and_a_summary() -> None:
    result = cli("demo", "--count", "40", "--latency", "0")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in ("[1] Regions", "[2] Search 40", "[3] Bulk rent", "[4] Rerun", "[8] Summary"):
        assert step in out
    assert "the fake's rent counter says every number was rented exactly once: True" in out
    assert "40 numbers in 1 page." in out
    assert "The project now owns 0 numbers." in out
    assert re.search(r"^release\s+40\s+40\s+0\s", out, re.M)
    assert "every number rented exactly once: True." in out
    assert result.stderr == ""


def test_python_dash_m_and_version() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert re.fullmatch(r"numbers-async \d+\.\d+\.\d+.*\n", result.stdout)


def test_fake_server_prints_where_to_connect_and_a_summary() -> None:
    fake = Server("--active", "2")
    listing = ok_json("list", server=fake)
    assert listing["totalSize"] == 2
    assert "fake server stopped: 1 API requests, 0 rents of 0 numbers" in fake.stop()


# --- in process (measured by coverage) ----------------------------------------------------------


@pytest.fixture
def connected(server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    return server


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_in_process_every_operation_as_a_table(
    connected: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_main(capsys, "search", "US", "LOCAL", "--size", "2", "--pattern", "+1")
    assert code == 0
    phone = out.splitlines()[2].split()[0]
    for args in (
        ["regions"],
        ["get-available", phone],
        [
            "rent",
            phone,
            "--yes",
            "--voice-app",
            "app-1",
            "--callback-url",
            "https://example.com/cb",
        ],
        ["get", phone],
        [
            "update",
            phone,
            "--display-name",
            "Desk",
            "--sms-service-plan",
            "plan-1",
            "--sms-campaign",
            "c-1",
        ],
        [
            "rent-any",
            "--yes",
            "US",
            "LOCAL",
            "--capability",
            "sms",
            "--pattern",
            "+1",
            "--search-pattern",
            "start",
        ],
        ["list", "--region", "US", "--type", "LOCAL", "--capability", "SMS", "--page-size", "5"],
        ["get-callbacks"],
        ["release", phone, "--yes"],
    ):
        code, out, err = run_main(capsys, *args)
        assert code == 0, (args, err)
        assert out.splitlines()[1].startswith("---"), args  # a table under its header
    code, out, _ = run_main(capsys, "get", "+19995550000")
    assert code == 1


def test_in_process_csv_output(connected: Server, capsys: pytest.CaptureFixture[str]) -> None:
    for args, header in (
        (["regions", "--csv"], "regionCode,regionName,types"),
        (["search", "US", "LOCAL", "--size", "1", "--csv"], "phoneNumber,regionCode,type"),
        (["get-callbacks", "--csv"], "projectId,hmacSecret"),
        (["list", "--max-items", "1", "--csv"], "phoneNumber,displayName"),
    ):
        code, out, err = run_main(capsys, *args)
        assert code == 0, err
        assert out.startswith(header)


def test_in_process_voice_types_are_sent_and_shown(
    connected: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(capsys, "rent-any", "US", "LOCAL", "--voice-trunk", "t-1", "--yes")
    assert code == 0, err
    voice = [line for line in out.splitlines() if line.startswith("voice")]
    assert voice == ["voice         WAITING -> EST t-1"]
    phone = out.splitlines()[2].split()[1]

    code, out, _ = run_main(capsys, "update", phone, "--voice-fax-service", "f-1", "--json")
    assert code == 0
    scheduled = json.loads(out)["voiceConfiguration"]["scheduledVoiceProvisioning"]
    assert (scheduled["type"], scheduled["serviceId"]) == ("FAX", "f-1")

    for _ in range(100):  # the server completes provisioning after 0.2 s
        code, out, _ = run_main(capsys, "get", phone, "--csv")
        row = dict(zip(*(line.split(",") for line in out.splitlines()), strict=True))
        if row["voiceType"] == "FAX":
            break
        time.sleep(0.05)
    assert (row["voiceType"], row["voiceServiceId"], row["voiceAppId"]) == ("FAX", "f-1", "")
    assert row["voiceTrunkId"] == ""
    code, out, _ = run_main(capsys, "get", phone, "--json")
    assert json.loads(out)["voiceConfiguration"] == {"type": "FAX", "serviceId": "f-1"}


def test_in_process_only_one_voice_option_is_taken(
    connected: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(
        capsys, "update", "+12025550100", "--voice-app", "a", "--voice-trunk", "t"
    )
    assert code == 2
    assert "not allowed with argument --voice-app" in err


ADDRESS_OPTIONS = (
    "--display-name",
    "Head office",
    "--street-number",
    "3500",
    "--street-info",
    "Lenox Road NE",
    "--city",
    "Atlanta",
    "--state",
    "ga",
    "--postal-code",
    "30326",
)


def test_in_process_emergency_address_commands(
    connected: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(
        capsys, "rent-any", "US", "LOCAL", "--capability", "VOICE", "--yes", "--json"
    )
    assert code == 0, err
    phone = json.loads(out)["phoneNumber"]

    code, out, err = run_main(capsys, "validate-emergency-address", phone, *ADDRESS_OPTIONS)
    assert code == 0, err
    assert "NEAR_MATCH" in out
    assert "3500 Lenox Rd NE, Atlanta, GA 30326" in out  # the correction, on one line

    code, out, err = run_main(
        capsys, "provision-emergency-address", phone, *ADDRESS_OPTIONS[:5], "Lenox Rd NE",
        *ADDRESS_OPTIONS[6:], "--location", "Suite 4", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out) == {
        "streetNumber": "3500",
        "streetInfo": "Lenox Rd NE",
        "location": "Suite 4",
        "city": "Atlanta",
        "state": "GA",
        "postalCode": "30326",
        "postalCodePlusFour": "",
    }

    code, out, _ = run_main(capsys, "get-emergency-address", phone, "--csv")
    assert out.splitlines() == [
        "streetNumber,streetInfo,location,city,state,postalCode,postalCodePlusFour",
        "3500,Lenox Rd NE,Suite 4,Atlanta,GA,30326,",
    ]
    code, out, _ = run_main(capsys, "get-emergency-address", phone)
    assert "street         Lenox Rd NE" in out

    code, out, _ = run_main(capsys, "deprovision-emergency-address", phone, "--yes", "--json")
    assert (code, json.loads(out)) == (0, {"phoneNumber": phone, "emergencyAddress": None})
    code, _, err = run_main(capsys, "get-emergency-address", phone)
    assert code == 1
    assert "404 NOT_FOUND" in err


def test_in_process_a_bad_address_is_a_usage_error_before_anything_is_sent(
    connected: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    options = list(ADDRESS_OPTIONS)
    options[-1] = "3032"  # four digits
    code, _, err = run_main(capsys, "provision-emergency-address", "+12025550100", *options)
    assert code == 2
    assert "address.postal_code: must be a five-digit ZIP code" in err


def test_in_process_update_callbacks_reads_the_secret_from_stdin(
    connected: Server, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("abcdefghij-abcdefghij-abcdefghij\n"))
    code, out, _ = run_main(capsys, "update-callbacks", "-", "--json")
    assert code == 0
    assert json.loads(out)["hmacSecret"] == "******** (32 characters)"


def test_in_process_bulk_jobs(
    connected: Server,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    code, out, _ = run_main(capsys, "list", "--max-items", "3", "--csv")
    phones = [line.split(",")[0] for line in out.splitlines()[1:]]
    strangers = [f"+1999555{i:04d}" for i in range(25)]
    numbers = tmp_path / "numbers.txt"
    numbers.write_text("\n".join(phones + strangers) + "\n")

    code, out, err = run_main(capsys, "bulk-update", str(numbers), "--display-name", "x")
    assert code == 1
    assert out.startswith("bulk-update: 3 succeeded, 25 failed; 28 in ")
    assert "... and 5 more (--json lists all)" in out
    assert "rerun the same command to retry what failed" in out

    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(phones) + "\n"))
    journal = tmp_path / "release.jsonl"
    code, out, err = run_main(
        capsys, "bulk-release", "--journal", str(journal), "--progress", "--yes"
    )
    assert code == 0, err
    assert "bulk-release: 3 succeeded, 0 failed" in out
    assert "bulk-release" in err  # the progress bar
    code, out, err = run_main(
        capsys, "bulk-update", "/dev/null", "--journal", str(journal), "--display-name", "y"
    )
    assert code == 2
    assert "it cannot drive a bulk update job" in err


def test_in_process_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    secret_file = tmp_path / "key-secret"
    secret_file.write_text("s\n")
    for args, words in (
        (["regions"], "missing credentials"),
        (["--fake", "bulk-update", str(tmp_path / "missing.txt")], "cannot read"),
        (["--fake", "bulk-update", "/dev/null"], "update: give at least one of"),
        (
            [
                "--project-id",
                "p",
                "--key-id",
                "k",
                "--key-secret-file",
                str(secret_file),
                "--base-url",
                "nope",
                "regions",
            ],
            "base_url",
        ),
        (["demo", "--count", "1001"], "--count must be from 1 to 1000"),
        (["--fake", "bulk-rent-any", "0", "US", "LOCAL"], "must be at least 1"),
    ):
        code, _, err = run_main(capsys, *args)
        assert code == 2, (args, err)
        assert words in err, (args, err)
        assert without_fake_note(err).count("\n") == 1


def test_in_process_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "bulk-rent-any" in capsys.readouterr().out
    assert main(["bulk-release", "--help"]) == 0
    assert "--journal" in capsys.readouterr().out


def test_in_process_demo(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "demo", "--count", "12", "--latency", "0")
    assert code == 0
    assert "every number rented exactly once: True." in out


def test_in_process_bulk_json_and_csv_on_the_embedded_fake(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_main(capsys, "--fake", "bulk-rent-any", "5", "US", "LOCAL", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["operation"], report["ok"], report["succeeded"]) == ("rent_any", True, 5)
    assert len(report["numbers"]) == 5

    numbers = tmp_path / "numbers.txt"
    numbers.write_text("+19995550000\n")
    code, out, err = run_main(capsys, "--fake", "bulk-rent", str(numbers), "--csv")
    assert code == 1
    assert out.splitlines()[1].startswith("+19995550000,failed,,False,NotFoundError,404,")
    assert "bulk-rent: 0 succeeded, 1 failed" in err


async def test_fake_server_delivers_signed_duplicated_callbacks() -> None:
    from aiohttp import web

    from numbers_async import NumbersClient, SmsConfiguration
    from numbers_async.webhooks import verify_signature

    secret = "cli-fake-server-secret-0123456789abcdef"
    received: list[tuple[bytes, str | None]] = []
    arrived = asyncio.Event()

    async def events(request: web.Request) -> web.Response:
        received.append((await request.read(), request.headers.get("X-Sinch-Signature")))
        if len(received) == 2:
            arrived.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/events", events)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake = await asyncio.to_thread(
        Server,
        "--hmac-secret",
        secret,
        "--callback-duplicates",
        "1",
        "--provisioning-delay",
        "0.05",
    )
    try:
        async with NumbersClient(
            "fake-project",
            "fake-key-id",
            "fake-key-secret",
            base_url=fake.url,
            auth_url=fake.url + "/oauth2/token",
        ) as client:
            await client.available_numbers.rent_any(
                "US",
                "LOCAL",
                sms=SmsConfiguration(service_plan_id="plan"),
                callback_url=f"http://127.0.0.1:{port}/events",
            )
            await asyncio.wait_for(arrived.wait(), timeout=20)
    finally:
        await asyncio.to_thread(fake.stop)
        await runner.cleanup()
    (first, sig1), (second, sig2) = received
    assert first == second  # the duplicate is the same event, same bytes
    assert sig1 is not None
    assert verify_signature(first, sig1, secret)
    assert sig2 == sig1


def test_fake_server_refuses_a_negative_duplicate_count() -> None:
    result = cli("fake-server", "--callback-duplicates", "-1")
    assert result.returncode == 2
    assert "must be at least 0" in result.stderr
    assert "Traceback" not in result.stderr
