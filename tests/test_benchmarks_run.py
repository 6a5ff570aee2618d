"""The benchmark scripts import and call the current API (they are not timed here)."""
import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_every_benchmark_has_a_main():
    for path in sorted(BENCH.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert callable(module.main), path.name


def test_moderation_benchmark_runs_small(monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("bench_moderation", BENCH / "bench_moderation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "B", 50)
    module.bench_bootstrap(10)
    assert "speed-up" in capsys.readouterr().out


def test_robustness_benchmark_runs_small(capsys):
    spec = importlib.util.spec_from_file_location("bench_robustness", BENCH / "bench_robustness.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--mentees", "60", "--controls", "40", "--m", "2"])
    assert "full robustness set" in capsys.readouterr().out
