"""``options.watermark``: a text (样稿, DRAFT…) across every page, drawn by the document's headers.

Why in the .docx and not stamped on the PDF: a header is repeated by the layout engine on every
page of its section, so the watermark reaches every page without knowing how many there are; the
PDF needs no second font embedding or rewrite after export (PDF/A stays as LibreOffice made it);
and the DOCX and ODT outputs carry it too. The shape is Word's own watermark — what Design ›
Watermark inserts: a VML WordArt text path (``PowerPlusWaterMarkObject``) centred on the page,
rotated, semi-transparent, behind the text — so an author opening the DOCX in Word sees and can
edit a normal watermark, and LibreOffice imports it as Fontwork. (A DrawingML text box was tried
first: LibreOffice cannot turn a text frame by 45°.) Fontwork is drawn as outlines, so the
watermark does not pollute the text a reader copies or extracts.

Every section gets it: each header reference a section has gets the shape; a section without a
header of a kind inherits the previous section's (as Word does), and only where there is none at
all a header part of its own is added, holding nothing but the watermark.
"""

from __future__ import annotations

from lxml import etree

from core.finish_options import CheckedWatermark

from .docx_zip import Package, q

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
V = "urn:schemas-microsoft-com:vml"
OFFICE = "urn:schemas-microsoft-com:office:office"
FONT = "Noto Sans CJK SC"
FIRST_SHAPE_ID = 3073  # o:spid numbers above those Word gives its own shapes


def text_width(text: str) -> float:
    """The watermark's width in ems: CJK characters are square, Latin ones about 0.6 wide."""
    return sum(1.0 if ord(c) > 0x2E80 else 0.6 for c in text)


def watermark_run(mark: CheckedWatermark, number: int) -> etree._Element:
    """A ``w:r`` holding Word's watermark shape (id ``number``, unique in the document): the text
    path, rotated, centred, behind the text."""
    style = (f"position:absolute;margin-left:0;margin-top:0;width:{mark.size_pt * text_width(mark.text):.1f}pt;"
             f"height:{mark.size_pt:.1f}pt;rotation:{(-mark.angle) % 360:g};z-index:-251654144;"
             "mso-position-horizontal:center;mso-position-horizontal-relative:margin;"
             "mso-position-vertical:center;mso-position-vertical-relative:margin")
    xml = f"""<w:r xmlns:w="{W}" xmlns:v="{V}" xmlns:o="{OFFICE}"><w:pict>
<v:shapetype id="_x0000_t136" coordsize="21600,21600" o:spt="136" adj="10800" path="m@7,l@8,m@5,21600l@6,21600e">
<v:path textpathok="t" o:connecttype="custom"/><v:textpath on="t" fitshape="t"/></v:shapetype>
<v:shape id="PowerPlusWaterMarkObject{number}" o:spid="_x0000_s{number}" type="#_x0000_t136" style="{style}"
 o:allowincell="f" fillcolor="#{mark.color}" stroked="f"><v:fill opacity="{mark.opacity:g}"/>
<v:textpath style="font-family:&quot;{FONT}&quot;;font-size:1pt"/></v:shape></w:pict></w:r>"""
    run = etree.fromstring(xml.replace("\n", ""))
    run.find(f".//{{{V}}}shape/{{{V}}}textpath").set("string", mark.text)  # lxml escapes the attribute
    return run


def header_types(sect_pr: etree._Element, even_and_odd: bool) -> list[str]:
    """The header kinds a section shows: default, first (title page), even (odd/even headers)."""
    kinds = ["default"]
    if sect_pr.find(q(W, "titlePg")) is not None:
        kinds.append("first")
    if even_and_odd:
        kinds.append("even")
    return kinds


def add_watermark(package: Package, mark: CheckedWatermark) -> None:
    """The watermark in every header every section of ``package`` shows (saved by the caller)."""
    settings = package.parts.get("word/settings.xml", b"")
    even_and_odd = b"evenAndOddHeaders" in settings
    inherited: dict[str, str] = {}
    marked: set[str] = set()
    for sect_pr in package.document.iter(q(W, "sectPr")):
        refs = {ref.get(q(W, "type"), "default"): ref for ref in sect_pr.findall(q(W, "headerReference"))}
        for kind in header_types(sect_pr, even_and_odd):
            if kind in refs:
                inherited[kind] = refs[kind].get(q(R, "id"))
                continue
            rel_id = inherited.get(kind) or package.new_header()  # "first" and "even" never show "default"
            inherited.setdefault(kind, rel_id)
            ref = etree.Element(q(W, "headerReference"), {q(W, "type"): kind, q(R, "id"): rel_id})
            sect_pr.insert(0, ref)
        marked.update(inherited[kind] for kind in header_types(sect_pr, even_and_odd))
    # Numbered in a fixed order from a fixed start: the same request gives the same bytes.
    for number, rel_id in enumerate(sorted(marked), FIRST_SHAPE_ID):
        name = package.targets[rel_id]
        header = etree.fromstring(package.parts[name])
        paragraph = header.find(q(W, "p"))
        if paragraph is None:
            paragraph = etree.SubElement(header, q(W, "p"))
        paragraph.append(watermark_run(mark, number))
        package.parts[name] = etree.tostring(header, xml_declaration=True, encoding="UTF-8")
