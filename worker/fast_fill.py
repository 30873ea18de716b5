"""docxtpl's fill at linear cost for big documents: three of its steps, done the same but cheaper.

Profiling the 10 000-row report (bench/big_tables.py, cProfile) put most of docxtpl 0.20.2's time
in three steps that do nothing for an ordinary table; docxtpl's PR #637 (unreleased) names the same:

* ``resolve_listing`` runs three nested regular expressions over every paragraph, run and text of
  the part, to turn ``\\t \\a \\n \\f`` inside text into tabs, paragraphs, breaks and page breaks.
  When no ``<w:t>`` holds one of them, its output equals its input: we return the input at once.
* ``fix_tables`` parses the rendered body and walks every cell of every table (``tcPr/gridSpan``
  lookups in Python) to reconcile ``w:gridCol`` with the cells a ``{%tc %}`` loop made. When no
  table has a ``gridSpan`` and every table's widest row has exactly as many cells as grid columns,
  it changes nothing: we check that with one ``findall`` a row and skip the walk.
* ``map_tree`` moves that parsed body into the package's document tree; libxml2 re-homes every node
  of it (for 10 000 rows, longer than the rest of the fill). We parse the rendered body inside the
  text of the whole ``document.xml`` instead, with python-docx's element classes, and swap the
  part's root: no node moves.

Any table that does need docxtpl's fixing takes docxtpl's own path, unchanged.
"""

from __future__ import annotations

import re

from docx.oxml.ns import qn
from docx.oxml.parser import element_class_lookup
from lxml import etree

LISTING_TEXT = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\t\a\n\f]")
"""A ``<w:t>`` whose text holds a character docxtpl's ``resolve_listing`` rewrites."""
BODY_MARK = "wenshu-rendered-body"
BODY_START = re.compile(r"<w:body((?:\s[^>]*?)?)(/?>)")
XMLNS = re.compile(r'\sxmlns:([\w.-]+)="([^"]*)"')


def _parser() -> etree.XMLParser:
    """docxtpl's parser for rendered XML (``recover=True``), building python-docx's element classes."""
    parser = etree.XMLParser(recover=True, resolve_entities=False)
    parser.set_element_class_lookup(element_class_lookup)
    return parser


def tables_need_fixing(root: etree._Element) -> bool:
    """True when docxtpl's ``fix_tables`` would change a table of ``root`` (or fail on it)."""
    tbl, grid, col, tr, tc = qn("w:tbl"), qn("w:tblGrid"), qn("w:gridCol"), qn("w:tr"), qn("w:tc")
    for table in root.iter(tbl):
        table_grid = table.find(grid)
        if table_grid is None or table.find(f".//{qn('w:gridSpan')}") is not None:
            return True
        widest = max((len(row.findall(tc)) for row in table.iter(tr)), default=0)
        if widest != len(table_grid.findall(col)):
            return True
    return False


def _without_inherited_xmlns(xml: str, nsmap: dict) -> str:
    """``xml`` (a serialized ``w:body``) without the declarations its document already makes.

    Serialized alone, the body repeats the document's ``xmlns:*``; kept inside the document they
    would make our ``document.xml`` differ from docxtpl's byte for byte.
    """
    start = BODY_START.match(xml)
    if start is None:
        return xml
    kept = [d for d in XMLNS.finditer(start.group(1)) if nsmap.get(d.group(1)) != d.group(2)]
    rest = XMLNS.sub("", start.group(1)).strip()
    attributes = " ".join([d.group(0).strip() for d in kept] + ([rest] if rest else []))
    return f"<w:body{' ' + attributes if attributes else ''}{start.group(2)}" + xml[start.end():]


class LinearFill:
    """Mixed into our ``DocxTemplate`` subclass (worker/render.py) before docxtpl's class."""

    def resolve_listing(self, xml: str) -> str:
        if not LISTING_TEXT.search(xml):
            return xml
        return super().resolve_listing(xml)

    def fix_tables(self, xml: str):
        root = self.docx._element
        body = root.body
        mark = etree.Comment(BODY_MARK)
        root.replace(body, mark)  # same tree: nothing is copied
        try:
            head, _, tail = etree.tostring(root, encoding="unicode").partition(f"<!--{BODY_MARK}-->")
        finally:
            root.replace(mark, body)
        document = etree.fromstring(head + _without_inherited_xmlns(xml, root.nsmap) + tail, parser=_parser())
        if document is None or document.tag != qn("w:document") or tables_need_fixing(document):
            return super().fix_tables(xml)
        return document

    def fix_docpr_ids(self, tree) -> None:
        """docxtpl's renumbering of drawing ids, in document order (python-docx's ``xpath`` takes no namespaces)."""
        for element in tree.iter(qn("wp:docPr")):
            self.docx_ids_index += 1
            element.attrib["id"] = str(self.docx_ids_index)

    def map_tree(self, tree) -> None:
        if tree.tag != qn("w:document"):
            super().map_tree(tree)
            return
        self.docx._part._element = tree
        self.docx._element = tree
        self.docx._Document__body = None  # python-docx's cached proxy of the old body
