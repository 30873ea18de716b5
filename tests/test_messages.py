"""Lint, schema and rule messages in zh-CN (default) and en (Accept-Language), pointers kept."""

from __future__ import annotations

import copy
import io
import json
import re

import pytest
from authoring import word_template

from core.settings import PROJECT_ROOT
from helpers import assert_problem
from service.lint import lint_docx
from service.lint_zh import lint_zh

GOV = "gov-info-annual-report-2019"
SAMPLE = json.loads((PROJECT_ROOT / "templates" / GOV / "sample.json").read_text(encoding="utf-8"))
CJK = re.compile(r"[\u4e00-\u9fff]")
EN = {"Accept-Language": "en-US,en;q=0.9"}


@pytest.fixture(scope="module")
def api(app):
    return app.test_client()


def render_errors(api, data: dict, headers: dict | None = None) -> list[dict]:
    response = api.post("/v1/renders", json={"template": GOV, "data": data}, headers=headers or {})
    return assert_problem(response, 422)["errors"]


def bad_types() -> dict:
    data = copy.deepcopy(SAMPLE)
    data["year"] = "2019年"
    data["applications"]["new_requests"]["natural_person"] = "五"
    return data


def unbalanced() -> dict:
    data = copy.deepcopy(SAMPLE)
    data["applications"]["carried_forward"]["natural_person"] = 99
    return data


def test_schema_errors_name_the_field_by_its_title_in_chinese_by_default(api):
    errors = {e["path"]: e for e in render_errors(api, bad_types())}
    cell = errors["/data/applications/new_requests/natural_person"]
    assert cell["message"] == "自然人（natural_person）应为整数或空值（null），而不是文本"
    assert errors["/data/year"]["message"] == "报告年度（year）应为整数，而不是文本"
    assert "is not of type" not in json.dumps(list(errors.values()), ensure_ascii=False)


def test_schema_errors_in_english_when_accept_language_prefers_it(api):
    errors = {e["path"]: e for e in render_errors(api, bad_types(), EN)}
    assert errors["/data/year"]["message"] == "'year' (报告年度) must be an integer, not text"
    assert errors["/data/applications/new_requests/natural_person"]["message"].endswith(
        "must be an integer or null, not text")


def test_missing_required_field_says_so_in_words(api):
    data = copy.deepcopy(SAMPLE)
    del data["agency"]
    (error,) = [e for e in render_errors(api, data) if e["path"] == "/data/agency"]
    assert error["message"] == "缺少必填项 发布机关（agency）"
    assert error["message_en"] == "'agency' (发布机关) is required"


def test_rule_messages_name_columns_in_words_not_keys(api):
    (balance,) = [e for e in render_errors(api, unbalanced()) if e.get("rule") == "balance"]
    assert balance["message"].endswith("（自然人）") and "natural_person" not in balance["message"]
    assert balance["message_en"].endswith("(natural person)")
    assert balance["path"] == "/data/applications/new_requests/natural_person"


def test_rule_messages_in_english_have_no_chinese_row_names(api):
    data = unbalanced()
    data["applications"]["new_requests"]["total"] += 1
    errors = render_errors(api, data, EN)
    row = next(e for e in errors if e.get("rule") == "row_total")
    assert row["message"] == row["message_en"] and not CJK.search(row["message"])


def lint(api, docx: bytes, headers: dict | None = None) -> dict:
    response = api.post("/v1/templates/lint", data={"file": (io.BytesIO(docx), "t.docx")},
                        content_type="multipart/form-data", headers=headers or {})
    assert response.status_code == 200
    return response.get_json()


def test_lint_problems_in_chinese_by_default_and_english_on_request(api):
    docx = word_template("{{ total }", "{% endif %}")
    zh = [p["message"] for p in lint(api, docx)["problems"]]
    en = [p["message"] for p in lint(api, docx, EN)["problems"]]
    assert zh == ["“{{”没有用“}}”结束", "“endif”没有可结束的块：前面没有打开的“if”块"]
    assert en == ["'{{' is not closed with '}}'", "'endif' closes nothing: no 'if' block is open"]


BROKEN = [("{{ total }",), ("{% endif %}",), ("x }}",), ("{% for i in x %}",), ("{{ a|nofilter }}",),
          ("{{ a is notatest }}",), ("{% include 'x' %}",), ("{% foo %}",), ("{% %}",), ("{%p if a %} text",),
          ("{% else %}",), ("{{ a + }}",), ("{% p if a %}",), ("{% colspan %}",), ("{% vm 3 %}",),
          ("{%p if a %}", "{% endif %}"), ("{% for a in b %}{% if c %}", "{% endfor %}")]


@pytest.mark.parametrize("paragraphs", BROKEN, ids=[" / ".join(p) for p in BROKEN])
def test_every_lint_message_has_a_chinese_wording(paragraphs):
    problems = lint_docx(word_template(*paragraphs))["problems"]
    assert problems
    for problem in problems:
        assert CJK.search(lint_zh(problem["message"])), problem["message"]


@pytest.mark.parametrize(("header", "english"), [
    ("en-GB", True), ("fr-FR", False), ("zh-CN,en;q=0.8", False), ("en;q=0.5, zh;q=0.9", False),
    ("fr, en;q=0.7", True), ("", False)])
def test_accept_language_picks_english_only_when_preferred(api, header, english):
    problem = lint(api, word_template("{{ total }"), {"Accept-Language": header})["problems"][0]
    assert (problem["message"] == problem["message_en"]) is english
