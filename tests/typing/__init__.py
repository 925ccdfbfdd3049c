"""Files that mypy checks and pytest never runs: the public surface's typing contract."""
