"""Write the deterministic test data for tests/test_moderation.py (run once; the CSVs
are stored). The R script moderation_reference.R computes the reference values from
these files.

    .venv/bin/python tests/reference/moderation_make_data.py
    Rscript tests/reference/moderation_reference.R
"""
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def ols_data() -> pd.DataFrame:
    rng = np.random.default_rng(20240501)
    n = 80
    age = np.round(rng.normal(14.3, 0.6, n), 2)
    d = age - 14.3
    dich = rng.integers(0, 2, n)
    cat = rng.choice(["low", "middle", "high"], size=n, p=[0.2, 0.3, 0.5])
    # Heteroscedastic noise so that HC3 differs visibly from OLS.
    noise = rng.normal(0, 1, n) * (0.35 + 0.25 * np.abs(d))
    return pd.DataFrame({
        "student_id": [f"S{i:03d}" for i in range(n)],
        "w_cont": age,
        "w_dich": dich,
        "w_cat": cat,
        # effect crosses zero mid-range: two JN points inside the range
        "y_two": 0.9 * d + noise,
        # positive effect that loses significance at low W: one JN point
        "y_one": 0.25 + 0.35 * d + noise,
        # effect significant everywhere: no JN point
        "y_none": 0.8 + 0.05 * d + noise,
        "y_dich": 0.1 + 0.3 * dich + noise,
        "y_cat": np.select([cat == "low", cat == "middle"], [-0.3, 0.0], 0.25) + noise,
    })


def did_data() -> pd.DataFrame:
    rng = np.random.default_rng(20240502)
    rows = []
    n_m, n_c = 90, 60
    for i in range(n_m + n_c):
        cond = "mentee" if i < n_m else "control"
        age = round(float(rng.normal(14.3, 0.6)), 2)
        ses = str(rng.choice(["low", "middle", "high"], p=[0.25, 0.3, 0.45]))
        u = rng.normal(0, 0.4)
        for t, wave in enumerate(["T1", "T2", "T3"]):
            if t > 0 and rng.random() < 0.12:
                continue  # attrition
            base = 3.7 + 0.1 * t - (0.25 * t * (cond == "control"))
            mod = (0.3 * t * (age - 14.3) + 0.15 * t * (ses == "low")) * (cond == "mentee")
            score = base + mod + u + rng.normal(0, 0.35)
            rows.append({"student_id": f"P{i:03d}", "condition": cond, "wave": wave,
                         "score": round(float(score), 4), "age": age, "ses": ses})
    return pd.DataFrame(rows)


def bh_pvalues() -> pd.DataFrame:
    rng = np.random.default_rng(20240503)
    p = np.concatenate([rng.uniform(0, 0.02, 6), rng.uniform(0, 1, 24), [0.5, 0.5, 1.0]])
    return pd.DataFrame({"p": np.round(p, 6)})


if __name__ == "__main__":
    ols_data().to_csv(HERE / "moderation_data.csv", index=False)
    did_data().to_csv(HERE / "moderation_did_long.csv", index=False)
    bh_pvalues().to_csv(HERE / "moderation_bh_p.csv", index=False)
