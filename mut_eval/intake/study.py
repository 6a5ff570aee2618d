"""A study folder: its configuration (``study.yaml``) and where its files are.

Without ``study.yaml`` the defaults of the contract apply (section 1). The config may
give ``name``, ``cohort``, ``language``, ``synthetic``, ``randomised`` (were pupils
assigned to the conditions by lot; default false), ``files`` (other file names),
``rename`` (per file: source column -> canonical column), ``recode`` (per column:
source value -> code), ``codebook`` (path to an instruments YAML), ``pseudonym_key``,
and the settings read into typed objects by :mod:`mut_eval.intake.settings` (one place for
their defaults and checks): ``analysis``, ``ids``, ``missing_codes``, ``dates``, ``lists``,
``duplicates``, ``mentees_without_match`` and ``variables``. An ``exclusions.csv`` next to
``study.yaml`` is located here and applied by validation.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import StudyError, WAVES
from .io import load_yaml
from .settings import DEFAULT_ANALYSIS, SETTING_KEYS, StudySettings, read_settings  # noqa: F401  (DEFAULT_ANALYSIS: documented import)

TABLES = ("students", "wave_T1", "wave_T2", "wave_T3", "mentors", "matches", "qsort")
REQUIRED_TABLES = ("students", "wave_T1", "wave_T2", "wave_T3", "mentors", "matches")
EXTENSIONS = (".csv", ".xlsx", ".sav")

_KNOWN_KEYS = {"name", "cohort", "language", "synthetic", "randomised", "files", "rename", "recode",
               "codebook", "seed", "description", "pseudonym_key", "allow_outside", *SETTING_KEYS}


@dataclass
class Study:
    folder: Path
    name: str = ""
    cohort: str = ""
    language: str = "nl"
    synthetic: bool = False
    files: dict[str, Path | None] = field(default_factory=dict)
    rename: dict[str, dict[str, str]] = field(default_factory=dict)
    recode: dict[str, dict[str, str]] = field(default_factory=dict)
    codebook_path: Path | None = None
    analysis: dict = field(default_factory=dict)   # plain-dict view of settings.analysis (notebooks)
    config: dict = field(default_factory=dict)
    extra_files: list[Path] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)   # (file, warning) about the folder's files
    settings: StudySettings = field(default_factory=StudySettings)
    exclusions: Path | None = None    # exclusions.csv (.xlsx) next to study.yaml

    @property
    def config_path(self) -> Path:
        return self.folder / "study.yaml"


def _find(folder: Path, stem: str, notes: list | None = None) -> Path | None:
    # lexists, not is_file: a pipe or a folder by that name is named by the reader, not reported missing
    found = [folder / f"{stem}{ext}" for ext in EXTENSIONS if os.path.lexists(folder / f"{stem}{ext}")]
    if len(found) > 1 and notes is not None:
        notes.append((found[0].name, f"{' and '.join(p.name for p in found)} are both in the folder; using "
                      f"{found[0].name} (remove the other, or name the file under 'files' in study.yaml)"))
    return found[0] if found else None


def _read_config(cfg_path: Path) -> dict:
    """The settings of ``study.yaml`` (empty without one), read safely (:func:`~mut_eval.intake.io.load_yaml`)."""
    if not os.path.lexists(cfg_path):
        return {}
    cfg = load_yaml(cfg_path, "study.yaml") or {}
    if not isinstance(cfg, dict):
        raise StudyError(f"{cfg_path}: expected a mapping of settings at the top level")
    return cfg


def _named_file(folder: Path, name, table: str, allow_outside, cfg_path: Path) -> Path:
    """The path of a file named under ``files:``. A study folder is self-contained: a name
    that leads outside it (``../``, an absolute path, a link out) could make a copied or
    shared study.yaml read any file on the machine, so it is refused unless the study
    says ``allow_outside: true``."""
    if not isinstance(name, str) or not name.strip():
        raise StudyError(f"{cfg_path}: files: '{table}' must be a file name, not {name!r}")
    p = folder / name
    inside = folder.resolve() in p.resolve().parents
    if not inside and allow_outside is not True:
        raise StudyError(f"{cfg_path}: files: '{table}': {name!r} is outside the study folder; name a file in "
                         "the folder, or set 'allow_outside: true' in study.yaml to read files elsewhere")
    return p


def load_study(folder: str | Path) -> Study:
    """Read ``study.yaml`` (when present) and locate the study's files.

    Raises :class:`StudyError` for a folder that does not exist or a config that is
    not valid YAML or has the wrong shape. Missing data files are reported by
    validation, not here, so that every problem is listed at once.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise StudyError(f"{folder}: study folder not found (or not a folder)")
    cfg_path = folder / "study.yaml"
    cfg = _read_config(cfg_path)
    unknown = sorted(set(cfg) - _KNOWN_KEYS)
    if unknown:
        raise StudyError(f"{cfg_path}: unknown setting(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(sorted(_KNOWN_KEYS))}")
    for key in ("files", "rename", "recode"):
        if cfg.get(key) is not None and not isinstance(cfg[key], dict):
            raise StudyError(f"{cfg_path}: '{key}' must be a mapping")
    for key in ("rename", "recode"):
        for k, v in (cfg.get(key) or {}).items():
            if v is not None and not isinstance(v, dict):
                raise StudyError(f"{cfg_path}: {key}: '{k}' must be a mapping of "
                                 f"{'source column: mut_eval column' if key == 'rename' else 'value: code'}, "
                                 f"not {type(v).__name__} {v!r}")
    tables = set(TABLES) | {"wave"}
    for key in ("files", "rename"):
        unknown_t = sorted(str(k) for k in (cfg.get(key) or {}) if k not in tables)
        if unknown_t:
            raise StudyError(f"{cfg_path}: {key}: unknown table(s) {', '.join(unknown_t)}; "
                             f"allowed: {', '.join(t for t in (*TABLES, 'wave') if key == 'rename' or t != 'wave')}")
    settings = read_settings(cfg, cfg_path)

    files: dict[str, Path | None] = {}
    notes: list[tuple[str, str]] = []
    named = cfg.get("files") or {}
    for t in TABLES:
        if t in named:
            p = _named_file(folder, named[t], t, cfg.get("allow_outside", False), cfg_path)
            files[t] = p if os.path.lexists(p) else None
        else:
            files[t] = _find(folder, t, notes)
    extra = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.name.startswith("wave_") and p.suffix in EXTENSIONS
                   and p.stem not in {f"wave_{w}" for w in WAVES})
    for flag in ("synthetic", "randomised", "allow_outside"):
        if not isinstance(cfg.get(flag, False), bool):
            raise StudyError(f"{cfg_path}: '{flag}' must be true or false, not {cfg[flag]!r}")
    language = str(cfg.get("language", "nl"))
    if language not in ("nl", "en"):
        raise StudyError(f"{cfg_path}: language must be 'nl' or 'en', not '{language}'")
    codebook = cfg.get("codebook")
    return Study(
        folder=folder, name=_text(cfg.get("name"), folder.name), cohort=_text(cfg.get("cohort"), ""),
        language=language, synthetic=bool(cfg.get("synthetic", False)), files=files,
        rename={k: {str(a): str(b) for a, b in (v or {}).items()} for k, v in (cfg.get("rename") or {}).items()},
        recode={k: {str(a): str(b) for a, b in (v or {}).items()} for k, v in (cfg.get("recode") or {}).items()},
        codebook_path=(folder / codebook) if codebook else None,
        analysis=settings.analysis.as_dict(), config=cfg, extra_files=extra, notes=notes,
        settings=settings, exclusions=_find(folder, "exclusions", notes),
    )


def _text(value, default: str) -> str:
    """A name-like setting as text; left empty (``name:``) it is the default, not 'None'."""
    return default if value is None or str(value).strip() == "" else str(value).strip()
