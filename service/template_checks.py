"""The one gate every template passes, whoever sends it: upload, ad-hoc render or the CLI.

Two checks, always in this order: the package's safety (``core.docx_safety``: a template must not
be able to attack the renderer) and then its tags (``service.lint``: a template must be able to
render, and its author must learn *where* it cannot). Keeping both behind one function means an
upload and an ad-hoc render can never be judged differently, nor answer with different errors.
"""

from __future__ import annotations

from typing import Any

from core.docx_safety import check_docx
from core.errors import TemplateError, TemplateRejected

from .lint import lint_docx


def lint_report(docx: bytes) -> dict[str, Any]:
    """Safety-check ``docx``, then lint it; return the lint report (``ok``, ``variables``, ``problems``).

    Raises:
        TemplateRejected: the package is unsafe or not a .docx (422, naming part and paragraph).
    """
    check_docx(docx)
    try:
        return lint_docx(docx)
    except RecursionError:  # Jinja's parser loops, its compiler (and the variable walk) recurse
        raise TemplateRejected("the template's tags are nested too deeply to check (thousands of levels)",
                               errors=[{"part": "", "message": "tags nested too deeply",
                                        "found": "nesting"}]) from None


def check_template(docx: bytes) -> dict[str, Any]:
    """:func:`lint_report`, refusing a template with tag problems.

    Raises:
        TemplateRejected: as :func:`lint_report`.
        TemplateError: the tags have problems; ``errors`` lists each with part, paragraph and tag.
    """
    report = lint_report(docx)
    if not report["ok"]:
        raise TemplateError("the template has tag errors; fix them in Word and send it again",
                            errors=report["problems"])
    return report
