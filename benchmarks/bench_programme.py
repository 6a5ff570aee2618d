"""Speed of the programme view (issue 14): 10 cohorts × 2,000 pupils, cold and with nothing changed.

    .venv/bin/python benchmarks/bench_programme.py [--cohorts 10] [--pupils 2000] [--bootstrap 1000]

A synthetic programme (``mut_eval.synth.write_programme``, every cohort ``--pupils`` pupils,
two thirds mentees, the study's default analysis with ``--bootstrap`` resamples) is run with
``mut-eval programme`` twice: cold (every cohort analysed, then the programme tables and
the report) and again with nothing changed (every cohort reused). Targets: ≤ 5 minutes cold,
≤ 30 s unchanged. Seconds wall, whole process as a user runs it.

Measured 2026-12-03 20:33 UTC on this machine (2 cores, otherwise idle), 10 cohorts × 2,000
pupils (1,334 mentees, 666 controls; ~80 classes each), bootstrap 1000, default analysis
(multilevel model with mentor groups, multiple imputation m = 20, moderation grid of
204 tests, weighting):

    cold (10 cohorts analysed, two worker processes; tables; report)    104.3 s
    nothing changed (10 cohorts reused; tables; report)                  21.9 s

The unchanged run is the programme tables, the staff views of the cohorts and the report
(typst, figures): 2 s per cohort.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mut_eval.synth import write_programme


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cohorts", type=int, default=10)
    ap.add_argument("--pupils", type=int, default=2000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args(argv or [])
    exe = [sys.executable, "-m", "mut_eval.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        prog = write_programme(Path(tmp) / "prog", cohorts=args.cohorts, pupils=args.pupils,
                               bootstrap=args.bootstrap)
        out = Path(tmp) / "out"
        times = {}
        for run in ("cold", "unchanged"):
            t = time.perf_counter()
            r = subprocess.run([*exe, "programme", str(prog), "--out", str(out)], capture_output=True, text=True)
            times[run] = time.perf_counter() - t
            if r.returncode:
                raise SystemExit(f"mut-eval programme failed ({run}):\n{r.stderr[-2000:]}")
            print(f"  {run:<10} {times[run]:7.1f} s   {r.stdout.strip()}", flush=True)
    print(f"{args.cohorts} cohorts x {args.pupils} pupils, bootstrap {args.bootstrap}: cold {times['cold']:.1f} s "
          f"(target <= 300 s), unchanged {times['unchanged']:.1f} s (target <= 30 s)")


if __name__ == "__main__":
    main(sys.argv[1:])
