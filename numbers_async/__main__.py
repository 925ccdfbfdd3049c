"""``python -m numbers_async`` is the ``numbers-async`` command."""

from numbers_async.cli import entry_point

entry_point()
