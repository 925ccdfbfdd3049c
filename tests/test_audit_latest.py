"""scripts/audit_latest.py against a local stand-in for PyPI's per-project JSON API."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.util
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aiohttp import web

SCRIPT = Path(__file__).parent.parent / "scripts" / "audit_latest.py"
AIOHTTP = importlib.metadata.version("aiohttp")
YARL = importlib.metadata.version("yarl")


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_latest", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Answer = Callable[[str, str], dict[str, Any]]


def latest_and_clean(name: str, installed: str) -> dict[str, Any]:
    return {"info": {"version": installed}, "vulnerabilities": []}


@contextlib.asynccontextmanager
async def serve(answer: Answer) -> AsyncIterator[str]:
    installed = {
        dist.metadata["Name"].lower(): dist.version for dist in importlib.metadata.distributions()
    }

    async def project(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        return web.json_response(answer(name.lower(), installed[name.lower()]))

    app = web.Application()
    app.router.add_get("/pypi/{name}/json", project)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/pypi"
    finally:
        await runner.cleanup()


async def run_audit(answer: Answer, *args: str) -> int:
    """The script's exit code, run against ``answer`` (in a thread: it blocks)."""
    script = load_script()
    async with serve(answer) as index:
        code: int = await asyncio.to_thread(script.main, ["--index", index, *args])
    return code


async def test_an_environment_at_its_latest_releases_without_advisories_passes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = await run_audit(latest_and_clean)

    out = capsys.readouterr().out
    assert code == 0
    assert f"aiohttp {AIOHTTP}: latest, no known advisory" in out
    assert "every package is its latest release" in out


async def test_an_advisory_of_an_installed_release_fails_the_audit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def answer(name: str, installed: str) -> dict[str, Any]:
        if name != "aiohttp":
            return latest_and_clean(name, installed)
        vulns = [
            {"id": "GHSA-aaaa", "aliases": ["CVE-1"], "fixed_in": ["9.9"], "withdrawn": None},
            {"id": "GHSA-gone", "aliases": [], "fixed_in": ["9.9"], "withdrawn": "2026-01-01"},
        ]
        return {"info": {"version": installed}, "vulnerabilities": vulns}

    code = await run_audit(answer)

    err = capsys.readouterr().err
    assert code == 1
    assert f"aiohttp {AIOHTTP} has GHSA-aaaa, fixed in ['9.9']" in err
    assert "GHSA-gone" not in err  # a withdrawn advisory is none


@pytest.mark.parametrize("ignore", ["GHSA-aaaa", "CVE-1"])
async def test_an_ignored_advisory_is_allowed_by_its_id_or_an_alias(ignore: str) -> None:
    def answer(name: str, installed: str) -> dict[str, Any]:
        vulns = [{"id": "GHSA-aaaa", "aliases": ["CVE-1"], "fixed_in": ["9.9"]}]
        return {"info": {"version": installed}, "vulnerabilities": vulns if name == "yarl" else []}

    code = await run_audit(answer, "--ignore", ignore)

    assert code == 0


async def test_a_release_that_is_not_the_latest_is_not_audited_and_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def answer(name: str, installed: str) -> dict[str, Any]:
        return {"info": {"version": "99.0" if name == "yarl" else installed}}

    code = await run_audit(answer)

    err = capsys.readouterr().err
    assert code == 1
    assert (
        f"yarl {YARL} not audited: PyPI lists the advisories of the latest release only (99.0)"
        in err
    )


async def test_a_package_left_out_is_not_asked_about(capsys: pytest.CaptureFixture[str]) -> None:
    def answer(name: str, installed: str) -> dict[str, Any]:
        return {"info": {"version": "99.0" if name == "yarl" else installed}}

    code = await run_audit(answer, "yarl")

    assert code == 0
    assert "yarl" not in capsys.readouterr().out


def test_an_index_that_is_not_http_is_refused() -> None:
    with pytest.raises(ValueError, match="--index must be an http"):
        load_script().project("file:///etc", "aiohttp")


def test_an_unreachable_index_leaves_every_package_not_audited(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = load_script().main(["--index", "http://127.0.0.1:9/pypi", *leave_all_but("yarl")])

    assert code == 1
    assert f"yarl {YARL} not audited" in capsys.readouterr().err


def leave_all_but(kept: str) -> list[str]:
    names = {dist.metadata["Name"].lower() for dist in importlib.metadata.distributions()}
    return sorted(names - {kept})
