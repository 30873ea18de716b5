"""The rendered ``w:body`` parsed inside its document, as docxtpl's tree move would leave it.

docxtpl parses the rendered body alone, then ``map_tree`` moves it into the package's document
tree, and libxml2 re-homes every node (10 000 rows: 0.8 s, longer than the rest of the fill). We
parse the body inside the text of the whole ``document.xml`` instead, with python-docx's element
classes, and the part's root is swapped: no node moves.

Besides moving, lxml's move drops every namespace declaration an ancestor already makes (by URI:
``moveNodeToDocument``). We do the same, so the bytes stay docxtpl's:

* on ``w:body`` by rewriting its start tag (serialized alone, the body repeats the document's
  declarations);
* inside the body, where an InlineImage brings ``<wp:inline xmlns:wp=… xmlns:a=…>``, by moving
  only the elements that carry a declaration: each is re-parsed alone and put in its place, the
  same lxml move as docxtpl's but of a few small subtrees.

Whatever we cannot vouch for, or would move more slowly than docxtpl (XML the recovering parser
had to mend, a body tag that binds a URI the document declares under another prefix, default
namespaces, text that mentions ``xmlns``, a declaration on a tag hundreds of elements share)
gives None, and the caller takes docxtpl's own path.
"""

from __future__ import annotations

import re
from collections import Counter

from docx.oxml.ns import nsmap, qn
from docx.oxml.parser import element_class_lookup
from lxml import etree

BODY_MARK = "wenshu-rendered-body"
BODY_START = re.compile(r"<w:body((?:\s[^>]*?)?)(/?>)")
XMLNS = re.compile(r'\sxmlns:([\w.-]+)="([^"]*)"')
TAG_NAME = re.compile(r"[^\s/>!?]+")
MOVES_PER_DECLARATION = 4
"""Elements moved one by one per declaration found, at most, before docxtpl's whole move is cheaper."""
W = nsmap["w"]


def _parser() -> etree.XMLParser:
    """docxtpl's parser for rendered XML (``recover=True``), building python-docx's element classes."""
    parser = etree.XMLParser(recover=True, resolve_entities=False)
    parser.set_element_class_lookup(element_class_lookup)
    return parser


def parse_in_document(root: etree._Element, xml: str) -> etree._Element | None:
    """A new ``w:document`` tree: ``root`` with its body replaced by ``xml``; None when unsure."""
    start = BODY_START.match(xml) if root.nsmap.get("w") == W else None
    body_start = _body_start_without_inherited(start, root.nsmap) if start else None
    declaring = _declaring_names(xml, start.end()) if body_start is not None else None
    if declaring is None:
        return None
    head, tail = _around_body(root)
    parser = _parser()
    try:  # one copy of the (tens of megabytes of) text, not one per piece added
        document = etree.fromstring("".join((head, body_start, xml[start.end():], tail)), parser=parser)
    except etree.XMLSyntaxError:
        return None
    if document is None or document.tag != qn("w:document") or len(parser.error_log):
        return None
    if declaring and not _move_declaring_elements(document, declaring):
        return None
    return document


def _around_body(root: etree._Element) -> tuple[str, str]:
    """The text of ``root`` before and after its ``w:body`` (serialized without copying the tree)."""
    body = root.body
    mark = etree.Comment(BODY_MARK)
    root.replace(body, mark)
    try:
        head, _, tail = etree.tostring(root, encoding="unicode").partition(f"<!--{BODY_MARK}-->")
    finally:
        root.replace(mark, body)
    return head, tail


def _body_start_without_inherited(start: re.Match, nsmap: dict) -> str | None:
    """The body's start tag ``start`` without the declarations its document already makes.

    None when the move would do more than drop them: a default namespace, or a URI the document
    declares under another prefix (lxml would rename the elements to that prefix); or when the
    body binds ``w`` to another namespace than WordprocessingML's.
    """
    if None in nsmap or re.search(r"\sxmlns=", start.group(1)):
        return None
    declared = set(nsmap.values())
    kept = []
    for declaration in XMLNS.finditer(start.group(1)):
        prefix, uri = declaration.groups()
        if nsmap.get(prefix) == uri:
            continue
        if uri in declared or prefix == "w":
            return None
        kept.append(declaration.group(0).strip())
    rest = XMLNS.sub("", start.group(1)).strip()
    attributes = " ".join(kept + ([rest] if rest else []))
    return f"<w:body{' ' + attributes if attributes else ''}{start.group(2)}"


def _declaring_names(body_xml: str, content: int) -> Counter[str] | None:
    """Local names of the tags past ``content`` that carry ``xmlns`` declarations (with how many
    declarations each name carries); None when unsure.

    An ``xmlns`` with a ``<`` before it and no ``>`` between is inside that tag (a raw ``<`` is in
    no text or attribute value): a declaration, or at worst an attribute value naming one, which
    only adds a name whose elements are moved for nothing. One with a ``>`` between is most likely
    text (a report that mentions xmlns), but could follow a raw ``>`` in an attribute value: rather
    than guess, or move every element of a name found in text, we leave the body to docxtpl.
    """
    names: Counter[str] = Counter()
    at = body_xml.find("xmlns", content)
    while at != -1:
        tag = body_xml.rfind("<", content, at)
        if tag == -1 or body_xml.find(">", tag, at) != -1:
            return None
        name = TAG_NAME.match(body_xml, tag + 1)
        if name is not None:
            names[name.group(0).rpartition(":")[2]] += 1
        at = body_xml.find("xmlns", at + 5)
    return names


def _move_declaring_elements(document: etree._Element, names: Counter[str]) -> bool:
    """Each body element of these local names moved in as docxtpl's ``map_tree`` would move it.

    False, having moved nothing, when the names match many more elements than there are
    declarations (a ``<w:r xmlns:…>`` would have us move every run): docxtpl's move of the whole
    body is then the cheaper way to the same bytes.
    """
    body = document.find(qn("w:body"))
    candidates = list(body.iter(*(f"{{*}}{name}" for name in names)))
    if len(candidates) > MOVES_PER_DECLARATION * names.total() + 64:
        return False
    parser = _parser()
    moved: set[etree._Element] = set()
    for element in candidates:
        if element is body or any(ancestor in moved for ancestor in element.iterancestors()):
            continue  # inside a subtree already moved, which the move took care of
        copy = etree.fromstring(etree.tostring(element, encoding="unicode", with_tail=False), parser=parser)
        copy.tail = element.tail
        element.getparent().replace(element, copy)
        moved.add(element)
    return True
