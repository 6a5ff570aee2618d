"""Writes adjusted_data.csv for adjusted_reference.R: a synthetic class-assigned cohort
(no real pupils) with selection on migration background and T1, and the entropy
balancing weights of mut_eval (the regression and its sandwich variance are what R checks;
the weights are its input). Run: python tests/reference/adjusted_make_data.py"""
from pathlib import Path

import numpy as np
import pandas as pd

from mut_eval.stats.adjustment import att_weights

rng = np.random.default_rng(1313)
n_classes, per = 14, 12
rows = []
for k in range(n_classes):
    mentee = k < 8
    u = rng.normal(0, 0.3)
    for i in range(per):
        mig = rng.random() < (0.65 if mentee else 0.35)
        ses = rng.choice(["low", "high", "unknown"], p=[0.3, 0.5, 0.2] if mentee else [0.15, 0.65, 0.2])
        age = rng.normal(14.2 if mentee else 14.0, 0.7)
        t1 = 3.6 + 0.2 * mig - 0.1 * (ses == "low") + u + rng.normal(0, 0.5)
        t2 = t1 + 0.2 * mentee - 0.15 * mig + 0.5 * u + rng.normal(0, 0.45)
        rows.append(dict(klass=f"S{k % 3}/c{k}", mentee=int(mentee), mig=int(mig), ses=ses,
                         age=round(age, 2), T1=round(t1, 4), T2=round(t2, 4)))
d = pd.DataFrame(rows)
d.loc[rng.choice(len(d), 9, replace=False), "T2"] = np.nan      # attrition
X = d[["age", "mig", "ses", "T1"]].assign(mig=d["mig"].map({0: "no", 1: "yes"}))
w, _ = att_weights(X, d["mentee"].to_numpy(bool), "entropy")
d["w"] = w.round(12)
d.to_csv(Path(__file__).with_name("adjusted_data.csv"), index=False)
