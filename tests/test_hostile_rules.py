"""Rule asserts written to take the API down are refused with a 422 naming the rule, never a 500.

The attack this answers: ``'a'|center(n)|length == 1`` with ``n = 1.5e9`` in the data grew the API
process by 1.4 GB on one request. Rules now run in a sandbox of their own (``service/rule_env.py``):
off-list filters, methods and globals are refused at upload; everything that can grow is checked
before it grows; all rules of a request share a CPU-time budget. The first tests drive the engine
directly; the last ones drive a real ``wenshu serve`` process and read its peak memory from /proc.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import threading
import uuid

import pytest
import requests

from conftest import private_redis, worker_env
from core.errors import RuleViolation, Unprocessable, UnsafeTemplate
from core.settings import PROJECT_ROOT
from faultkit import wait_until
from helpers import docx_with, free_port
from service.rule_env import FILTERS
from service.rules import RuleLimitExceeded, check_rules, raise_for_violations, validate_rules

N = 1_500_000_000
"""The attacker's number: a gigabyte and a half of anything."""
GOOD = {"id": "good", "assert": "a + b == c"}
HOSTILE_DATA = {"n": N, "m": 10**9, "ten": 10, "fmt": "%*d", "text": "ab",
                "x": "x" * 5000, "big": 2**4000, "digits": "9" * 4000, "p": -10**9,
                "rows": [{"v": 1}] * 20_000, "long": "中" * 20_000}


def rules_with(assertion: str, **extra) -> list[dict]:
    """A harmless rule first, so the path must name the second one: /rules/1/assert."""
    return [GOOD, {"id": "hostile", "assert": assertion, **extra}]


@pytest.mark.parametrize(("assertion", "named"), [
    ("'a'|center(n)|length == 1", "filter 'center'"),
    ("'{:>{}}'.format(1, n) == ''", ".format()"),
    ("'a'.ljust(n) == ''", ".ljust()"),
    ("'a'|indent(n) == ''", "filter 'indent'"),
    ("'ab'|replace('a', x) == ''", "filter 'replace'"),
    ("'a b'|wordwrap(n) == ''", "filter 'wordwrap'"),
    ("rows|join(x) == ''", "filter 'join'"),
    ("x|string == ''", "filter 'string'"),
    ("lipsum(n) == ''", "'lipsum' cannot be called"),
    ("cycler(1, 2) == 0", "'cycler' cannot be called"),
    ("dict(a=n) == 0", "'dict' cannot be called"),
    ("rows.append(1) == 0", ".append()"),
    ("rows|map('center', n)|list == []", "filter 'center' (named in map)"),
    ("rows|select('callable')|list == []", "test 'callable' (named in select)"),
    ("(rows is callable) == true", "test 'callable'"),
    ("'%*d' % (n, 1) == ''", "formatting text with %"),
    ("[1] * n == []", "repeating text or lists"),
    ("'a' * n == ''", "repeating text or lists"),
    ("x.__class__ == 0", "'__class__'"),
])
def test_off_list_filters_methods_and_globals_are_refused_at_upload_naming_the_rule(assertion, named):
    with pytest.raises(Unprocessable) as caught:
        validate_rules(rules_with(assertion))
    [error] = caught.value.errors
    assert caught.value.status == 422
    assert error["path"] == "/rules/1/assert"
    assert named in error["message"]


DATA_DRIVEN = [  # (assert, what the 422 says): each passes upload (n is 0 there) and blows up on data
    ("fmt % (n, 1) == ''", "formatting text with %"),
    ("text * n == ''", "repeating text or lists"),
    ("range(n)|list|length == 0", "range() would have 1500000000 items"),
    ("range(n)|sum == 0", "range() would have 1500000000 items"),
    ("x ~ x ~ x == ''", "text joined with ~ would have 15000"),
    ("x + x + x == ''", "the result of + would have 15000"),
    ("ten ** m == 0", "4096-bit"),
    ("big * big == 0", "4096-bit"),
    ("digits|int == 0", "larger than the 4096-bit limit"),
    ("1|round(p) == 0", "round's precision"),
    ("rows[::1]|length == 0", "a slice would have 20000"),
    ("long[::-1] == ''", "a slice would have 20000"),
    ("long|list|length == 0", "text of 20000 characters"),
    ("long|map('upper')|list == []", "text of 20000 characters"),
    ("rows|list|length == 0", "a list would have 10001"),
]


