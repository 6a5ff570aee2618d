"""The appendix's table of settings: study.yaml as the analysis used it, in words.

One row per setting — its name in plain words, its key in ``study.yaml`` and its value —
grouped as study, analysis, design, weighting, imputation and moderation. Built from the
results' ``meta["config"]`` (study.yaml after :func:`mut_eval.privacy.sanitise_config`:
identifiers and the pseudonym key are replaced before they reach the results) and
``meta["options"]`` (the analysis settings with their defaults filled in). A value the
study did not set is marked as the default; a long list (the prespecified moderation
tests) gets one row per entry.
"""
from __future__ import annotations

from .text import tr

#: (group key, Dutch title, English title) in the order of the table.
GROUPS = (("study", "Studie", "Study"), ("analysis", "Analyse", "Analysis"), ("design", "Opzet", "Design"),
          ("weighting", "Weging", "Weighting"), ("imputation", "Imputatie", "Imputation"),
          ("moderation", "Moderatie", "Moderation"))

#: study.yaml key → (group, Dutch words, English words). Keys not listed are shown in
#: their group under their own name, so a new setting is never left out.
LABELS = {
    "name": ("study", "Naam van het programma", "Name of the programme"),
    "cohort": ("study", "Cohort", "Cohort"),
    "synthetic": ("study", "Synthetische gegevens", "Synthetic data"),
    "language": ("study", "Taal van de vragenlijsten", "Language of the questionnaires"),
    "randomised": ("study", "Gerandomiseerd", "Randomised"),
    "seed": ("study", "Startgetal (studie)", "Seed (study)"),
    "pseudonym_key": ("study", "Sleutel voor pseudoniemen", "Pseudonym key"),
    "ids.pad": ("study", "Leerlingnummers aanvullen tot cijfers", "Pad identifiers to digits"),
    "ids.strip": ("study", "Onzichtbare tekens weghalen", "Strip invisible characters"),
    "missing_codes": ("study", "Codes voor ontbrekende antwoorden", "Codes for missing answers"),
    "dates.format": ("study", "Schrijfwijze van datums", "Date format"),
    "lists.separator": ("study", "Scheidingsteken van lijsten", "List separator"),
    "duplicates": ("study", "Dubbele rijen", "Duplicate rows"),
    "mentees_without_match": ("study", "Mentees zonder match", "Mentees without a match"),
    "exclusions": ("study", "Uitgesloten leerlingen", "Excluded pupils"),
    "rename": ("study", "Kolommen hernoemd", "Columns renamed"),
    "recode": ("study", "Waarden omgecodeerd", "Values recoded"),
    "variables": ("study", "Extra variabelen", "Extra variables"),
    "analysis.bootstrap": ("analysis", "Bootstrap-trekkingen", "Bootstrap resamples"),
    "analysis.seed": ("analysis", "Startgetal van de toevalstrekkingen", "Seed of the random draws"),
    "analysis.alpha": ("analysis", "Significantieniveau α", "Significance level α"),
    "analysis.min_cell": ("analysis", "Kleinste getoonde groep", "Smallest group shown"),
    "analysis.outcomes": ("analysis", "Geanalyseerde uitkomsten", "Outcomes analysed"),
    "analysis.covariates": ("analysis", "Covariaten van het gecorrigeerde model", "Covariates of the adjusted model"),
    "analysis.icc": ("analysis", "ICC voor de klascorrectie (WWC)", "ICC of the class correction (WWC)"),
    "analysis.staff_edition": ("analysis", "Excel-bestand voor medewerkers", "Excel file for staff"),
    "analysis.benchmark": ("analysis", "Vergelijkingskenmerk voor verstoring", "Benchmark covariate for confounding"),
    "design.assignment": ("design", "Eenheid van toewijzing", "Unit of assignment"),
    "design.levels": ("design", "Niveaus in het model", "Levels in the model"),
    "design.mentor_groups": ("design", "Mentorgroepen in het model", "Mentor groups in the model"),
    "design.residual": ("design", "Samenhang binnen leerlingen", "Within-pupil covariance"),
    "analysis.weighting.method": ("weighting", "Methode", "Method"),
    "analysis.weighting.covariates": ("weighting", "Kenmerken", "Covariates"),
    "analysis.weighting.moments": ("weighting", "Gelijk te maken momenten", "Moments balanced"),
    "analysis.weighting.trim": ("weighting", "Afkappen van gewichten", "Trimming of weights"),
    "analysis.imputation.m": ("imputation", "Aantal geïmputeerde datasets", "Imputed data sets"),
    "analysis.imputation.donors": ("imputation", "Donoren (predictive mean matching)",
                                   "Donors (predictive mean matching)"),
    "analysis.imputation.maxit": ("imputation", "Iteraties", "Iterations"),
    "analysis.moderators": ("moderation", "Moderatoren", "Moderators"),
    "analysis.changes": ("moderation", "Veranderingen", "Changes"),
    "analysis.prespecified_moderators": ("moderation", "Vooraf gekozen toets", "Prespecified test"),
    "analysis.probe": ("moderation", "Probewaarden", "Probe values"),
    "analysis.hc": ("moderation", "Standaardfouten", "Standard errors"),
    "analysis.center": ("moderation", "Moderator centreren", "Centre the moderator"),
}

