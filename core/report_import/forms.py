"""The official forms of the 政府信息公开工作年度报告, as an importer needs them: which printed row
label holds which data field, in which column order.

Two formats exist (国办公开办函〔2019〕60号 and 〔2021〕30号); they differ in table 二 and in
三（六）. Labels are matched after :func:`core.report_import.text.norm` (no spaces, full-width
punctuation folded), so a report typeset by another tool still matches.
"""

from __future__ import annotations

from dataclasses import dataclass

APPLICANT_COLUMNS = ("natural_person", "commercial", "research", "social_welfare", "legal_services", "other_org",
                     "total")
REVIEW_GROUPS = ("review", "litigation_direct", "litigation_after_review")
REVIEW_RESULTS = ("upheld", "corrected", "other", "pending", "total")

SECTION_KEYS = ("overview", "proactive", "applications", "reviews_litigation", "shortcomings", "other_matters")
DEFAULT_SECTION_TITLES = {
    "overview": "总体情况", "proactive": "主动公开政府信息情况", "applications": "收到和处理政府信息公开申请情况",
    "reviews_litigation": "政府信息公开行政复议、行政诉讼情况", "shortcomings": "存在的主要问题及改进情况",
    "other_matters": "其他需要报告的事项",
}

_COMMON_ROWS = {
    "本年新收政府信息公开申请数量": "new_requests",
    "上年结转政府信息公开申请数量": "carried_over",
    "予以公开": "results.disclosed",
    "部分公开": "results.partially_disclosed",
    "属于国家秘密": "results.withheld.state_secret",
    "其他法律行政法规禁止公开": "results.withheld.prohibited_by_law",
    "危及三安全一稳定": "results.withheld.security_stability",
    "保护第三方合法权益": "results.withheld.third_party_rights",
    "属于三类内部事务信息": "results.withheld.internal_affairs",
    "属于四类过程性信息": "results.withheld.process_information",
    "属于行政执法案卷": "results.withheld.enforcement_files",
    "属于行政查询事项": "results.withheld.administrative_query",
    "本机关不掌握相关政府信息": "results.unable.not_held",
    "没有现成信息需要另行制作": "results.unable.needs_creation",
    "补正后申请内容仍不明确": "results.unable.unclear_after_correction",
    "信访举报投诉类申请": "results.not_processed.petition_complaint",
    "重复申请": "results.not_processed.repeated",
    "要求提供公开出版物": "results.not_processed.publication",
    "无正当理由大量反复申请": "results.not_processed.excessive_repeated",
    "要求行政机关确认或重新出具已获取信息": "results.not_processed.confirm_existing",
    "总计": "results.total",
    "结转下年度继续办理": "carried_forward",
}
"""Row label (its distinctive words, numbering dropped) → path under ``applications``."""

_OTHER_2021 = {
    "申请人无正当理由逾期不补正行政机关不再处理其政府信息公开申请": "results.other.no_correction",
    "申请人逾期未按收费通知要求缴纳费用行政机关不再处理其政府信息公开申请": "results.other.unpaid_fee",
    "其他": "results.other.other",
}


@dataclass(frozen=True)
class Form:
    """One format: its table 二 rows and its table 三 rows."""

    variant: str
    proactive: dict[str, tuple[str, tuple[str, ...]]]
    """Row label of table 二 → (key under ``proactive``, its cells left to right)."""
    applications: dict[str, str]
    """Row label of table 三 → path under ``applications``."""
    notes: tuple[str, ...] = ("regulations", "normative_documents")
    """Keys of table 二 whose label cell may carry a second line (``label_note``)."""

    @property
    def application_paths(self) -> list[str]:
        return list(dict.fromkeys(self.applications.values()))


FORMS = {
    "2019": Form("2019", {
        "规章": ("regulations", ("made", "published", "total_public")),
        "规范性文件": ("normative_documents", ("made", "published", "total_public")),
        "行政许可": ("licensing", ("previous", "change", "decisions")),
        "其他对外管理服务事项": ("other_services", ("previous", "change", "decisions")),
        "行政处罚": ("penalty", ("previous", "change", "decisions")),
        "行政强制": ("enforcement", ("previous", "change", "decisions")),
        "行政事业性收费": ("fees", ("previous", "change")),
        "政府集中采购": ("procurement", ("count", "amount")),
    }, {**_COMMON_ROWS, "其他处理": "results.other"}),
    "2021": Form("2021", {
        "规章": ("regulations", ("issued", "repealed", "in_force")),
        "行政规范性文件": ("normative_documents", ("issued", "repealed", "in_force")),
        "行政许可": ("licensing", ("decisions",)),
        "行政处罚": ("penalty", ("decisions",)),
        "行政强制": ("enforcement", ("decisions",)),
        "行政事业性收费": ("fees", ("amount_wan_yuan",)),
    }, {**_COMMON_ROWS, **_OTHER_2021}),
}
"""The two formats by variant."""

IMPORTABLE = {f"gov-info-annual-report-{variant}": variant for variant in FORMS}
"""Template name → format, for the templates an import can fill."""
