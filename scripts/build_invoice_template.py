"""Build ``templates/invoice/template.docx``, the bundled bilingual invoice (发票 / Invoice).

This script is the template's source: edit it and re-run
``.venv/bin/python scripts/build_invoice_template.py`` (``--check`` compares without writing). The
build is byte-for-byte reproducible and a test fails when the committed .docx differs from it, so
a restyle made in Word must be carried into this script (see ``templates/invoice/README.md``).

Choices that matter for the rendered PDF:

* Every docxtpl tag is written as one run (one ``add_run`` call), so Word's run splitting cannot
  break a ``{{ … }}`` apart before the first edit.
* Named styles (``Invoice Title``, ``Invoice Heading``, ``Invoice Label``, ``Invoice Number``…)
  instead of direct formatting: authors restyle once, in Word's style pane.
* East-Asian fonts 宋体 (body) and 黑体 (headings) with ``w:lang eastAsia="zh-CN"``: the fontconfig
  aliases in ``docker/fontconfig/`` map them to Noto Serif/Sans CJK **SC**, and the language tag
  keeps LibreOffice from picking the JP/HK glyph forms.
* A4 paper, 20 mm margins; the items table repeats its header row on every page.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import BaseStyle
from docx.table import Table, _Cell

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docx_build import reproducible, run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "templates" / "invoice" / "template.docx"

BODY_LATIN = "Times New Roman"
"""Latin body face (Liberation Serif is its metric twin on Linux)."""
BODY_EAST_ASIA = "宋体"
"""East-Asian body face; fontconfig maps it to Noto Serif CJK SC."""
HEADING_LATIN = "Arial"
"""Latin heading face (Liberation Sans on Linux)."""
HEADING_EAST_ASIA = "黑体"
"""East-Asian heading face; fontconfig maps it to Noto Sans CJK SC."""
ACCENT = RGBColor(0x1F, 0x3A, 0x5F)
"""Dark blue of the title and table header text."""
HEADER_FILL = "DCE6F0"
"""Hex fill of the items table's header row."""

# Items table: (header, cell text, width in mm, right-aligned?). Widths add up to 170 mm (A4 minus
# 2 × 20 mm margins).
ITEM_COLUMNS: list[tuple[str, str, float, bool]] = [
    ("序号\nNo.", "{{ loop.index }}", 12, False),
    ("项目 / 描述\nDescription", "{{ item.description }}", 52, False),
    ("规格\nSpec.", "{{ item.spec }}", 20, False),
    ("单位\nUnit", "{{ item.unit }}", 18, False),
    ("数量\nQty", "{{ item.quantity | thousands }}", 16, True),
    ("单价\nUnit price", "{{ item.unit_price | fixed(2, sep=True) }}", 24, True),
    ("金额\nAmount", "{{ item.amount | fixed(2, sep=True) }}", 28, True),
]


def set_fonts(style: BaseStyle, latin: str, east_asia: str) -> None:
    """Set Latin and East-Asian faces plus the zh-CN language tag on a style's run properties."""
    style.font.name = latin
    rpr = style.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        fonts.set(qn(attr), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")


def set_document_language(doc: Document) -> None:
    """zh-CN as the East-Asian language of the document defaults (rPrDefault), not only styles."""
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")


def add_paragraph_style(doc: Document, name: str, *, base: str = "Normal", size: float = 10.5,
                        bold: bool = False, heading: bool = False) -> BaseStyle:
    """A named paragraph style in the invoice's fonts."""
    style = doc.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = doc.styles[base]
    style.quick_style = True
    style.font.size = Pt(size)
    style.font.bold = bold
    if heading:
        set_fonts(style, HEADING_LATIN, HEADING_EAST_ASIA)
    return style


def build_styles(doc: Document) -> None:
    """Normal plus the named styles every paragraph of the invoice uses."""
    normal = doc.styles["Normal"]
    set_fonts(normal, BODY_LATIN, BODY_EAST_ASIA)
    normal.font.size = Pt(10.5)  # 五号
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.space_after = Pt(2)
    normal.paragraph_format.line_spacing = 1.15
    set_document_language(doc)

    title = add_paragraph_style(doc, "Invoice Title", size=22, bold=True, heading=True)
    title.font.color.rgb = ACCENT
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_after = Pt(4)

    subtitle = add_paragraph_style(doc, "Invoice Meta", size=10)
    subtitle.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    subtitle.paragraph_format.space_after = Pt(2)

    heading = add_paragraph_style(doc, "Invoice Heading", size=11, bold=True, heading=True)
    heading.font.color.rgb = ACCENT
    heading.paragraph_format.space_before = Pt(8)
    heading.paragraph_format.space_after = Pt(3)
    heading.paragraph_format.keep_with_next = True

    add_paragraph_style(doc, "Invoice Label", size=10.5)
    add_paragraph_style(doc, "Invoice Cell", size=10)
    number = add_paragraph_style(doc, "Invoice Number", base="Invoice Cell", size=10)
    number.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    header = add_paragraph_style(doc, "Invoice Table Header", size=9.5, bold=True, heading=True)
    header.font.color.rgb = ACCENT
    header.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    total = add_paragraph_style(doc, "Invoice Total", size=11, bold=True, heading=True)
    total.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    add_paragraph_style(doc, "Invoice Note", size=9.5)


def set_a4(doc: Document) -> None:
    """A4 portrait with 20 mm margins (the GB/T 148 paper Chinese offices print on)."""
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(20))


