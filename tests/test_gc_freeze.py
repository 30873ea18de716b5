"""worker/gc_freeze.py: what existed before a fill is left out of collections during it, and only then."""

from __future__ import annotations

import gc
import io

import pytest
from docx import Document
from long_table_report import build_template, report_data

from core.errors import TemplateError
from worker.gc_freeze import frozen_heap
from worker.render import render_docx


def _broken_template() -> bytes:
    doc = Document()
    doc.add_paragraph("{{ 1 / 0 }}")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_the_heap_is_frozen_only_inside_the_block():
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() > 1000  # this process's modules and objects, at least
        assert gc.isenabled()  # the fill's own objects are still collected
    assert gc.get_freeze_count() == 0


def test_a_fill_leaves_nothing_frozen():
    thresholds = gc.get_threshold()
    render_docx(build_template(), report_data(50))
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds


def test_a_failed_fill_leaves_nothing_frozen():
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        render_docx(_broken_template(), {})
    assert gc.get_freeze_count() == 0
