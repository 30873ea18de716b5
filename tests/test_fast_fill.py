"""worker/fast_fill.py: our fill gives docxtpl's own bytes, on the fast path and on its fallbacks."""

from __future__ import annotations

import io
import zipfile

import pytest
from docx import Document
from docxtpl import DocxTemplate
from long_table_report import build_template, report_data

from core.sandbox import make_environment
from worker.render import render_docx
from worker.typed import to_context


def docxtpl_bytes(template: bytes, data: dict) -> bytes:
    """The same fill through docxtpl's own class (no LinearFill)."""
    tpl = DocxTemplate(io.BytesIO(template))
    tpl.render(to_context(data, tpl), jinja_env=make_environment(), autoescape=True)
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def parts(docx: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(docx)) as z:
        return {name: z.read(name) for name in z.namelist()}


def column_loop_template() -> bytes:
    """A ``{%tc %}`` loop: rows get more cells than grid columns, so fix_tables must widen the grid."""
    doc = Document()
    table = doc.add_table(rows=2, cols=4)
    for cell, text in zip(table.rows[0].cells, ("名称", "{%tc for c in cols %}", "{{ c }}", "{%tc endfor %}"),
                          strict=True):
        cell.text = text
    doc.add_paragraph("{{ note }}")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


@pytest.mark.parametrize("template, data", [
    (build_template(), report_data(400)),
    (build_template(), dict(report_data(5), title="第一行\n第二行\t制表")),
    (column_loop_template(), {"cols": ["甲", "乙", "丙", "丁"], "note": "四列"}),
], ids=["long-table", "listing-characters", "column-loop"])
def test_fill_gives_docxtpls_bytes(template, data):
    assert parts(render_docx(template, data)) == parts(docxtpl_bytes(template, data))


def test_column_loop_still_widens_the_grid():
    body = parts(render_docx(column_loop_template(), {"cols": ["甲", "乙", "丙", "丁"], "note": ""}))
    assert body["word/document.xml"].count(b"<w:gridCol ") == 5  # 名称 and the four looped cells
