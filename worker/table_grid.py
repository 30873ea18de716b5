"""docxtpl's reconciliation of table grids with their cells, done on the tree parsed in place.

After a fill, docxtpl's ``fix_tables`` makes each table's ``w:tblGrid`` agree with its rows: a
``{%tc %}`` loop can leave rows with more cells than grid columns (the grid is widened, the old
widths scaled to keep the table's width) or fewer (the extra columns go, their width shared out).
It does so on a body it re-parses, which docxtpl then moves node by node into the document; a
single merged cell (``gridSpan``) anywhere sent the whole body down that path. We apply the same
rule, table by table, to the document worker/rendered_body.py parsed in place, and only to tables
it can change. Same arithmetic in the same order (floats summed column by column, ``int()``
truncation), so the bytes are docxtpl's: tests/test_fast_fill.py compares them on docxtpl's own
templates. A table we cannot settle without guessing (no grid, a width or span that is not a
number) raises :class:`Unsettled`, and the caller gives the whole body to docxtpl instead.
"""

from __future__ import annotations

from docx.oxml.ns import qn
from lxml import etree

TBL, GRID, COL, TR, TC = qn("w:tbl"), qn("w:tblGrid"), qn("w:gridCol"), qn("w:tr"), qn("w:tc")
TC_PR, SPAN, WIDTH, VAL = qn("w:tcPr"), qn("w:gridSpan"), qn("w:w"), qn("w:val")


class Unsettled(Exception):
    """A table whose grid docxtpl would handle in a way we do not reproduce (or would fail on)."""


def fix_grids(document: etree._Element) -> None:
    """Every table of ``document`` whose grid disagrees with its cells, reconciled as docxtpl does.

    A table with a grid, no span and its widest row as wide as the grid is left alone: docxtpl's
    rule changes nothing there, and finding that out is one ``findall`` a row.
    """
    for table in document.iter(TBL):
        grid = table.find(GRID)
        if grid is None:
            raise Unsettled("a table without w:tblGrid")
        rows = list(table.iter(TR))  # rows of nested tables too, as in docxtpl
        cells = [len(row.findall(TC)) for row in rows]
        spans = {next(span.iterancestors(TR), None) for span in table.iter(SPAN)}
        if spans or max(cells, default=0) != len(grid.findall(COL)):
            fix_grid(grid, rows, cells, spans)


def fix_grid(grid: etree._Element, rows: list, cells: list[int], spanned: set) -> None:
    """docxtpl's rule for one table: widen the grid to the most cells in a row, then narrow it to
    the widest row counted in grid columns (``spanned``: the rows holding a ``gridSpan``)."""
    try:
        _widen(grid, max(cells, default=0))
        widths = [sum(_span(cell) for cell in row.findall(TC)) if row in spanned else count
                  for row, count in zip(rows, cells, strict=True)]
        _narrow(grid, max([0, *widths]))
    except (TypeError, ValueError, OverflowError, ZeroDivisionError) as exc:
        raise Unsettled(str(exc)) from exc


def _span(cell: etree._Element) -> int:
    properties = cell.find(TC_PR)
    span = None if properties is None else properties.find(SPAN)
    return 1 if span is None else int(span.get(VAL))


def _widen(grid: etree._Element, most_cells: int) -> None:
    """More cells than columns: columns added at the average width, old ones scaled to keep the total."""
    columns = grid.findall(COL)
    added = most_cells - len(columns)
    if added <= 0:
        return
    width = 0.0
    for column in columns:
        if column.get(WIDTH) is not None:
            width += float(column.get(WIDTH))
    if not width > 0:
        return  # no widths to keep (or NaN): docxtpl adds no column either
    old_average = width / len(columns)
    new_average = width / (len(columns) + added)
    for column in columns:
        column.set(WIDTH, str(int(float(column.get(WIDTH)) * new_average / old_average)))
    for _ in range(added):
        etree.SubElement(grid, COL, {WIDTH: str(int(new_average))})


def _narrow(grid: etree._Element, widest: int) -> None:
    """Fewer grid columns used than there are: the last ones go, their width shared by the rest."""
    columns = grid.findall(COL)
    removed = len(columns) - widest
    if removed <= 0:
        return
    removed_width = 0.0
    for column in columns[-removed:]:
        removed_width += float(column.get(WIDTH))
        grid.remove(column)
    left = grid.findall(COL)
    extra = int(removed_width / len(left)) if left else 0
    for column in left:
        column.set(WIDTH, str(int(float(column.get(WIDTH)) + extra)))
