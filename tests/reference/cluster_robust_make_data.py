"""Write the deterministic test data for tests/test_cluster_robust.py (run once; the CSV
is stored). The R script cluster_robust_reference.R computes the reference values from it.

    .venv/bin/python tests/reference/cluster_robust_make_data.py
    Rscript tests/reference/cluster_robust_reference.R

One row per pupil: 9 classes of unequal size in 4 schools, the condition assigned by
class (6 mentee classes, 3 control classes), Likert-type scale scores (the mean of four
1-5 items, so multiples of 0.25) at T1, T2 and T3 with attrition, class effects that
change between waves (clustered change), and a positive weight for the WLS checks.
Class ``3V1`` exists at two schools: two different classes.
"""
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent

# (school, class, condition, size)
CLASSES = [
    ("A", "1V1", "mentee", 24), ("A", "1V2", "control", 31),
    ("B", "3V1", "mentee", 18), ("B", "3V2", "control", 27), ("B", "3V3", "mentee", 12),
    ("C", "3V1", "mentee", 22), ("C", "3V2", "mentee", 15),
    ("D", "2H1", "control", 26), ("D", "2H2", "mentee", 16),
]


def likert(latent: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mean of four 1-5 items answered around ``latent``."""
    items = np.clip(np.rint(latent[:, None] + rng.normal(0, 0.6, (latent.size, 4))), 1, 5)
    return items.mean(axis=1)


def pupils() -> pd.DataFrame:
    rng = np.random.default_rng(20250612)
    frames = []
    pid = 0
    for school, klass, cond, size in CLASSES:
        class_t1 = rng.normal(0, 0.25)
        class_wave = rng.normal(0, 0.2, 2)           # class × wave: clustered change
        pupil = rng.normal(0, 0.5, size)
        t1 = 3.4 + class_t1 + pupil + rng.normal(0, 0.35, size)
        t2 = 3.4 + class_t1 + class_wave[0] + 0.15 * (cond == "mentee") + pupil + rng.normal(0, 0.35, size)
        t3 = 3.4 + class_t1 + class_wave[1] + 0.10 * (cond == "mentee") + pupil + rng.normal(0, 0.35, size)
        d = pd.DataFrame({
            "student_id": [f"P{pid + i:03d}" for i in range(size)],
            "condition": cond, "school": school, "class": klass,
            "self_efficacy_T1": likert(t1, rng),
            "self_efficacy_T2": likert(t2, rng),
            "self_efficacy_T3": likert(t3, rng),
            "weight": np.round(rng.uniform(0.5, 2.0, size), 3),
        })
        d.loc[rng.random(size) < 0.04, "self_efficacy_T1"] = np.nan
        d.loc[rng.random(size) < 0.10, "self_efficacy_T2"] = np.nan
        d.loc[rng.random(size) < 0.15, "self_efficacy_T3"] = np.nan
        frames.append(d)
        pid += size
    return pd.concat(frames, ignore_index=True)


if __name__ == "__main__":
    pupils().to_csv(HERE / "cluster_robust_data.csv", index=False, lineterminator="\n")
