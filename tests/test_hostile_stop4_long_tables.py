"""Hostile templates against long-table chunking and seam mending (worker/long_tables.py, lo_seams.py).

A template decides how its tables are built: header rows made by a loop, its own bookmarks named
like our seams, its own page-number restarts and sections, tables nested in rows, tables that are
all header. Whatever it does, the PDF shows every row once and in order, and no template makes the
worker multiply the document it hands LibreOffice.
"""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from docx import Document
from docx.oxml import OxmlElement, parse_xml
from docx.oxml.ns import nsdecls, qn
from long_table_report import _field, _mark

from core.settings import Settings
from helpers import pdf_text, squash
from worker.long_tables import chunk_long_tables
from worker.pipeline import Pipeline
from worker.render import render_docx


def _saved(doc) -> bytes:
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def looped_header_template() -> bytes:
    """A table whose header row (``w:tblHeader``) is itself a ``{%tr for %}`` loop, over its body loop."""
    doc = Document()
    table = doc.add_table(rows=6, cols=2)
    table.rows[0].cells[0].text = "{%tr for h in heads %}"
    table.rows[1].cells[0].text = "表头{{ h }}"
    _mark(table.rows[1], "w:tblHeader")
    table.rows[2].cells[0].text = "{%tr endfor %}"
    table.rows[3].cells[0].text = "{%tr for r in rows %}"
    table.rows[4].cells[0].text = "第{{ r }}行"
    table.rows[5].cells[0].text = "{%tr endfor %}"
    return _saved(doc)


def test_header_rows_made_by_a_loop_are_not_copied_into_every_chunk():
    """300 looped header rows over 300 rows in chunks of 10 rows: copied into each of 30 chunks they
    made the document 15 times larger (and 10 000 over 10 000 took 2.9 GB before LibreOffice started)."""
    filled = render_docx(looped_header_template(), {"heads": list(range(300)), "rows": list(range(300))})
    chunked, seams = chunk_long_tables(filled, chunk_rows=10)
    with zipfile.ZipFile(io.BytesIO(filled)) as before, zipfile.ZipFile(io.BytesIO(chunked)) as after:
        grown = after.getinfo("word/document.xml").file_size / before.getinfo("word/document.xml").file_size
    assert seams == 0 and grown == 1


def test_a_few_looped_header_rows_are_still_chunked_with_the_table():
    filled = render_docx(looped_header_template(), {"heads": [1, 2], "rows": list(range(300))})
    chunked, seams = chunk_long_tables(filled, chunk_rows=10)
    assert seams == 29


# --- through LibreOffice: every row once and in order, whatever the template's structure --------------

LABEL_A, LABEL_B = re.compile(r"甲项第(\d+)号"), re.compile(r"乙项第(\d+)号")
OWN_SEAM = ('<w:p {}><w:bookmarkStart w:id="4711" w:name="_wenshu_seam_0_3"/>'
            '<w:bookmarkEnd w:id="4711"/></w:p>').format(nsdecls("w"))


def _loop_table(doc, label: str, loop: str, *, nested: bool = False):
    table = doc.add_table(rows=4, cols=3)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ("事项", "数量", "备注"), strict=True):
        cell.text = text
    _mark(table.rows[0], "w:cantSplit", "w:tblHeader")
    table.rows[1].cells[0].text = f"{{%tr for r in {loop} %}}"
    table.rows[2].cells[0].text = label + "第{{ r }}号"
    table.rows[2].cells[1].text = "{{ r * 3 }}"
    if nested:  # a table inside every looped row
        inner = table.rows[2].cells[2].add_table(rows=1, cols=2)
        inner.rows[0].cells[0].text = "内{{ r }}"
        inner.rows[0].cells[1].text = "嵌套"
    _mark(table.rows[2], "w:cantSplit")
    table.rows[3].cells[0].text = "{%tr endfor %}"
    return table


