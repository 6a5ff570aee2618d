import shutil
from pathlib import Path

import pandas as pd
import pytest

import mut_eval

EXAMPLE = Path(mut_eval.__file__).parent / "data" / "example_study"


@pytest.fixture
def study(tmp_path) -> Path:
    """A fresh, writable copy of the example study."""
    dst = tmp_path / "study"
    shutil.copytree(EXAMPLE, dst)
    return dst


def read_csv_text(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write_csv_text(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n")
