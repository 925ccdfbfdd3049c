"""The webhooks tests' endpoint fixture (one real receiver per framework), shared here."""

from tests.webhooks.conftest import endpoint

__all__ = ["endpoint"]
