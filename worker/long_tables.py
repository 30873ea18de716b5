"""Split long tables of a filled .docx into chunks LibreOffice lays out in linear time.

LibreOffice (25.2) loads one DOCX table in time that grows with the square of its rows: 2 000 rows
~20 s, 4 000 rows ~90 s, 10 000 rows beyond the default timeout (bench/big_tables.py). The same rows
as tables of ~100 rows convert linearly — if a real paragraph separates them: adjacent ``w:tbl``
elements are merged back into one table on import.

So before conversion, each top-level table with more than ``2 × chunk_rows`` body rows becomes chunks
of ``chunk_rows`` rows. Every chunk is a copy of the table's properties and grid and starts with
copies of the header rows (``w:tblHeader``); every chunk but the first starts a page
(``w:pageBreakBefore``, which LibreOffice puts on the table as it imports it); every chunk but the
last also ends with copies of the next chunk's first ``chunk_rows // 2`` rows, at most
``MAX_OVERLAP_ROWS`` (the *overlap*). Between two chunks stands a *seam*: an empty paragraph of
hidden text, 1 twip high, without spacing, whose bookmark names the overlap.

The overlap is what makes the seams invisible: once LibreOffice has loaded the document, the UNO
server (worker/lo_seams.py) finds, seam by seam, the shared row where a page really breaks, cuts the
table before the seam there and drops the rows above it from the table after: every chunk then starts
at the top of a page with its header, as one long table would have repeated it, and no row is shown
twice. Only converted formats see chunks: the .docx a client downloads is as filled.
"""

from __future__ import annotations

import copy
import io
import zipfile

from lxml import etree

from core.settings import Settings

SEAM_BOOKMARK = "_wenshu_seam_"
"""Name prefix of the bookmark in each seam paragraph (worker/lo_seams.py finds seams by it)."""
FOREIGN_SEAM_BOOKMARK = "_wenshu_kept_"
"""What a template's own bookmark named like a seam is renamed to before conversion."""
MAX_OVERLAP_ROWS = 60
"""Most rows a chunk shares with the next: more than a page holds of one-line rows (~45 on A4), fewer
than half of a big chunk, since every shared row is laid out twice while the document loads."""
BOOKMARK_ID_BASE = 900000
"""First ``w:id`` of our seam bookmarks: far above the ids Word or docxtpl give theirs."""

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _w(tag: str) -> str:
    return f"{{{W}}}{tag}"


def header_rows(tbl: etree._Element) -> list[etree._Element]:
    """The leading rows of ``tbl`` marked to repeat as a header (``w:trPr/w:tblHeader``)."""
    rows = []
    for tr in tbl.iterchildren(_w("tr")):
        flag = tr.find(f"{_w('trPr')}/{_w('tblHeader')}")
        if flag is None or flag.get(_w("val"), "true") in ("0", "false", "off"):
            break
        rows.append(tr)
    return rows


def seam_paragraph(number: int, overlap: int) -> etree._Element:
    """The paragraph between two chunks: hidden text, 1 twip high, no spacing, with a seam bookmark.

    The bookmark ``_wenshu_seam_<number>_<overlap>`` tells the UNO server (worker/lo_seams.py) where
    the seam is and how many rows the table before it shares with the table after it.
    """
    p = etree.Element(_w("p"))
    ppr = etree.SubElement(p, _w("pPr"))
    spacing = etree.SubElement(ppr, _w("spacing"))
    for name, value in (("before", "0"), ("after", "0"), ("line", "1"), ("lineRule", "exact")):
        spacing.set(_w(name), value)
    rpr = etree.SubElement(ppr, _w("rPr"))
    etree.SubElement(rpr, _w("vanish"))
    etree.SubElement(rpr, _w("sz")).set(_w("val"), "2")
    start = etree.SubElement(p, _w("bookmarkStart"))
    start.set(_w("id"), str(BOOKMARK_ID_BASE + number))
    start.set(_w("name"), f"{SEAM_BOOKMARK}{number}_{overlap}")
    etree.SubElement(p, _w("bookmarkEnd")).set(_w("id"), str(BOOKMARK_ID_BASE + number))
    return p


def break_page_before(tr: etree._Element) -> None:
    """Start ``tr``'s table on a new page: ``w:pageBreakBefore`` on its first paragraph.

    LibreOffice moves that break onto the table as it imports it, so every chunk starts a page
    from the first layout on; setting the breaks over UNO afterwards would lay the document out again.
    """
    paragraph = tr.find(f"{_w('tc')}/{_w('p')}")
    if paragraph is None:
        return
    ppr = paragraph.find(_w("pPr"))
    if ppr is None:
        ppr = etree.Element(_w("pPr"))
        paragraph.insert(0, ppr)
    if ppr.find(_w("pageBreakBefore")) is None:
        leading = sum(1 for _ in ppr.iterchildren(_w("pStyle"), _w("keepNext"), _w("keepLines")))
        ppr.insert(leading, etree.Element(_w("pageBreakBefore")))  # schema order: after those three


