"""Item 2 of the review: no dependency floor admits a release with a known advisory.

The floors live in pyproject.toml; ``nox -s tests_floors`` installs exactly them and runs
this suite, and ``nox -s audit`` asks pip-audit. This test keeps the table of advisories
(docs/security.md#dependencies) and the floors from drifting apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"

#: For each dependency the project uses: the lowest release without a known advisory for
#: what the project uses, and the advisories that put it there (docs/security.md).
ADVISORY_FREE = {
    "aiohttp": ("3.14.4", "CVE-2024-52304 ... CVE-2026-34525, PYSEC-2026-4399"),
    "orjson": ("3.9.15", "CVE-2024-27454"),
    "starlette": ("1.3.1", "CVE-2026-48710, -48818, -54282, -54283, -48817"),
    "fastapi": ("0.109.1", "CVE-2024-24762"),
    "redis": ("4.5.4", "CVE-2023-28858, CVE-2023-28859"),
    "attrs": ("0", "none known"),
    "cattrs": ("0", "none known"),
    "yarl": ("0", "none known"),
    "rich": ("0", "none known"),
    "opentelemetry-api": ("0", "none known"),
}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def declared_floors() -> dict[str, str]:
    """``{name: floor}`` for every ``"name>=floor"`` in pyproject.toml's [project] tables."""
    text = PYPROJECT.read_text(encoding="utf-8")
    project = text.split("\n[project]\n", 1)[1].split("[project.urls]")[0]
    return dict(re.findall(r'"([A-Za-z0-9_.-]+)>=([^";,\s]+)', project))


def test_every_dependency_the_project_uses_has_a_floor_in_the_table() -> None:
    runtime = set(declared_floors()) - {"pytest", "pytest-asyncio"}  # the testing extra
    assert runtime == set(ADVISORY_FREE)


@pytest.mark.parametrize("name", sorted(ADVISORY_FREE))
def test_no_floor_admits_a_release_with_a_known_advisory(name: str) -> None:
    # Before: aiohttp>=3.10 and orjson>=3.9 admitted releases with published advisories,
    # and Starlette (brought by FastAPI) had no floor at all.
    safe, advisories = ADVISORY_FREE[name]
    floor = declared_floors()[name]
    assert _version(floor) >= _version(safe), f"{name}>={floor} admits {advisories}"


@pytest.mark.parametrize("name", sorted(ADVISORY_FREE))
def test_each_floor_names_a_whole_release(name: str) -> None:
    # tests_floors pins "name==floor": "yarl>=1.9" would pin 1.9.0, which was never
    # released, so a floor is written with all three parts.
    assert re.fullmatch(r"\d+\.\d+\.\d+", declared_floors()[name])
