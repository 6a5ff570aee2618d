"""The ``mut-eval`` command line: synth, validate, analyze, report, synth-programme, programme, plan.

The CLI only wires the stages together. Any problem a user can cause ends with a
clear message and exit code 2, never a traceback (set ``MUT_EVAL_DEBUG=1`` to see one
for an unexpected internal error, which exits with 1).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from . import StudyError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Evaluate a school mentoring programme from its questionnaire exports.")


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


@app.command()
def synth(out_dir: Path = typer.Argument(..., help="folder to write the synthetic study into"),
          seed: int = typer.Option(2020, help="random seed"),
          n_mentees: int = typer.Option(124, "--n-mentees", min=4),
          n_controls: int = typer.Option(66, "--n-controls", min=4)):
    """Write a SYNTHETIC study folder calibrated to the MUT 2019-20 evaluation."""
    from .synth import write_study
    path = write_study(out_dir, seed=seed, n_mentees=n_mentees, n_controls=n_controls)
    typer.echo(f"wrote synthetic study to {path}")


@app.command()
def validate(study: Path = typer.Argument(..., help="study folder")):
    """Check a study folder; exit 0 when usable, 2 with one line per problem otherwise."""
    from .intake.validate import validate_study
    clean = validate_study(study)
    for p in clean.warnings:
        _err(str(p))
    n = clean.students["condition"].value_counts()
    typer.echo(f"{study}: usable — {n.get('mentee', 0)} mentees, {n.get('control', 0)} controls, "
               f"{len(clean.warnings)} warning(s)")


@app.command()
def analyze(study: Path = typer.Argument(..., help="study folder"),
            out: Path = typer.Option(..., "--out", help="output folder"),
            bootstrap: Optional[str] = typer.Option(None, "--bootstrap", help="bootstrap resamples (a number, or auto)"),
            seed: Optional[int] = typer.Option(None, "--seed", help="random seed")):
    """Analyse a study and write the tables (CSV, results.json, results.xlsx)."""
    from .analysis import run_analysis
    from .progress import tracking
    with tracking("analyse") as clock:
        results = run_analysis(study, out, bootstrap=bootstrap, seed=seed, report=False, log=_err)
    typer.echo(f"wrote {len(results.tables)} tables to {out} in {clock():.1f} s")


@app.command()
def report(study: Path = typer.Argument(..., help="study folder"),
           out: Path = typer.Option(..., "--out", help="output folder"),
           lang: Optional[str] = typer.Option(None, "--lang", help="nl or en (default: the study's language)"),
           bootstrap: Optional[str] = typer.Option(None, "--bootstrap", help="bootstrap resamples (a number, or auto)"),
           seed: Optional[int] = typer.Option(None, "--seed"),
           edition: str = typer.Option("both", "--edition",
                                       help="staff (report.pdf), research (report_research.pdf) or both")):
    """Analyse a study and write the tables, figures and the PDF report(s): report.pdf for
    programme staff, report_research.pdf the full technical report."""
    from .analysis import run_analysis
    if edition not in ("staff", "research", "both"):
        raise StudyError(f"--edition: must be staff, research or both, not {edition!r}")
    from .progress import tracking
    with tracking("report") as clock:
        run_analysis(study, out, bootstrap=bootstrap, seed=seed, report=True, lang=lang, log=_err, edition=edition)
    names = {"staff": "report.pdf", "research": "report_research.pdf and .docx",
             "both": "report.pdf (staff), report_research.pdf and report_research.docx"}
    typer.echo(f"wrote {names[edition]} to {out} in {clock():.1f} s")


@app.command("synth-programme")
def synth_programme(out_dir: Path = typer.Argument(..., help="folder to write the synthetic programme into"),
                    cohorts: int = typer.Option(4, "--cohorts", min=1, max=6),
                    seed: int = typer.Option(2019, help="random seed"),
                    scale: float = typer.Option(1.0, "--scale", min=0.05, help="multiply every cohort's size")):
    """Write a SYNTHETIC programme folder: programme.yaml and one study folder per cohort."""
    from .synth import write_programme
    path = write_programme(out_dir, cohorts=cohorts, seed=seed, scale=scale)
    typer.echo(f"wrote synthetic programme to {path}")


@app.command()
def programme(folder: Path = typer.Argument(..., help="programme folder (with programme.yaml)"),
              out: Path = typer.Option(..., "--out", help="output folder"),
              lang: Optional[str] = typer.Option(None, "--lang", help="nl or en (default: the programme's language)"),
              bootstrap: Optional[str] = typer.Option(None, "--bootstrap", help="bootstrap resamples (a number, or auto)"),
              seed: Optional[int] = typer.Option(None, "--seed"),
              no_report: bool = typer.Option(False, "--no-report", help="tables only, no PDF")):
    """Analyse every cohort of a programme (unchanged cohorts are reused) and write the
    programme tables and report: pooled effects, trend, reach and targets."""
    from .programme import run_programme
    from .progress import tracking
    with tracking("programme") as clock:
        res = run_programme(folder, out, bootstrap=bootstrap, seed=seed, lang=lang, report=not no_report, log=_err)
    reused = sum(bool(c["reused"]) for c in res.meta["cohorts"])
    typer.echo(f"wrote the programme results of {len(res.meta['cohorts'])} cohort(s) to {out} "
               f"({reused} reused unchanged) in {clock():.1f} s")

@app.command()
def plan(design: str = typer.Option("class", "--design", help="pupil | class | school | partial (mentor groups in the treated arm only)"),
         mdes: Optional[float] = typer.Option(None, "--mdes", help="effect size g to detect"),
         power: Optional[float] = typer.Option(None, "--power", help="power (default .80 when solving for mdes or classes)"),
         classes: Optional[int] = typer.Option(None, "--classes", help="classes (per school for school; treated mentor groups for partial)"),
         class_size: Optional[float] = typer.Option(None, "--class-size", help="pupils per class (mentor group for partial); default 25 or from --from"),
         schools: Optional[int] = typer.Option(None, "--schools", help="schools (school design)"),
         icc: Optional[float] = typer.Option(None, "--icc", help="class ICC (mentor-group ICC for partial)"),
         icc_school: Optional[float] = typer.Option(None, "--icc-school", help="school ICC (school design)"),
         r2: Optional[float] = typer.Option(None, "--r2", help="pupil-level R² of the covariates (pretest)"),
         r2_cluster: Optional[float] = typer.Option(None, "--r2-cluster", help="class-level R² of the covariates (default: the pupil-level R²)"),
         covariates: Optional[int] = typer.Option(None, "--covariates", help="covariates counted in the df (default 1 when the R² is > 0)"),
         share_treated: float = typer.Option(0.5, "--share-treated", help="share of classes (pupils) treated"),
         attrition: Optional[float] = typer.Option(None, "--attrition", help="share of pupils lost (default 0 or from --from)"),
         alpha: float = typer.Option(0.05, "--alpha", help="two-sided significance level"),
         source: Optional[Path] = typer.Option(None, "--from", help="results folder (or programme results folder) to take ICC, R², attrition and class size from"),
         out: Optional[Path] = typer.Option(None, "--out", help="write the plan as CSV"),
         language: str = typer.Option("nl", "--language", help="nl or en")):
    """Plan the next cohort: MDES, power or the classes needed (PowerUp!). Give two of --mdes,
    --power, --classes (power .80 and mdes .20 fill in when fewer are given)."""
    from . import is_missing
    from .planning import parameters_from_results, plan_sentence
    from .stats.power import plan as plan_design
    if language not in ("nl", "en"):
        raise StudyError(f"--language = {language!r}: must be nl or en")
    found = parameters_from_results(source) if source is not None else None
    picked = {}
    for name, given in (("icc", icc), ("icc_school", icc_school), ("r2", r2), ("r2_cluster", r2_cluster),
                        ("attrition", attrition), ("class_size", class_size)):
        from_results = getattr(found, name) if found is not None else None
        # the mentor-group ICC and group size are not in a results folder
        if design == "partial" and name in ("icc", "class_size"):
            from_results = None
        picked[name] = given if given is not None else from_results
    if picked["icc"] is None and design in ("class", "school", "partial"):
        what = "the mentor-group ICC" if design == "partial" else "the class ICC"
        raise StudyError(f"plan --design {design}: give --icc ({what})"
                         + ("" if design == "partial" else " or --from a results folder"))
    if picked["class_size"] is None and design == "partial":
        raise StudyError("plan --design partial: give --class-size (pupils per mentor group)")
    n_given = sum(x is not None for x in (mdes, power, classes))
    if n_given < 2 and power is None:
        power = 0.80
    if sum(x is not None for x in (mdes, power, classes)) < 2:
        mdes = 0.20
    row = plan_design(design, mdes=mdes, power=power, classes=classes,
                      class_size=25 if picked["class_size"] is None else picked["class_size"],
                      schools=schools, icc=picked["icc"] or 0.0, icc_school=picked["icc_school"] or 0.0,
                      r2=picked["r2"] or 0.0,
                      # the class-level R² of the pretest is usually higher than the pupil-level one
                      # (Bloom, Richburg-Hayes & Black 2007): the pupil R² is a conservative stand-in
                      r2_cluster=picked["r2"] or 0.0 if picked["r2_cluster"] is None else picked["r2_cluster"],
                      share_treated=share_treated, attrition=picked["attrition"] or 0.0,
                      alpha=alpha, covariates=covariates)
    sentence = plan_sentence(row.iloc[0], language)
    if found is not None:
        for note in found.notes:
            typer.echo(f"from {source}: {note}")
    if out is not None:
        if out.exists() and not (out.is_file() and out.read_text(encoding="utf-8", errors="replace").startswith("design,mdes,power")):
            raise StudyError(f"--out {out}: exists and is not an earlier plan; not overwritten")
        try:
            row.to_csv(out, index=False)
        except OSError as e:
            raise StudyError(f"--out {out}: cannot be written ({e.strerror or e})") from None
        typer.echo(f"wrote {out}")
    else:
        from rich.console import Console
        from rich.table import Table
        r = row.iloc[0]
        table = Table(title=f"plan: {design}")
        cols = {"mdes": ("g", ".2f"), "power": ("power", ".2f"), "classes": ("J", "g"),
                "class_size": ("n", "g"), "schools": ("K", "g"), "pupils": ("pupils", "g"),
                "df": ("df", ".1f"), "icc": ("ICC", ".3f"), "r2": ("R²", ".2f"), "attrition": ("attr.", ".2f")}
        for label, _ in cols.values():
            table.add_column(label, justify="right")
        table.add_row(*["" if is_missing(r[c]) else format(r[c], f) for c, (_, f) in cols.items()])
        Console().print(table)
    typer.echo(sentence)


def main(argv: list[str] | None = None) -> int:
    try:
        app(args=argv, standalone_mode=False)
    except StudyError as e:
        _err(str(e))
        return 2
    except (typer.Exit, SystemExit) as e:  # --help, typer's own exits
        code = getattr(e, "exit_code", getattr(e, "code", 0))
        return int(code or 0)
    except typer.Abort:
        return 1
    except typer.TyperException as e:  # usage errors (unknown option, missing argument)
        show = getattr(e, "show", None)
        _err(str(e)) if show is None else show()
        return 2
    except Exception as e:
        if os.environ.get("MUT_EVAL_DEBUG"):
            raise
        _err(f"unexpected internal error ({type(e).__name__}: {e}). This is a bug in mut_eval; "
             "run with MUT_EVAL_DEBUG=1 for details.")
        return 1
    return 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
