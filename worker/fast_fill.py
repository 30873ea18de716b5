"""docxtpl's fill at linear cost for big documents: its steps, done the same but cheaper.

Profiling the 10 000-row report (bench/fill.py, cProfile) put most of docxtpl 0.20.2's time in
steps that do nothing for an ordinary table; docxtpl's PR #637 (unreleased) names some of them:

* ``render_xml_part`` puts a newline before every ``<w:p`` so Jinja's line numbers name
  paragraphs, and takes them out of the output with a regular-expression substitution per
  paragraph (80 000 for 10 000 rows); two plain string replaces do the same.
* ``resolve_listing`` runs three nested regular expressions over every paragraph, run and text of
  the part, to turn ``\\t \\a \\n \\f`` inside text into tabs, paragraphs, breaks and page breaks.
  When no ``<w:t>`` holds one of them, its output equals its input: we return the input at once.
* ``fix_tables`` parses the rendered body and walks every cell of every table (``tcPr/gridSpan``
  lookups in Python) to reconcile ``w:gridCol`` with the cells a ``{%tc %}`` loop made. When no
  table has a ``gridSpan`` and every table's widest row has exactly as many cells as grid columns,
  it changes nothing: we check that with one ``findall`` a row and skip the walk; the tables it
  would change get the same rule (worker/table_grid.py).
* ``map_tree`` moves that parsed body into the document tree, re-homing every node; we parse the
  body in place instead (worker/rendered_body.py).

Any body the in-place parse cannot vouch for, and any table grid we cannot settle without
guessing, takes docxtpl's own path, unchanged. The sandbox's attribute lookup was the other heavy
step (core/sandbox.py now returns a plain dict's item directly). Full garbage collections walking
the whole heap add 40–70 % to a 20 000-row fill in a bare process; the worker freezes its start-up
objects (worker/memory.py), after which they add ~3 %, so the fill leaves the collector alone.
"""

from __future__ import annotations

import re

from docx.oxml.ns import qn
from jinja2 import Template
from jinja2.exceptions import TemplateError

from .rendered_body import parse_in_document
from .table_grid import Unsettled, fix_grids

LISTING_CHARACTERS = "\t\a\n\f"
"""What docxtpl's ``resolve_listing`` rewrites (tab, paragraph, line break, page break)."""
LISTING_TEXT = re.compile(r"<w:t(?: [^>]*)?>[^<]*[\t\a\n\f]")
"""A ``<w:t>`` whose text holds a character docxtpl's ``resolve_listing`` rewrites."""


def _break_paragraphs(xml: str) -> str:
    """docxtpl's ``re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)``: a line of Jinja source per paragraph."""
    return xml.replace("<w:p ", "\n<w:p ").replace("<w:p>", "\n<w:p>")


def _join_paragraphs(xml: str) -> str:
    """docxtpl's ``re.sub(r"\n<w:p([ >])", r"<w:p\1", xml)`` (a regex replacement per paragraph)."""
    return xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")


class LinearFill:
    """Mixed into our ``DocxTemplate`` subclass (worker/render.py) before docxtpl's class."""

    def render_xml_part(self, src_xml, part, context, jinja_env=None):
        """docxtpl's, with plain string replaces where it ran a regex substitution per paragraph."""
        src_xml = _break_paragraphs(src_xml)
        try:
            self.current_rendering_part = part
            template = jinja_env.from_string(src_xml) if jinja_env else Template(src_xml)
            dst_xml = template.render(context)
        except TemplateError as exc:
            if getattr(exc, "lineno", None) is not None:  # docxtpl's excerpt of the failing lines
                line_number = max(exc.lineno - 4, 0)
                exc.docx_context = [re.sub(r"<[^>]+>", "", line)
                                    for line in src_xml.splitlines()[line_number:line_number + 7]]
            raise
        dst_xml = _join_paragraphs(dst_xml)
        if "{" in dst_xml or "}" in dst_xml:  # docxtpl's escaped delimiters {_{ }_} {_% %_} each hold one
            dst_xml = dst_xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%").replace("%_}", "%}")
        return self.resolve_listing(dst_xml)

    def resolve_listing(self, xml: str) -> str:
        if not any(character in xml for character in LISTING_CHARACTERS) or not LISTING_TEXT.search(xml):
            return xml
        return super().resolve_listing(xml)

    def fix_tables(self, xml: str):
        document = parse_in_document(self.docx._element, xml)
        if document is None:
            return super().fix_tables(xml)
        try:
            fix_grids(document)
        except Unsettled:
            return super().fix_tables(xml)  # from the text again: our half-fixed tree is dropped
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