@pytest.mark.parametrize(("assertion", "named"), DATA_DRIVEN)
def test_data_driven_bombs_are_stopped_at_request_time_naming_the_rule(assertion, named):
    rules = rules_with(assertion)
    validate_rules(rules)  # harmless on the empty data of the upload's trial run
    with pytest.raises(RuleLimitExceeded) as caught:
        check_rules(rules, HOSTILE_DATA)
    problem = caught.value.to_problem()
    assert problem["status"] == 422 and problem["type"].endswith("/rule-limit")
    assert problem["errors"][0]["path"] == "/rules/1/assert"
    assert problem["errors"][0]["rule"] == "hostile"
    assert named in problem["errors"][0]["message"]


def test_every_data_driven_bomb_together_leaves_this_process_memory_bounded():
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for assertion, _ in DATA_DRIVEN:
        with pytest.raises(RuleLimitExceeded):
            check_rules(rules_with(assertion), HOSTILE_DATA)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) / 1024
    assert grown_mb < 200, f"peak memory grew by {grown_mb:.0f} MB"


@pytest.mark.parametrize(("assertion", "named"), [
    ("2 ** 100000000 == 1", "4096-bit"),
    ("range(10**9)|sum == 0", "range() would have 1000000000 items"),
    ("range(0, 10**18)|list == []", "range()"),
    ("(2 ** 4000) * (2 ** 4000) == 0", "4096-bit"),
    ("1|round(-10**9) == 0", "round's precision"),
    ("'x' ~ range(10**6) == ''", "range()"),
])
def test_bombs_made_of_constants_are_refused_at_upload(assertion, named):
    with pytest.raises(RuleLimitExceeded) as caught:
        validate_rules(rules_with(assertion))
    assert caught.value.errors[0]["path"] == "/rules/1/assert"
    assert named in caught.value.errors[0]["message"]


def test_rules_past_the_time_budget_are_stopped_naming_the_rule_being_evaluated():
    # 10 000 instances x 10 000 additions: seconds of CPU on any machine, stopped after 0.05 s.
    rules = rules_with("range(n)|sum == i", for_each={"i": list(range(10_000))})
    validate_rules(rules)
    with pytest.raises(RuleLimitExceeded) as caught:
        check_rules(rules, {"n": 10_000}, timeout=0.05)
    error = caught.value.errors[0]
    assert (error["path"], error["rule"]) == ("/rules/1/assert", "hostile")
    assert "WENSHU_RULE_TIMEOUT" in error["message"] and "0.05 s" in error["message"]


def test_the_time_budget_is_checked_inside_one_long_aggregate():
    # One instance only: a check between instances alone would let it run to the end.
    rows = [{"v": 1} for _ in range(300_000)]
    with pytest.raises(RuleLimitExceeded, match="WENSHU_RULE_TIMEOUT"):
        check_rules(rules_with("rows|sum(attribute='v') == -1"), {"rows": rows, "c": 0}, timeout=0.001)


def test_compiling_many_long_asserts_is_charged_to_the_time_budget():
    # ~500 distinct asserts of ~1400 characters take seconds to compile; the budget is 0.2 s.
    tag = uuid.uuid4().hex
    rules = [{"id": f"r{i}", "assert": f"x{tag}{i}.a" + " + (x.b|abs + x.c|abs + x.d)" * 50 + " == 0"}
             for i in range(500)]
    with pytest.raises(RuleLimitExceeded) as caught:
        validate_rules(rules, timeout=0.2)
    assert re.fullmatch(r"/rules/\d+", caught.value.errors[0]["path"])
    assert "WENSHU_RULE_TIMEOUT" in caught.value.errors[0]["message"]


def test_more_than_500_rules_are_refused_at_upload():
    with pytest.raises(Unprocessable) as caught:
        validate_rules([{"id": f"r{i}", "assert": "a == 0"} for i in range(501)])
    assert caught.value.errors[0]["path"] == "/rules"


def test_a_for_each_expanding_past_the_instance_cap_is_refused_at_upload():
    rules = rules_with("a == i + j", for_each={"i": list(range(101)), "j": list(range(100))})
    with pytest.raises(Unprocessable) as caught:
        validate_rules(rules)
    assert caught.value.errors[0]["path"] == "/rules/1/for_each"
    assert "10100 instances" in caught.value.errors[0]["message"]


@pytest.mark.parametrize(("extra", "path"), [
    ({"message": "m" * 2001}, "/rules/1/message"),
    ({"id": "i" * 201}, "/rules/1/id"),
    ({"for_each": {"k": ["k" * 201]}}, "/rules/1/for_each/k"),
])
def test_text_every_violation_would_copy_is_capped_at_upload(extra, path):
    with pytest.raises(Unprocessable) as caught:
        validate_rules(rules_with("a == 0", **extra))
    assert path in [error["path"] for error in caught.value.errors]


