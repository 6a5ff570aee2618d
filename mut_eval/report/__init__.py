"""The PDF report for programme staff: narrative text (nl/en), number formatting, build.

``build_report(results, out_dir, lang)`` is imported lazily so that
``mut_eval.figures`` can use :mod:`.format` and :mod:`.text` without a cycle.
"""


def build_report(results, out_dir, lang: str = "nl", figures=None, docx: bool = False):
    """Write ``out_dir/report.pdf`` (and ``report.docx`` with ``docx``); see
    :func:`mut_eval.report.build.build_report`."""
    from .build import build_report as _build
    return _build(results, out_dir, lang=lang, figures=figures, docx=docx)


__all__ = ["build_report"]
