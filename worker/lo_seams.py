"""Mend the seams of a chunked long table in the loaded document, so each chunk starts a page.

Runs inside lo_server.py (system Python, ``uno``; this file imports nothing else), right after a
document is loaded. worker/long_tables.py converted one long table into chunks, each starting with a
copy of the header rows and a page break, each but the last ending with copies of the next chunk's
first rows (the *overlap*), with a seam paragraph between them whose bookmark
``_wenshu_seam_<n>_<overlap>`` names the overlap. Seam by seam, in document order, with the layout
LibreOffice has made:

1. In the table before the seam (which starts a page: the first table does, and the page break
   before every chunk makes the others do), find the first shared row that begins a new page at a
   row boundary.
2. Cut the table before the seam just above that row, and drop the rows above it from the table
   after the seam: the table after the seam now starts at the top of a page with its header copy,
   exactly where one long table would have repeated its header. No extra header shows mid-page.
3. When no shared row begins a page (a page holds more rows than the overlap, or rows broken across
   pages), drop the shared rows from the table before: that page ends short, the next starts with
   the header; every row still shows once.

Why each seam costs the same however long the document (issue #12, measured with
bench/seam_costs.py): a cut removes pages, and when it removes an odd number, every later page
turns from a right page into a left one or back. LibreOffice then formats every later page again
(its page format changes), so a cut near the top of a 10 000-row report cost seconds and the
mending grew with the square of the document. So every chunk after a seam is first *fenced*: it
gets the page style it already has and, as its page number, the one it already shows (nothing
moves). A cut then renumbers pages only up to the next fence; once a seam is mended, the chunk
after it gets its true number. At the end the fences come down again (the numbers they carry are
the ones the pages have, or the document's own numbering takes over again where it restarts it).
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
    """Page where ``row`` ends: where its last cell ends (a row allowed to break across pages ends
    on the later one, and any of its cells may be the one that runs on)."""
    pages = []
    for column in range(table.getColumns().getCount()):
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
    """(bookmark, overlap, table before, table after, restart) of each seam, in document order.

    ``restart`` is the last paragraph or table up to the table before that restarts the page
    numbering (a section of the template's own), or None: it tells page numbers from page counts.
    """
    found, before, pending, restart = [], None, None, None
    elements = document.getText().createEnumeration()
    while elements.hasMoreElements():
        element = elements.nextElement()
        if pending is None and element.PageNumberOffset is not None:
            restart = element
        if element.supportsService(TEXT_TABLE):
            if pending is not None:
                found.append((*pending, element, restart))
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


def _page_style(table) -> str:
    """Name of the page style the first row of ``table`` is laid out with."""
    return table.getCellByPosition(0, 0).getText().createTextCursor().PageStyleName


def numbering_shift(cursor, restart) -> int:
    """Page number minus page count where ``restart`` (see :func:`seams`) governs; 0 without one."""
    if restart is None:
        return 0
    anchor = restart.getCellByPosition(0, 0) if restart.supportsService(TEXT_TABLE) else restart
    cursor.gotoRange(anchor.getStart(), False)
    return restart.PageNumberOffset - cursor.getPage()


def fence(cursor, found: list) -> list[int]:
    """Give each chunk after a seam its page style and the page number it shows, so that a cut
    renumbers pages only up to the next chunk; return each seam's :func:`numbering_shift`.

    Nothing moves: the page break before each chunk comes from the .docx (long_tables.py), and a
    page style's break is the same break. Every page is looked up before anything changes: each
    lookup after a change lays the document out again, which costs time with every page it has.
    """
    shifts = [numbering_shift(cursor, restart) for *_, restart in found]
    numbers = [_start_page(cursor, after, 0) + shift for (*_, after, _), shift in zip(found, shifts, strict=True)]
    for (*_, after, _), number in reversed(list(zip(found, numbers, strict=True))):
        after.PageNumberOffset = number  # last first: each change is fenced by the one after it
    return shifts


def mend(cursor, overlap: int, before, after, shift: int, relayout) -> bool:
    """Mend one seam (see the module docstring); True when a shared row started a page.

    Looks pages up only before it changes anything: the next lookup (at the next seam) is the one
    that lays the document out again. ``relayout`` lays the whole document out (costly): called only
    when no shared row seems to start a page, since a layout LibreOffice has not finished can look so.
    """
    rows = before.getRows().getCount()
    first = rows - overlap
    # Lay the document out to its end, then look pages up: LibreOffice lays a hidden document out
    # lazily, and a row not yet moved up into the room a cut made would name a stale page. Cheap:
    # past the next chunk nothing has changed.
    cursor.jumpToLastPage()
    cursor.gotoRange(after.getCellByPosition(0, 0).getStart(), False)
    cut = first_page_start(cursor, before, first, rows) if overlap and first > 0 else rows
    if cut == rows and overlap and first > 0:
        relayout()
        cut = first_page_start(cursor, before, first, rows)
    aligned = cut < rows
    if aligned:  # the chunk after will start on the page the cut row starts now
        number = _start_page(cursor, before, cut)
    else:  # no shared row starts a page: keep the page break, drop the shared rows
        number = _end_page(cursor, before, first - 1) + 1
        cut = first
    if rows > cut:
        before.getRows().removeByIndex(cut, rows - cut)
    if aligned and cut > first:
        heads = after.HeaderRowCount if after.RepeatHeadline else 0
        after.getRows().removeByIndex(heads, cut - first)
    after.PageNumberOffset = number + shift
    return aligned


def mend_seams(document) -> dict[str, int]:
    """Mend every seam of ``document`` (see the module docstring); how many were aligned or not."""
    counts = {"aligned": 0, "short_page": 0}
    if not has_seams(document):
        return counts
    found = seams(document)
    cursor = document.getCurrentController().getViewCursor()
    shifts = fence(cursor, found)
    for (bookmark, overlap, before, after, _), shift in zip(found, shifts, strict=True):
        aligned = mend(cursor, overlap, before, after, shift, document.refresh)
        counts["aligned" if aligned else "short_page"] += 1
        bookmark.dispose()
    return counts
