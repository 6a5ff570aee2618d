"""The scored pupil-level data for researchers, and the codebook of every output.

``OUT/data/`` holds, for re-analysis in SPSS or R (``haven::read_sav``):

- ``panel_wide.sav``: one row per pupil (keyed pseudonym, never the school's number):
  condition, school, class, characteristics and every ``{outcome}_{wave}`` scale score;
  variable labels from the codebook, the text codes stored as numbers with value labels
  (``unknown`` declared user-missing), a missing score is system-missing;
- ``panel_long.csv``: one row per pupil × wave × outcome with a score;
- ``codebook.csv``: every column of every output table (``tables/NAME.csv``, the sheets
  of ``results.xlsx``) and data file: file, column, label, type, codes, how computed.

The descriptions are written once, in ``schemas/table_docs.yaml``. The pupil-level files
are for researchers only: the staff edition does not write them.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .intake.codebook import Codebook
from .results import Results, write_csv

MAX_CODES_LISTED = 12   # a text column with more distinct values is described without its codes


@lru_cache(maxsize=1)
def table_docs() -> dict:
    """The column descriptions of ``schemas/table_docs.yaml``."""
    path = Path(str(resources.files("mut_eval") / "schemas" / "table_docs.yaml"))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _split(doc: str) -> tuple[str, str]:
    label, _, how = doc.partition("|")
    return label.strip(), how.strip()


def describe_table_column(table: str, column: str) -> tuple[str, str] | None:
    """(label, how computed) of a column of an output table, or None when undocumented."""
    docs = table_docs()
    own = docs["tables"].get(table) or {}
    doc = own.get(column) or (docs["tables"].get(own.get("like")) or {}).get(column) or docs["common"].get(column)
    return None if doc is None or column == "like" else _split(doc)


def describe_data_column(column: str, codebook: Codebook, lang: str = "en") -> tuple[str, str] | None:
    """(label, how computed) of a column of the pupil-level data files, or None."""
    docs = table_docs()["data"]
    if column in docs:
        return _split(docs[column])
    for key, scale in codebook.scales.items():
        for wave in scale.waves:
            if column == f"{key}_{wave}":
                reverse = f"; reverse-coded {', '.join(scale.reverse)} ({codebook.response_max + codebook.response_min:g} - x)" \
                    if scale.reverse else ""
                return (f"{codebook.label(key, lang)} ({wave})",
                        f"mean of the answered items {', '.join(scale.items)}{reverse}; given when at least "
                        f"{codebook.min_answered:.0%} of them are answered")
    return None


def researcher_data(panel, lang: str = "en") -> dict[str, pd.DataFrame]:
    """The Panel's pupil-level frames as written to ``data/``: wide (one row per pupil, with
    the mentees' relationship quality at T2) and long. Identifiers are the Panel's pseudonyms."""
    wide = panel.wide.copy()
    if len(panel.relationship_quality):
        wide["relationship_quality_T2"] = panel.relationship_quality.reindex(wide.index)
    wide = wide.reset_index()
    return {"panel_wide": wide, "panel_long": panel.long.copy()}


def sav_frame(wide: pd.DataFrame) -> tuple[pd.DataFrame, dict, dict]:
    """``wide`` with the coded text columns as numbers, their value labels and the
    user-missing code of ``unknown`` (pyreadstat's ``variable_value_labels`` and
    ``missing_ranges``)."""
    codes = table_docs()["sav_codes"]
    df, labels, missing = wide.copy(), {}, {}
    for col, mapping in codes.items():
        if col not in df.columns:
            continue
        to_code = {str(v): int(k) for k, v in mapping.items()}
        values = df[col].astype(object)
        unmapped = sorted({str(v) for v in values.dropna()} - set(to_code))
        if unmapped:  # a level the file format does not know: keep the text rather than lose it
            continue
        df[col] = values.map(lambda v: np.nan if v is None or v != v else float(to_code[str(v)]))
        labels[col] = {float(k): str(v) for k, v in mapping.items()}
        if "unknown" in to_code:
            missing[col] = [float(to_code["unknown"])]
    return df, labels, missing


def spss_names(columns) -> dict[str, str]:
    """SPSS variable names for ``columns``: letters, digits and ``_`` (any other character
    becomes ``_``), starting with a letter, at most 64 bytes, unique. A codebook's scale
    key can be any text; the codebook.csv says which name stands for which column."""
    out, used = {}, set()
    for col in columns:
        name = re.sub(r"[^A-Za-z0-9_]", "_", str(col))
        name = name if name[:1].isalpha() else "v_" + name
        name = name[:64]
        k = 1
        while name.lower() in used:
            k += 1
            name = f"{name[:60]}_{k}"
        used.add(name.lower())
        out[col] = name
    return out


def _type_and_codes(values: pd.Series) -> tuple[str, str]:
    if pd.api.types.is_bool_dtype(values):
        return "true/false", "true; false"
    if pd.api.types.is_numeric_dtype(values):
        whole = values.dropna()
        return ("integer" if len(whole) and np.all(np.equal(np.mod(whole, 1), 0)) else "number"), ""
    present = sorted({str(v) for v in values.dropna()})
    if set(present) <= {"True", "False"} and present:
        return "true/false", "true; false"
    return "text", "; ".join(present) if len(present) <= MAX_CODES_LISTED else ""


def output_codebook(results: Results, data: dict[str, pd.DataFrame], codebook: Codebook,
                    lang: str = "en") -> pd.DataFrame:
    """One row per column of every output table and data file: ``file``, ``column``,
    ``label``, ``type`` (number, integer, text, true/false), ``codes`` (the values of a
    text column with few of them, ``;``-separated; for the .sav file its numeric codes),
    ``computed`` (how). A column without a description gets an empty label (the tests
    require none)."""
    sav_codes = table_docs()["sav_codes"]
    rows = []
    for name, df in results.tables.items():
        for col in df.columns:
            label, how = describe_table_column(name, str(col)) or ("", "")
            kind, codes = _type_and_codes(df[col])
            rows.append((f"tables/{name}.csv", str(col), label, kind, codes, how))
    for name, df in data.items():
        file = "data/panel_wide.sav" if name == "panel_wide" else f"data/{name}.csv"
        names = spss_names(df.columns) if name == "panel_wide" else {c: str(c) for c in df.columns}
        for col in df.columns:
            label, how = describe_data_column(str(col), codebook, lang) or ("", "")
            if names[col] != str(col):
                how = f"column {col!r} of the panel; " + how
            kind, codes = _type_and_codes(df[col])
            if name == "panel_wide" and col in sav_codes:
                kind, codes = "integer (coded)", "; ".join(f"{k} = {v}" for k, v in sav_codes[col].items())
                if "unknown" in sav_codes[col].values():
                    codes += " (user-missing)"
            rows.append((file, names[col], label, kind, codes, how))
    return pd.DataFrame(rows, columns=["file", "column", "label", "type", "codes", "computed"])


def write_data(results: Results, data: dict[str, pd.DataFrame], folder: str | Path, codebook: Codebook,
               lang: str = "en") -> Path:
    """Write ``panel_wide.sav``, ``panel_long.csv`` and ``codebook.csv`` into ``folder``."""
    import pyreadstat

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wide, value_labels, missing = sav_frame(data["panel_wide"])
    labels = [(describe_data_column(str(c), codebook, lang) or (str(c), ""))[0] for c in wide.columns]
    names = spss_names(wide.columns)
    pyreadstat.write_sav(wide.rename(columns=names), str(folder / "panel_wide.sav"), column_labels=labels,
                         variable_value_labels={names[c]: v for c, v in value_labels.items()},
                         missing_ranges={names[c]: v for c, v in missing.items()})
    write_csv(data["panel_long"], folder / "panel_long.csv")
    write_csv(output_codebook(results, data, codebook, lang), folder / "codebook.csv")
    return folder
