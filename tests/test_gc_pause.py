"""worker/gc_pause.py: full garbage collections are held off during a fill, and only then."""

from __future__ import annotations

import gc
import io

import pytest
from docx import Document
from long_table_report import build_template, report_data

from core.errors import TemplateError
from worker.gc_pause import NEVER, full_collections_paused
from worker.render import render_docx


def _broken_template() -> bytes:
    doc = Document()
    doc.add_paragraph("{{ 1 / 0 }}")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def test_a_fill_leaves_the_collector_as_it_found_it():
    before = gc.get_threshold()
    render_docx(build_template(), report_data(50))
    assert gc.get_threshold() == before


def test_a_failed_fill_leaves_the_collector_as_it_found_it():
    before = gc.get_threshold()
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        render_docx(_broken_template(), {})
    assert gc.get_threshold() == before


def test_overlapping_pauses_restore_once_the_last_ends():
    before = gc.get_threshold()
    first, second = full_collections_paused(), full_collections_paused()
    first.__enter__()
    second.__enter__()
    assert gc.get_threshold() == (before[0], before[1], NEVER)  # young collections still run
    first.__exit__(None, None, None)
    assert gc.get_threshold()[2] == NEVER, "the second fill is still running"
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
