"""scripts/dev.py: the bootstrap environment is made once, then reused."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parent.parent / "scripts" / "dev.py"


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """scripts/dev.py with its bootstrap environment under ``tmp_path``."""
    spec = importlib.util.spec_from_file_location("dev_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    venv = tmp_path / "_bootstrap"
    monkeypatch.setattr(module, "VENV", venv)
    monkeypatch.setattr(module, "STAMP", venv / "bootstrap.json")
    return module


def made(dev: ModuleType, stamp: object) -> None:
    """An environment as create() leaves it: an interpreter and the stamp it writes."""
    python = dev.venv_python(dev.VENV)
    python.parent.mkdir(parents=True)
    python.write_text("")
    dev.STAMP.write_text(json.dumps(stamp))


def test_an_environment_this_interpreter_made_is_current(dev: ModuleType) -> None:
    # The stamp is written as JSON and read back: it must compare equal then (a tuple in
    # it read back as a list, and every run, CI's parallel ones too, made it again).
    made(dev, dev.wanted_stamp())

    assert dev.is_current()


@pytest.mark.parametrize(
    ("key", "value"),
    [("python", "3.0.0"), ("executable", "/elsewhere/python3"), ("requirements", ["nox"])],
)
def test_an_environment_made_otherwise_is_made_again(
    dev: ModuleType, key: str, value: object
) -> None:
    made(dev, {**dev.wanted_stamp(), key: value})

    assert not dev.is_current()


def test_no_environment_or_no_stamp_is_not_current(dev: ModuleType) -> None:
    assert not dev.is_current()
    made(dev, dev.wanted_stamp())
    dev.venv_python(dev.VENV).unlink()

    assert not dev.is_current()


def test_the_stamp_names_the_running_interpreter(dev: ModuleType) -> None:
    assert dev.wanted_stamp()["executable"] == sys.executable
