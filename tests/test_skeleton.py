"""Skeletons: a template's variables as a JSON Schema draft and a sample to start the data from."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from authoring import offer_letter, word_template
from docx import Document
from jsonschema import Draft202012Validator

from core.settings import PROJECT_ROOT
from service.lint import lint_docx
from worker.render import render_docx

NESTED = word_template(
    "{{ company.name }} 部门名单",
    "{%p for d in departments %}",
    "{{ d.name }}（{{ d.head.name }}）",
    "{%p for p in d.people %}",
    "{{ p.name }} {{ p.salary / 12 }}",
    "{%p endfor %}",
    "{%p endfor %}")


def test_nested_loops_become_arrays_of_objects():
    skeleton = lint_docx(NESTED)["skeleton"]
    departments = skeleton["schema"]["properties"]["departments"]
    assert departments["type"] == "array"
    fields = departments["items"]["properties"]
    assert fields["head"] == {"type": "object", "properties": {"name": {"type": "string"}}}
    people = fields["people"]
    assert people["type"] == "array" and people["items"]["properties"] == {
        "name": {"type": "string"}, "salary": {"type": "number"}}
    assert skeleton["sample"] == {
        "company": {"name": "company.name"},
        "departments": [{"head": {"name": "departments[].head.name"}, "name": "departments[].name",
                         "people": [{"name": "departments[].people[].name", "salary": 1}]}]}


def test_schema_is_draft_2020_12_and_accepts_its_own_sample():
    skeleton = lint_docx(NESTED)["skeleton"]
    assert skeleton["schema"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(skeleton["schema"])
    assert list(Draft202012Validator(skeleton["schema"]).iter_errors(skeleton["sample"])) == []


def test_sample_fills_every_variable_so_a_strict_render_passes():
    skeleton = lint_docx(NESTED)["skeleton"]
    docx = render_docx(NESTED, skeleton["sample"], undefined="strict")
    text = "\n".join(p.text for p in Document(io.BytesIO(docx)).paragraphs)
    assert "departments[].people[].name" in text and "company.name" in text


def test_lint_endpoint_returns_the_skeleton(app):
    response = app.test_client().post("/v1/templates/lint", data={"file": (io.BytesIO(offer_letter()), "offer.docx")},
                           content_type="multipart/form-data")
    result = response.get_json()
    assert result["skeleton"]["sample"]["salary_item"] == [{"amount": "salary_item[].amount",
                                                             "item": "salary_item[].item"}]
    assert "candidate.nmae" in result["variable_paths"]


def test_cli_prints_schema_and_sample_even_with_a_broken_tag(tmp_path):
    path = tmp_path / "broken.docx"
    path.write_bytes(word_template("{{ buyer.name }}", "{{ total }"))
    result = subprocess.run([sys.executable, "-m", "cli.main", "skeleton", str(path)], capture_output=True,
                            text=True, cwd=PROJECT_ROOT, env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"}, timeout=120)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["sample"] == {"buyer": {"name": "buyer.name"}}
    assert set(printed) == {"schema", "sample"}
    assert "paragraph 2" in result.stderr
