"""Typos in a template never render silently: options.undefined = warn (default) | strict | blank.

The issue's offer letter: ``{{ candidate.nmae }}`` and a row loop over ``salary_item`` while the
data has ``salary_items``. Real API, real Redis, a real worker.
"""

from __future__ import annotations

import io
import json

import pytest
from authoring import OFFER_DATA, offer_letter, word_template

from helpers import assert_problem, pdf_text, put_template
from worker.render import render_docx

pytestmark = pytest.mark.e2e

TYPOS = [("candidate.nmae", "word/document.xml", 2, "{{ candidate.nmae }}"),
         ("salary_item", "word/document.xml", 3, "{%tr for i in salary_item %}")]


def adhoc(client, docx: bytes, data: dict, options: dict | None = None, formats=("docx",)):
    parts = {"template": (io.BytesIO(docx), "offer.docx"), "data": json.dumps(data, ensure_ascii=False),
             "options": json.dumps({"formats": list(formats), "options": options or {}})}
    response = client.post("/v1/renders?wait=60", data=parts, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def places(entries: list[dict]) -> list[tuple]:
    return [(e["variable"], e["part"], e["paragraph"], e["tag"]) for e in entries]


def test_warn_is_the_default_and_lists_both_typos_where_they_are(client):
    doc = adhoc(client, offer_letter(), OFFER_DATA)
    assert doc["status"] == "finished", doc
    assert places(doc["warnings"]) == TYPOS
    assert {w["code"] for w in doc["warnings"]} == {"undefined-variable"}
    assert "candidate.nmae" in doc["warnings"][0]["message"] and "第 2 段" in doc["warnings"][0]["message"]
    assert "paragraph 3" in doc["warnings"][1]["message_en"]
    english = client.get(f"/v1/renders/{doc['id']}", headers={"Accept-Language": "en"}).get_json()
    assert [w["message"] for w in english["warnings"]] == [w["message_en"] for w in doc["warnings"]]


def test_strict_fails_the_job_naming_both_typos(client):
    doc = adhoc(client, offer_letter(), OFFER_DATA, {"undefined": "strict"})
    assert doc["status"] == "failed" and doc["files"] == []
    error = doc["error"]
    assert error["status"] == 422 and error["type"].endswith("/undefined-variable")
    assert "candidate.nmae" in error["detail"] and "salary_item" in error["detail"]
    assert places(error["errors"]) == TYPOS


def test_strict_passes_when_the_data_has_everything(client):
    data = OFFER_DATA | {"salary_item": OFFER_DATA["salary_items"], "candidate": {"nmae": "张三"}}
    doc = adhoc(client, offer_letter(), data, {"undefined": "strict"}, formats=("pdf",))
    assert doc["status"] == "finished" and doc["warnings"] == []
    pdf = client.get(doc["files"][0]["url"]).data
    text = pdf_text(pdf)
    assert "张三" in text and "基本工资" in text and "12000" in text


def test_blank_keeps_the_old_silence(client):
    doc = adhoc(client, offer_letter(), OFFER_DATA, {"undefined": "blank"})
    assert doc["status"] == "finished" and doc["warnings"] == []


def test_optional_values_tested_or_defaulted_are_not_reported(client):
    docx = word_template("{% if nickname %}{{ nickname }}{% endif %}", "{{ title|default('先生') }}",
                         "{% if middle is defined %}{{ middle }}{% endif %}")
    doc = adhoc(client, docx, {}, {"undefined": "strict"})
    assert doc["status"] == "finished" and doc["warnings"] == []


def test_division_by_zero_names_part_paragraph_and_tag(client):
    docx = word_template("平均工资", "合计 {{ total }} 元，人均 {{ total / headcount }} 元")
    doc = adhoc(client, docx, {"total": 100, "headcount": 0})
    assert doc["status"] == "failed"
    (where,) = doc["error"]["errors"]
    assert (where["part"], where["paragraph"], where["tag"]) == ("word/document.xml", 2, "{{ total / headcount }}")
    assert "ZeroDivisionError" in where["message"] and "paragraph 2" in doc["error"]["detail"]


def test_length_of_null_names_its_table_cell_paragraph(client):
    docx = word_template("名单", table=[["人数", "{{ people|length }}"]])
    doc = adhoc(client, docx, {"people": None})
    (where,) = doc["error"]["errors"]
    assert (where["paragraph"], where["tag"]) == (3, "{{ people|length }}")


def test_unknown_undefined_mode_is_refused_before_queueing(client):
    response = client.post("/v1/renders", json={"template": "invoice", "data": {},
                                                "options": {"undefined": "loud"}})
    body = assert_problem(response, response.status_code)
    assert 400 <= response.status_code < 500
    assert any(e.get("path") == "/options/undefined" for e in body["errors"]), body


def test_upload_warns_about_names_its_schema_does_not_define(client):
    schema = {"type": "object", "required": ["salary_items"], "properties": {
        "candidate": {"type": "object"}, "start_date": {"type": "string"}, "salary_items": {"type": "array"}}}
    response = put_template(client, "offer-typo", offer_letter(), schema=schema)
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    (warning,) = response.get_json()["warnings"]
    assert (warning["code"], warning["path"], warning["variable"]) == (
        "undefined-in-schema", "/properties/salary_item", "salary_item")


def test_upload_with_a_catch_all_schema_has_no_warnings(client):
    schema = {"type": "object", "properties": {"candidate": {"type": "object"}},
              "additionalProperties": {"type": ["string", "array"]}}
    response = put_template(client, "offer-open", offer_letter(), schema=schema)
    assert response.status_code in (200, 201)
    assert response.get_json()["warnings"] == []


def test_a_long_loop_over_missing_fields_reports_each_place_once(client):
    docx = word_template("{%p for r in rows %}", "{{ r.nmae }} {{ r.name }}", "{%p endfor %}")
    doc = adhoc(client, docx, {"rows": [{"name": f"行{i}"} for i in range(2000)]})
    assert doc["status"] == "finished"
    assert places(doc["warnings"]) == [("rows[].nmae", "word/document.xml", 2, "{{ r.nmae }}")]


def test_tags_nested_thousands_deep_are_refused_with_a_422_not_a_crash(client):
    docx = word_template("{{ x" + ".b" * 5000 + " }}")
    response = client.post("/v1/templates/lint", data={"file": (io.BytesIO(docx), "deep.docx")},
                           content_type="multipart/form-data")
    body = assert_problem(response, 422)
    assert "nested too deeply" in body["detail"]


def test_a_typo_in_the_page_header_is_located_in_the_header_part():
    warnings: list[dict] = []
    render_docx(word_template("正文 {{ company }}", header="页眉 {{ compnay }}"), {"company": "文书"},
                warnings=warnings)
    assert places(warnings) == [("compnay", "word/header1.xml", 1, "{{ compnay }}")]


def test_a_render_cache_hit_keeps_the_missing_variables(settings, workers):
    from service.app import create_app

    cached = create_app(settings.with_(render_cache=True)).test_client()
    docx = offer_letter()  # the same bytes twice (a .docx built again may differ in its zip dates)
    first = adhoc(cached, docx, OFFER_DATA | {"start_date": "2026-02-01"})
    again = adhoc(cached, docx, OFFER_DATA | {"start_date": "2026-02-01"})
    assert again["cached_from"] == first["id"]
    assert places(again["warnings"]) == places(first["warnings"]) == TYPOS