def split_table(tbl: etree._Element, chunk_rows: int, first_seam: int = 0) -> list[etree._Element]:
    """``tbl`` as a list of elements (tables and seams) to put in its place; ``[tbl]`` if short.

    Every table but the last also ends with copies of the next chunk's first ``chunk_rows // 2``
    rows, at most ``MAX_OVERLAP_ROWS`` (the overlap), from which the UNO server picks the row where
    a page really breaks. A table with more header rows than a chunk (or a page) holds stays whole:
    copied into every chunk they would multiply the document (a template looping 10 000 header rows
    over 10 000 rows: 19 MB of XML became 200 MB, 2.9 GB in the worker); whole, LibreOffice's time
    on it is bounded by the conversion timeout.
    """
    rows = list(tbl.iterchildren(_w("tr")))
    heads = header_rows(tbl)
    body = rows[len(heads):]
    if len(body) <= 2 * chunk_rows or len(heads) > min(chunk_rows, MAX_OVERLAP_ROWS):
        return [tbl]
    overlap = max(1, min(chunk_rows // 2, MAX_OVERLAP_ROWS))
    shell = etree.Element(tbl.tag, nsmap=tbl.nsmap)
    shell.extend(copy.deepcopy(child) for child in tbl if child.tag != _w("tr"))
    chunks = [tbl]
    for start in range(chunk_rows, len(body), chunk_rows):
        chunk = copy.deepcopy(shell)
        chunk.extend(copy.deepcopy(tr) for tr in heads)
        chunk.extend(body[start:start + chunk_rows])  # moves the rows out of ``tbl``
        chunks.append(chunk)
    pieces: list[etree._Element] = []
    for n, (chunk, following) in enumerate(zip(chunks, chunks[1:], strict=False)):
        shared = following.findall(_w("tr"))[len(heads):len(heads) + overlap]
        chunk.extend(copy.deepcopy(tr) for tr in shared)
        pieces += [chunk, seam_paragraph(first_seam + n, len(shared))]
    for chunk in chunks[1:]:  # after the overlap was copied: no break inside a table
        break_page_before(chunk.find(_w("tr")))
    return [*pieces, chunks[-1]]


def split_document_xml(xml: bytes, chunk_rows: int, min_rows: int = 0) -> tuple[bytes, int]:
    """``word/document.xml`` with its top-level tables of over ``min_rows`` rows chunked; and how many seams."""
    root = etree.fromstring(xml, parser=etree.XMLParser(huge_tree=True, resolve_entities=False))
    body = root.find(_w("body"))
    seams = 0
    if body is None:
        return xml, 0
    for tbl in list(body.iterchildren(_w("tbl"))):
        if len(tbl.findall(_w("tr"))) <= min_rows:
            continue
        pieces = split_table(tbl, chunk_rows, seams)
        if len(pieces) == 1:
            continue
        anchor = tbl
        for piece in pieces[1:]:
            anchor.addnext(piece)
            anchor = piece
        seams += len(pieces) // 2
    if not seams:
        return xml, 0
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True), seams


def chunk_long_tables(docx: bytes, chunk_rows: int, min_rows: int = 0) -> tuple[bytes, int]:
    """``docx`` with every table of over ``min_rows`` rows chunked (module docstring); and the number of seams.

    ``chunk_rows`` of 0 turns chunking off. ``min_rows``: mending the seams costs more per row than
    LibreOffice's quadratic layout of one table until a table is a few thousand rows long (rows are
    counted with the header rows). A document without long tables comes back unchanged, but for
    bookmarks of its own named like our seams: those are renamed, so that only seams we made are ever
    mended (a template must not be able to make the UNO server cut rows out of its tables).
    """
    with zipfile.ZipFile(io.BytesIO(docx)) as src:
        xml = src.read("word/document.xml")
        foreign = SEAM_BOOKMARK.encode() in xml
        if foreign:
            xml = xml.replace(SEAM_BOOKMARK.encode(), FOREIGN_SEAM_BOOKMARK.encode())
        seams = 0
        if chunk_rows > 0 and xml.count(b"<w:tr") > max(2 * chunk_rows, min_rows):
            xml, seams = split_document_xml(xml, chunk_rows, min_rows)
        if not seams and not foreign:
            return docx, 0
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                data = xml if info.filename == "word/document.xml" else src.read(info.filename)
                dst.writestr(info, data)
    return out.getvalue(), seams


def conversion_timeout(settings: Settings, docx: bytes) -> float:
    """Seconds the conversion of ``docx`` may take: the base limit plus a share per MiB of its text.

    A 10 000-row report must finish under the defaults, and a one-page letter must still be stopped
    quickly when LibreOffice hangs on it. Capped at ``Settings.max_convert_timeout``, which the job's
    own timeout (``Settings.job_timeout``) covers twice (a retry). Bytes that are no .docx get the base.
    """
    base = settings.convert_timeout
    try:
        with zipfile.ZipFile(io.BytesIO(docx)) as package:
            size = package.getinfo("word/document.xml").file_size
    except (zipfile.BadZipFile, KeyError, ValueError):
        return base
    return min(settings.max_convert_timeout, base + settings.convert_timeout_per_mib * size / 2**20)
