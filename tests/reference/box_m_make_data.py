"""Write tests/reference/box_m_example_data.csv: the example cohort's completers of two
outcomes (scored at T1, T2 and T3), the data of the Box's M reference in R.

Run from the repository root:  PYTHONPATH=$PWD python tests/reference/box_m_make_data.py
No pupil identifiers: one row per pupil and outcome with condition and the three
scores, sorted by outcome, condition and scores (not in pupil order).
"""
from pathlib import Path

import pandas as pd

from mut_eval.panel import load_panel

ROOT = Path(__file__).resolve().parents[2]
OUTCOMES = ("self_efficacy", "school_belonging")

panel = load_panel(ROOT / "mut_eval" / "data" / "example_study")
parts = []
for o in OUTCOMES:
    cols = [f"{o}_T{k}" for k in (1, 2, 3)]
    d = panel.wide[["condition", *cols]].dropna()
    d.columns = ["condition", "T1", "T2", "T3"]
    parts.append(d.assign(outcome=o)[["outcome", "condition", "T1", "T2", "T3"]])
out = pd.concat(parts).sort_values(["outcome", "condition", "T1", "T2", "T3"]).reset_index(drop=True)
out.to_csv(Path(__file__).parent / "box_m_example_data.csv", index=False, float_format="%.17g")
