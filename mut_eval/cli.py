"""The ``mut-eval`` command line: synth, validate, analyze, report, synth-programme, programme.

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
            bootstrap: Optional[int] = typer.Option(None, "--bootstrap", min=0, help="bootstrap resamples"),
            seed: Optional[int] = typer.Option(None, "--seed", help="random seed")):
    """Analyse a study and write the tables (CSV, results.json, results.xlsx)."""
    from .analysis import run_analysis
    results = run_analysis(study, out, bootstrap=bootstrap, seed=seed, report=False, log=_err)
    typer.echo(f"wrote {len(results.tables)} tables to {out}")


@app.command()
def report(study: Path = typer.Argument(..., help="study folder"),
           out: Path = typer.Option(..., "--out", help="output folder"),
           lang: Optional[str] = typer.Option(None, "--lang", help="nl or en (default: the study's language)"),
           bootstrap: Optional[int] = typer.Option(None, "--bootstrap", min=0),
           seed: Optional[int] = typer.Option(None, "--seed")):
    """Analyse a study and write the tables, figures and the PDF report."""
    from .analysis import run_analysis
    run_analysis(study, out, bootstrap=bootstrap, seed=seed, report=True, lang=lang, log=_err)
    typer.echo(f"wrote the report to {Path(out) / 'report.pdf'}")


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
              bootstrap: Optional[int] = typer.Option(None, "--bootstrap", min=0),
              seed: Optional[int] = typer.Option(None, "--seed"),
              no_report: bool = typer.Option(False, "--no-report", help="tables only, no PDF")):
    """Analyse every cohort of a programme (unchanged cohorts are reused) and write the
    programme tables and report: pooled effects, trend, reach and targets."""
    from .programme import run_programme
    res = run_programme(folder, out, bootstrap=bootstrap, seed=seed, lang=lang, report=not no_report, log=_err)
    reused = sum(bool(c["reused"]) for c in res.meta["cohorts"])
    typer.echo(f"wrote the programme results of {len(res.meta['cohorts'])} cohort(s) to {out} "
               f"({reused} reused unchanged)")


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
