"""Fast guard of the simulation study validation/sim_multilevel.py (issue 12 item 9; the
full study is `make validate`, its results validation/RESULTS.md).

One hard condition — class ICC .10, class effects wholly wave-specific (clustered
change), 5 mentee + 3 control classes, true DiD 0 — with a fixed seed, 30 cohorts and
both contrasts (60 tests per model). The bounds are generous against the full study's
rates at 1000 replications (see RESULTS.md, icc0.10_wholly): the multilevel model with
Kenward–Roger df and the CR2 checks about .05 there, the pupil-level model several times
that. With 60 tests the Monte Carlo SE of a 5% rate is .028, so ≤ .12 is 2.5 SE above
5% and the pupil-level rate is far from the multilevel one; the seed is fixed, so the
test cannot flake — it fails only if the models or the generator change.
"""
import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "validation" / "sim_multilevel.py"


def load_sim():
    spec = importlib.util.spec_from_file_location("sim_multilevel", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sim_multilevel"] = mod       # dataclasses resolve the module by name
    spec.loader.exec_module(mod)
    return mod


def test_multilevel_holds_where_pupil_level_does_not():
    sim = load_sim()
    raw = sim.simulate([sim.condition("icc0.10_wholly")], reps=30, seed=11,
                       models=("lmm_pupil", "lmm_multilevel", "cr2_change", "cr2_ancova"))
    reject = (raw["p"] < 0.05).groupby(raw["model"]).mean()
    assert (raw.groupby("model").size() == 60).all()
    assert reject["lmm_multilevel"] <= 0.12
    assert reject["cr2_change"] <= 0.12 and reject["cr2_ancova"] <= 0.12
    # the pupil-level model ignores the classes: far too liberal under clustered change
    assert reject["lmm_pupil"] >= 0.15
    assert reject["lmm_pupil"] > reject["lmm_multilevel"] + 0.08
