"""Table and XML primitives of the generated government-report templates (the forms' grids).

Why a module of its own: the builder (build_gov_templates.py) says *what* each official form holds;
this says *how* a grid is made so that Word and LibreOffice 25.2 paginate it the same way — fixed
column widths adding up to the text width, rows that cannot split, repeated header rows,
keep-with-next on every row (the only keep LibreOffice honours inside a table), and a merged look
without vertical merges (which LibreOffice draws wrongly when a page break cuts them).
"""

from __future__ import annotations

from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm

TEXT_WIDTH_MM = 156  # A4 210 mm − 28 mm left − 26 mm right (GB/T 9704)


def el(tag: str, **attrs: str):
    """A WordprocessingML element ``w:<tag>`` with ``w:``-attributes (``xml_space`` → ``xml:space``)."""
    el = OxmlElement(f"w:{tag}")
    for key, value in attrs.items():
        el.set(qn(key.replace("_", ":", 1) if key.startswith("xml_") else f"w:{key}"), value)
    return el


def make_table(doc, widths_mm: list[float], rows: int, header_rows: int = 0):
    """A fixed-layout, full-grid table whose columns add up to the text width."""
    assert abs(sum(widths_mm) - TEXT_WIDTH_MM) < 0.01, sum(widths_mm)
    table = doc.add_table(rows=rows, cols=len(widths_mm))
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    tblpr = table._tbl.tblPr
    tblpr.append(el("tblLayout", type="fixed"))
    margins = el("tblCellMar")  # 1 mm side margins: two 10.5 pt CJK characters fit a 10 mm column
    for side, twips in (("top", 0), ("left", 57), ("bottom", 0), ("right", 57)):
        margins.append(el(side, w=str(twips), type="dxa"))
    tblpr.append(margins)
    for col, width in zip(table.columns, widths_mm, strict=True):
        col.width = Mm(width)
    for r, row in enumerate(table.rows):
        row.height = Mm(6)  # at least: one 10.5 pt line plus air; taller when a label wraps
        trpr = row._tr.get_or_add_trPr()
        trpr.append(el("cantSplit"))
        if r < header_rows:
            trpr.append(el("tblHeader"))  # repeated on every page the table runs onto
        for cell, width in zip(row.cells, widths_mm, strict=True):
            cell.width = Mm(width)
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
            cell.paragraphs[0].style = doc.styles["Table Text"]
    return table


def put(table, r: int, c: int, text: str, *, to: tuple[int, int] | None = None, label: bool = False):
    """Write ``text`` into cell (r, c), merging it down/right to cell ``to`` first."""
    cell = table.cell(r, c)
    if to is not None and to != (r, c):
        cell = cell.merge(table.cell(*to))
        for extra in cell.paragraphs[1:]:  # merge() keeps every cell's empty paragraph
            extra._p.getparent().remove(extra._p)
    paragraph = cell.paragraphs[0]
    paragraph.text = text
    if label:
        paragraph.style = table.part.document.styles["Table Label"]
    return cell


def span_without_merge(table, first: int, last: int, col: int, text: str, per_line: int = 0) -> None:
    """Look of a cell merged down rows ``first``..``last`` without merging them.

    LibreOffice 25.2 draws a vertically merged cell that a page break cuts with its borders running
    to the foot of the next page, through the sections below (measured: the 2021 short report). So
    the label column of 三's result rows is not merged: the inner horizontal borders are removed and
    the label is written in the first row (that row grows when the label wraps; it then reads as
    one text, before the rows it heads), or ``per_line`` characters a row, for the long narrow column
    whose label would otherwise make one row five lines tall.
    """
    pieces = [text[i:i + per_line] for i in range(0, len(text), per_line)] if per_line else [text]
    rows = last - first + 1
    if len(pieces) > rows:
        pieces = pieces[:rows - 1] + ["".join(pieces[rows - 1:])]
    start = first
    for r in range(first, last + 1):
        cell = table.cell(r, col)
        borders = el("tcBorders")
        if r > first:
            borders.append(el("top", val="nil"))
        if r < last:
            borders.append(el("bottom", val="nil"))
        tcpr = cell._tc.get_or_add_tcPr()
        tcpr.insert_element_before(borders, "w:shd", "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText",
                                   "w:vAlign", "w:hideMark")
        if start <= r < start + len(pieces):
            cell.paragraphs[0].text = pieces[r - start]


def keep_together(table, rows: int | None = None) -> None:
    """Keep-with-next on every row but the last (or on the first ``rows``): the table moves whole to
    the next page when it fits on one (Word and LibreOffice 25 both honour this); a longer one still
    splits, and its header rows repeat."""
    for row in table.rows[:-1] if rows is None else table.rows[:rows]:
        for cell in row.cells:
            for p in cell.paragraphs:
                p.paragraph_format.keep_with_next = True
