"""Generate the report-size fixtures of the flagship templates (tests/fixtures/gov_sizes/).

Why: most agencies publishing 政府信息公开工作年度报告 are townships and districts with a handful of
applications, so layout has to hold for an all-zero report, a short one, the medium seed (the
bundled sample.json) and a large one with long narrative. The fixtures are derived from each
format's sample so they stay valid against its schema and rules; re-run after a schema change::

    .venv/bin/python scripts/build_gov_fixtures.py
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "gov_sizes"
COLUMNS = ["natural_person", "commercial", "research", "social_welfare", "legal_services", "other_org"]

SENTENCES = [
    "全年围绕法治政府建设目标，持续深化决策、执行、管理、服务、结果公开，推动政务公开标准化规范化建设向基层延伸。",
    "严格落实政府信息公开保密审查机制，坚持“先审查、后公开”和“一事一审”原则，全年未发生泄密事件。",
    "通过门户网站、政务新媒体、政务公开专区等渠道及时发布重要政策文件和解读材料，回应群众关切。",
    "聚焦优化营商环境、乡村振兴、民生保障等重点领域，逐项梳理公开事项清单，动态更新公开内容。",
    "规范依申请公开办理流程，完善登记、审核、办理、答复、归档各环节，确保在法定期限内依法答复。",
    "加强政务公开业务培训，组织工作人员学习《条例》及配套制度，提升依法公开、主动公开的意识和能力。",
]


def _row(values: dict[str, int | None] | None = None, blank: bool = False) -> dict[str, int | None]:
    if blank:
        return {c: None for c in [*COLUMNS, "total"]}
    row = {c: (values or {}).get(c, 0) for c in COLUMNS}
    row["total"] = sum(row.values())
    return row


def _applications(sample: dict, new: dict, results: dict[str, dict], carried_forward: dict) -> dict:
    """The sample's 三 with every row replaced: listed result rows get values, the rest zero."""
    apps = copy.deepcopy(sample["applications"])
    apps["new_requests"], apps["carried_over"] = _row(new), _row()
    apps["carried_forward"] = _row(carried_forward)

    def fill(node: dict, path: str) -> None:
        for key, value in node.items():
            here = f"{path}.{key}" if path else key
            if "natural_person" in value:
                node[key] = _row(results.get(here))
            else:
                fill(value, here)

    results_node = {k: v for k, v in apps["results"].items() if k != "total"}
    fill(results_node, "")
    total = {c: sum(_leaf_values(results_node, c)) for c in COLUMNS}
    apps["results"] = {**results_node, "total": _row(total)}
    return apps


def _leaf_values(node: dict, column: str):
    for value in node.values():
        if "natural_person" in value:
            yield value[column]
        else:
            yield from _leaf_values(value, column)


def _zero_everything(node):
    if isinstance(node, dict):
        return {k: (v if k == "label_note" else _zero_everything(v)) for k, v in node.items()}
    return 0 if isinstance(node, (int, float)) or node is None else node


def _narrative(agency: str, year: int, subs: int, paragraphs: int, sentences: int) -> list[dict]:
    headings = ["（一）主动公开", "（二）依申请公开", "（三）政府信息管理", "（四）平台建设", "（五）监督保障",
                "（六）政务公开专区建设"]
    out = []
    for i in range(subs):
        paras = []
        for p in range(paragraphs):
            text = "".join(SENTENCES[(i + p + k) % len(SENTENCES)] for k in range(sentences))
            paras.append(f"{year}年，{agency}{text}")
        out.append({"heading": headings[i], "paragraphs": paras})
    return out


def zero(sample: dict, variant: str) -> dict:
    data = copy.deepcopy(sample)
    data["agency"] = "示例县青山镇人民政府"
    data["preamble"] = [
        f"本报告依据《中华人民共和国政府信息公开条例》编制，统计期限自{data['year']}年1月1日起至12月31日止。"]
    data["overview"] = _narrative(data["agency"], data["year"], 2, 1, 1)
    data["proactive"] = _zero_everything(data["proactive"])
    if variant == "2019":
        data["proactive"]["procurement"] = {"count": 0, "amount": 0}
    data["applications"] = _applications(sample, {}, {}, {})
    data["reviews_litigation"] = _zero_everything(data["reviews_litigation"])
    data["shortcomings"] = ["政务公开工作人员力量较为薄弱，下一步将加强业务培训。"]
    data["other_matters"] = ["无。"]
    data.pop("section_titles", None)
    return data


def short(sample: dict, variant: str) -> dict:
    data = zero(sample, variant)
    data["agency"] = "示例市东城区人民政府办公室"
    data["overview"] = _narrative(data["agency"], data["year"], 4, 1, 1)
    data["applications"] = _applications(
        sample, {"natural_person": 7, "commercial": 1},
        {"disclosed": {"natural_person": 4, "commercial": 1}, "withheld.third_party_rights": {"natural_person": 1},
         "unable.not_held": {"natural_person": 2}}, {})
    data["reviews_litigation"]["review"] = {"upheld": 1, "corrected": 0, "other": 0, "pending": 0, "total": 1}
    return data


def large(sample: dict, variant: str) -> dict:
    data = copy.deepcopy(sample)
    data["agency"] = "示例市人民政府办公厅"
    data["overview"] = _narrative(data["agency"], data["year"], 6, 3, 4)
    data["applications"] = _applications(
        sample, {"natural_person": 1204, "commercial": 133, "research": 12, "social_welfare": 9,
                 "legal_services": 41, "other_org": 20},
        {"disclosed": {"natural_person": 612, "commercial": 70, "research": 6, "social_welfare": 5,
                       "legal_services": 20, "other_org": 10},
         "partially_disclosed": {"natural_person": 88, "commercial": 12, "legal_services": 4},
         "withheld.third_party_rights": {"natural_person": 31, "commercial": 6},
         "withheld.process_information": {"natural_person": 40, "commercial": 5, "research": 1},
         "unable.not_held": {"natural_person": 290, "commercial": 30, "research": 5, "social_welfare": 4,
                             "legal_services": 14, "other_org": 9},
         "not_processed.repeated": {"natural_person": 98, "commercial": 4, "legal_services": 3},
         "not_processed.petition_complaint": {"natural_person": 45, "commercial": 6, "other_org": 1}},
        {})
    data["shortcomings"] = ["".join(SENTENCES[(i + k) % 6] for k in range(5)) for i in range(3)]
    data["other_matters"] = ["".join(SENTENCES[(i + k) % 6] for k in range(3)) for i in range(2)]
    return data


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for variant in ("2019", "2021"):
        folder = REPO / "templates" / f"gov-info-annual-report-{variant}"
        sample = json.loads((folder / "sample.json").read_text("utf-8"))
        for size, make in (("zero", zero), ("short", short), ("large", large)):
            path = OUT / f"{variant}-{size}.json"
            path.write_text(json.dumps(make(sample, variant), ensure_ascii=False, indent=2) + "\n", "utf-8")
            print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
