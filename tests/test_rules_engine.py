"""The rules engine (README, "Template language") with synthetic rules and data: what an integrator sees in a 422."""

from __future__ import annotations

import pytest

from core.errors import RuleViolation, Unprocessable, UnsafeTemplate
from service.rules import RuleLimitExceeded, check_rules, raise_for_violations, validate_rules

BALANCE = {
    "id": "balance",
    "message": "一+二 应等于 三（七）+四（{col}）：{left} ≠ {right}",
    "message_en": "new + carried over must equal results + carried forward ({col}): {left} != {right}",
    "for_each": {"col": ["natural_person", "total"]},
    "assert": "apps.new[col] + apps.carried_over[col] == apps.results.total[col] + apps.carried_forward[col]",
}


def balanced_data() -> dict:
    return {"apps": {
        "new": {"natural_person": 10, "total": 12},
        "carried_over": {"natural_person": 2, "total": 3},
        "results": {"total": {"natural_person": 11, "total": 14}},
        "carried_forward": {"natural_person": 1, "total": 1},
    }}


def rule(assertion: str, **extra) -> dict:
    return {"id": extra.pop("id", "r"), "assert": assertion, **extra}


def test_consistent_data_has_no_violations():
    assert check_rules([BALANCE], balanced_data()) == []


def test_violation_names_rule_cells_and_both_sides():
    data = balanced_data()
    data["apps"]["new"]["total"] = 20
    [violation] = check_rules([BALANCE], data)
    assert violation["rule"] == "balance"
    assert violation["left"] == 23 and violation["right"] == 15
    assert violation["bindings"] == {"col": "total"}
    assert violation["message"] == "一+二 应等于 三（七）+四（total）：23 ≠ 15"
    assert violation["message_en"] == \
        "new + carried over must equal results + carried forward (total): 23 != 15"
    assert violation["cells"] == ["/apps/new/total", "/apps/carried_over/total",
                                  "/apps/results/total/total", "/apps/carried_forward/total"]
    assert violation["path"] == "/apps/new/total"


def test_null_counts_as_zero():
    data = balanced_data()
    data["apps"]["carried_forward"]["natural_person"] = None
    data["apps"]["results"]["total"]["natural_person"] = 12
    assert check_rules([BALANCE], data) == []


def test_missing_key_counts_as_zero_and_is_still_reported_as_a_cell():
    data = balanced_data()
    del data["apps"]["carried_over"]["total"]
    [violation] = check_rules([BALANCE], data)
    assert (violation["left"], violation["right"]) == (12, 15)
    assert "/apps/carried_over/total" in violation["cells"]


def test_missing_object_points_at_the_deepest_cell_the_rule_named():
    [violation] = check_rules([rule("report.absent.cell == 1")], {"report": {}})
    assert violation["left"] == 0
    assert violation["cells"] == ["/report/absent/cell"]


def test_missing_top_level_name_counts_as_zero():
    assert check_rules([rule("nothing.here == 0")], {}) == []


def test_for_each_expands_to_the_cartesian_product_of_its_lists():
    rules = [rule("t[row][col] >= 0", message="{row}/{col} 为负",
                  for_each={"row": ["a", "b"], "col": ["x", "y"]})]
    data = {"t": {"a": {"x": -1, "y": 1}, "b": {"x": -2, "y": -3}}}
    violations = check_rules(rules, data)
    assert [v["bindings"] for v in violations] == [
        {"row": "a", "col": "x"}, {"row": "b", "col": "x"}, {"row": "b", "col": "y"}]
    assert [v["message"] for v in violations] == ["a/x 为负", "b/x 为负", "b/y 为负"]
    assert [v["path"] for v in violations] == ["/t/a/x", "/t/b/x", "/t/b/y"]


def test_for_each_can_bind_list_indexes():
    rules = [rule("rows[i].amount <= 100", for_each={"i": [0, 1]})]
    violations = check_rules(rules, {"rows": [{"amount": 50}, {"amount": 150}]})
    assert [v["path"] for v in violations] == ["/rows/1/amount"]


def test_pointers_escape_tilde_and_slash_and_resolve_negative_indexes():
    rules = [rule("rows[-1]['a/b'] + rows[0]['c~d'] == 0")]
    [violation] = check_rules(rules, {"rows": [{"c~d": 1}, {"x": 0}, {"a/b": 2}]})
    assert violation["cells"] == ["/rows/2/a~1b", "/rows/0/c~0d"]
    assert (violation["left"], violation["right"]) == (3, 0)


def test_jinja_filters_work_and_every_summed_cell_is_reported():
    rules = [rule("rows | sum(attribute='v') == total")]
    [violation] = check_rules(rules, {"rows": [{"v": 1}, {"v": None}, {"v": 2}], "total": 4})
    assert (violation["left"], violation["right"]) == (3, 4)
    assert violation["cells"] == ["/rows/0/v", "/rows/1/v", "/rows/2/v", "/total"]


def test_length_of_a_list_reports_the_list_itself():
    [violation] = check_rules([rule("rows | length == 3")], {"rows": [1, 2]})
    assert violation["cells"] == ["/rows"] and violation["left"] == 2


