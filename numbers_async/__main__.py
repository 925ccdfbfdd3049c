"""``python -m numbers_async`` is the ``numbers-async`` command."""

from numbers_async.cli import main

raise SystemExit(main())
