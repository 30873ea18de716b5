"""The 勾稽关系 of the flagship templates: each rule family catches a broken report and names the cells.

The four families of the spec: (1) 一+二 = 三（七）+四 per column, (2) total = the six applicant
columns per row, (3) 三（七）总计 = the sum of every result row per column, (4) each review/litigation
group's total = its four results. Null counts as 0, so the seed (blank and 0 cells) passes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from service.rules import check_rules, validate_rules

ROOT = Path(__file__).resolve().parent.parent


def contract(variant: str) -> tuple[dict, list[dict], dict]:
    folder = ROOT / "templates" / f"gov-info-annual-report-{variant}"
    return tuple(json.loads((folder / name).read_text("utf-8")) for name in
                 ("schema.json", "rules.json", "sample.json"))


def mutate(data: dict, pointer: str, value) -> dict:
    data = copy.deepcopy(data)
    *parents, last = pointer.strip("/").split("/")
    target = data
    for key in parents:
        target = target[key]
    target[last] = value
    return data


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in (ROOT / "templates").glob("*/rules.json")))
def test_bundled_rules_pass_the_upload_checks_of_the_rule_sandbox(folder):
    # Every bundled rule stays within the allow-list and runs on empty data under the caps.
    validate_rules(json.loads((ROOT / "templates" / folder / "rules.json").read_text("utf-8")))


@pytest.mark.parametrize("variant", ["2019", "2021"])
def test_bundled_sample_satisfies_its_schema_and_rules(variant):
    schema, rules, sample = contract(variant)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(sample)] == []
    assert check_rules(rules, sample) == []


A = "/applications"
WITHHELD = ("state_secret", "prohibited_by_law", "security_stability", "third_party_rights",
            "internal_affairs", "process_information", "enforcement_files", "administrative_query")
UNABLE = ("not_held", "needs_creation", "unclear_after_correction")
NOT_PROCESSED = ("petition_complaint", "repeated", "publication", "excessive_repeated", "confirm_existing")
RESULT_LEAVES_2019 = (["disclosed", "partially_disclosed"] + [f"withheld/{k}" for k in WITHHELD]
                      + [f"unable/{k}" for k in UNABLE] + [f"not_processed/{k}" for k in NOT_PROCESSED]
                      + ["other"])
NP = "natural_person"
LD = "/reviews_litigation/litigation_direct"

CASES = [  # (variant, mutated cell, new value, rule id, first cell, cells, left, right)
    ("2019", f"{A}/carried_forward/natural_person", 1, "balance", f"{A}/new_requests/natural_person",
     [f"{A}/new_requests/{NP}", f"{A}/carried_over/{NP}", f"{A}/results/total/{NP}",
      f"{A}/carried_forward/{NP}"], 7, 8),
    ("2019", f"{A}/new_requests/total", 8, "row_total", f"{A}/new_requests/total",
     [f"{A}/new_requests/{c}" for c in ("total", "natural_person", "commercial", "research", "social_welfare",
                                        "legal_services", "other_org")], 8, 7),
    ("2019", f"{A}/results/withheld/third_party_rights/research", 2, "row_total_withheld",
     f"{A}/results/withheld/third_party_rights/total", None, 0, 2),
    ("2019", f"{A}/results/unable/needs_creation/natural_person", 1, "results_total",
     f"{A}/results/total/natural_person",
     [f"{A}/results/total/{NP}"] + [f"{A}/results/{leaf}/{NP}" for leaf in RESULT_LEAVES_2019],
     7, 8),
    ("2019", "/reviews_litigation/litigation_direct/pending", 2, "review_total",
     "/reviews_litigation/litigation_direct/total",
     [f"{LD}/{k}" for k in ("total", "upheld", "corrected", "other", "pending")],
     0, 2),
    ("2021", f"{A}/results/other/unpaid_fee/research", 1, "row_total_other",
     f"{A}/results/other/unpaid_fee/total", None, 0, 1),
    ("2021", f"{A}/results/other/unpaid_fee/research", 1, "results_total", f"{A}/results/total/research",
     None, 1, 2),
    ("2021", "/reviews_litigation/review/upheld", 3, "review_total", "/reviews_litigation/review/total",
     None, 4, 5),
]


@pytest.mark.parametrize("variant, cell, value, rule, path, cells, left, right", CASES,
                         ids=[f"{c[0]}-{c[3]}-{c[1].rsplit('/', 2)[-2]}" for c in CASES])
def test_rule_fires_on_broken_report_and_names_the_cells(variant, cell, value, rule, path, cells, left,
                                                         right):
    _schema, rules, sample = contract(variant)
    violations = check_rules(rules, mutate(sample, cell, value))
    found = [v for v in violations if v["rule"] == rule and v["path"] == path]
    assert len(found) == 1, violations
    violation = found[0]
    assert cell in violation["cells"]  # the cell we broke is named
    if cells is not None:
        assert violation["cells"] == cells
    assert (violation["left"], violation["right"]) == (left, right)
    assert violation["message"] and violation["message_en"]
    assert "{" not in violation["message"] + violation["message_en"]  # placeholders filled


def test_balance_message_names_the_column():
    _schema, rules, sample = contract("2019")
    violations = check_rules(rules, mutate(sample, f"{A}/carried_forward/natural_person", 1))
    balance = [v for v in violations if v["rule"] == "balance"]
    assert [v["path"] for v in balance] == [f"{A}/new_requests/natural_person"]
    assert "natural_person" in balance[0]["message"]


def test_entirely_blank_rows_count_as_zero():
    # The seed's 四、结转下年度继续办理 and most result rows are all null; blanking every
    # zero row as well keeps the report consistent.
    _schema, rules, sample = contract("2019")
    blank = dict.fromkeys(["natural_person", "commercial", "research", "social_welfare", "legal_services",
                           "other_org", "total"])
    assert check_rules(rules, mutate(sample, f"{A}/carried_over", blank)) == []


@pytest.mark.parametrize("variant, cell, value", [
    ("2019", f"{A}/new_requests/natual_person", 1),          # a typo'd key
    ("2019", f"{A}/new_requests/natural_person", -1),        # counts are ≥ 0
    ("2019", f"{A}/new_requests/natural_person", "7"),       # numbers are numbers
    ("2021", f"{A}/results/other", {"natural_person": 0}),   # 2021: 其他处理 has three rows
])
def test_schema_rejects_malformed_reports(variant, cell, value):
    schema, _rules, sample = contract(variant)
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(mutate(sample, cell, value)))


def test_schema_accepts_negative_change_and_unit_strings():
    schema, _rules, sample = contract("2019")
    data = mutate(sample, "/proactive/licensing/change", -3)
    data = mutate(data, "/proactive/procurement/amount", "3万元")
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(data)) == []