def shade(cell: _Cell, fill: str) -> None:
    """Background fill of one table cell."""
    tcpr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tcpr.append(shd)


def repeat_as_header(table: Table, row_index: int = 0) -> None:
    """Repeat a row at the top of every page the table spans."""
    trpr = table.rows[row_index]._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    trpr.append(flag)


def remove_borders(table: Table) -> None:
    """A layout-only table: no borders."""
    tblpr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    tblpr.append(borders)


def set_widths(table: Table, widths_mm: list[float]) -> None:
    """Fixed column widths in the grid *and* each cell.

    LibreOffice lays a table out from ``w:tblGrid``, Word from the cell widths; python-docx only
    writes equal grid columns, so both are set.
    """
    table.autofit = False
    for col, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths_mm, strict=True):
        col.set(qn("w:w"), str(int(Mm(width).twips)))
    for row in table.rows:
        for cell, width in zip(row.cells, widths_mm, strict=True):
            cell.width = Mm(width)


def write(cell: _Cell, text: str, style: str) -> None:
    """Put ``text`` in a cell's first paragraph, one run per line (``\\n`` → new paragraph)."""
    lines = text.split("\n")
    first = cell.paragraphs[0]
    first.style = style
    first.add_run(lines[0])
    for line in lines[1:]:
        cell.add_paragraph(line, style=style)


def party_block(doc: Document, table: Table, column: int, title: str, party: str,
                fields: list[tuple[str, str]]) -> None:
    """One party (seller or buyer) in a column of the borderless two-column table."""
    cell = table.cell(0, column)
    write(cell, title, "Invoice Heading")
    for label, key in fields:
        p = cell.add_paragraph(style="Invoice Label")
        p.add_run(label).bold = True
        p.add_run(f"{{{{ {party}.{key} }}}}")


