"""worker/fast_fill.py: our fill gives docxtpl's own bytes, on the fast path and on its fallbacks."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from docx import Document
from docxtpl import DocxTemplate
from long_table_report import build_template, report_data
from merged_table_report import merged_template

from helpers import docx_parts, docx_with, docxtpl_fill
from worker.fast_fill import _break_paragraphs, _join_paragraphs
from worker.render import render_docx


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


ESCAPED_DELIMITERS = docx_with("模板写法 {_{ 变量 }_} 与 {_% if x %_}", "{{ note }}")


@pytest.mark.parametrize("template, data", [
    (build_template(), report_data(400)),
    (merged_template(), report_data(400)),
    (build_template(), dict(report_data(5), title="第一行\n第二行\t制表")),
    (build_template(), dict(report_data(5), title='命名空间 xmlns:w="urn:x" <w:tc>')),
    (column_loop_template(), {"cols": ["甲", "乙", "丙", "丁"], "note": "四列"}),
    (ESCAPED_DELIMITERS, {"note": "说明"}),
    (ESCAPED_DELIMITERS, {"note": "数据里的 {_{ 不是标记 }_}"}),
], ids=["long-table", "merged-title-long-table", "listing-characters", "text-that-reads-like-xml", "column-loop",
        "escaped-delimiters", "escaped-delimiters-in-data"])
def test_fill_gives_docxtpls_bytes(template, data):
    assert docx_parts(render_docx(template, data)) == docx_parts(docxtpl_fill(template, data))


CORPUS = Path(__file__).parent / "fixtures" / "peer-corpus"
PEER_CASES = json.loads((CORPUS / "cases.json").read_text(encoding="utf-8"))["cases"]
OUR_TEMPLATES = sorted((Path(__file__).parent.parent / "templates").iterdir())


@pytest.mark.parametrize("case", PEER_CASES, ids=[c["name"] for c in PEER_CASES])
def test_docxtpls_own_templates_fill_to_its_bytes(case):
    """docxtpl's demo templates (tc loops, merges, cell colours, images, footnotes, headers…)."""
    template = (CORPUS / "templates" / case["template"]).read_bytes()
    assert docx_parts(render_docx(template, case["data"])) == docx_parts(docxtpl_fill(template, case["data"]))


@pytest.mark.parametrize("folder", OUR_TEMPLATES, ids=[f.name for f in OUR_TEMPLATES])
def test_our_templates_fill_to_docxtpls_bytes(folder):
    template = (folder / "template.docx").read_bytes()
    data = json.loads((folder / "sample.json").read_text(encoding="utf-8"))
    assert docx_parts(render_docx(template, data)) == docx_parts(docxtpl_fill(template, data))


def test_escaped_delimiters_print_as_jinjas():
    document = docx_parts(render_docx(ESCAPED_DELIMITERS, {"note": "说明"}))["word/document.xml"].decode()
    assert "{{ 变量 }}" in document and "{% if x %}" in document


def test_no_template_here_needs_docxtpls_slow_path(monkeypatch):
    """Speed without a timing: every template we ship or test against fills without docxtpl's own
    re-parse, cell walk and node-by-node move (a regression would be silent otherwise)."""
    for name in ("fix_tables", "map_tree"):
        monkeypatch.setattr(DocxTemplate, name, lambda self, *args, name=name: pytest.fail(f"docxtpl's {name} ran"))
    render_docx(build_template(), report_data(300))
    render_docx(merged_template(), report_data(300))
    for folder in OUR_TEMPLATES:
        render_docx((folder / "template.docx").read_bytes(), json.loads((folder / "sample.json").read_text("utf-8")))
    for case in PEER_CASES:
        render_docx((CORPUS / "templates" / case["template"]).read_bytes(), case["data"])


def test_column_loop_still_widens_the_grid():
    body = docx_parts(render_docx(column_loop_template(), {"cols": ["甲", "乙", "丙", "丁"], "note": ""}))
    assert body["word/document.xml"].count(b"<w:gridCol ") == 5  # 名称 and the four looped cells


@pytest.mark.parametrize("xml", [
    '<w:p><w:pPr/></w:p><w:p w:rsidR="1">\n<w:p>\n\n<w:p x="1"/><w:pict/>\n<w:pPr>\n',
    "<w:body><w:p>a</w:p>\n<w:p>\n<w:p>b</w:p></w:body>",
], ids=["paragraph-like tags", "newlines before paragraphs"])
def test_paragraph_lines_as_docxtpls_regexes(xml):
    """The string replaces that stand in for docxtpl's per-paragraph regex substitutions."""
    assert _break_paragraphs(xml) == re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)
    assert _join_paragraphs(xml) == re.sub(r"\n<w:p([ >])", r"<w:p\1", xml)
