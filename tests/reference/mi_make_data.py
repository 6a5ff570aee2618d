"""Write the test data for tests/test_imputation.py (run once; the CSVs are stored). The R
script mi_reference.R computes the reference values from them.

    PYTHONPATH=. .venv/bin/python tests/reference/mi_make_data.py
    Rscript tests/reference/mi_reference.R

mi_wide.csv: 80 pupils in 8 classes of 6 to 17 (4 mentee classes with 44 pupils, 4 control
classes with 36; condition assigned by class, unequal sizes so that the Satterthwaite df
is not a round number), two outcomes (``y``, ``z``) at T1-T3 with class effects and about
15% missing waves, baseline ``age`` and ``ses`` (low/middle/high, 20% "unknown").
mi_imputations.csv: mut_eval's own m = 5 completed data sets of that table
(``mi_completed``, seed 11), stacked as ``mice::complete(imp, "long", include = TRUE)``
does: ``.imp`` 0 is the incomplete data, ``.id`` the row number.
"""
from pathlib import Path

import numpy as np
import pandas as pd

from mut_eval.stats.imputation import mi_completed

HERE = Path(__file__).parent


def make_wide(seed: int = 2024) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    klass = np.repeat(np.arange(8), [6, 9, 12, 17, 7, 10, 8, 11])   # unequal classes
    mentee = klass < 4
    ses = rng.choice(["low", "middle", "high"], 80, p=[.3, .4, .3]).astype(object)
    ses_num = pd.Series(ses).map({"low": -1, "middle": 0, "high": 1}).to_numpy()
    age = np.round(rng.normal(14.5, 0.6, 80), 1)
    wide = pd.DataFrame({"condition": np.where(mentee, "mentee", "control"),
                         "school": np.where(klass % 2 == 0, "A", "B"),
                         "class": [f"3V{k}" for k in klass]})
    for name, shift in (("y", 0.25), ("z", -0.1)):
        person = rng.normal(0, 0.5, 80) + 0.2 * ses_num
        class_eff = rng.normal(0, 0.2, (8, 3))
        for w, wave in enumerate(("T1", "T2", "T3")):
            v = 3.4 + person + class_eff[klass, w] + shift * mentee * w + rng.normal(0, 0.35, 80)
            v = np.round(v, 2)
            v[rng.random(80) < 0.15] = np.nan
            wide[f"{name}_{wave}"] = v
    wide["age"] = age
    ses[rng.random(80) < 0.2] = "unknown"
    wide["ses"] = ses
    return wide


if __name__ == "__main__":
    wide = make_wide()
    wide.to_csv(HERE / "mi_wide.csv", index=False)
    completed = mi_completed(wide, ["y", "z"], covariates=wide[["age", "ses"]], m=5, seed=11)
    original = completed[0].copy()
    for col in ["y_T1", "y_T2", "y_T3", "z_T1", "z_T2", "z_T3", "age", "ses"]:
        original[col] = wide[col].mask(wide[col].astype(object) == "unknown")
    frames = [original, *completed]
    klass = wide["school"] + "/" + wide["class"]
    stacked = pd.concat([f.assign(**{".imp": i, ".id": np.arange(1, 81), "class": klass})
                         for i, f in enumerate(frames)], ignore_index=True)
    stacked.to_csv(HERE / "mi_imputations.csv", index=False)