def test_ten_thousand_violations_of_a_big_array_make_a_small_422():
    rules = rules_with("rows == i", for_each={"i": list(range(10_000))})
    violations = check_rules(rules, {"rows": list(range(5_000)), "a": 1, "b": 1, "c": 2})
    assert len(violations) == 100 and violations.total == 10_000
    assert violations[0]["left"] == "<list of 5000 items>"
    with pytest.raises(RuleViolation) as caught:
        raise_for_violations(violations)
    problem = caught.value.to_problem()
    assert "9999 more" in problem["detail"]
    assert len(json.dumps(problem)) < 200_000


def test_a_message_repeating_a_placeholder_is_cut_to_a_bounded_length():
    rule = {"id": "m", "assert": "x == 0", "message": "{left}" * 333, "message_en": "{left}" * 333}
    [violation] = check_rules([rule], {"x": ["y" * 200] * 10})
    assert 4_000 <= len(violation["message"]) <= 4_001 and len(violation["message_en"]) <= 4_001


def test_a_violation_lists_a_bounded_number_of_cells():
    rows = [{"v": 1} for _ in range(5_000)]
    [violation] = check_rules([{"id": "s", "assert": "rows|sum(attribute='v') == 0"}], {"rows": rows})
    assert violation["left"] == 5_000
    assert violation["cells"][:2] == ["/rows/0/v", "/rows/1/v"] and len(violation["cells"]) == 50


@pytest.mark.parametrize("assertion", [
    "(" * 300 + "1" + ")" * 300 + " == 1", "- " * 900 + "1 == 1", "[" * 300 + "1" + "]" * 300 + " == 1",
    "a" + "|abs" * 400 + " == 1", "1" + " + 1" * 490 + " == 1", "a" + ".b" * 900 + " == 0",
])
def test_deeply_nested_asserts_are_refused_at_upload_not_crashed_on(assertion):
    with pytest.raises(Unprocessable) as caught:
        validate_rules(rules_with(assertion))
    assert caught.value.errors[0]["path"] == "/rules/1/assert"
    assert "nested more than" in caught.value.errors[0]["message"]


def test_a_sum_of_a_hundred_cells_is_not_too_deep():
    cells = {f"c{i}": 1 for i in range(100)}
    rule = {"id": "sum", "assert": " + ".join(f"t.{name}" for name in cells) + " == t.total"}
    assert check_rules([rule], {"t": {**cells, "total": 100}}) == []


def test_a_null_list_iterates_as_empty():
    # A null reads as 0; iterating it used to walk __getitem__ for ever.
    assert check_rules([{"id": "n", "assert": "missing|list|length + missing|sum == 0"}], {"missing": None}) == []


def test_an_escape_through_a_slice_of_a_literal_is_still_sandboxed():
    with pytest.raises(UnsafeTemplate):
        validate_rules([{"id": "e", "assert": "''[k][:1] == 0", "for_each": {"k": ["__class__"]}}])


LEGIT = [  # every allowed filter, the useful tests, every operator: each holds on LEGIT_DATA
    "rows|sum(attribute='v') == total", "rows|map(attribute='v')|sum == total",
    "rows|selectattr('kind', 'eq', 'a')|map(attribute='v')|list|sum == a_total",
    "rows|rejectattr('kind', 'in', ['a'])|list|length == 1", "rows|selectattr('kind', '==', 'a')|count == 2",
    "[1, 2, 3]|select('odd')|list == [1, 3]", "[1, 2, 3]|reject('even')|list|length == 2",
    "rows|map(attribute='v')|min == 1", "rows|map(attribute='v')|max == 3",
    "rows|first == rows[0]", "(rows|last).v == 3", "rows[1:]|length == 2",
    "(ratio * 100)|round(1) == 33.3", "ratio|round(2, 'floor') == 0.33", "'12'|int + '0.5'|float == 12.5",
    "(0 - 5)|abs == 5", "[][0]|default(7) + [][0]|d(1) == 8", "code|lower == 'ok'", "code|upper == 'OK'",
    "'  x '|trim == 'x'", "range(1, 4)|sum == 6", "'a' ~ 1 ~ code == 'a1Ok'", "[1] + [2] == [1, 2]",
    "'ab' + 'c' == 'abc'", "7 % 3 + 7 // 2 + 2 ** 10 - 1 == 1027", "-total == -6", "total / 4 == 1.5",
    "(total is number and total is integer and ratio is float and code is string) == true",
    "(flag is boolean and flag is true and not (flag is false)) == true",
    "(total is defined and [][0] is undefined and none is none) == true",
    "(total is divisibleby 3 and total is even and 7 is odd and 'k' is in 'ok') == true",
    "rows|selectattr('v', 'gt', 1)|list|length == rows|selectattr('v', '>=', 2)|list|length",
    "rows|selectattr('v', 'lt', 3)|count == rows|selectattr('v', 'le', 2)|count",
    "rows|selectattr('v', 'ne', 1)|count == 2", "total != 5",
]
LEGIT_DATA = {"rows": [{"v": 1, "kind": "a"}, {"v": 2, "kind": "a"}, {"v": 3, "kind": "b"}], "total": 6,
              "a_total": 3, "ratio": 1 / 3, "code": "Ok", "flag": True}


