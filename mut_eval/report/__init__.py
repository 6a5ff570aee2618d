"""The PDF report: the staff edition (plain language, :mod:`.staff`) and the research edition
(the technical report, :mod:`.build`), narrative text (nl/en), number formatting, build.

``build_report(results, out_dir, lang, edition)`` is imported lazily so that
``mut_eval.figures`` can use :mod:`.format` and :mod:`.text` without a cycle.
"""


def build_report(results, out_dir, lang: str = "nl", figures=None, edition: str = "both", docx: bool = True):
    """Write ``out_dir/report.pdf`` (staff) and/or ``report_research.pdf`` (+ ``.docx``); see
    :func:`mut_eval.report.build.build_report`."""
    from .build import build_report as _build
    return _build(results, out_dir, lang=lang, figures=figures, edition=edition, docx=docx)


__all__ = ["build_report"]