def build() -> bytes:
    """The invoice template's .docx bytes (reproducible: same source, same bytes)."""
    doc = Document()
    set_a4(doc)
    build_styles(doc)
    doc.core_properties.title = "发票 / Invoice"
    doc.core_properties.subject = "wenshu bundled template: invoice"
    doc.core_properties.language = "zh-CN"

    doc.add_paragraph("发票  Invoice", style="Invoice Title")
    meta = doc.add_paragraph(style="Invoice Meta")
    meta.add_run("发票号码 Invoice No.: ")
    meta.add_run("{{ invoice_no }}").bold = True
    dates = doc.add_paragraph(style="Invoice Meta")
    dates.add_run("开票日期 Date: ")
    dates.add_run("{{ issue_date | cn_date_num }}")
    # Inline if: the due date is optional, and its label goes with it.
    dates.add_run("{% if due_date %}")
    dates.add_run("      付款期限 Due: ")
    dates.add_run("{{ due_date | cn_date_num }}")
    dates.add_run("{% endif %}")

    dates.paragraph_format.space_after = Pt(10)

    parties = doc.add_table(rows=1, cols=2)
    remove_borders(parties)
    set_widths(parties, [85, 85])
    party_block(doc, parties, 0, "销售方  Seller", "seller", [
        ("名称 Name: ", "name"), ("纳税人识别号 Tax ID: ", "tax_id"),
        ("地址 Address: ", "address"), ("电话 Phone: ", "phone"),
    ])
    party_block(doc, parties, 1, "购买方  Buyer", "buyer", [
        ("名称 Name: ", "name"), ("纳税人识别号 Tax ID: ", "tax_id"),
        ("地址 Address: ", "address"), ("电话 Phone: ", "phone"),
    ])

    doc.add_paragraph("明细  Items", style="Invoice Heading")
    n = len(ITEM_COLUMNS)
    # Rows: header, {%tr for%}, item, {%tr endfor%}, subtotal, tax, total, {%tr if CNY%}, 大写, {%tr endif%}
    items = doc.add_table(rows=10, cols=n)
    items.style = doc.styles["Table Grid"]
    items.alignment = WD_TABLE_ALIGNMENT.CENTER
    set_widths(items, [c[2] for c in ITEM_COLUMNS])
    for i, (header, _, _, _) in enumerate(ITEM_COLUMNS):
        cell = items.cell(0, i)
        write(cell, header, "Invoice Table Header")
        shade(cell, HEADER_FILL)
    repeat_as_header(items, 0)

    def control_row(row: int, tag: str) -> None:
        # docxtpl replaces the whole row holding a {%tr %} tag with the tag itself.
        merged = items.cell(row, 0).merge(items.cell(row, n - 1))
        write(merged, tag, "Invoice Cell")

    control_row(1, "{%tr for item in items %}")
    for i, (_, text, _, right) in enumerate(ITEM_COLUMNS):
        write(items.cell(2, i), text, "Invoice Number" if right else "Invoice Cell")
    control_row(3, "{%tr endfor %}")

    def total_row(row: int, label: str, value: str, style: str = "Invoice Number") -> None:
        label_cell = items.cell(row, 0).merge(items.cell(row, n - 2))
        write(label_cell, label, "Invoice Total" if style == "Invoice Total" else "Invoice Number")
        write(items.cell(row, n - 1), value, style)

    total_row(4, "小计 Subtotal", "{{ subtotal | fixed(2, sep=True) }}")
    total_row(5, "税额 Tax ({{ tax_rate | percent(0) }})", "{{ tax | fixed(2, sep=True) }}")
    total_row(6, "合计 Total ({{ currency }})", "{{ total | fixed(2, sep=True) }}", "Invoice Total")
    control_row(7, '{%tr if currency == "CNY" %}')
    upper = items.cell(8, 0).merge(items.cell(8, n - 1))
    p = upper.paragraphs[0]
    p.style = "Invoice Label"
    p.add_run("价税合计（大写） Total in words: ").bold = True
    p.add_run("{{ total | rmb_upper }}")
    control_row(9, "{%tr endif %}")

    doc.add_paragraph("付款信息  Payment", style="Invoice Heading")
    pay = doc.add_paragraph(style="Invoice Label")
    pay.add_run("开户行 Bank: ").bold = True
    pay.add_run("{{ seller.bank }}")
    pay.add_run("    账号 Account: ").bold = True
    pay.add_run("{{ seller.account }}")

    # {%p %} tags drop their whole paragraph: no empty "Notes" heading when there are no notes.
    doc.add_paragraph("{%p if notes %}", style="Invoice Note")
    doc.add_paragraph("备注  Notes", style="Invoice Heading")
    doc.add_paragraph("{{ notes }}", style="Invoice Note")
    doc.add_paragraph("{%p endif %}", style="Invoice Note")

    sign = doc.add_paragraph(style="Invoice Label")
    sign.paragraph_format.space_before = Pt(18)
    sign.add_run("开票人 Issued by: ").bold = True
    sign.add_run("{{ issuer }}")
    sign.add_run("        收款人 Payee: ").bold = True
    sign.add_run("{{ payee }}")

    return reproducible(doc)


def targets() -> dict[Path, Callable[[], bytes]]:
    """The generated .docx and the function that builds it."""
    return {OUTPUT: build}


if __name__ == "__main__":
    sys.exit(run(targets(), ROOT))
