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
import os
import sys
import time
from contextlib import contextmanager, nullcontext

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


class Clock:
    """Seconds since the start of a :func:`tracking` block (call it), and the time each
    stage took (:meth:`durations`)."""

    def __init__(self):
        self.start = time.perf_counter()
        self.marks: list[tuple[str, float]] = []

    def __call__(self) -> float:
        return time.perf_counter() - self.start

    def mark(self, name: str) -> None:
        self.marks.append((name, time.perf_counter()))

    def durations(self, end: float | None = None) -> dict[str, float]:
        """``{stage: seconds}`` in the order the stages ran (a stage entered twice adds up);
        the time before the first stage is ``start``."""
        end = time.perf_counter() if end is None else end
        out: dict[str, float] = {}
        bounds = [("start", self.start), *self.marks, (None, end)]
        for (name, t0), (_, t1) in zip(bounds, bounds[1:]):
            out[name] = out.get(name, 0.0) + t1 - t0
        return out


class _Tracker:
    """What :func:`stage` and :func:`advance` talk to: the clock and, on a terminal, the bar."""

    def __init__(self, clock: Clock, bar: "_Live | None"):
        self.clock, self.bar = clock, bar

    def stage(self, name: str, total: int | None = None) -> None:
        self.clock.mark(name)
        if self.bar is not None:
            self.bar.stage(name, total)

    def advance(self, k: int = 1) -> None:
        if self.bar is not None:
            self.bar.advance(k)


TIMINGS_ENV = "MUT_EVAL_TIMINGS"


def _write_timings(clock: Clock, label: str) -> None:
    """With the environment variable ``MUT_EVAL_TIMINGS`` set to a file path, the time of
    each stage is written there as JSON (the benchmarks read it)."""
    path = os.environ.get(TIMINGS_ENV)
    if not path:
        return
    import json
    total = clock()
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"label": label, "total": total, "stages": clock.durations()}, f, indent=1)


@contextmanager
def tracking(label: str, stream=None, live: bool | None = None):
    """Show progress for the block when ``stream`` (default stderr) is a terminal (or
    ``live``); yields a :class:`Clock`: ``clock()`` seconds since the start,
    ``clock.durations()`` per stage."""
    stream = stream or sys.stderr
    live = bool(getattr(stream, "isatty", lambda: False)()) if live is None else live
    clock = Clock()
    with (_Live(stream, label) if live else nullcontext()) as bar:
        token = _CURRENT.set(_Tracker(clock, bar))
        try:
            yield clock
        finally:
            _CURRENT.reset(token)
    _write_timings(clock, label)


def stage(name: str, total: int | None = None) -> None:
    """Start a stage (with ``total`` items when it has them)."""
    tracker = _CURRENT.get()
    if tracker is not None:
        tracker.stage(name, total)


def advance(k: int = 1) -> None:
    """``k`` more items of the current stage are done."""
    tracker = _CURRENT.get()
    if tracker is not None:
        tracker.advance(k)