#: What an unset (None) value means, per key.
UNSET = {
    "analysis.outcomes": ("alle uitkomsten", "all outcomes"),
    "analysis.moderators": ("alle die te vormen zijn", "all that can be formed"),
    "analysis.benchmark": ("geen", "none"),
    "analysis.weighting.covariates": ("standaard: leeftijd, geslacht, ses, migratieachtergrond, eerste generatie "
                                      "en de T1-scores", "default: age, gender, ses, migration background, first "
                                      "generation and the T1 scores"),
    "analysis.weighting.trim": ("niet", "none"),
}


def value_text(v, lang: str) -> str:
    """A setting's value as it is written in study.yaml, yes/no in the report's language."""
    if v is None:
        return "—"
    if isinstance(v, bool):
        return tr(lang, "ja", "yes") if v else tr(lang, "nee", "no")
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(value_text(x, lang) for x in v) if v else tr(lang, "geen", "none")
    if isinstance(v, dict):
        return "; ".join(f"{k}: {value_text(x, lang)}" for k, x in v.items()) if v else tr(lang, "geen", "none")
    return " ".join(str(v).split())


def _set_in(cfg: dict, key: str) -> bool:
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _flat(d: dict):
    """(key, value) of the top-level settings; a mapping gives one row per entry as
    ``key.entry`` (``variables.grade_avg``, ``ids.pad``), anything deeper as text."""
    for k, v in d.items():
        if isinstance(v, dict) and v:
            for sub, x in v.items():
                yield f"{k}.{sub}", x
        else:
            yield str(k), v


def _words(key: str) -> tuple[str | None, str, str]:
    """(group, Dutch, English) of a key; an entry of a listed mapping is 'words: entry'."""
    if key in LABELS:
        return LABELS[key]
    head, _, entry = key.rpartition(".")
    if head in LABELS:
        g, nl, en = LABELS[head]
        return g, f"{nl}: {entry}", f"{en}: {entry}"
    return None, key, key


def settings_rows(meta: dict, lang: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """``[(group title, [(setting in words, study.yaml key, value), ...]), ...]``.

    Study and design come from ``meta["config"]`` (design: the values the analysis used,
    ``meta["design"]``, "from the data" where study.yaml left them open); the analysis,
    weighting, imputation and moderation settings from ``meta["options"]``, with
    "(default)" where study.yaml did not set them. Empty groups are left out.
    """
    cfg = dict(meta.get("config") or {})
    opts = dict(meta.get("options") or {})
    rows: dict[str, list] = {g: [] for g, *_ in GROUPS}
    default = tr(lang, " (standaard)", " (default)")

    def add(key, value, note=""):
        group, nl, en = _words(key)
        if group is None:
            group = "analysis" if key.startswith("analysis.") else "design" if key.startswith("design.") \
                else "study"
        shown = tr(lang, *UNSET[key]) if value is None and key in UNSET else value_text(value, lang)
        rows[group].append((tr(lang, nl, en), key, shown + note))

    for key, v in _flat({k: v for k, v in cfg.items() if k not in ("analysis", "design")}):
        add(key, v)
    used = dict(meta.get("design") or {})
    for k in ("assignment", "levels", "mentor_groups", "residual"):
        key = f"design.{k}"
        if _set_in(cfg, key):
            add(key, (cfg.get("design") or {}).get(k))
        elif k in used:
            add(key, used[k], tr(lang, " (uit de gegevens)", " (from the data)"))
    for k, v in (cfg.get("design") or {}).items():
        if k not in ("assignment", "levels", "mentor_groups", "residual"):
            add(f"design.{k}", v)
    for k, v in opts.items():
        key = f"analysis.{k}"
        if k == "prespecified_moderators":
            for spec in v or ():
                spec = spec if isinstance(spec, dict) else {}
                add(key, " · ".join(str(spec.get(x) or "*") for x in ("outcome", "change", "moderator")))
            if not v:
                add(key, [], default)
        elif isinstance(v, dict):
            for sub, x in v.items():
                add(f"{key}.{sub}", x, "" if _set_in(cfg, f"{key}.{sub}") else default)
        else:
            add(key, v, "" if _set_in(cfg, key) else default)
    return [(tr(lang, nl, en), rows[g]) for g, nl, en in GROUPS if rows[g]]
