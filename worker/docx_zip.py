"""A rendered .docx as its parts, for the finishing steps that edit a few of them (watermark, properties).

Parts are kept as bytes in their original order and written back with the same names, so
everything the steps do not touch leaves the package as it came.
"""

from __future__ import annotations

import io
import itertools
import zipfile

from lxml import etree

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
HEADER_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/header"
HEADER_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"


def q(ns: str, name: str) -> str:
    """The Clark name ``{ns}name`` lxml uses."""
    return f"{{{ns}}}{name}"


class Package:
    """The rendered .docx as its parts, with what adding a header part needs."""

    def __init__(self, docx: bytes) -> None:
        with zipfile.ZipFile(io.BytesIO(docx)) as archive:
            self.infos = archive.infolist()
            self.parts = {info.filename: archive.read(info) for info in self.infos}
        self.document = etree.fromstring(self.parts["word/document.xml"])
        self.rels = etree.fromstring(self.parts["word/_rels/document.xml.rels"])
        self.targets = {rel.get("Id"): "word/" + rel.get("Target").lstrip("/").removeprefix("word/")
                        for rel in self.rels if rel.get("Type") == HEADER_REL}

    def new_header(self) -> str:
        """A header part of one empty paragraph, related to the document: its relationship id."""
        number = next(n for n in itertools.count(1) if f"word/header{n}.xml" not in self.parts)
        name, rel_id = f"word/header{number}.xml", f"rIdWm{number}"
        self.parts[name] = f'<w:hdr xmlns:w="{W}"><w:p/></w:hdr>'.encode()
        etree.SubElement(self.rels, q(PKG_RELS, "Relationship"), Id=rel_id, Type=HEADER_REL,
                         Target=name.removeprefix("word/"))
        self.add_override("/" + name, HEADER_TYPE)
        self.targets[rel_id] = name
        return rel_id

    def add_override(self, part_name: str, content_type: str) -> None:
        """Declare the content type of a part added to the package."""
        types = etree.fromstring(self.parts["[Content_Types].xml"])
        etree.SubElement(types, q(CT, "Override"), PartName=part_name, ContentType=content_type)
        self.parts["[Content_Types].xml"] = etree.tostring(types, xml_declaration=True, encoding="UTF-8")

    def save(self) -> bytes:
        self.parts["word/document.xml"] = etree.tostring(self.document, xml_declaration=True, encoding="UTF-8")
        self.parts["word/_rels/document.xml.rels"] = etree.tostring(self.rels, xml_declaration=True,
                                                                    encoding="UTF-8")
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            names = [info.filename for info in self.infos] + [n for n in self.parts if n not in
                                                              {i.filename for i in self.infos}]
            for name in names:
                archive.writestr(name, self.parts[name])
        return out.getvalue()