@pytest.mark.parametrize(
    ("assertion", "holds"),
    [("a < b", True), ("a > b", False), ("a <= a", True), ("a >= b", False),
     ("a != b", True), ("a == b", False), ("x + y == z", True), ("x + y < z", False)],
)
def test_each_comparison_operator_decides_the_outcome(assertion, holds):
    data = {"a": 1, "b": 2, "x": 0.1, "y": 0.2, "z": 0.3}  # 0.1 + 0.2 is not exactly 0.3 as floats
    assert (check_rules([rule(assertion)], data) == []) is holds


def test_default_message_shows_both_sides_when_the_rule_has_none():
    [violation] = check_rules([rule("a <= b", id="cap")], {"a": 5, "b": 3})
    assert violation["message"] == "规则“cap”不成立：5 <= 3"
    assert violation["message_en"] == "rule 'cap' failed: 5 <= 3"


def test_message_placeholders_cannot_reach_attributes():
    rules = [rule("n == 1", message="{left.__class__} {left}")]
    [violation] = check_rules(rules, {"n": 0})
    assert violation["message"] == "{left.__class__} 0"


def test_text_where_a_number_belongs_fails_the_rule_with_an_error():
    [violation] = check_rules([rule("a + 1 == 2")], {"a": "one"})
    assert violation["path"] == "/a"
    assert "TypeError" in violation["error"]


@pytest.mark.parametrize(
    "assertion",
    ["''.__class__.__mro__[1] == 0", "a.__class__ == 0", "a._private == 0", "x['__globals__'] == 0"],
)
def test_upload_rejects_asserts_that_reach_for_python_internals(assertion):
    with pytest.raises(Unprocessable) as caught:
        validate_rules([rule(assertion)])
    assert caught.value.errors[0]["path"] == "/rules/0/assert"


def test_an_escape_hidden_in_for_each_values_is_stopped_by_the_sandbox_at_upload():
    # No dunder is visible in the assert text: only running it (the trial run at upload) stops it.
    rules = [rule("''[k][m] == 0", for_each={"k": ["__class__"], "m": ["__mro__"]})]
    with pytest.raises(UnsafeTemplate) as caught:
        validate_rules(rules)
    assert caught.value.errors[0]["path"] == "/rules/0/assert"
    assert caught.value.errors[0]["bindings"] == {"k": "__class__", "m": "__mro__"}


def test_an_escape_in_stored_rules_is_stopped_at_request_time_too():
    # Rules stored before the trial run existed reach check_rules without it.
    rules = [rule("''[k] == 0", for_each={"k": ["__class__"]})]
    with pytest.raises(UnsafeTemplate):
        check_rules(rules, {})


def test_huge_powers_are_refused_naming_the_rule():
    with pytest.raises(RuleLimitExceeded) as caught:
        check_rules([rule("2 ** 100000000 == 1", id="pow")], {})
    assert caught.value.errors[0]["rule"] == "pow"
    assert "4096-bit" in caught.value.errors[0]["message"]


def test_data_keys_starting_with_underscore_are_readable_with_brackets():
    [violation] = check_rules([rule("row['_x'] == 1")], {"row": {"_x": 2}})
    assert violation["cells"] == ["/row/_x"]


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        ({"id": "x"}, "/rules"),
        (["not an object"], "/rules/0"),
        ([{"assert": "a == 1"}], "/rules/0/id"),
        ([rule("a == 1"), {"id": "b"}], "/rules/1/assert"),
        ([rule("a == (1")], "/rules/0/assert"),
        ([rule("a + 1")], "/rules/0/assert"),
        ([rule("a < b < c")], "/rules/0/assert"),
        ([rule("a == 1 and b == 2")], "/rules/0/assert"),
        ([rule("a | no_such_filter == 1")], "/rules/0/assert"),
        ([rule("a == 1", for_each=["col"])], "/rules/0/for_each"),
        ([rule("a == 1", for_each={"col": "total"})], "/rules/0/for_each/col"),
        ([rule("a == 1", for_each={"a/b": ["x"]})], "/rules/0/for_each/a~1b"),
        ([rule("a == 1", for_each={"left": [1]})], "/rules/0/for_each/left"),
        ([rule("a == 1"), rule("b == 1")], "/rules/1/id"),
        ([rule("a == 1", asert="typo")], "/rules/0/asert"),
    ],
)
def test_malformed_rules_are_rejected_with_the_path_of_the_mistake(rules, path):
    with pytest.raises(Unprocessable) as caught:
        validate_rules(rules)
    assert path in [error["path"] for error in caught.value.errors]
    assert caught.value.status == 422


def test_check_rules_refuses_malformed_rules_too():
    with pytest.raises(Unprocessable):
        check_rules([{"id": "x"}], {})


def test_raise_for_violations_builds_a_422_listing_each_violation():
    data = balanced_data()
    data["apps"]["new"]["natural_person"] = None
    data["apps"]["new"]["total"] = 20
    violations = check_rules([BALANCE], data)
    with pytest.raises(RuleViolation) as caught:
        raise_for_violations(violations)
    problem = caught.value.to_problem()
    assert problem["status"] == 422
    assert [e["path"] for e in problem["errors"]] == ["/apps/new/natural_person", "/apps/new/total"]
    first = problem["errors"][0]
    assert first["rule"] == "balance" and (first["left"], first["right"]) == (2, 12)
    assert first["message_en"].startswith("new + carried over")
    assert len(first["cells"]) == 4
    assert "勾稽" in problem["detail"] and "1 more" in problem["detail"]


def test_raise_for_violations_is_silent_without_violations():
    assert raise_for_violations([]) is None