def hostile_structure_template() -> bytes:
    """A cover section (a table whose every row is a header row), then a section restarting page
    numbers at 7 with a long table of nested tables, a paragraph holding the template's own
    ``_wenshu_seam_0_3`` bookmark right between it and a second long table: were that bookmark taken
    for a seam, three rows of each table would be cut."""
    doc = Document()
    doc.add_paragraph("封面")
    cover = doc.add_table(rows=3, cols=2)
    for n, row in enumerate(cover.rows, 1):
        row.cells[0].text = f"封面表头{n}"
        _mark(row, "w:tblHeader")
    section = doc.add_section()
    numbering = OxmlElement("w:pgNumType")
    numbering.set(qn("w:start"), "7")
    section._sectPr.find(qn("w:cols")).addprevious(numbering)  # schema order, or LibreOffice ignores it
    for footer in (doc.sections[0].footer, section.footer):
        footer.is_linked_to_previous = False
        paragraph = footer.paragraphs[0]
        paragraph.add_run("— ")
        _field(paragraph, "PAGE")
        paragraph.add_run(" —")
    _loop_table(doc, "甲项", "a", nested=True)
    placeholder = doc.add_paragraph()._p
    placeholder.addnext(parse_xml(OWN_SEAM))
    placeholder.getparent().remove(placeholder)
    _loop_table(doc, "乙项", "b")
    doc.add_paragraph("完")
    return _saved(doc)


def _pages(pdf: bytes) -> list[str]:
    return [squash(page) for page in pdf_text(pdf).split("\f") if page.strip()]


@pytest.fixture(scope="module")
def conversions() -> tuple[list[str], list[str]]:
    """The hostile template's PDF pages chunked by 10 rows, and converted in one piece."""
    settings = Settings(env="test", convert_timeout=600, long_table_min_rows=0, long_table_chunk_rows=10)
    data = {"a": list(range(1, 81)), "b": list(range(1, 41))}
    with Pipeline(settings) as pipeline:
        whole = Pipeline(settings.with_(long_table_chunk_rows=0), supervisor=pipeline.supervisor)
        return (_pages(pipeline.render(hostile_structure_template(), data, ("pdf",))["pdf"]),
                _pages(whole.render(hostile_structure_template(), data, ("pdf",))["pdf"]))


@pytest.fixture(scope="module")
def hostile_pages(conversions) -> list[str]:
    return conversions[0]


def test_every_row_of_every_long_table_shows_once_and_in_order(hostile_pages):
    text = "".join(hostile_pages)
    assert [int(n) for n in LABEL_A.findall(text)] == list(range(1, 81))
    assert [int(n) for n in LABEL_B.findall(text)] == list(range(1, 41))
    assert [int(n) for n in re.findall(r"内(\d+)嵌套", text)] == list(range(1, 81))


def test_a_table_of_header_rows_only_shows_once_and_no_seam_bookmark_name_leaks(hostile_pages):
    text = "".join(hostile_pages)
    assert [text.count(f"封面表头{n}") for n in (1, 2, 3)] == [1, 1, 1]
    assert "wenshu" not in text


def test_pages_keep_the_numbering_the_templates_own_restart_gives_them(conversions):
    """The second section restarts its numbering (``w:pgNumType w:start``): chunked, the pages are
    numbered from where the single conversion numbers them, without a gap or a repeat."""
    chunked, whole = ([int(n) for page in pages for n in re.findall(r"—(\d+)—", page)] for pages in conversions)
    assert chunked[:2] == whole[:2]
    assert chunked[1:] == list(range(whole[1], whole[1] + len(chunked) - 1))


def interleaved_header_template() -> bytes:
    """A header row, then a loop of two rows of which the second is flagged ``w:tblHeader`` too (Word
    ignores the flag past the leading rows): with chunks of an odd number of rows, chunks start with
    such a row, which then leads the chunk right after its header copy."""
    doc = Document()
    table = doc.add_table(rows=5, cols=2)
    table.style = "Table Grid"
    table.rows[0].cells[0].text = "表头"
    _mark(table.rows[0], "w:tblHeader")
    table.rows[1].cells[0].text = "{%tr for r in rows %}"
    table.rows[2].cells[0].text = "甲项第{{ r }}号"
    table.rows[3].cells[0].text = "乙项第{{ r }}号"
    _mark(table.rows[3], "w:tblHeader")
    table.rows[4].cells[0].text = "{%tr endfor %}"
    return _saved(doc)


def test_rows_flagged_as_header_past_the_leading_rows_show_once_when_a_chunk_starts_with_them():
    settings = Settings(env="test", convert_timeout=600, long_table_min_rows=0, long_table_chunk_rows=11)
    with Pipeline(settings) as pipeline:
        pdf = pipeline.render(interleaved_header_template(), {"rows": list(range(1, 61))}, ("pdf",))["pdf"]
    text = squash(pdf_text(pdf))
    assert [int(n) for n in LABEL_A.findall(text)] == list(range(1, 61))
    assert [int(n) for n in LABEL_B.findall(text)] == list(range(1, 61))
