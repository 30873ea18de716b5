"""``options.pdf.metadata``: title, author, subject and keywords written into the .docx's core properties.

Why in the .docx rather than into the PDF afterwards: LibreOffice exports the document's own
properties into the PDF's Info dictionary *and* its XMP packet, kept in step as PDF/A requires; a
PDF rewritten afterwards would have to keep the two in step by hand. The DOCX output carries them too.
"""

from __future__ import annotations

from lxml import etree

from .doc_metadata import STYLES, default_language
from .docx_zip import PKG_RELS, Package, q

CP = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
DC = "http://purl.org/dc/elements/1.1/"
CORE = "docProps/core.xml"
CORE_REL = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
CORE_TYPE = "application/vnd.openxmlformats-package.core-properties+xml"
ELEMENTS = {"title": (DC, "title"), "author": (DC, "creator"), "subject": (DC, "subject"),
            "keywords": (CP, "keywords"), "language": (DC, "language")}


def core_part(package: Package) -> etree._Element:
    """The core-properties part, added (with its relationship and content type) when missing."""
    if CORE not in package.parts:
        package.parts[CORE] = f'<cp:coreProperties xmlns:cp="{CP}" xmlns:dc="{DC}"/>'.encode()
        rels = etree.fromstring(package.parts["_rels/.rels"])
        etree.SubElement(rels, q(PKG_RELS, "Relationship"), Id="rIdCoreWs", Type=CORE_REL, Target=CORE)
        package.parts["_rels/.rels"] = etree.tostring(rels, xml_declaration=True, encoding="UTF-8")
        package.add_override("/" + CORE, CORE_TYPE)
    return etree.fromstring(package.parts[CORE])


def set_properties(package: Package, metadata: tuple[tuple[str, str], ...]) -> None:
    """``metadata`` (name, text) as the core properties of ``package`` (saved by the caller)."""
    core = core_part(package)
    for name, text in metadata:
        ns, local = ELEMENTS[name]
        element = core.find(q(ns, local))
        if element is None:
            element = etree.SubElement(core, q(ns, local), nsmap={"dc": DC, "cp": CP})
        element.text = text  # lxml escapes it
        if name == "language" and STYLES in package.parts:  # what LibreOffice exports as the PDF's /Lang
            package.parts[STYLES] = default_language(package.parts[STYLES], text)
    package.parts[CORE] = etree.tostring(core, xml_declaration=True, encoding="UTF-8", standalone=True)
