"""A gov report laid out by another tool: the seed's text and tables in a plain python-docx document.

Nothing of our template: python-docx's default styles (Calibri, no first-line indent, space after
paragraphs), different column widths, table 三 flattened to one label column, 二 as one table.
What ``tests/test_report_import.py`` converts with LibreOffice and imports, as a report published by
another office would arrive.
"""

from __future__ import annotations

import io

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt

from core.report_import.forms import APPLICANT_COLUMNS, REVIEW_GROUPS, REVIEW_RESULTS

PROACTIVE_2019 = [
    ("第二十条第（一）项", ["信息内容", "本年新制作数量", "本年新公开数量", "对外公开总数量"],
     [("规章", "regulations", ["made", "published", "total_public"]),
      ("规范性文件", "normative_documents", ["made", "published", "total_public"])]),
    ("第二十条第（五）项", ["信息内容", "上一年项目数量", "本年增/减", "处理决定数量"],
     [("行政许可", "licensing", ["previous", "change", "decisions"]),
      ("其他对外管理服务事项", "other_services", ["previous", "change", "decisions"])]),
    ("第二十条第（六）项", ["信息内容", "上一年项目数量", "本年增/减", "处理决定数量"],
     [("行政处罚", "penalty", ["previous", "change", "decisions"]),
      ("行政强制", "enforcement", ["previous", "change", "decisions"])]),
    ("第二十条第（八）项", ["信息内容", "上一年项目数量", "本年增/减", ""],
     [("行政事业性收费", "fees", ["previous", "change"])]),
    ("第二十条第（九）项", ["信息内容", "采购项目数量", "采购总金额", ""],
     [("政府集中采购", "procurement", ["count", "amount"])]),
]
APPLICATION_ROWS_2019 = [
    ("一、本年新收政府信息公开申请数量", "new_requests"), ("二、上年结转政府信息公开申请数量", "carried_over"),
    ("（一）予以公开", "results.disclosed"), ("（二）部分公开", "results.partially_disclosed"),
    ("1.属于国家秘密", "results.withheld.state_secret"),
    ("2.其他法律行政法规禁止公开", "results.withheld.prohibited_by_law"),
    ("3.危及“三安全一稳定”", "results.withheld.security_stability"),
    ("4.保护第三方合法权益", "results.withheld.third_party_rights"),
    ("5.属于三类内部事务信息", "results.withheld.internal_affairs"),
    ("6.属于四类过程性信息", "results.withheld.process_information"),
    ("7.属于行政执法案卷", "results.withheld.enforcement_files"),
    ("8.属于行政查询事项", "results.withheld.administrative_query"),
    ("1.本机关不掌握相关政府信息", "results.unable.not_held"),
    ("2.没有现成信息需要另行制作", "results.unable.needs_creation"),
    ("3.补正后申请内容仍不明确", "results.unable.unclear_after_correction"),
    ("1.信访举报投诉类申请", "results.not_processed.petition_complaint"),
    ("2.重复申请", "results.not_processed.repeated"),
    ("3.要求提供公开出版物", "results.not_processed.publication"),
    ("4.无正当理由大量反复申请", "results.not_processed.excessive_repeated"),
    ("5.要求行政机关确认或重新出具已获取信息", "results.not_processed.confirm_existing"),
    ("（六）其他处理", "results.other"), ("（七）总计", "results.total"), ("四、结转下年度继续办理", "carried_forward"),
]

EXTRA_ROW = ["政务新媒体发布信息", "1268", "", ""]
NOTE = "注：本表数据来源于本机关依申请公开登记系统。"


def _text(value) -> str:
    return "" if value is None else str(value)


def _table(doc, widths_mm: list[float], rows: list[list[str]]):
    table = doc.add_table(rows=len(rows), cols=len(widths_mm))
    table.style = doc.styles["Table Grid"]
    table.autofit = False
    for r, texts in enumerate(rows):
        for c, (text, width) in enumerate(zip(texts, widths_mm, strict=True)):
            cell = table.cell(r, c)
            cell.width = Mm(width)
            cell.text = text
    return table


def _get(data: dict, path: str) -> dict:
    for key in path.split("."):
        data = data[key]
    return data


def foreign_docx(data: dict) -> bytes:
    """The 2019-format report ``data`` as another office's plain Word document."""
    doc = Document()
    doc.styles["Normal"].font.size = Pt(12)
    for line in (data["agency"], f"{data['year']}年政府信息公开工作年度报告"):
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(line)
        run.bold, run.font.size = True, Pt(20)
    for text in data["preamble"]:
        doc.add_paragraph(text)
    doc.add_paragraph().add_run("一、总体情况").bold = True
    for sub in data["overview"]:
        doc.add_paragraph(sub["heading"])
        for text in sub["paragraphs"]:
            doc.add_paragraph(text)
    doc.add_paragraph().add_run("二、主动公开政府信息情况").bold = True
    rows = []
    for item, head, lines in PROACTIVE_2019:
        rows += [[item, "", "", ""], head]
        for label, key, fields in lines:
            values = [_text(data["proactive"][key][f]) for f in fields]
            rows.append([label, *values, *[""] * (3 - len(values))])
    rows.append(EXTRA_ROW)  # this office's own addition: no field of the form holds it
    table = _table(doc, [40, 40, 40, 36], rows)
    for r, row in enumerate(rows):
        if row[0].startswith("第二十条"):
            table.cell(r, 0).merge(table.cell(r, 3)).text = row[0]
    doc.add_paragraph().add_run("三、收到和处理政府信息公开申请情况").bold = True
    head = ["申请人情况", "自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他", "总计"]
    rows = [head] + [[label, *(_text(_get(data["applications"], path)[c]) for c in APPLICANT_COLUMNS)]
                     for label, path in APPLICATION_ROWS_2019]
    _table(doc, [58] + [14] * 7, rows)
    doc.add_paragraph(NOTE)  # a remark under a table: no field of the form holds it
    doc.add_paragraph().add_run("四、政府信息公开行政复议、行政诉讼情况").bold = True
    labels = ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"]
    figures = [_text(data["reviews_litigation"][g][r]) for g in REVIEW_GROUPS for r in REVIEW_RESULTS]
    _table(doc, [10.4] * 15, [["行政复议"] * 5 + ["行政诉讼"] * 10, labels * 3, figures])
    title = data.get("section_titles", {}).get("shortcomings", "存在的主要问题及改进情况")
    doc.add_paragraph().add_run("五、" + title).bold = True
    for text in data["shortcomings"]:
        doc.add_paragraph(text)
    doc.add_paragraph().add_run("六、其他需要报告的事项").bold = True
    for text in data["other_matters"]:
        doc.add_paragraph(text)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()
