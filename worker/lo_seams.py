"""Mend the seams of a chunked long table in the loaded document, so each chunk starts a page.

Runs inside lo_server.py (system Python, ``uno``; this file imports nothing else), right after a
document is loaded. worker/long_tables.py converted one long table into chunks, each starting with a
copy of the header rows, each but the last ending with copies of the next chunk's first rows (the
*overlap*), with a seam paragraph between them whose bookmark ``_wenshu_seam_<n>_<overlap>`` names
the overlap. Seam by seam, in document order, with the layout LibreOffice has made:

1. In the table before the seam (which starts a page: the first table does, and step 2 makes the
   next one do), find the first shared row that begins a new page at a row boundary.
2. Cut the table before the seam just above that row, and drop the rows above it from the table
   after the seam: the table after the seam now starts at the top of a page with its header copy,
   exactly where one long table would have repeated its header. No extra header shows mid-page.
3. When no shared row begins a page (a page holds more rows than the overlap, or rows broken across
   pages), drop the shared rows from the table before: that page ends short, the next starts with
   the header; every row still shows once.

Every chunk after a seam is first given a page break before it (where it starts once mended), so a
cut at one seam changes the layout only up to the next seam: LibreOffice lays out again only that
stretch before the next seam asks for page numbers (the view cursor of the hidden document).
"""

from __future__ import annotations

import uno

SEAM_BOOKMARK = "_wenshu_seam_"
TEXT_TABLE = "com.sun.star.text.TextTable"
PAGE_BEFORE = uno.Enum("com.sun.star.style.BreakType", "PAGE_BEFORE")


def _start_page(cursor, table, row: int) -> int:
    cursor.gotoRange(table.getCellByPosition(0, row).getStart(), False)
    return cursor.getPage()


def _end_page(cursor, table, row: int) -> int:
    """Page where ``row`` ends (a row allowed to break across pages ends on the later one)."""
    pages = []
    for column in {0, table.getColumns().getCount() - 1}:
        try:
            cursor.gotoRange(table.getCellByPosition(column, row).getEnd(), False)
        except Exception:  # noqa: BLE001 (a merged cell has no such position: use the others)
            continue
        pages.append(cursor.getPage())
    return max(pages) if pages else _start_page(cursor, table, row)


def first_page_start(cursor, table, first: int, rows: int) -> int:
    """Index of the first row at or after ``first`` that begins a page at a row boundary; or ``rows``."""
    start = first
    while start < rows:
        previous = _end_page(cursor, table, start - 1)
        lo, hi = start, rows
        while lo < hi:  # page numbers only grow down a table: binary search
            mid = (lo + hi) // 2
            if _start_page(cursor, table, mid) > previous:
                hi = mid
            else:
                lo = mid + 1
        if lo == rows or _end_page(cursor, table, lo - 1) < _start_page(cursor, table, lo):
            return lo
        start = lo + 1  # row lo - 1 breaks across the page; the next page break is the candidate
    return rows


def seams(document) -> list[tuple]:
    """(bookmark, overlap, table before, table after) of each seam, in document order."""
    found, before, pending = [], None, None
    elements = document.getText().createEnumeration()
    while elements.hasMoreElements():
        element = elements.nextElement()
        if element.supportsService(TEXT_TABLE):
            if pending is not None:
                found.append((*pending, element))
            pending, before = None, element
            continue
        pending = None
        if before is not None and element.getString() == "":
            portions = element.createEnumeration()
            portion = portions.nextElement() if portions.hasMoreElements() else None
            if portion is not None and portion.TextPortionType == "Bookmark":
                name = portion.Bookmark.getName()
                if name.startswith(SEAM_BOOKMARK):
                    pending = (portion.Bookmark, int(name.rsplit("_", 1)[1]), before)
                    continue
        before = None
    return found


def has_seams(document) -> bool:
    """True for a text document with at least one seam bookmark (cheap: one call)."""
    if not document.supportsService("com.sun.star.text.TextDocument"):
        return False
    return any(name.startswith(SEAM_BOOKMARK) for name in document.getBookmarks().getElementNames())


def mend_seams(document) -> dict[str, int]:
    """Mend every seam of ``document`` (see the module docstring); how many were aligned or not."""
    counts = {"aligned": 0, "short_page": 0}
    if not has_seams(document):
        return counts
    found = seams(document)
    # Every chunk after a seam starts a page (it will, once mended): a cut then moves rows only
    # between the two tables at one seam, and LibreOffice lays out again only up to the next one.
    for *_, after in found:
        after.BreakType = PAGE_BEFORE
    cursor = document.getCurrentController().getViewCursor()
    for bookmark, overlap, before, after in found:
        rows = before.getRows().getCount()
        first = rows - overlap
        cut = first_page_start(cursor, before, first, rows) if overlap and first > 0 else rows
        if cut == rows:  # no shared row starts a page: keep the page break, drop the shared rows
            if rows > first:
                before.getRows().removeByIndex(first, rows - first)
            counts["short_page"] += 1
        else:
            before.getRows().removeByIndex(cut, rows - cut)
            if cut > first:
                heads = after.HeaderRowCount if after.RepeatHeadline else 0
                after.getRows().removeByIndex(heads, cut - first)
            counts["aligned"] += 1
        bookmark.dispose()
    return counts
