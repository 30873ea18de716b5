"""What the XML parts of a .docx may contain: no declarations, no active content, nothing fetched.

Every part whose name, content type or bytes say XML is parsed here, whatever it is called: a
DOCTYPE is looked for in the raw bytes before any parser sees them (XXE, entity expansion); then
the tree is searched for active elements (altChunk, OLE, ActiveX, attached template, sub-document,
mail-merge source), for fields that read files or talk to programs (INCLUDETEXT, DDE, LINK...,
even split across runs and paragraphs), and for content pulled in by link instead of embedded
(``a:blip r:link``, VML ``src``/``o:href``/``r:href``, or any reference to an external
relationship other than a hyperlink's). Transitional and Strict OOXML namespaces are both read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from lxml import etree

from core.docx_package import HARMLESS_EXTERNAL, REL_KINDS, Relationship, finding

NAMESPACES = {
    "w": ("http://schemas.openxmlformats.org/wordprocessingml/2006/main",
          "http://purl.oclc.org/ooxml/wordprocessingml/main"),
    "r": ("http://schemas.openxmlformats.org/officeDocument/2006/relationships",
          "http://purl.oclc.org/ooxml/officeDocument/relationships"),
    "a": ("http://schemas.openxmlformats.org/drawingml/2006/main", "http://purl.oclc.org/ooxml/drawingml/main"),
    "v": ("urn:schemas-microsoft-com:vml",),
    "o": ("urn:schemas-microsoft-com:office:office",),
}
_PREFIX_OF = {uri: prefix for prefix, uris in NAMESPACES.items() for uri in uris}

# The only (element, attribute) pairs that may point at an external (hyperlink) relationship.
HYPERLINK_REFERENCES = {("w:hyperlink", "r:id"), ("a:hlinkClick", "r:id"), ("a:hlinkHover", "r:id"),
                        ("a:hlinkMouseOver", "r:id")}

# Field keywords that read files/URLs or talk to other programs when fields update.
FIELD_KEYWORDS = {"INCLUDETEXT", "INCLUDE", "INCLUDEPICTURE", "DDE", "DDEAUTO", "LINK", "IMPORT"}

# Elements that embed active content, with the finding they produce.
ELEMENT_KINDS = {
    "w:altChunk": ("alt-chunk", "w:altChunk (imported foreign content)"),
    "w:object": ("ole-object", "embedded object (w:object)"),
    "o:OLEObject": ("ole-object", "OLE object (o:OLEObject)"),
    "w:control": ("activex", "ActiveX control (w:control)"),
    "w:attachedTemplate": ("attached-template", "attached template (w:attachedTemplate)"),
    "w:subDoc": ("sub-document", "sub-document (w:subDoc)"),
    "w:mailMerge": ("mail-merge", "mail-merge data source (w:mailMerge)"),
}
# VML elements whose src / o:href / o:althref name a picture to fetch instead of an embedded one.
VML_PICTURES = ("v:imagedata", "v:fill", "v:stroke", "v:image")
VML_LINK_ATTRIBUTES = ("src", "o:href", "o:althref")
CONTENT_TYPE_MARKERS = {
    "macroenabled": ("macro", "macro-enabled content type"),
    "vbaproject": ("macro", "VBA macro project content type"),
    "activex": ("activex", "ActiveX content type"),
    "oleobject": ("ole-object", "OLE object content type"),
}

# Every attribute that names a relationship: r:* (both namespaces) and VML's o:relid.
_REFERENCES = etree.XPath("//@r:* | //@rs:* | //@o:relid", namespaces={
    "r": NAMESPACES["r"][0], "rs": NAMESPACES["r"][1], "o": NAMESPACES["o"][0]})
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")


@lru_cache(maxsize=4096)
def short_name(clark: str) -> str:
    """``{uri}local`` as ``w:local`` for the namespaces above (Strict and Transitional alike)."""
    if not clark.startswith("{"):
        return clark
    uri, _, local = clark[1:].partition("}")
    prefix = _PREFIX_OF.get(uri)
    return f"{prefix}:{local}" if prefix else clark


def _tags(*names: str) -> list[str]:
    """Clark names (every namespace variant) of ``w:p``-style names, for lxml's filtered ``iter``."""
    result = []
    for name in names:
        prefix, _, local = name.partition(":")
        result.extend(f"{{{uri}}}{local}" for uri in NAMESPACES[prefix])
    return result


