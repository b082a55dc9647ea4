"""Progress of long runs: a rich bar on a terminal, periodic log lines elsewhere.

Crawls and imports call `advance()` as they go; where the output is not a
terminal (CI, a container, a worker) the same calls become structured
`progress` log lines every few seconds, so a long run is never silent.
"""

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import structlog
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichBar

log = structlog.get_logger(__name__)


class Progress(Protocol):
    def advance(self, amount: int = 1, **counters: int) -> None:
        """Count `amount` more units done; `counters` (e.g. failures=2) replace earlier ones."""
        ...


class LogProgress:
    """Writes a `progress` log line at most every `interval_seconds`, and one at the end."""

    def __init__(
        self, description: str, *, total: int | None, unit: str, interval_seconds: float
    ) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.interval_seconds = interval_seconds
        self.done = 0
        self.counters: dict[str, int] = {}
        self._started = time.monotonic()
        self._last_report = self._started

    def advance(self, amount: int = 1, **counters: int) -> None:
        self.done += amount
        self.counters.update(counters)
        now = time.monotonic()
        if now - self._last_report >= self.interval_seconds:
            self._last_report = now
            self.report()

    def report(self, *, final: bool = False) -> None:
        elapsed = time.monotonic() - self._started
        fields: dict[str, object] = {
            "task": self.description,
            "done": self.done,
            "unit": self.unit,
            "elapsed_seconds": round(elapsed, 1),
            "rate_per_second": round(self.done / elapsed, 1) if elapsed > 0 else None,
            **self.counters,
        }
        if self.total:
            fields["total"] = self.total
            fields["percent"] = round(100 * self.done / self.total, 1)
        log.info("progress_finished" if final else "progress", **fields)


class BarProgress:
    """A rich progress bar on the terminal (stderr, so piped stdout stays clean)."""

    def __init__(self, bar: RichBar, description: str, *, total: int | None) -> None:
        self._bar = bar
        self._description = description
        self._task = bar.add_task(description, total=total)

    def advance(self, amount: int = 1, **counters: int) -> None:
        shown = " ".join(f"{name}={value}" for name, value in counters.items() if value)
        description = f"{self._description} {shown}" if shown else self._description
        self._bar.update(self._task, advance=amount, description=description)


@contextmanager
def track(
    description: str,
    *,
    total: int | None = None,
    unit: str = "items",
    console: Console | None = None,
    interval_seconds: float = 10.0,
) -> Iterator[Progress]:
    """Report progress of one long task on `console` (default: stderr)."""
    console = console or Console(file=sys.stderr)
    if not console.is_terminal:
        reporter = LogProgress(
            description, total=total, unit=unit, interval_seconds=interval_seconds
        )
        yield reporter
        reporter.report(final=True)
        return
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with RichBar(*columns, console=console) as bar:
        yield BarProgress(bar, description, total=total)
