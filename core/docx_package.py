"""The package structure of a .docx, read the way Word, python-docx and LibreOffice read it.

Readers do not open parts by their names: they start at ``_rels/.rels``, follow the
``officeDocument`` relationship to the main part and walk relationships outward from there, and
they take a part's kind from ``[Content_Types].xml`` (an Override for the part name, else the
Default for its extension). A check that reads ``word/document.xml`` by name can therefore be
handed a decoy while the reader renders ``word/document.bin``. This module models the package
that way — content types, relationships with their targets resolved to part names — and reports
what no Word-saved file has: a main part elsewhere than ``word/document.xml``, XML content on a
name that is not XML, targets that escape the package or name missing parts.
"""

from __future__ import annotations

import posixpath
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from lxml import etree

CONTENT_TYPES_PART = "[Content_Types].xml"
PACKAGE_RELS_PART = "_rels/.rels"
MAIN_PART = "word/document.xml"

# Part names whose extension says "XML"; .svg is XML too (Word 2016+ pictures).
XML_NAME_SUFFIXES = (".xml", ".rels", ".vml", ".svg")
# Relationship types (last URI segment) whose target is binary, not an XML part a reader parses.
BINARY_TARGET_TYPES = {"image", "thumbnail", "font", "printerSettings", "package", "audio", "video", "media",
                       "hdphoto", "embeddedFont", "hyperlink"}

# Relationship types refused even when internal, by the last segment of their Type URI.
REL_KINDS = {
    "attachedTemplate": ("attached-template", "attached template"),
    "aFChunk": ("alt-chunk", "altChunk (imported foreign content)"),
    "oleObject": ("ole-object", "OLE object"),
    "control": ("activex", "ActiveX control"),
    "activeXControlBinary": ("activex", "ActiveX control"),
    "vbaProject": ("macro", "VBA macro project"),
    "subDocument": ("sub-document", "sub-document"),
    "mailMergeSource": ("mail-merge", "mail-merge data source"),
    "mailMergeHeaderSource": ("mail-merge", "mail-merge header source"),
}
# External links a reader clicks; Word/LibreOffice never fetch them while rendering.
HARMLESS_EXTERNAL = ("hyperlink",)


def finding(part: str, message: str, found: str, paragraph: int | None = None) -> dict[str, Any]:
    """One problem as the 422 lists it: part, message, a stable ``found`` slug, paragraph if known."""
    item: dict[str, Any] = {"part": part, "message": message, "found": found}
    if paragraph is not None:
        item["paragraph"] = paragraph
    return item


def is_xml_content_type(content_type: str) -> bool:
    """True for the content types readers hand to an XML parser."""
    ct = content_type.lower().split(";", 1)[0].strip()
    return ct.endswith("+xml") or ct in ("application/xml", "text/xml") or ct.endswith(".vmldrawing")


def is_main_content_type(content_type: str) -> bool:
    """True for the content types of a Word main document (document, template, macro variants)."""
    ct = content_type.lower().split(";", 1)[0].strip()
    return ct.endswith("main+xml") and ("wordprocessingml" in ct or "ms-word" in ct)


@dataclass(frozen=True)
class ContentTypes:
    """``[Content_Types].xml``: Defaults by extension and Overrides by part name (both case-blind)."""

    defaults: dict[str, str]
    overrides: dict[str, str]

    @classmethod
    def parse(cls, root: etree._Element | None) -> ContentTypes:
        defaults, overrides = {}, {}
        for entry in root if root is not None else ():
            kind = etree.QName(entry).localname if isinstance(entry.tag, str) else ""
            content_type = entry.get("ContentType") or ""
            if kind == "Default" and entry.get("Extension"):
                defaults[entry.get("Extension").lower()] = content_type
            elif kind == "Override" and entry.get("PartName"):
                overrides[entry.get("PartName").lstrip("/").lower()] = content_type
        return cls(defaults, overrides)

    def of(self, name: str) -> str | None:
        """The content type a reader gives part ``name``, or None when the package declares none."""
        lower = name.lower()
        if lower in self.overrides:
            return self.overrides[lower]
        extension = lower.rsplit("/", 1)[-1].rsplit(".", 1)
        return self.defaults.get(extension[1]) if len(extension) == 2 else None


@dataclass(frozen=True)
class Relationship:
    """One ``<Relationship>``; ``part`` is its internal target resolved to a part name."""

    rels_part: str
    id: str
    type: str  # last segment of the Type URI, e.g. "image", "officeDocument"
    target: str
    external: bool
    part: str | None  # None when external, or when the target escapes the package root


def source_of(rels_part: str) -> str | None:
    """The part a relationships part belongs to ("" for the package), None if not named like one."""
    folder, _, base = rels_part.rpartition("/")
    if not base.endswith(".rels") or not (folder == "_rels" or folder.endswith("/_rels")):
        return None
    parent = folder[: -len("_rels")].rstrip("/")
    source = base[: -len(".rels")]
    return f"{parent}/{source}" if parent and source else source


def rels_part_of(part: str) -> str:
    """Where part ``part``'s relationships live (``word/_rels/document.xml.rels``)."""
    folder, _, base = part.rpartition("/")
    return f"{folder}/_rels/{base}.rels" if folder else f"_rels/{base}.rels"


def resolve_target(source: str, target: str) -> str | None:
    """The part name an internal target points to, relative to its source part; None if it escapes.

    Percent-escapes are decoded and backslashes read as slashes first, as lenient readers do,
    so ``..%2F`` or ``..\\`` cannot slip past the ``..`` count.
    """
    path = unquote(target).replace("\\", "/").split("#", 1)[0]
    base = [] if path.startswith("/") else posixpath.dirname(source).split("/")
    stack = [s for s in base if s]
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not stack:
                return None
            stack.pop()
        else:
            stack.append(segment)
    return "/".join(stack)


