"""The instrument codebook: scales, items, reverse-coded items, response range.

The default codebook is ``data_schemas/instruments.yaml`` (shipped inside the package
as ``mut_eval/schemas/instruments.yaml``); a study can name its own in ``study.yaml``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from .. import StudyError
from .io import load_yaml


@dataclass(frozen=True)
class Scale:
    key: str
    items: tuple[str, ...]
    reverse: tuple[str, ...]
    waves: tuple[str, ...]
    group: str  # "all" or "mentee"
    outcome: bool
    label: dict = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class Codebook:
    scales: dict[str, Scale]
    response_min: float = 1
    response_max: float = 5
    min_answered: float = 0.75
    path: str = ""

    @property
    def outcomes(self) -> list[str]:
        return [k for k, s in self.scales.items() if s.outcome]

    @property
    def items(self) -> list[str]:
        return [i for s in self.scales.values() for i in s.items]

    def label(self, key: str, lang: str = "en") -> str:
        s = self.scales.get(key)
        return s.label.get(lang, key) if s else key


def default_codebook_path() -> Path:
    return Path(str(resources.files("mut_eval") / "schemas" / "instruments.yaml"))


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Read a codebook YAML file (the default one when ``path`` is None)."""
    path = Path(path) if path else default_codebook_path()
    return codebook_from_dict(load_yaml(path, "codebook file"), str(path))


def codebook_from_dict(raw, where: str = "codebook") -> Codebook:
    """A Codebook from its plain-data form (the YAML file, or :func:`codebook_summary`)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("scales"), dict):
        raise StudyError(f"{where}: codebook needs a 'scales' mapping")
    resp = raw.get("response", {}) or {}
    scales = {}
    for key, s in raw["scales"].items():
        if not isinstance(s, dict) or not s.get("items"):
            raise StudyError(f"{where}: scale '{key}' needs a list of items")
        items = tuple(str(i) for i in s["items"])
        reverse = tuple(str(i) for i in (s.get("reverse") or []))
        bad = [r for r in reverse if r not in items]
        if bad:
            raise StudyError(f"{where}: scale '{key}': reverse-coded item(s) {bad} are not among its items")
        label = s.get("label") or {}
        if isinstance(label, str):
            raise StudyError(f"{where}: scale '{key}': label must give a text per language, e.g. "
                             f"label: {{nl: \"{label}\", en: \"{label}\"}}, not the plain text {label!r}")
        if not isinstance(label, dict) or not all(isinstance(v, str) for v in label.values()):
            raise StudyError(f"{where}: scale '{key}': label must be a mapping language: text "
                             f"(e.g. {{nl: ..., en: ...}}), not {label!r}")
        scales[key] = Scale(
            key=key, items=items, reverse=reverse,
            waves=tuple(s.get("waves") or ("T1", "T2", "T3")),
            group=str(s.get("group", "all")), outcome=bool(s.get("outcome", True)),
            label=dict(label), source=str(s.get("source", "")),
        )
    if not isinstance(resp, dict):
        raise StudyError(f"{where}: 'response' must be a mapping {{min: 1, max: 5}}, not {resp!r}")
    numbers = {}
    for name, value, default in (("response.min", resp.get("min"), 1), ("response.max", resp.get("max"), 5),
                                 ("min_answered", raw.get("min_answered"), 0.75)):
        value = default if value is None else value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise StudyError(f"{where}: '{name}' must be a number"
                             + (" (a share from 0 to 1, e.g. 0.75)" if name == "min_answered" else "")
                             + f", not {value!r}")
        numbers[name] = float(value)
    if not 0 < numbers["min_answered"] <= 1:
        raise StudyError(f"{where}: 'min_answered' must be a share above 0 and at most 1 (e.g. 0.75), "
                         f"not {raw.get('min_answered')!r}")
    if numbers["response.min"] >= numbers["response.max"]:
        raise StudyError(f"{where}: response.min must be below response.max")
    return Codebook(scales=scales, response_min=numbers["response.min"], response_max=numbers["response.max"],
                    min_answered=numbers["min_answered"], path=where)


def codebook_summary(codebook: Codebook) -> dict:
    """The codebook as plain data, kept in ``results.json`` meta so that figures and the
    report label a study's own scales without re-reading its files."""
    return {"response": {"min": codebook.response_min, "max": codebook.response_max},
            "min_answered": codebook.min_answered,
            "scales": {k: {"label": dict(s.label), "items": list(s.items), "reverse": list(s.reverse),
                           "waves": list(s.waves), "group": s.group, "outcome": s.outcome, "source": s.source}
                       for k, s in codebook.scales.items()}}


def codebook_of(meta: dict | None) -> Codebook:
    """The codebook a Results was made with (from its meta); the default one for results
    that do not carry it."""
    raw = (meta or {}).get("codebook")
    if not isinstance(raw, dict) or "scales" not in raw:
        return load_codebook()
    return codebook_from_dict(raw, "results meta")
