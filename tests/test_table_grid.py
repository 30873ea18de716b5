"""worker/table_grid.py: table grids reconciled with their cells exactly as docxtpl's ``fix_tables`` does.

Each case is a rendered body holding tables whose rows disagree with their grid the ways a
``{%tc %}`` loop, a merged cell or a nested table make them; docxtpl's own ``fix_tables`` and ours
must leave the same bytes.
"""

from __future__ import annotations

import pytest
from docx.oxml.ns import nsdecls
from docxtpl import DocxTemplate
from lxml import etree

from worker.rendered_body import _parser
from worker.table_grid import Unsettled, fix_grids


def cell(span: int | None = None, text: str = "格") -> str:
    properties = f'<w:tcPr><w:gridSpan w:val="{span}"/></w:tcPr>' if span else "<w:tcPr/>"
    return f"<w:tc>{properties}<w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:tc>"


def table(widths: list[str | None], *rows: str) -> str:
    columns = "".join(f'<w:gridCol w:w="{w}"/>' if w is not None else "<w:gridCol/>" for w in widths)
    return f"<w:tbl><w:tblPr/><w:tblGrid>{columns}</w:tblGrid>{''.join(rows)}</w:tbl>"


def row(*cells: str) -> str:
    return f"<w:tr>{''.join(cells)}</w:tr>"


def body(*tables: str) -> str:
    return f"<w:body {nsdecls('w')}>{'<w:p/>'.join(tables)}<w:sectPr/></w:body>"


def docxtpls(xml: str) -> bytes:
    return etree.tostring(DocxTemplate.fix_tables(DocxTemplate(None), xml))


def ours(xml: str) -> bytes:
    tree = etree.fromstring(xml, _parser())
    fix_grids(tree)
    return etree.tostring(tree)


CASES = {
    "a column loop widens the grid, widths scaled": body(table(["2000", "3000", "1000"], row(*[cell()] * 5))),
    "rows of different lengths": body(table(["1200", "1200"], row(cell()), row(*[cell()] * 4), row(*[cell()] * 3))),
    "wider rows but no widths to keep": body(table([None, None], row(*[cell()] * 3))),
    "a width that is not a number (NaN)": body(table(["nan", "100"], row(*[cell()] * 3))),
    "a loop that made fewer cells narrows it": body(table(["1000", "1500", "2000", "2500"], row(cell(), cell()))),
    "merged cells count their span": body(table(["900"] * 5, row(cell(2), cell()), row(cell(), cell(), cell()))),
    "spans wider than the grid": body(table(["900", "900"], row(cell(3), cell()))),
    "a table inside a cell": body(table(["4000", "4000"], row(
        cell(), f"<w:tc><w:tcPr/>{table(['700', '700'], row(*[cell()] * 3))}<w:p/></w:tc>"))),
    "a table with no rows": body(table(["1000", "1000"])),
    "tables that need nothing, beside one that does": body(
        table(["500", "500"], row(cell(), cell())), table(["800"], row(cell(), cell())),
        table(["600", "600", "600"], row(cell(), cell(), cell()))),
}


@pytest.mark.parametrize("xml", CASES.values(), ids=CASES.keys())
def test_grids_reconciled_as_docxtpl_does(xml):
    assert ours(xml) == docxtpls(xml)


@pytest.mark.parametrize("xml", [
    body(f"<w:tbl><w:tblPr/>{row(cell())}</w:tbl>"),
    body(table([None, "100"], row(*[cell()] * 3))),
    body(table(["100", "100"], row(cell(span="two")))),  # type: ignore[arg-type]
], ids=["no grid", "a column without a width to scale", "a span that is not a number"])
def test_grids_docxtpl_would_fail_on_are_left_to_it(xml):
    with pytest.raises(Unsettled):
        ours(xml)
    with pytest.raises((AttributeError, TypeError, ValueError)):
        docxtpls(xml)
