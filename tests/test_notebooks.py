"""The notebooks in ``notebooks/`` run from top to bottom without an error, and are stored
without outputs (so that the repository holds the code and prose, not stale results).

Each notebook is executed with ``nbclient`` in a kernel that runs *this* interpreter
(the project's venv): a ``python3`` kernelspec pointing at ``sys.executable`` is written
to a temporary directory put first on ``JUPYTER_PATH``, so a ``python3`` kernelspec of
another Python installed for the user or system-wide cannot be picked up instead. The
working directory of the kernel is a fresh temporary directory: the notebooks find the
example study through the installed package, not through the current directory.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the 'notebooks' extra is not installed (make install)")
nbclient = pytest.importorskip("nbclient", reason="the 'notebooks' extra is not installed (make install)")
pytest.importorskip("ipykernel", reason="the 'notebooks' extra is not installed (make install)")

import mut_eval  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01_load_and_validate.ipynb", "02_effects.ipynb", "03_moderation.ipynb",
            "04_your_own_model.ipynb"]


@pytest.fixture(scope="module")
def venv_kernel(tmp_path_factory):
    """A ``python3`` kernelspec for ``sys.executable``, first on ``JUPYTER_PATH``."""
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (mut_eval venv)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", os.pathsep.join([str(root), os.environ.get("JUPYTER_PATH", "")]).rstrip(os.pathsep))
    # inline figures, whatever backend the environment asks for
    mp.delenv("MPLBACKEND", raising=False)
    yield "python3"
    mp.undo()


def _execute(nb, cwd: Path, kernel_name: str):
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name=kernel_name,
                                     resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def _error_outputs(nb) -> list[str]:
    errors = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"cell {i}: {out.get('ename')}: {out.get('evalue')}")
    return errors


def test_the_four_notebooks_are_there():
    assert set(EXPECTED) <= {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    assert nb.nbformat == 4
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} of {path.name} has stored outputs"
            assert cell.execution_count is None, f"cell {i} of {path.name} has an execution count"
        assert "attachments" not in cell or not cell.attachments, f"cell {i} of {path.name} has attachments"


def test_kernel_runs_this_interpreter_and_package(venv_kernel, tmp_path):
    """The kernel the notebooks run in imports the same Python and the same mut_eval."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import sys, mut_eval\nprint(sys.prefix)\nprint(mut_eval.__file__)")]
    _execute(nb, tmp_path, venv_kernel)
    prefix, module = nb.cells[0].outputs[0]["text"].split()
    assert Path(prefix).resolve() == Path(sys.prefix).resolve()
    assert Path(module).resolve() == Path(mut_eval.__file__).resolve()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_without_error(path, venv_kernel, tmp_path):
    nb = nbformat.read(path, as_version=4)
    # nbclient raises CellExecutionError on the first failing cell (with its traceback)
    _execute(nb, tmp_path, venv_kernel)
    assert _error_outputs(nb) == []
    # every code cell ran
    assert all(c.execution_count is not None for c in nb.cells if c.cell_type == "code")
    # the notebooks write only to temporary directories of their own
    assert list(tmp_path.iterdir()) == []
