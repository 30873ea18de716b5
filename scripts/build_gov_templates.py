"""Generate the two 政府信息公开工作年度报告 templates (2019 and 2021 official formats).

Why a script: the .docx files under ``templates/gov-info-annual-report-*/`` are what template authors
open in Word, but generating them keeps the two formats consistent and lets us change layout in one
place. The script is the source of the two .docx files: edit
it, then re-run (``--check`` compares without writing; a test fails when the committed files differ)::

    .venv/bin/python scripts/build_gov_templates.py

Layout follows GB/T 9704 (Chinese official documents): A4, margins 37/35/28/26 mm, title in a
小标宋-style serif (二号, 22 pt), body 仿宋_GB2312 三号 (16 pt) at a fixed 28 pt line pitch, headings
黑体 (一、) and 楷体 (（一）), tables in 宋体 五号 (10.5 pt) with full grid and the merged header cells
of the official forms (国办公开办函〔2019〕60号 and 〔2021〕30号). All formatting lives in named
styles so authors restyle in Word without touching direct formatting.

Every style sets the CJK font name in all four rFonts slots: LibreOffice classifies “ ” as Western
text, and with a Western font in the ascii slot the quotes come out narrow (and ``pdftotext -raw``
misplaces them). With the CJK face everywhere plus ``w:hint="eastAsia"`` they are full-width, as
Word sets them. The output is byte-for-byte reproducible (fixed zip timestamps), so a template's
content-addressed version only changes when its content does.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docx_build import reproducible, run  # noqa: E402
from gov_tables import TEXT_WIDTH_MM, el, keep_together, make_table, put, span_without_merge  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

TITLE_FONT = "方正小标宋简体"  # fontconfig/LibreOffice map these names to Noto Serif/Sans CJK SC
BODY_FONT = "仿宋_GB2312"
H1_FONT = "黑体"
H2_FONT = "楷体_GB2312"
TABLE_FONT = "宋体"

COLUMNS = [
    "natural_person", "commercial", "research", "social_welfare", "legal_services", "other_org", "total"]
ORG_HEADERS = ["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"]
WITHHELD = [
    ("state_secret", "1.属于国家秘密"), ("prohibited_by_law", "2.其他法律行政法规禁止公开"),
    ("security_stability", "3.危及“三安全一稳定”"), ("third_party_rights", "4.保护第三方合法权益"),
    ("internal_affairs", "5.属于三类内部事务信息"), ("process_information", "6.属于四类过程性信息"),
    ("enforcement_files", "7.属于行政执法案卷"), ("administrative_query", "8.属于行政查询事项"),
]
UNABLE = [
    ("not_held", "1.本机关不掌握相关政府信息"), ("needs_creation", "2.没有现成信息需要另行制作"),
    ("unclear_after_correction", "3.补正后申请内容仍不明确"),
]
NOT_PROCESSED = [
    ("petition_complaint", "1.信访举报投诉类申请"), ("repeated", "2.重复申请"),
    ("publication", "3.要求提供公开出版物"), ("excessive_repeated", "4.无正当理由大量反复申请"),
    ("confirm_existing", "5.要求行政机关确认或重新出具已获取信息"),
]
OTHER_2021 = [
    ("no_correction", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
    ("unpaid_fee", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"),
    ("other", "3.其他"),
]
REVIEW_RESULTS = [("upheld", "结果维持"), ("corrected", "结果纠正"), ("other", "其他结果"),
                  ("pending", "尚未审结"), ("total", "总计")]


# ---------------------------------------------------------------- styles -------------------------------
def _set_fonts(rpr, name: str) -> None:
    """Put ``name`` in every rFonts slot (see module docstring: full-width quotes) and tag zh-CN."""
    for old in rpr.findall(qn("w:rFonts")) + rpr.findall(qn("w:lang")):
        rpr.remove(old)
    rpr.insert(0, el("rFonts", ascii=name, hAnsi=name, eastAsia=name, cs=name, hint="eastAsia"))
    rpr.append(el("lang", val="zh-CN", eastAsia="zh-CN", bidi="ar-SA"))


def _style(doc, name: str, font: str, size: float, *, base: str | None = "Normal", align=None,
           first_line_chars: int = 0, line_pt: float | None = None, before: float = 0, after: float = 0,
           keep_next: bool = False, outline: int | None = None):
    """Create (or reset) a named paragraph style with only the properties we set."""
    styles = doc.styles
    known = [s.name for s in styles]
    style = styles[name] if name in known else styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    element = style.element
    for tag in ("w:pPr", "w:rPr"):  # drop the default template's colours, borders, theme fonts
        for old in element.findall(qn(tag)):
            element.remove(old)
    if base and name != base:
        style.base_style = styles[base]
    style.font.size = Pt(size)
    style.font.bold = False
    _set_fonts(element.get_or_add_rPr(), font)
    pf = style.paragraph_format
    pf.space_before, pf.space_after = Pt(before), Pt(after)
    if align is not None:
        pf.alignment = align
    if line_pt is None:
        pf.line_spacing_rule = WD_LINE_SPACING.SINGLE
    else:
        pf.line_spacing_rule, pf.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(line_pt)
    pf.keep_with_next = keep_next
    ind = element.get_or_add_pPr().get_or_add_ind()
    # Indent in character units (200 = 2 characters), as Chinese Word users set it.
    ind.set(qn("w:firstLineChars"), str(first_line_chars * 100))
    ind.set(qn("w:firstLine"), str(int(first_line_chars * size * 20)))
    # Hanging punctuation: LibreOffice 25.2 lets a line-final "，" hang past the margin and then does
    # not draw it (the seed's 平台建设 paragraph lost one). Its DOCX import reads overflowPunct the
    # other way round (val=0 → punctuation-wrap="hanging", val=1 → "simple"), so val=1 keeps the
    # comma inside the line in LibreOffice; in Word val=1 is the default (may hang, and is drawn).
    _insert_ppr(element.get_or_add_pPr(), el("overflowPunct", val="1"))
    if outline is not None:
        element.get_or_add_pPr().append(el("outlineLvl", val=str(outline)))
    return style


def _insert_ppr(ppr, child) -> None:
    """Insert ``child`` into a pPr keeping the schema order (before spacing/ind/jc/outlineLvl)."""
    for tag in ("w:spacing", "w:ind", "w:jc", "w:outlineLvl"):
        found = ppr.find(qn(tag))
        if found is not None:
            found.addprevious(child)
            return
    ppr.append(child)


def _define_styles(doc) -> None:
    # Document defaults: Chinese language everywhere (picks SC glyph forms, Chinese line breaking).
    defaults = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    _set_fonts(defaults, BODY_FONT)
    ppr_default = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:pPrDefault")).find(qn("w:pPr"))
    for old in ppr_default.findall(qn("w:spacing")):
        ppr_default.remove(old)
    j, left = WD_ALIGN_PARAGRAPH.JUSTIFY, WD_ALIGN_PARAGRAPH.LEFT
    _style(doc, "Normal", BODY_FONT, 16, base=None, align=j, first_line_chars=2, line_pt=28)
    title = _style(doc, "Title", TITLE_FONT, 22, align=WD_ALIGN_PARAGRAPH.CENTER, line_pt=36, after=28,
                   keep_next=True)
    # 小标宋 is a heavy display face; without it, the bold weight of the serif it maps to (Noto Serif
    # CJK SC Bold, shipped by fonts-noto-cjk) is the closest installed match. Word with 方正小标宋简体
    # installed shows that font emboldened slightly; authors who have it may clear the bold.
    title.font.bold = True
    # One blank line after the title block, none between its lines (agency / report title).
    _insert_ppr(title.element.get_or_add_pPr(), el("contextualSpacing"))
    _style(doc, "Heading 1", H1_FONT, 16, align=left, first_line_chars=2, line_pt=28, keep_next=True,
           outline=0)
    _style(doc, "Heading 2", H2_FONT, 16, align=left, first_line_chars=2, line_pt=28, keep_next=True,
           outline=1)
    # Kept for documents made from earlier versions of the template (三 used to start a new page);
    # the template itself lets 三 follow 二 on the same page (see _applications_table).
    _style(doc, "Heading 1 New Page", H1_FONT, 16, base="Heading 1", align=left, first_line_chars=2,
           line_pt=28, keep_next=True).paragraph_format.page_break_before = True
    _style(doc, "Table Text", TABLE_FONT, 10.5, align=WD_ALIGN_PARAGRAPH.CENTER)
    _style(doc, "Table Label", TABLE_FONT, 10.5, align=left)
    _style(doc, "Footer", TABLE_FONT, 14, align=WD_ALIGN_PARAGRAPH.CENTER)
    # A spacer after each table so the next heading does not touch the grid.
    _style(doc, "Table Gap", BODY_FONT, 10, line_pt=12)


# ---------------------------------------------------------------- page ---------------------------------
def _page_setup(doc) -> None:
    section = doc.sections[0]
    section.start_type = WD_SECTION.NEW_PAGE
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(25)
    footer = section.footer.paragraphs[0]
    footer.style = doc.styles["Footer"]
    # GB/T 9704 page number: "— 1 —" (an em dash each side of the PAGE field).
    footer.add_run("— ")
    instr = el("instrText", xml_space="preserve")
    instr.text = " PAGE "
    for part in (el("fldChar", fldCharType="begin"), instr, el("fldChar", fldCharType="separate")):
        footer.add_run()._r.append(part)
    footer.add_run("1")  # the field's cached result
    footer.add_run()._r.append(el("fldChar", fldCharType="end"))
    footer.add_run(" —")


# ---------------------------------------------------------------- tables -------------------------------
def _add_note(cell, tag: str) -> None:
    """Optional second line of a row label, e.g. 规章 / （市政府令） (``label_note`` in the data)."""
    doc_styles = cell.part.document.styles
    for text in (f"{{%p if {tag} %}}", f"{{{{ {tag} }}}}", "{%p endif %}"):
        cell.add_paragraph(text, style=doc_styles["Table Text"])


def _proactive_table_2019(doc) -> None:
    rows = [  # (kind, text/headers, data key, fields)
        ("item", "第二十条第（一）项"),
        ("head", ["信息内容", "本年新制作数量", "本年新公开数量", "对外公开总数量"]),
        ("data", "规章", "regulations", ["made", "published", "total_public"]),
        ("data", "规范性文件", "normative_documents", ["made", "published", "total_public"]),
        ("item", "第二十条第（五）项"), ("head", ["信息内容", "上一年项目数量", "本年增/减", "处理决定数量"]),
        ("data", "行政许可", "licensing", ["previous", "change", "decisions"]),
        ("data", "其他对外管理服务事项", "other_services", ["previous", "change", "decisions"]),
        ("item", "第二十条第（六）项"), ("head", ["信息内容", "上一年项目数量", "本年增/减", "处理决定数量"]),
        ("data", "行政处罚", "penalty", ["previous", "change", "decisions"]),
        ("data", "行政强制", "enforcement", ["previous", "change", "decisions"]),
        ("item", "第二十条第（八）项"), ("head", ["信息内容", "上一年项目数量", "本年增/减"]),
        ("data", "行政事业性收费", "fees", ["previous", "change"]),
        ("item", "第二十条第（九）项"), ("head", ["信息内容", "采购项目数量", "采购总金额"]),
        ("data", "政府集中采购", "procurement", ["count", "amount"]),
    ]
    _proactive_table(doc, rows, [52, 34.6, 34.7, 34.7])


def _proactive_table_2021(doc) -> None:
    rows = [
        ("item", "第二十条第（一）项"),
        ("head", ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"]),
        ("data", "规章", "regulations", ["issued", "repealed", "in_force"]),
        ("data", "行政规范性文件", "normative_documents", ["issued", "repealed", "in_force"]),
        ("item", "第二十条第（五）项"), ("head", ["信息内容", "本年处理决定数量"]),
        ("data", "行政许可", "licensing", ["decisions"]),
        ("item", "第二十条第（六）项"), ("head", ["信息内容", "本年处理决定数量"]),
        ("data", "行政处罚", "penalty", ["decisions"]),
        ("data", "行政强制", "enforcement", ["decisions"]),
        ("item", "第二十条第（八）项"), ("head", ["信息内容", "本年收费金额（单位：万元）"]),
        ("data", "行政事业性收费", "fees", ["amount_wan_yuan"]),
    ]
    _proactive_table(doc, rows, [52, 34.6, 34.7, 34.7])


def _proactive_table(doc, rows: list[tuple], widths: list[float]) -> None:
    """Section 二: one small 4-column table per 第二十条 block (its heading row, column heads and data
    rows), so a page break can fall between blocks but never inside one; fewer values in a row →
    the last one spans the rest. The block tables abut: Word shows them as one table."""
    starts = [i for i, row in enumerate(rows) if row[0] == "item"] + [len(rows)]
    for start, end in itertools.pairwise(starts):
        _proactive_block(doc, rows[start:end], widths)


def _proactive_block(doc, rows: list[tuple], widths: list[float]) -> None:
    table = make_table(doc, widths, len(rows))
    last = len(widths) - 1
    for r, row in enumerate(rows):
        if row[0] == "item":
            put(table, r, 0, row[1], to=(r, last))
            continue
        texts = row[1] if row[0] == "head" else [row[1]] + [
            f"{{{{ proactive.{row[2]}.{field} }}}}" for field in row[3]]
        for c, text in enumerate(texts):
            put(table, r, c, text, to=(r, last) if c == len(texts) - 1 else None)
        if row[0] == "data" and row[2] in ("regulations", "normative_documents"):
            _add_note(table.cell(r, 0), f"proactive.{row[2]}.label_note")
    keep_together(table)


def _cells(path: str) -> list[str]:
    return [f"{{{{ applications.{path}.{col} }}}}" for col in COLUMNS]


def _applications_table(doc, variant: str) -> None:
    """Section 三: 3 label columns + the 7 applicant columns, header cells merged as in the form.

    It follows 二 on the same page (no page break): when it does not fit, it splits between rows,
    its three header rows (w:tblHeader) repeat on the next page, and keep-with-next on the header
    and first two rows keeps them together with the heading 三."""
    groups: list[tuple[str, list[tuple[str, str]] | str]] = [
        ("（一）予以公开", "results.disclosed"),
        ("（二）部分公开（区分处理的，只计这一情形，不计其他情形）", "results.partially_disclosed"),
        ("（三）不予公开", [(f"results.withheld.{k}", t) for k, t in WITHHELD]),
        ("（四）无法提供", [(f"results.unable.{k}", t) for k, t in UNABLE]),
        ("（五）不予处理", [(f"results.not_processed.{k}", t) for k, t in NOT_PROCESSED]),
        ("（六）其他处理", "results.other" if variant == "2019"
         else [(f"results.other.{k}", t) for k, t in OTHER_2021]),
        ("（七）总计", "results.total"),
    ]
    result_rows = sum(1 if isinstance(g[1], str) else len(g[1]) for g in groups)
    n = 3 + 2 + result_rows + 1
    table = make_table(doc, [9.5, 20, 56.5] + [10] * 7, n, header_rows=3)
    put(table, 0, 0, "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", to=(2, 2))
    put(table, 0, 3, "申请人情况", to=(0, 9))
    put(table, 1, 3, "自然人", to=(2, 3))
    put(table, 1, 4, "法人或其他组织", to=(1, 8))
    put(table, 1, 9, "总计", to=(2, 9))
    for i, text in enumerate(ORG_HEADERS):
        put(table, 2, 4 + i, text)

    def values(r: int, path: str) -> None:
        for c, text in enumerate(_cells(path)):
            put(table, r, 3 + c, text)

    put(table, 3, 0, "一、本年新收政府信息公开申请数量", to=(3, 2), label=True)
    values(3, "new_requests")
    put(table, 4, 0, "二、上年结转政府信息公开申请数量", to=(4, 2), label=True)
    values(4, "carried_over")
    r = 5
    span_without_merge(table, r, r + result_rows - 1, 0, "三、本年度办理结果", per_line=2)
    for heading, rows in groups:
        if isinstance(rows, str):
            put(table, r, 1, heading, to=(r, 2), label=True)
            values(r, rows)
            r += 1
            continue
        span_without_merge(table, r, r + len(rows) - 1, 1, heading)
        for path, text in rows:
            put(table, r, 2, text, label=True)
            values(r, path)
            r += 1
    put(table, r, 0, "四、结转下年度继续办理", to=(r, 2), label=True)
    values(r, "carried_forward")
    keep_together(table, rows=5)


def _reviews_table(doc) -> None:
    """Section 四: 行政复议 (5 columns) and 行政诉讼 (2 × 5 columns)."""
    table = make_table(doc, [10.4] * 14 + [10.4 + TEXT_WIDTH_MM - 10.4 * 15], 4, header_rows=3)
    put(table, 0, 0, "行政复议", to=(0, 4))
    put(table, 0, 5, "行政诉讼", to=(0, 14))
    for i, (_key, text) in enumerate(REVIEW_RESULTS):
        put(table, 1, i, text, to=(2, i))
        put(table, 2, 5 + i, text)
        put(table, 2, 10 + i, text)
    put(table, 1, 5, "未经复议直接起诉", to=(1, 9))
    put(table, 1, 10, "复议后起诉", to=(1, 14))
    for g, group in enumerate(("review", "litigation_direct", "litigation_after_review")):
        for i, (key, _text) in enumerate(REVIEW_RESULTS):
            put(table, 3, 5 * g + i, f"{{{{ reviews_litigation.{group}.{key} }}}}")
    keep_together(table)


# ---------------------------------------------------------------- body ---------------------------------
def _section_title(number: str, key: str, default: str) -> str:
    # Per-report overrides: data.section_titles.<key> (e.g. the seed's 存在的不足及改进措施).
    return f"{number}{{{{ (section_titles or {{}}).{key} or '{default}' }}}}"


def _loop(doc, items: str, var: str, text: str, style: str = "Normal") -> None:
    doc.add_paragraph(f"{{%p for {var} in {items} %}}")
    doc.add_paragraph(text, style=style)
    doc.add_paragraph("{%p endfor %}")


def build(variant: str) -> bytes:
    """Build the template for the 2019 or 2021 format and return the .docx bytes."""
    doc = Document()
    _define_styles(doc)
    _page_setup(doc)
    doc.add_paragraph("{{ agency }}", style="Title")
    doc.add_paragraph("{{ title or (year ~ '年政府信息公开工作年度报告') }}", style="Title")
    _loop(doc, "preamble", "para", "{{ para }}")
    doc.add_paragraph(_section_title("一、", "overview", "总体情况"), style="Heading 1")
    doc.add_paragraph("{%p for sub in overview %}")
    doc.add_paragraph("{{ sub.heading }}", style="Heading 2")
    _loop(doc, "sub.paragraphs", "para", "{{ para }}")
    doc.add_paragraph("{%p endfor %}")
    doc.add_paragraph(_section_title("二、", "proactive", "主动公开政府信息情况"), style="Heading 1")
    (_proactive_table_2019 if variant == "2019" else _proactive_table_2021)(doc)
    doc.add_paragraph("", style="Table Gap")
    doc.add_paragraph(_section_title("三、", "applications", "收到和处理政府信息公开申请情况"),
                      style="Heading 1")
    _applications_table(doc, variant)
    doc.add_paragraph("", style="Table Gap")
    doc.add_paragraph(_section_title("四、", "reviews_litigation", "政府信息公开行政复议、行政诉讼情况"),
                      style="Heading 1")
    _reviews_table(doc)
    doc.add_paragraph("", style="Table Gap")
    doc.add_paragraph(_section_title("五、", "shortcomings", "存在的主要问题及改进情况"), style="Heading 1")
    _loop(doc, "shortcomings", "para", "{{ para }}")
    doc.add_paragraph(_section_title("六、", "other_matters", "其他需要报告的事项"), style="Heading 1")
    _loop(doc, "other_matters", "para", "{{ para }}")
    props = doc.core_properties
    props.title = f"政府信息公开工作年度报告（{variant}版）"
    props.author = props.last_modified_by = "wenshu"
    props.language = "zh-CN"
    return reproducible(doc)


def targets() -> dict[Path, Callable[[], bytes]]:
    """Each generated .docx and the function that builds it."""
    return {REPO / "templates" / f"gov-info-annual-report-{v}" / "template.docx": partial(build, v)
            for v in ("2019", "2021")}


if __name__ == "__main__":
    sys.exit(run(targets(), REPO))
