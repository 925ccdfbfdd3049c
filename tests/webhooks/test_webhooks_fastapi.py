"""What is specific to the FastAPI integration (its HTTP behaviour is in test_webhooks_http)."""

from __future__ import annotations

import importlib
import sys

import pytest


def test_missing_fastapi_raises_import_error_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "numbers_async.webhooks.fastapi", raising=False)
    monkeypatch.setitem(sys.modules, "fastapi", None)  # makes `import fastapi` fail

    with pytest.raises(ImportError, match=r"numbers-async\[fastapi\]"):
        importlib.import_module("numbers_async.webhooks.fastapi")
