"""A study folder: its configuration (``study.yaml``) and where its files are.

Without ``study.yaml`` the defaults of the contract apply (section 1). The config may
give ``name``, ``cohort``, ``language``, ``synthetic``, ``randomised`` (were pupils
assigned to the conditions by lot; default false), ``files`` (other file names),
``rename`` (per file: source column -> canonical column), ``recode`` (per column:
source value -> code), ``codebook`` (path to an instruments YAML) and ``analysis``
options (``bootstrap``, ``seed``, ``alpha``, ``min_cell``, ``outcomes``, ``moderators``,
``prespecified_moderators``, ``covariates``, ``probe``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .. import StudyError, WAVES
from .io import load_yaml

TABLES = ("students", "wave_T1", "wave_T2", "wave_T3", "mentors", "matches", "qsort")
REQUIRED_TABLES = ("students", "wave_T1", "wave_T2", "wave_T3", "mentors", "matches")
EXTENSIONS = (".csv", ".xlsx", ".sav")

DEFAULT_ANALYSIS = {
    "bootstrap": 5000,
    "seed": 2020,
    "alpha": 0.05,
    "min_cell": 10,
    "outcomes": None,          # None = every outcome scale of the codebook
    "moderators": None,        # None = every moderator that can be formed
    "prespecified_moderators": [],
    "covariates": [],          # baseline covariates for a second, adjusted mixed model
    "probe": "moments",        # or "percentiles" (PROCESS 16th/50th/84th)
    "icc": 0.10,               # WWC default ICC for non-achievement outcomes
    "hc": None,                # moderation SEs: None (OLS) or HC0..HC4 (HC3 recommended)
    "center": False,           # mean-centre a numeric moderator (PROCESS's centering)
    "staff_edition": False,    # results.xlsx with small cells suppressed, for programme staff
}
_KNOWN_KEYS = {"name", "cohort", "language", "synthetic", "randomised", "files", "rename", "recode",
               "codebook", "analysis", "seed", "description", "pseudonym_key", "allow_outside"}


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
    analysis: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    extra_files: list[Path] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)   # (file, warning) about the folder's files

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
    for key in ("files", "rename", "recode", "analysis"):
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
    analysis = dict(DEFAULT_ANALYSIS)
    analysis.update(cfg.get("analysis") or {})
    bad = sorted(set(analysis) - set(DEFAULT_ANALYSIS))
    if bad:
        raise StudyError(f"{cfg_path}: unknown analysis option(s) {', '.join(bad)}; "
                         f"allowed: {', '.join(DEFAULT_ANALYSIS)}")
    _check_analysis(analysis, cfg_path)

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
        analysis=analysis, config=cfg, extra_files=extra, notes=notes,
    )


def _check_analysis(a: dict, where: Path) -> None:
    def fail(msg):
        raise StudyError(f"{where}: analysis option {msg}")

    def whole(v):  # YAML's yes/no are bools, and bool is an int in Python
        return isinstance(v, int) and not isinstance(v, bool)
    if not whole(a["bootstrap"]) or a["bootstrap"] < 0:
        fail(f"'bootstrap' must be a whole number >= 0, not {a['bootstrap']!r}")
    if not whole(a["seed"]):
        fail(f"'seed' must be a whole number, not {a['seed']!r}")
    if isinstance(a["alpha"], bool) or not isinstance(a["alpha"], (int, float)) or not 0 < a["alpha"] < 1:
        fail(f"'alpha' must be between 0 and 1, not {a['alpha']!r}")
    if not whole(a["min_cell"]) or a["min_cell"] < 1:
        fail(f"'min_cell' must be a whole number >= 1, not {a['min_cell']!r}")
    if a["probe"] not in ("moments", "percentiles"):
        fail(f"'probe' must be 'moments' or 'percentiles', not {a['probe']!r}")
    if isinstance(a["icc"], bool) or not isinstance(a["icc"], (int, float)) or not 0 <= a["icc"] < 1:
        fail(f"'icc' must be a number from 0 to 1, not {a['icc']!r}")
    if a["hc"] is not None and str(a["hc"]).upper() not in ("HC0", "HC1", "HC2", "HC3", "HC4"):
        fail(f"'hc' must be one of HC0, HC1, HC2, HC3, HC4 (or left out for OLS), not {a['hc']!r}")
    for key in ("center", "staff_edition"):
        if not isinstance(a[key], bool):
            fail(f"'{key}' must be true or false, not {a[key]!r}")
    for key in ("outcomes", "moderators", "covariates"):
        v = a[key]
        if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            fail(f"'{key}' must be a list of names (e.g. [{'age, gender' if key != 'outcomes' else 'self_efficacy'}]), "
                 f"not {v!r}")
    pre = a["prespecified_moderators"]
    if pre is not None and not (isinstance(pre, list) and all(
            isinstance(x, dict) and set(x) <= {"outcome", "change", "moderator"} for x in pre)):
        fail("'prespecified_moderators' must be a list of {outcome, change, moderator} entries, "
             f"not {pre!r}")


def _text(value, default: str) -> str:
    """A name-like setting as text; left empty (``name:``) it is the default, not 'None'."""
    return default if value is None or str(value).strip() == "" else str(value).strip()