def test_legit_rules_using_every_allowed_filter_hold_and_still_catch_bad_data():
    rules = [{"id": f"r{i}", "assert": assertion} for i, assertion in enumerate(LEGIT)]
    validate_rules(rules)
    assert check_rules(rules, LEGIT_DATA) == []
    used = {name for assertion in LEGIT for name in re.findall(r"\|\s*(\w+)", assertion)}
    assert used >= set(FILTERS), f"not exercised: {set(FILTERS) - used}"
    broken = {**LEGIT_DATA, "total": 7}
    assert {v["rule"] for v in check_rules(rules, broken)} >= {"r0", "r1"}


# --- the real API process -------------------------------------------------------------------

PEAK_GROWTH_LIMIT_KB = 200 * 1024
"""What the API's peak resident size may grow by over every bomb below; one unbounded bomb is 1.5 GB."""


def _peak_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


@pytest.fixture(scope="module")
def api(tmp_path_factory, settings):
    """``wenshu serve`` as its own process on a private Redis: (base URL, pid)."""
    with private_redis(tmp_path_factory, settings, "hostile-rules") as env:
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
                                  env=worker_env(env, WENSHU_RULE_TIMEOUT="3"), cwd=PROJECT_ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _healthy(base), 30, "wenshu serve to answer /healthz")
            yield base, server.pid
        finally:
            server.terminate()
            server.wait(30)


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _upload(base: str, name: str, rules: list[dict]) -> requests.Response:
    files = {"file": ("t.docx", docx_with("n = {{ n }}")), "rules": ("rules.json", json.dumps(rules))}
    return requests.put(f"{base}/v1/templates/{name}", files=files, timeout=60)


def _render(base: str, name: str, data: dict) -> requests.Response:
    return requests.post(f"{base}/v1/renders", json={"template": name, "data": data}, timeout=60)


def test_bombs_through_the_api_get_422s_naming_the_rule_and_its_memory_stays_bounded(api):
    base, pid = api
    assert _upload(base, "warm-up", rules_with("x ~ '' == 'y'")).status_code == 201
    assert _render(base, "warm-up", {"a": 1, "b": 1, "c": 2, "x": "y"}).status_code == 202
    before = _peak_rss_kb(pid)
    for index, (assertion, named) in enumerate(DATA_DRIVEN):
        assert _upload(base, f"bomb-{index}", rules_with(assertion)).status_code == 201
        answer = _render(base, f"bomb-{index}", HOSTILE_DATA)
        problem = answer.json()
        assert answer.status_code == 422 and answer.headers["Content-Type"] == "application/problem+json"
        assert problem["type"].endswith("/rule-limit") and named in problem["errors"][0]["message"]
        assert (problem["errors"][0]["path"], problem["errors"][0]["rule"]) == ("/rules/1/assert", "hostile")
    for index, assertion in enumerate(["'a'|center(n)|length == 1", "'a'|center(10**10)|length == 1",
                                       "'a'.ljust(n) == ''", "2 ** (10 ** 9) == 0", "range(10**9)|sum == 0"]):
        answer = _upload(base, f"refused-{index}", rules_with(assertion))
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["path"] == "/rules/1/assert"
    grown = _peak_rss_kb(pid) - before
    assert grown < PEAK_GROWTH_LIMIT_KB, f"the API's peak memory grew by {grown // 1024} MB"


def test_rules_over_the_time_budget_answer_422_while_healthz_keeps_answering(api):
    base, _ = api
    rules = rules_with("range(n)|sum == i", for_each={"i": list(range(10_000))})
    assert _upload(base, "slow", rules).status_code == 201  # n is 0 in the trial run: cheap
    answer: dict = {}
    slow = threading.Thread(target=lambda: answer.update(r=_render(base, "slow", {"n": 10_000})))
    slow.start()
    assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
    slow.join(60)
    problem = answer["r"].json()
    assert answer["r"].status_code == 422 and problem["type"].endswith("/rule-limit")
    assert problem["errors"][0]["rule"] == "hostile" and "WENSHU_RULE_TIMEOUT" in problem["detail"]
