"""Wall time of the synthetic cohort generator.

Run: ``python benchmarks/bench_synth.py``. Times ``write_study`` for the example
size (124 mentees + 66 controls) and for 10,000 + 10,000 pupils, and
``generate_study`` (no file writing) for the large size; the brief asks for the
large ``generate_study`` well under 30 s on a 2-core machine.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mut_eval.synth import generate_study, write_study  # noqa: E402


def _time(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            ("write_study 124 + 66", _time(lambda: write_study(Path(tmp) / "small", seed=2020), repeat=3)),
            ("generate_study 10000 + 10000",
             _time(lambda: generate_study(seed=2020, n_mentees=10_000, n_controls=10_000))),
            ("write_study 10000 + 10000",
             _time(lambda: write_study(Path(tmp) / "large", seed=2020, n_mentees=10_000, n_controls=10_000))),
        ]
    for name, seconds in rows:
        print(f"{name:<32} {seconds:8.2f} s")


if __name__ == "__main__":
    main()
