"""Progress bars with rate and ETA (rich, from the ``cli`` extra), or nothing.

Bars go to stderr, so stdout stays clean for ``--json`` / ``--csv``. They are shown when
stderr is a terminal, or with ``--progress`` (off a terminal, rich prints the final state
once); ``--no-progress`` hides them. Without rich the command works the same, without bars.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any, TextIO

__all__ = ["Progress"]

try:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        ProgressColumn,
        Task,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress
    from rich.text import Text
except ImportError:  # pragma: no cover - depends on the installed extras
    _RICH = False
else:
    _RICH = True


if _RICH:

    class _RateColumn(ProgressColumn):
        """Items per second, from rich's own moving estimate."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(
                "-- /s" if speed is None else f"{speed:,.1f}/s", style="progress.data.speed"
            )


class Progress:
    """One progress bar for a counted piece of work; a no-op when disabled.

    ``total`` may be unknown (``None``): the bar then pulses and shows no ETA.
    """

    def __init__(
        self,
        description: str,
        *,
        total: int | None,
        enabled: bool | None,
        file: TextIO | None = None,
    ) -> None:
        stream = sys.stderr if file is None else file
        if enabled is None:
            enabled = stream.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._description = description
        self._total = total
        if enabled and _RICH:
            self._bar = RichProgress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                _RateColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TimeElapsedColumn(),
                # On a terminal the bar is live; elsewhere rich prints its final state once.
                console=Console(file=stream),
                transient=False,
            )

    def __enter__(self) -> Progress:
        if self._bar is not None:
            self._bar.start()
            self._task = self._bar.add_task(self._description, total=self._total)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, steps: int = 1, *, description: str | None = None) -> None:
        """Count ``steps`` more done (and optionally change the label)."""
        if self._task is not None:
            self._bar.update(self._task, advance=steps, description=description)

    def set_total(self, total: int | None) -> None:
        """Set the total once it is known."""
        if self._task is not None:
            self._bar.update(self._task, total=total)

    def note(self, message: str) -> None:
        """Print a line above the bar (or to stderr without one)."""
        if self._bar is not None:
            self._bar.console.print(message, highlight=False, markup=False)
        else:
            print(message, file=sys.stderr, flush=True)
