"""The full nested variable tree a template reads (core.variables), and where lint shows it."""

from __future__ import annotations

from authoring import word_template as template

from core import variables
from core.sandbox import make_environment
from helpers import put_template
from service.lint import lint_docx

ENV = make_environment()


def paths_of(source: str) -> list[str]:
    trie, _refs = variables.collect(ENV.parse(source), ignore=frozenset(ENV.globals))
    return variables.paths(variables.tree(trie))


def test_attribute_chains_become_dotted_paths():
    assert paths_of("{{ candidate.name }}{{ candidate.address['city'] }}") == [
        "candidate", "candidate.address", "candidate.address.city", "candidate.name"]


def test_loop_target_stands_for_the_items_of_its_list():
    assert paths_of("{% for i in salary_items %}{{ i.amount }}{{ loop.index }}{% endfor %}") == [
        "salary_items", "salary_items[].amount"]


def test_nested_loops_nest_their_items():
    source = "{% for d in depts %}{{ d.name }}{% for p in d.people %}{{ p.name }}{% endfor %}{% endfor %}"
    tree = variables.tree(variables.collect(ENV.parse(source))[0])
    (depts,) = tree
    assert (depts["path"], depts["kind"]) == ("depts", "list")
    people = next(c for c in depts["children"] if c["name"] == "people")
    assert (people["path"], people["kind"]) == ("depts[].people", "list")
    assert [c["path"] for c in people["children"]] == ["depts[].people[].name"]


def test_with_and_set_bind_a_name_to_a_path_for_their_scope():
    source = ("{% with a = candidate.address %}{{ a.city }}{% endwith %}"
              "{% set t = totals %}{{ t.sum }}{% set n = 3 %}{{ n }}")
    assert paths_of(source) == ["candidate", "candidate.address", "candidate.address.city",
                                "totals", "totals.sum"]


def test_names_the_template_defines_are_not_data():
    source = ("{% macro row(x) %}{{ x.a }}{% endmacro %}{{ row(item) }}"
              "{% for k, v in pairs.items() %}{{ v }}{% endfor %}{{ range(2) }}")
    assert paths_of(source) == ["item", "pairs"]


def test_set_inside_a_loop_does_not_leak_out_of_it():
    assert paths_of("{% for r in rows %}{% set z = r.q %}{% endfor %}{{ z }}") == ["rows", "rows[].q", "z"]


def test_references_name_the_line_of_each_use():
    refs = variables.references(ENV.parse("{{ a.b }}\n{% for i in xs %}\n{{ i.c }}{% endfor %}"))
    assert refs == [(1, "a.b"), (2, "xs[]"), (3, "xs[].c")]


def test_lint_lists_the_tree_of_a_word_template():
    result = lint_docx(template("Dear {{ candidate.name }},", table=[
        ["{%tr for i in salary_items %}", ""], ["{{ i.item }}", "{{ i.amount|thousands }}"], ["{%tr endfor %}", ""]]))
    assert result["ok"] is True
    assert result["variable_paths"] == ["candidate", "candidate.name", "salary_items",
                                        "salary_items[].amount", "salary_items[].item"]


def test_tree_still_lists_what_parses_when_a_tag_is_broken():
    result = lint_docx(template("{{ candidate.name }}", "{{ candidate. }}", "{%p for i in items %}",
                                "{{ i.x }}", "{{ total }"))
    assert result["ok"] is False
    assert result["variable_paths"] == ["candidate", "candidate.name", "items", "items[].x"]


def test_template_description_lists_the_nested_paths(app):
    api = app.test_client()
    docx = template("{{ buyer.name }}", table=[["{%tr for l in lines %}", ""], ["{{ l.sku }}", "{{ l.qty }}"],
                                               ["{%tr endfor %}", ""]])
    assert put_template(api, "nested-paths", docx).status_code in (200, 201)
    described = api.get("/v1/templates/nested-paths").get_json()
    assert described["variables"] == ["buyer", "lines"]
    assert described["variable_paths"] == ["buyer", "buyer.name", "lines", "lines[].qty", "lines[].sku"]
    lines = next(node for node in described["variable_tree"] if node["name"] == "lines")
    assert lines["kind"] == "list" and [c["path"] for c in lines["children"]] == ["lines[].qty", "lines[].sku"]


def test_a_sorted_or_filtered_loop_still_loops_over_its_list():
    assert paths_of("{% for p in people|sort(attribute='age')|reverse %}{{ p.name }}{% endfor %}") == [
        "people", "people[].name"]
