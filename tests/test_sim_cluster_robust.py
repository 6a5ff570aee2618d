"""Fast version of validation/sim_cluster_robust.py: under a true null with clustered
change (class ICC .10, half of it class x wave), the class-level checks hold about 5%
while the pupil-level test does not. 100 replications: the bounds are generous (the
Monte Carlo SE of a 5% rate is .022); the full run is `python validation/sim_cluster_robust.py`."""
import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "validation" / "sim_cluster_robust.py"


def load_sim():
    spec = importlib.util.spec_from_file_location("sim_cluster_robust", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_type_one_error_near_nominal():
    table = load_sim().run(reps=100, seed=7, bootstrap=False).set_index(["model", "contrast"])["type1"]
    for contrast in ("T2-T1", "T3-T1"):
        for model in ("cr2_change", "cr2_ancova"):
            assert table[(model, contrast)] <= 0.12, (model, contrast)
        # the pupil-level test ignores the classes and is far too liberal here
        assert table[("ols_pupil", contrast)] >= 0.10