def looks_like_xml(head: bytes) -> bool:
    """True when a part's first bytes are XML in any encoding a parser detects (BOM, UTF-16/32, plain).

    A head of nothing but blanks counts too: XML may start with any amount of whitespace.
    """
    if head.startswith(_BOMS) or head.startswith(b"\x4c\x6f\xa7\x94"):  # BOMs; "<?xm" in EBCDIC
        return True
    if b"\x00" in head[:4]:  # UTF-16/32 without a byte-order mark
        head = head.replace(b"\x00", b"")
    text = head.lstrip(b" \t\r\n")
    return text.startswith(b"<") or (not text and bool(head))


def parse_part(name: str, raw: bytes, *, huge: bool = False) -> tuple[etree._Element | None, list[dict[str, Any]]]:
    """Parse one XML part safely: (root, []) or (None, [the reason it was refused]).

    Args:
        huge: lift libxml2's size limits, for documents this service rendered itself.
    """
    text = _decode_prolog(raw)
    if text is None:
        return None, [finding(name, "XML part in an unsupported character encoding", "bad-xml")]
    match = _DECLARATION.search(text)
    if match:
        word = match.group(1).decode().upper()
        return None, [finding(name, f"XML part declares a {word} (XXE / entity expansion)", "doctype")]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=huge)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        return None, [finding(name, f"XML part is not well-formed: {exc}", "bad-xml")]
    if root is None:
        return None, [finding(name, "XML part is empty", "bad-xml")]
    if root.getroottree().docinfo.doctype:  # an encoding the byte search could not read
        return None, [finding(name, "XML part declares a DOCTYPE (XXE / entity expansion)", "doctype")]
    return root, []


def _decode_prolog(raw: bytes) -> bytes | None:
    """The part as ASCII-compatible bytes, so a UTF-16 part cannot hide its DOCTYPE."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) > 1 and b"\x00" in raw[:4]):
        encoding = "utf-16"
        if raw[:4] in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00") or raw[:4].count(b"\x00") == 3:
            encoding = "utf-32"
    else:
        declared = _ENCODING.match(raw.lstrip(b"\xef\xbb\xbf")[:200])
        encoding = declared.group(1).decode() if declared else "utf-8"
        if encoding.lower().replace("-", "").replace("_", "") in ("utf8", "usascii", "ascii"):
            return raw  # the common case: search the bytes as they are
    try:
        return raw.decode(encoding, errors="replace").encode("utf-8")
    except LookupError:
        return None


def relationship_findings(name: str, relationships: list[Relationship]) -> list[dict[str, Any]]:
    """Relationship types that are active content, and external targets other than hyperlinks."""
    findings = []
    for rel in relationships:
        if rel.type in REL_KINDS:
            found, label = REL_KINDS[rel.type]
            where = " (TargetMode=External)" if rel.external else ""
            findings.append(finding(name, f"{label} relationship{where} to {rel.target}", found))
        elif rel.external and rel.type not in HARMLESS_EXTERNAL:
            findings.append(finding(name, f"external relationship (TargetMode=External) to {rel.target}",
                                    "external-relationship"))
    return findings


def content_type_findings(name: str, root: etree._Element) -> list[dict[str, Any]]:
    """Content types that announce macros, ActiveX or OLE objects."""
    findings = []
    for entry in root:
        content_type = (entry.get("ContentType") or "").lower()
        what = entry.get("PartName") or f"*.{entry.get('Extension')}"
        for marker, (found, label) in CONTENT_TYPE_MARKERS.items():
            if marker in content_type:
                findings.append(finding(name, f"{label} for {what}: {entry.get('ContentType')}", found))
                break
    return findings


def body_findings(name: str, root: etree._Element, relationships: dict[str, Relationship]) -> list[dict[str, Any]]:
    """Active elements, dangerous fields and linked content in a document/header/footer/... part.

    Args:
        relationships: this part's own relationships by Id (what its ``r:`` attributes refer to).
    """
    paragraph_of = _paragraph_locator(root)
    findings = []
    for el in root.iter(*_tags(*ELEMENT_KINDS)):
        found, label = ELEMENT_KINDS[short_name(el.tag)]
        findings.append(finding(name, label, found, paragraph_of(el)))
    findings.extend(_field_findings(name, root, paragraph_of))
    findings.extend(_link_findings(name, root, relationships, paragraph_of))
    return findings


def _paragraph_locator(root: etree._Element) -> Callable[[etree._Element], int | None]:
    """A function giving an element's 1-based paragraph number (numbered on first use only)."""
    numbers: dict[etree._Element, int] = {}

    def paragraph_of(element: etree._Element) -> int | None:
        if not numbers:
            numbers.update({p: i for i, p in enumerate(root.iter(*_tags("w:p")), 1)})
        here = element if short_name(element.tag) == "w:p" else None
        return numbers.get(here) or next((numbers.get(p) for p in element.iterancestors(*_tags("w:p"))), None)

    return paragraph_of


