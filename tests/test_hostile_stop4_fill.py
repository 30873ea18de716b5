"""Hostile templates and data against the fill's fast paths (worker/rendered_body.py, table_grid.py).

The body parsed in place and the grids fixed without docxtpl must give docxtpl's bytes wherever
docxtpl fills the template, and where docxtpl fails, a TemplateError (a job failure the API answers
as a 4xx problem naming the part), never another exception. Templates the safety checks refuse
(DOCTYPE, nesting past the parser's depth) are refused before any fill.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from docx import Document

from core.errors import TemplateError, TemplateRejected
from helpers import docx_parts, docxtpl_fill
from service.template_checks import check_template
from worker.render import render_docx


def with_body(inner: str, body_attributes: str = "", before_root: str = "") -> bytes:
    """A .docx whose ``w:body`` holds ``inner`` (raw WordprocessingML) before its section properties."""
    document = Document()
    out = io.BytesIO()
    document.save(out)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as source:
        files = {name: source.read(name) for name in source.namelist()}
    xml = files["word/document.xml"].decode()
    start, end = xml.index("<w:body>"), xml.index("<w:sectPr")
    xml = xml[:start] + f"<w:body{body_attributes}>" + inner + xml[end:]
    root = xml.index("<w:document")
    files["word/document.xml"] = (xml[:root] + before_root + xml[root:]).encode()
    result = io.BytesIO()
    with zipfile.ZipFile(result, "w") as target:
        for name, data in files.items():
            target.writestr(name, data)
    return result.getvalue()


def p(text: str) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>"


def cell(text: str = "格", span: object = None) -> str:
    properties = f'<w:tcPr><w:gridSpan w:val="{span}"/></w:tcPr>' if span is not None else "<w:tcPr/>"
    return f"<w:tc>{properties}{p(text)}</w:tc>"


def row(*cells: str) -> str:
    return f"<w:tr>{''.join(cells)}</w:tr>"


def table(widths: list[str | None], *rows: str) -> str:
    columns = "".join(f'<w:gridCol w:w="{w}"/>' if w is not None else "<w:gridCol/>" for w in widths)
    return f"<w:tbl><w:tblPr/><w:tblGrid>{columns}</w:tblGrid>{''.join(rows)}</w:tbl>"


def column_loop(widths: list[str | None]) -> bytes:
    """A ``{%tc %}`` loop in a table of ``widths``: four values make four more cells than columns."""
    return with_body(table(widths, row(cell("{%tc for c in cols %}"), cell("{{ c }}"), cell("{%tc endfor %}"))))


def nested(depth: int, inner: str) -> str:
    for _ in range(depth):
        inner = table(["1000", "1000"], row(f"<w:tc><w:tcPr/>{inner}<w:p/></w:tc>", cell("{{ y }}")))
    return inner


def docxtpls(template: bytes, data: dict) -> dict[str, bytes] | Exception:
    """docxtpl's own fill's parts, or the exception it fails with."""
    try:
        filled = docxtpl_fill(template, data)
    except Exception as exc:  # noqa: BLE001 - what docxtpl fails with is the point
        return exc
    return docx_parts(filled)


FOUR = {"cols": ["甲", "乙", "丙", "丁"]}
LOOP_ROWS = [row(cell("{%tr for r in rows %}")), row(cell("{{ r }}"), cell("乙")), row(cell("{%tr endfor %}"))]
CASES = {
    "grid widths of 1e999 (infinite)": (column_loop(["1e999", "100"]), FOUR),
    "a grid width of 400 digits": (column_loop(["9" * 400, "100"]), FOUR),
    "negative grid widths": (column_loop(["-100", "-100"]), FOUR),
    "a NaN grid width": (column_loop(["nan", "100"]), FOUR),
    "a grid width that is a word": (column_loop(["abc", "100"]), FOUR),
    "a gridSpan of 10^9": (with_body(table(["100", "100"], row(cell("甲", 10**9), cell("{{ y }}")))), {"y": 1}),
    "a negative gridSpan": (with_body(table(["100"] * 3, row(cell("甲", -5), cell("{{ y }}")))), {"y": 1}),
    "a gridSpan of 5000 digits": (with_body(table(["100"] * 2, row(cell("甲", "9" * 5000), cell("{{ y }}")))),
                                  {"y": 1}),
    "a gridSpan outside any cell's properties": (with_body(table(["100"] * 3, (
        '<w:tr><w:trPr><w:gridSpan w:val="7"/></w:trPr>' + cell("{{ y }}") + "</w:tr>"))), {"y": 1}),
    "a gridSpan only in a nested table": (with_body(table(["1000"] * 3, row(
        f"<w:tc><w:tcPr/>{table(['10', '10'], row(cell('甲', 2)))}<w:p/></w:tc>", cell("{{ y }}")))), {"y": 1}),
    "a table without a grid": (with_body("<w:tbl><w:tblPr/>" + row(cell("{{ y }}")) + "</w:tbl>"), {"y": 1}),
    "a row loop leaving no rows": (with_body(table(["100", "100"], *LOOP_ROWS)), {"rows": []}),
    "a row loop leaving no rows, no widths": (with_body(table([None, None], *LOOP_ROWS)), {"rows": []}),
    "tables nested 40 deep around a column loop": (with_body(nested(40, table(["100"], row(
        cell("{%tc for c in cols %}"), cell("{{ c }}"), cell("{%tc endfor %}"))))), {**FOUR, "y": 1}),
    "xmlns, DOCTYPE, entities and CDATA in data": (with_body(p("{{ x }}")), {
        "x": '&lol; <!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]> &a; xmlns:w="urn:evil" '
             '<w:p xmlns="urn:d"> ]]> <![CDATA[x]]>'}),
    "CDATA mentioning xmlns in the template": (with_body(
        p("{{ y }}") + "<w:p><w:r><w:t><![CDATA[ <a xmlns:q='x'> ]]></w:t></w:r></w:p>"), {"y": 1}),
    "w: redeclared on a paragraph": (with_body('<w:p xmlns:w="urn:evil"><w:r><w:t>{{ y }}</w:t></w:r></w:p>'),
                                     {"y": 1}),
    "w: redeclared on a run": (with_body('<w:p><w:r xmlns:w="urn:evil"><w:t>{{ y }}</w:t></w:r></w:p>'), {"y": 1}),
    "a default namespace inside the body": (with_body('<w:p><w:r><w:t xmlns="urn:d">{{ y }}</w:t></w:r></w:p>'),
                                            {"y": 1}),
    "a default namespace on the body": (with_body(p("{{ y }}"), body_attributes=' xmlns="urn:d"'), {"y": 1}),
    "w: rebound on the body": (with_body(p("{{ y }}"), body_attributes=' xmlns:w="urn:evil"'), {"y": 1}),
    "a comment holding a declaring tag": (with_body(p("{{ y }}") + "<!-- <w:r xmlns:q='x'> -->"), {"y": 1}),
    "a processing instruction holding xmlns": (with_body(p("{{ y }}") + "<?wenshu xmlns:q='x'?>"), {"y": 1}),
    "an if cutting across paragraphs": (with_body(p("甲 {% if y %}") + p("乙") + p("{% endif %} 丙")), {"y": 0}),
}


@pytest.mark.parametrize("template, data", CASES.values(), ids=CASES.keys())
def test_hostile_fill_renders_as_docxtpl_would_or_fails_as_a_template_error(template, data):
    expected = docxtpls(template, data)
    if isinstance(expected, Exception):
        with pytest.raises(TemplateError) as failure:
            render_docx(template, data)
        assert type(expected).__name__ in str(failure.value)  # docxtpl's own complaint, named
    else:
        assert docx_parts(render_docx(template, data)) == expected


def test_fast_paths_take_the_hostile_templates_docxtpl_fills():
    """Guard on the parametrized test: most cases fill, so it compares bytes, not only failures."""
    filled = [name for name, (template, data) in CASES.items() if not isinstance(docxtpls(template, data), Exception)]
    assert len(filled) >= len(CASES) - 8


BILLION_LAUGHS = ('<!DOCTYPE w:document [<!ENTITY lol "lol">'
                  '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>')


@pytest.mark.parametrize("template", [
    with_body(p("&lol2;{{ y }}"), before_root=BILLION_LAUGHS),
    with_body(p("{{ y }}"), before_root='<!DOCTYPE w:document [<!ENTITY x SYSTEM "file:///etc/passwd">]>'),
    with_body(nested(200, p("{{ y }}"))),
], ids=["entities (billion laughs)", "an external entity", "tables nested 200 deep"])
def test_hostile_document_xml_is_refused_by_the_checks_before_any_fill(template):
    with pytest.raises(TemplateRejected):
        check_template(template)
