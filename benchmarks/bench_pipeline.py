"""Wall time of the whole pipeline, as a user runs it (a fresh process per command).

Run: ``python benchmarks/bench_pipeline.py``. Times, with the project's own console
script:

- ``mut-eval analyze`` on the example cohort (issue target: < 10 s),
- ``mut-eval report`` on the example cohort, i.e. what ``make report`` runs once the
  environment exists (target: < 30 s, 5000-resample bootstraps included),
- ``mut-eval synth`` + ``mut-eval analyze`` on a synthetic cohort of 20,000 pupils
  (10,000 mentees, 10,000 controls; target: analyze < 120 s).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).parent / "mut-eval")
EXAMPLE = ROOT / "mut_eval" / "data" / "example_study"


def timed(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([EXE, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = [
            ("analyze example (5000 resamples)", timed("analyze", str(EXAMPLE), "--out", str(tmp / "a"))),
            ("report example, nl (5000 resamples)", timed("report", str(EXAMPLE), "--out", str(tmp / "r"))),
            ("synth 10000 + 10000", timed("synth", str(tmp / "big"), "--n-mentees", "10000",
                                          "--n-controls", "10000")),
            ("analyze 20000 pupils (5000 resamples)", timed("analyze", str(tmp / "big"), "--out", str(tmp / "b"))),
        ]
    for name, seconds in rows:
        print(f"{name:<40} {seconds:8.1f} s")


if __name__ == "__main__":
    main()