def _field_findings(name: str, root: etree._Element,
                    paragraph_of: Callable[[etree._Element], int | None]) -> list[dict[str, Any]]:
    """Simple and complex fields whose instruction reads external content."""
    findings = []
    # Open complex fields (begin ... instrText ... separate ... end, nested, possibly spanning
    # runs and paragraphs): [instruction pieces or None once judged, paragraph of the begin].
    fields: list[list[Any]] = []
    for el in root.iter(*_tags("w:fldSimple", "w:fldChar", "w:instrText", "w:delInstrText")):
        tag = short_name(el.tag)
        if tag == "w:fldSimple":
            instruction = next((v for k, v in el.attrib.items() if short_name(k) == "w:instr"), "")
            findings.extend(_field_finding(name, instruction, paragraph_of(el)))
        elif tag == "w:fldChar":
            kind = next((v for k, v in el.attrib.items() if short_name(k) == "w:fldCharType"), None)
            if kind == "begin":
                fields.append([[], paragraph_of(el)])
            elif kind in ("separate", "end") and fields:
                # The instruction is complete at "separate" (or at "end" when there is none).
                if fields[-1][0] is not None:
                    findings.extend(_field_finding(name, "".join(fields[-1][0]), fields[-1][1]))
                    fields[-1][0] = None
                if kind == "end":
                    fields.pop()
        elif fields and fields[-1][0] is not None:
            fields[-1][0].append(el.text or "")
    for pieces, paragraph in fields:  # never closed: judge what was written
        if pieces is not None:
            findings.extend(_field_finding(name, "".join(pieces), paragraph))
    return findings


def _field_finding(name: str, instruction: str, paragraph: int | None) -> list[dict[str, Any]]:
    words = instruction.split()
    keyword = words[0].upper() if words else ""
    if keyword in FIELD_KEYWORDS:
        shown = " ".join(words)[:120]
        return [finding(name, f"{keyword} field ({shown}) reads external content", "field", paragraph)]
    return []


def _link_findings(name: str, root: etree._Element, relationships: dict[str, Relationship],
                   paragraph_of: Callable[[etree._Element], int | None]) -> list[dict[str, Any]]:
    """Content pulled in by link: r:link/r:href, VML picture sources, references to external targets."""
    findings = []
    for el in root.iter(*_tags(*VML_PICTURES)):
        for key, value in el.attrib.items():
            if short_name(key) in VML_LINK_ATTRIBUTES and value.strip():
                findings.append(finding(name, f"{short_name(el.tag)} {short_name(key)}=\"{value[:120]}\" links a "
                                              "picture instead of embedding it", "linked-image", paragraph_of(el)))
    for value in _REFERENCES(root):
        el, attribute = value.getparent(), short_name(value.attrname)
        element = short_name(el.tag)
        rel = relationships.get(str(value))
        target = f" ({rel.target})" if rel else ""
        if attribute in ("r:link", "r:href"):
            findings.append(finding(name, f"{element} {attribute}={value}{target} links content instead of "
                                          "embedding it", "linked-image", paragraph_of(el)))
        elif (rel and rel.external and (element, attribute) not in HYPERLINK_REFERENCES
              and element not in ELEMENT_KINDS):  # those are refused as elements already
            findings.append(finding(name, f"{element} {attribute}={value} refers to the external target "
                                          f"{rel.target} (only hyperlinks may point outside the package)",
                                    "external-reference", paragraph_of(el)))
    return findings
