"""Progress of a long run (issue 16 item 6): on a terminal a live line with the stage, item k
of n and the time elapsed (rich); in CI, pipes and notebooks nothing (the command prints one
summary line when it ends).

The analyses report through the module-level functions, which do nothing unless a
:func:`tracking` block is active, so library code and notebooks are not affected::

    with tracking("analyse"):          # the CLI
        stage("moderation grid", total=204)
        for cell in cells:
            ...
            advance()
"""
from __future__ import annotations

import contextvars
import sys
import time
from contextlib import contextmanager

_CURRENT: contextvars.ContextVar = contextvars.ContextVar("mut_eval_progress", default=None)


class _Live:
    """A rich progress bar with one task whose description is the current stage."""

    def __init__(self, stream, label: str):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                                   TimeElapsedColumn)
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=Console(file=stream), transient=True)
        self.label = label
        self.task = None

    def __enter__(self):
        self.progress.__enter__()
        self.task = self.progress.add_task(self.label, total=None)
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def stage(self, name: str, total: int | None = None) -> None:
        self.progress.reset(self.task, total=total, description=f"{self.label}: {name}")

    def advance(self, k: int = 1) -> None:
        self.progress.advance(self.task, k)


@contextmanager
def tracking(label: str, stream=None, live: bool | None = None):
    """Show progress for the block when ``stream`` (default stderr) is a terminal (or
    ``live``); yields a clock: ``elapsed()`` seconds since the start."""
    stream = stream or sys.stderr
    live = bool(getattr(stream, "isatty", lambda: False)()) if live is None else live
    start = time.perf_counter()

    def elapsed() -> float:
        return time.perf_counter() - start
    if not live:
        yield elapsed
        return
    with _Live(stream, label) as bar:
        token = _CURRENT.set(bar)
        try:
            yield elapsed
        finally:
            _CURRENT.reset(token)


def stage(name: str, total: int | None = None) -> None:
    """Start a stage (with ``total`` items when it has them)."""
    bar = _CURRENT.get()
    if bar is not None:
        bar.stage(name, total)


def advance(k: int = 1) -> None:
    """``k`` more items of the current stage are done."""
    bar = _CURRENT.get()
    if bar is not None:
        bar.advance(k)
