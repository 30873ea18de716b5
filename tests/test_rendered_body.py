"""worker/rendered_body.py: the body parsed inside its document reads byte for byte as docxtpl's move leaves it.

docxtpl parses a rendered body alone and moves it into the document (``fix_tables`` then
``map_tree``); lxml's move drops namespace declarations an ancestor already makes. Each case here is
a body as a render could produce it, put through docxtpl's own two methods and through ours.
"""

from __future__ import annotations

import io

import pytest
from docx import Document
from docxtpl import DocxTemplate
from lxml import etree

from worker.rendered_body import parse_in_document

WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
PIC = "http://schemas.openxmlformats.org/drawingml/2006/picture"


def _template() -> DocxTemplate:
    doc = Document()
    doc.add_paragraph("前言")
    out = io.BytesIO()
    doc.save(out)
    tpl = DocxTemplate(io.BytesIO(out.getvalue()))
    tpl.init_docx()
    return tpl


def _body(inner: str, body_attributes: str = "") -> str:
    """The template's body as docxtpl serializes it, with ``inner`` before the section properties."""
    xml = etree.tostring(_template().docx._element.body, encoding="unicode")
    if body_attributes:
        xml = xml.replace("<w:body ", f"<w:body {body_attributes} ", 1)
    at = xml.index("<w:sectPr")
    return xml[:at] + inner + xml[at:]


def docxtpls(xml: str) -> bytes:
    tpl = _template()
    DocxTemplate.map_tree(tpl, DocxTemplate.fix_tables(tpl, xml))
    return etree.tostring(tpl.docx._element)


def ours(xml: str) -> bytes | None:
    document = parse_in_document(_template().docx._element, xml)
    return None if document is None else etree.tostring(document)


def _drawing(inline: str) -> str:
    return f"<w:p><w:r><w:drawing>{inline}</w:drawing></w:r></w:p>"


IMAGE = _drawing(f'<wp:inline xmlns:wp="{WP}" xmlns:a="{A}" xmlns:pic="{PIC}"><wp:docPr id="1" name="p"/>'
                 f'<a:graphic><a:graphicData uri="{PIC}"><pic:pic xmlns:pic="{PIC}"/></a:graphicData>'
                 "</a:graphic></wp:inline>")

CASES = {
    "images, each declaring what the document declares": _body(IMAGE * 3),
    "declarations nested in declarations": _body(_drawing(f'<a:g xmlns:a="{A}"><a:g xmlns:a="{A}"><a:h/></a:g></a:g>')),
    "a URI the document declares, under another prefix": _body(_drawing(
        f'<x:inline xmlns:x="{WP}"><x:extent/></x:inline>')),
    "a prefix bound elsewhere, then back": _body(_drawing(
        f'<wp:inline xmlns:wp="urn:other"><wp:q xmlns:wp="{WP}"/><wp:r/></wp:inline>')),
    "a namespace the body declares, declared again inside": _body(
        _drawing('<q:x xmlns:q="urn:q"><q:y/></q:x>'), body_attributes='xmlns:q="urn:q"'),
    "text after a declaring element": _body(
        f'<w:p><w:r><w:drawing><wp:inline xmlns:wp="{WP}"/>尾</w:drawing></w:r></w:p>'),
    "no declaration inside": _body("<w:p><w:r><w:t>一行</w:t></w:r></w:p>" * 3),
}


@pytest.mark.parametrize("xml", CASES.values(), ids=CASES.keys())
def test_body_parsed_in_place_reads_as_docxtpls_move(xml):
    result = ours(xml)
    assert result is not None, "the fast path should take this body"
    assert result == docxtpls(xml)


@pytest.mark.parametrize("xml", [
    _body("<w:p><w:r><w:t>unclosed</w:r></w:p>"),
    _body("<w:p/>", body_attributes=f'xmlns:z="{WP}"'),
    _body("<w:p/>", body_attributes='xmlns="urn:default"'),
    _body('<w:p><w:r><w:t>xmlns:a="urn:x" and xmlns="urn:y"</w:t></w:r></w:p>'),
    _body('<w:p><w:r xmlns:q="urn:q"><w:t>一</w:t></w:r>' + "<w:r><w:t>二</w:t></w:r>" * 100 + "</w:p>"),
], ids=["xml the parser must mend", "body binding a document URI to another prefix", "default namespace",
        "text that mentions xmlns (or a raw > before a declaration)",
        "a declaration on a tag hundreds of elements share"])
def test_bodies_it_cannot_vouch_for_are_left_to_docxtpl(xml):
    assert ours(xml) is None
    docxtpls(xml)  # which takes them
