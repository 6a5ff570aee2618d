"""Write the deterministic test data for test_logistic_equals_r_glm in
tests/test_balance.py (run once; the CSV is stored). The R script
balance_glm_reference.R fits glm(binomial) to it.

    .venv/bin/python tests/reference/balance_glm_make_data.py
    Rscript tests/reference/balance_glm_reference.R

One row per pupil (60): age in years (one decimal), a standardised ses, gender
(girl/boy) and origin (NL/MA/TR), and mentee (1/0) drawn from a logistic selection model
on them, so that the groups differ at baseline but overlap.
"""
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def main() -> None:
    rng = np.random.default_rng(20261203)
    n = 60
    age = rng.normal(13, 1, n).round(1)
    ses = rng.normal(0, 1, n).round(3)
    girl = rng.integers(0, 2, n)
    origin = rng.choice(["NL", "MA", "TR"], n, p=[.6, .25, .15])
    lin = -0.2 + 0.6 * (age - 13) - 0.7 * ses + 0.4 * girl + 0.8 * (origin == "MA")
    mentee = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    pd.DataFrame({"age": age, "ses": ses, "gender": np.where(girl == 1, "girl", "boy"),
                  "origin": origin, "mentee": mentee}).to_csv(
        HERE / "balance_glm_data.csv", index=False, lineterminator="\n")


if __name__ == "__main__":
    main()