def parse_relationships(rels_part: str, root: etree._Element) -> list[Relationship]:
    """The relationships a parsed ``.rels`` part declares, targets resolved against its source."""
    source = source_of(rels_part) or ""
    found = []
    for rel in root.iter():
        if not isinstance(rel.tag, str) or etree.QName(rel).localname != "Relationship":
            continue
        target = rel.get("Target") or ""
        external = (rel.get("TargetMode") or "").lower() == "external"
        found.append(Relationship(rels_part, rel.get("Id") or "", (rel.get("Type") or "").rsplit("/", 1)[-1],
                                  target, external, None if external else resolve_target(source, target)))
    return found


def bad_name_findings(names: list[str]) -> list[dict[str, Any]]:
    """Entry names that are not plain part names: readers normalise them differently."""
    findings = []
    for name in names:
        segments = name.rstrip("/").split("/")
        if name.startswith("/") or "\\" in name or any(s in ("", ".", "..") for s in segments):
            findings.append(finding(name, "zip entry name is not a plain part name (/, \\, . or .. segments)",
                                    "bad-part-name"))
    return findings


def package_findings(names: list[str], types: ContentTypes,
                     relationships: dict[str, list[Relationship]]) -> list[dict[str, Any]]:
    """Walk the package from ``_rels/.rels`` along relationships and judge its structure.

    Args:
        names: the zip's file entries (directories excluded).
        types: the parsed ``[Content_Types].xml``.
        relationships: by relationships part name, every parsed ``.rels`` part's relationships.
    """
    by_lower = {n.lower(): n for n in names}
    findings = _content_type_findings(names, types)
    findings.extend(_main_part_findings(relationships.get(PACKAGE_RELS_PART, []), types, by_lower))
    for rels in relationships.values():
        for rel in rels:
            findings.extend(_target_findings(rel, by_lower))
    for part, via in _reached(relationships, by_lower).items():
        findings.extend(_reached_part_findings(part, via, types))
    return findings


def _content_type_findings(names: list[str], types: ContentTypes) -> list[dict[str, Any]]:
    """A name must fit its content type: XML content only on XML names, the main type only on the main part."""
    findings = []
    for name in names:
        content_type = types.of(name)
        if content_type is None:
            continue
        if is_xml_content_type(content_type) and not name.lower().endswith(XML_NAME_SUFFIXES):
            findings.append(finding(name, f"part has the XML content type {content_type} but its name is not "
                                          "an XML part's", "content-type-mismatch"))
        main_type = is_main_content_type(content_type)
        if main_type != (name.lower() == MAIN_PART):
            what = (f"part has the main document content type {content_type}" if main_type
                    else f"the main document part has the content type {content_type}")
            findings.append(finding(name, f"{what}; only {MAIN_PART} may be the main document", "main-part"))
    return findings


def _main_part_findings(package_rels: list[Relationship], types: ContentTypes,
                        by_lower: dict[str, str]) -> list[dict[str, Any]]:
    """The package's officeDocument relationship must lead to ``word/document.xml`` and nowhere else."""
    mains = [r for r in package_rels if r.type == "officeDocument"]
    if not mains:
        return [finding(PACKAGE_RELS_PART, "not a .docx: the package has no main document (officeDocument) "
                                           "relationship", "not-docx")]
    findings = []
    for rel in mains:
        if rel.external or (rel.part or "").lower() != MAIN_PART:
            findings.append(finding(PACKAGE_RELS_PART, f"the main document relationship {rel.id} targets "
                                                       f"{rel.target}; only {MAIN_PART} may be the main "
                                                       "document", "main-part"))
    return findings


def _target_findings(rel: Relationship, by_lower: dict[str, str]) -> list[dict[str, Any]]:
    """Internal targets must stay inside the package and name a part it has."""
    if rel.external:
        return []
    if rel.part is None:
        return [finding(rel.rels_part, f"relationship {rel.id} target {rel.target} escapes the package root",
                        "relationship-escape")]
    if rel.part.lower() not in by_lower:
        return [finding(rel.rels_part, f"relationship {rel.id} targets {rel.target}, a part the package does "
                                       "not contain", "missing-part")]
    return []


def _reached(relationships: dict[str, list[Relationship]], by_lower: dict[str, str]) -> dict[str, Relationship]:
    """Every part a reader reaches from ``_rels/.rels``, with the relationship that first led there."""
    reached: dict[str, Relationship] = {}
    queue = deque([PACKAGE_RELS_PART])
    while queue:
        for rel in relationships.get(queue.popleft(), []):
            part = by_lower.get((rel.part or "").lower()) if not rel.external else None
            if part is None or part in reached:
                continue
            reached[part] = rel
            rels = by_lower.get(rels_part_of(part).lower())
            if rels:
                queue.append(rels)
    return reached


def _reached_part_findings(part: str, via: Relationship, types: ContentTypes) -> list[dict[str, Any]]:
    """A reached part needs a content type, and XML relationship types must lead to XML parts."""
    content_type = types.of(part)
    if via.type in REL_KINDS:
        return []  # refused already as active content, whatever the part is
    if content_type is None:
        return [finding(part, f"part (reached by {via.type} relationship {via.id} in {via.rels_part}) has no "
                              "content type in [Content_Types].xml", "content-type-mismatch")]
    if via.type in BINARY_TARGET_TYPES:
        return []
    if not part.lower().endswith(XML_NAME_SUFFIXES) or not is_xml_content_type(content_type):
        return [finding(part, f"a {via.type} relationship ({via.id} in {via.rels_part}) leads to this part, "
                              f"which is not an XML part (content type {content_type})", "content-type-mismatch")]
    return []
