"""Build ``templates/certificate/template.docx``, the bundled training certificate (结业证书).

It shows the finished-document typed values together: a verification QR code (``$qr``), the
certificate number as a Code 128 barcode (``$barcode``), a bar chart of the module scores
(``$chart``) and the issuing body's seal over its name and date (``$seal``). Run
``.venv/bin/python scripts/build_certificate_template.py`` after editing (``--check`` compares
without writing); the build is byte-for-byte reproducible and a test compares it with the
committed file (see ``templates/certificate/README.md``).

Layout choices: A4 portrait, 25 mm margins; the fonts, language tags and layout-table helpers of
the invoice builder (宋体/黑体 mapped to Noto CJK SC, zh-CN); every tag one run; the seal's tag sits
at the end of the issuer's line, so its offset is measured from there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt, RGBColor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_invoice_template import (  # noqa: E402
    BODY_EAST_ASIA,
    BODY_LATIN,
    add_paragraph_style,
    remove_borders,
    set_a4,
    set_document_language,
    set_fonts,
    set_widths,
)
from docx_build import reproducible, run  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "templates" / "certificate" / "template.docx"
RED = RGBColor(0xA0, 0x1C, 0x1C)
"""The title's colour: the red of Chinese certificates."""
MARGIN_MM = 25


def build_styles(doc: Document) -> None:
    normal = doc.styles["Normal"]
    set_fonts(normal, BODY_LATIN, BODY_EAST_ASIA)
    normal.font.size = Pt(12)  # 小四
    normal.paragraph_format.space_after = Pt(4)
    normal.paragraph_format.line_spacing = 1.3
    set_document_language(doc)
    title = add_paragraph_style(doc, "Certificate Title", size=30, bold=True, heading=True)
    title.font.color.rgb = RED
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_before = Pt(18)
    title.paragraph_format.space_after = Pt(2)
    subtitle = add_paragraph_style(doc, "Certificate Subtitle", size=12, heading=True)
    subtitle.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    subtitle.paragraph_format.space_after = Pt(18)
    body = add_paragraph_style(doc, "Certificate Body", size=14)
    body.paragraph_format.first_line_indent = Pt(28)  # two characters, as Chinese prose is set
    body.paragraph_format.line_spacing = 1.6
    centered = add_paragraph_style(doc, "Certificate Figure", size=10.5)
    centered.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    add_paragraph_style(doc, "Certificate Small", size=9)
    issuer = add_paragraph_style(doc, "Certificate Issuer", size=14)
    issuer.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.RIGHT


def tagged(paragraph, *parts: str) -> None:
    """Text and tags, each one run, so Word's run splitting cannot break a tag apart."""
    for part in parts:
        paragraph.add_run(part)


def build() -> bytes:
    doc = Document()
    set_a4(doc)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(doc.sections[0], side, Mm(MARGIN_MM))
    build_styles(doc)
    doc.add_paragraph("结 业 证 书", style="Certificate Title")
    tagged(doc.add_paragraph(style="Certificate Subtitle"), "CERTIFICATE OF COMPLETION    编号 No. ", "{{ cert_no }}")
    tagged(doc.add_paragraph(style="Certificate Body"),
           "兹证明 ", "{{ name }}", "（证件号码 ", "{{ id_no }}", "）于 ", "{{ start_date | cn_date_num }}", " 至 ",
           "{{ end_date | cn_date_num }}", " 参加", "{{ course }}", "，修完全部课程共 ", "{{ hours }}",
           " 学时，考核合格，准予结业。")
    tagged(doc.add_paragraph(style="Certificate Figure"), "{{ scores }}")
    tagged(doc.add_paragraph(style="Certificate Small"), "{% if remark %}", "备注：", "{{ remark }}", "{% endif %}")

    table = doc.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    remove_borders(table)
    set_widths(table, [70, 90])
    codes, sign = table.rows[0].cells
    tagged(codes.paragraphs[0], "{{ verify_qr }}")
    codes.paragraphs[0].style = doc.styles["Certificate Small"]
    tagged(codes.add_paragraph(style="Certificate Small"), "扫码查验 Scan to verify")
    tagged(codes.add_paragraph(style="Certificate Small"), "{{ cert_barcode }}")
    sign.paragraphs[0].style = doc.styles["Certificate Issuer"]
    for _ in range(2):
        sign.add_paragraph(style="Certificate Issuer")
    tagged(sign.add_paragraph(style="Certificate Issuer"), "{{ issuer }}", "{{ seal }}")
    tagged(sign.add_paragraph(style="Certificate Issuer"), "{{ issue_date | cn_date_num }}")
    return reproducible(doc)


def targets() -> dict[Path, Callable[[], bytes]]:
    return {OUTPUT: build}


if __name__ == "__main__":
    sys.exit(run(targets(), ROOT))
