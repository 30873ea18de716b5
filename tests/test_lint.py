"""Template lint tells authors where in their Word document a tag is wrong (POST /v1/templates/lint)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from docx import Document
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from core.errors import TemplateRejected
from service.lint import lint_docx

PEER_CORPUS = sorted((Path(__file__).parent / "fixtures" / "peer-corpus" / "templates").glob("*.docx"))


def template(*paragraphs: str | list[str], header: str | None = None, table: list[list[str]] | None = None,
             after_table: tuple[str, ...] = ()) -> bytes:
    """A .docx whose paragraphs hold the given text; a list is split into runs, as Word often does."""
    doc = Document()
    for text in paragraphs:
        paragraph = doc.add_paragraph()
        for run in [text] if isinstance(text, str) else text:
            paragraph.add_run(run)
    if table is not None:
        grid = doc.add_table(rows=len(table), cols=len(table[0]))
        for row, cells in zip(grid.rows, table, strict=True):
            for cell, text in zip(row.cells, cells, strict=True):
                cell.text = text
    for text in after_table:
        doc.add_paragraph(text)
    if header is not None:
        doc.sections[0].header.paragraphs[0].text = header
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def only_problem(data: bytes) -> dict:
    result = lint_docx(data)
    assert result["ok"] is False
    assert len(result["problems"]) == 1, result["problems"]
    return result["problems"][0]


def test_unclosed_expression_names_part_paragraph_and_tag():
    problem = only_problem(template("Dear customer,", "Your order:", "Total: {{ x.y } yuan", "Thanks"))
    assert problem["part"] == "word/document.xml"
    assert problem["paragraph"] == 3
    assert problem["tag"] == "{{ x.y }"
    assert "not closed" in problem["message"]


def test_unknown_filter_is_reported_with_its_name():
    problem = only_problem(template("Amount: {{ amount|nosuchfilter }}"))
    assert (problem["paragraph"], problem["tag"]) == (1, "{{ amount|nosuchfilter }}")
    assert "unknown filter 'nosuchfilter'" in problem["message"]


def test_known_filter_passes():
    assert lint_docx(template("{{ name|upper }} {{ items|length }}"))["ok"] is True


def test_unbalanced_for_points_at_the_opening_tag():
    problem = only_problem(template("Items:", "{% for item in items %}{{ item.name }}", "End"))
    assert (problem["part"], problem["paragraph"]) == ("word/document.xml", 2)
    assert problem["tag"] == "{% for item in items %}"
    assert "never closed" in problem["message"] and "endfor" in problem["message"]


def test_endif_without_if_is_reported():
    problem = only_problem(template("text", "{% endif %}"))
    assert (problem["paragraph"], problem["tag"]) == (2, "{% endif %}")
    assert "closes nothing" in problem["message"]


def test_clean_template_is_ok_and_lists_its_variables():
    result = lint_docx(template(
        "Dear {{ customer.name }},",
        "{%p for item in items %}",
        "{{ item.desc }}: {{ item.qty }}",
        "{%p endfor %}",
        "{% if paid %}Paid{% else %}Due: {{ total }}{% endif %}",
        header="{{ company }}",
    ))
    assert result | {"variable_tree": None, "skeleton": None} == {
        "ok": True, "problems": [], "variables": ["company", "customer", "items", "paid", "total"],
        "variable_paths": ["company", "customer", "customer.name", "items", "items[].desc", "items[].qty",
                           "paid", "total"], "variable_tree": None, "skeleton": None}


def test_tag_split_across_runs_is_read_as_one_tag():
    result = lint_docx(template(["Dear {{ cust", "omer_na", "me }}!"]))
    assert result["ok"] is True
    assert result["variables"] == ["customer_name"]


def test_word_smart_quotes_inside_tags_are_accepted():
    assert lint_docx(template("{{ “fixed” if flag else name }}"))["ok"] is True


def test_stray_closing_braces_are_reported():
    problem = only_problem(template("a", "Total: total }} yuan"))
    assert (problem["paragraph"], problem["tag"]) == (2, "}}")
    assert "never opened" in problem["message"]


def test_expression_that_does_not_parse():
    problem = only_problem(template("{{ price * }}"))
    assert problem["tag"] == "{{ price * }}"
    assert "does not parse" in problem["message"]


def test_paragraph_tag_sharing_its_paragraph_with_text_is_reported():
    problem = only_problem(template("{%p if show %} this sentence would vanish", "{%p endif %}"))
    assert problem["paragraph"] == 1
    assert "this sentence would vanish" in problem["message"]


def test_row_tag_outside_a_table_is_reported():
    result = lint_docx(template("{%tr for row in rows %}", "{%tr endfor %}"))
    problems = result["problems"]
    assert result["ok"] is False
    assert [(p["paragraph"], p["tag"]) for p in problems] == [
        (1, "{%tr for row in rows %}"), (2, "{%tr endfor %}")]
    assert all("outside a table row" in p["message"] for p in problems)


def test_row_tags_inside_a_table_pass():
    data = template("Orders", table=[["{%tr for o in orders %}", ""], ["{{ o.id }}", "{{ o.total }}"],
                                     ["{%tr endfor %}", ""]])
    result = lint_docx(data)
    assert (result["ok"], result["variables"], result["problems"]) == (True, ["orders"], [])
    assert result["variable_paths"] == ["orders", "orders[].id", "orders[].total"]


def test_mixed_paragraph_and_plain_block_tags_are_reported():
    problem = only_problem(template("{%p if a %}", "shown", "x {% endif %}"))
    assert problem["paragraph"] == 3
    assert "opened as {%p … %} in paragraph 1" in problem["message"]


def test_paragraphs_are_counted_through_tables():
    data = template("intro", table=[["cell one", "cell two"]], after_table=("{{ broken( }}",))
    problem = only_problem(data)
    assert problem["paragraph"] == 4  # intro, two cell paragraphs, then this one


def test_problem_in_header_names_the_header_part():
    problem = only_problem(template("body", header="{{ date|nosuch }}"))
    assert problem["part"].startswith("word/header")
    assert problem["paragraph"] == 1


def test_include_is_not_available():
    problem = only_problem(template("{% include 'other.docx' %}"))
    assert "cannot load other files" in problem["message"]


def test_space_after_brace_in_row_tag_gets_a_hint():
    problem = only_problem(template("rows:", "{% tr for r in rows %}"))
    assert problem["paragraph"] == 2
    assert "{%tr … %}" in problem["message"]
    problem = only_problem(template("{% tr for r in rows %}"))
    assert problem["paragraph"] == 1
    assert "{%tr … %}" in problem["message"]


def test_tags_outside_visible_text_are_still_caught():
    doc = Document()
    paragraph = doc.add_paragraph("visible")
    paragraph._p.append(parse_xml(f'<w:r {nsdecls("w")}><w:instrText>{{% if x %}}</w:instrText></w:r>'))
    out = io.BytesIO()
    doc.save(out)
    problem = only_problem(out.getvalue())
    assert problem["part"] == "word/document.xml"
    assert "endif" in problem["message"]


def test_not_a_docx_is_rejected():
    with pytest.raises(TemplateRejected):
        lint_docx(b"plain text, not a zip")


@pytest.mark.parametrize("path", PEER_CORPUS, ids=lambda p: p.name)
def test_peer_corpus_templates_lint_clean(path):
    result = lint_docx(path.read_bytes())
    assert result["problems"] == []
    assert result["ok"] is True


def test_peer_corpus_variables_include_document_properties():
    result = lint_docx((PEER_CORPUS[0].parent / "doc_properties_tpl.docx").read_bytes())
    assert result["variables"] == ["test"]
