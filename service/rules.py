"""The declarative rules engine of a template contract: cross-field checks, 勾稽关系.

A ``rules.json`` is a JSON list of rules such as::

    {"id": "balance", "message": "一+二 应等于 三（七）+四（{col}）",
     "message_en": "new + carried over must equal total results + carried forward ({col})",
     "for_each": {"col": ["natural_person", "commercial", "total"]},
     "assert": "a.new[col] + a.carried_over[col] == a.results.total[col] + a.carried_forward[col]"}

Why it works the way it does:

- Rules arrive with uploaded templates and run inside the API process for every request, so an
  ``assert`` is never Python: it is compiled in a sandbox of its own (``service/rule_env.py``) with
  an allow-list of filters, tests and globals, size caps on everything that can grow, and a
  CPU-time budget (``WENSHU_RULE_TIMEOUT``) for all rules of one request. Anything off the
  allow-list, and attribute names that start with ``_`` (the way out of a sandbox), are refused
  at upload; each rule is also run once on empty data at upload, so a bomb made of constants
  (``2 ** 10**9 == 1``) is refused then rather than on the first request. A limit hit at run
  time is a 422 ``rule-limit`` naming the rule (``/rules/3/assert``), never a 500.
- Error paths point into the rules as ``GET /v1/templates/{name}`` shows them (``/rules/3/assert``);
  violation paths point into the data.
- The assert has exactly one top-level comparison; both sides are evaluated separately so a
  violation can say "left 120, right 118" instead of just "false".
- The data is wrapped in proxies (``service/rule_data.py``: ObjectProxy, ArrayProxy, NullZero) that
  treat null and missing keys as 0 and record the JSON pointer of every leaf the assert read, so a
  violation names the cells to fix without any parsing of the expression text.
- Messages are filled by a plain ``{name}`` substitution, never ``str.format``: a message from
  outside must not be able to reach attributes (``{col.__class__}``).
- Compiled rules are cached by their assert text, so checking a report (~50 rule instances) costs
  well under a millisecond per instance once a template has been seen.
- What a violation carries is bounded (at most ``rule_data.MAX_VIOLATIONS``, long values shortened by
  :func:`service.rule_data.shown`), so a rule that fails 10 000 times on a big array cannot make
  the 422 itself the bomb.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from jinja2 import TemplateSyntaxError, nodes
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.visitor import NodeTransformer

from core.errors import RuleViolation, Unprocessable, UnsafeTemplate
from core.pointer import pointer
from core.settings import Settings

from .rule_data import Cells, Violations, fill, shown, to_plain, wrap
from .rule_env import CONCAT, SLICE, RuleLimit, RuleLimitExceeded, rule_environment, static_problem, time_limit

MAX_INSTANCES_PER_RULE = 10_000
"""Rule instances (the cartesian product of ``for_each``) one rule may expand to: bounds CPU per request."""
MAX_ASSERT_LENGTH = 2_000
"""Characters an ``assert`` expression may have."""
MAX_NESTING = 120
"""Levels of nesting (filters, operators, brackets) an assert may have, a sum of 100 cells being
100 levels: Python's compiler and Jinja's recursive parser fail at a few hundred, and that must be
a 422, not a RecursionError."""
MAX_RULES = 500
"""Rules one template may have (the bundled reports have 8 and 9)."""
MAX_TEXT = 2_000
"""Characters of a rule's ``message``, ``message_en`` or ``description``."""
MAX_NAME = 200
"""Characters of a rule's ``id`` and of each ``for_each`` value (both are copied into every violation)."""
MAX_REPORTED_CELLS = 50
"""Cells one violation lists."""
DEFAULT_TIMEOUT: float = Settings.rule_timeout
"""CPU seconds for all rules of one check when the caller passes none (WENSHU_RULE_TIMEOUT's default)."""
RULE_KEYS = frozenset({"id", "message", "message_en", "for_each", "assert", "description"})
"""Keys a rule may have; anything else is most likely a typo (``"asert"``) and is rejected."""
RESERVED_NAMES = frozenset({"left", "right"})
"""``for_each`` names that would clash with the ``{left}``/``{right}`` message placeholders."""

_COMPARISONS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {  # Jinja's op name → (symbol, test)
    "eq": ("==", operator.eq), "ne": ("!=", operator.ne), "lt": ("<", operator.lt),
    "lteq": ("<=", operator.le), "gt": (">", operator.gt), "gteq": (">=", operator.ge)}
_RULES = "/rules"  # error paths point into the rules list as GET /v1/templates/{name} shows it
_ROOT = "wenshu_data"  # the context name of the data root; asserts cannot name it (every name is rewritten)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Assertion(NamedTuple):
    """One compiled ``assert``: its comparison and both sides as one sandboxed expression."""

    op: str
    sides: TemplateExpression


class _ReadFromRoot(NodeTransformer):
    """Turn each data name ``total`` into ``<root>["total"]``.

    Jinja resolves plain names eagerly when evaluation starts; read through the root proxy they are
    recorded lazily, in the order the expression reads them, and a missing one is 0 like any key.
    ``for_each`` names and Jinja globals (``range``) stay plain names.
    """

    def __init__(self, keep: frozenset[str]) -> None:
        self.keep = keep

    def visit_Name(self, node: nodes.Name) -> nodes.Node:  # noqa: N802 — NodeTransformer's naming
        if node.ctx != "load" or node.name in self.keep:
            return node
        return nodes.Getitem(nodes.Name(_ROOT, "load"), nodes.Const(node.name), "load", lineno=node.lineno)

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        # Jinja compiles `~` and slices to Python no sandbox hook sees; checked calls bound their size.
        parts = [self.visit(part) for part in node.nodes]
        return nodes.Call(nodes.Name(CONCAT, "load"), parts, [], None, None, lineno=node.lineno)

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:  # noqa: N802
        if not isinstance(node.arg, nodes.Slice):
            return self.generic_visit(node)
        bounds = [nodes.Const(None) if part is None else self.visit(part)
                  for part in (node.arg.start, node.arg.stop, node.arg.step)]
        return nodes.Call(nodes.Name(SLICE, "load"), [self.visit(node.node), *bounds], [], None, None,
                          lineno=node.lineno)


@functools.lru_cache(maxsize=2048)
def _compile_assertion(source: str, bound: frozenset[str] = frozenset()) -> _Assertion:
    """Compile an assert whose ``bound`` names come from for_each; ValueError explains a bad one."""
    if len(source) > MAX_ASSERT_LENGTH:
        raise ValueError(f"assert is longer than {MAX_ASSERT_LENGTH} characters")
    env = rule_environment()
    expr = _parse(source)
    if not isinstance(expr, nodes.Compare) or len(expr.ops) != 1 or expr.ops[0].op not in _COMPARISONS:
        raise ValueError("assert must be exactly one comparison (==, !=, <=, >=, <, >) "
                         "between two expressions, e.g. a + b == c")
    unsafe = static_problem(expr)
    if unsafe:
        raise ValueError(unsafe)
    # Evaluate both sides in one call: a two-item list compiled exactly as compile_expression does.
    keep = bound | env.globals.keys()
    pair = _ReadFromRoot(keep).visit(nodes.List([expr.expr, expr.ops[0].expr], lineno=1))
    pair.set_environment(env)
    body = [nodes.Assign(nodes.Name("result", "store"), pair, lineno=1)]
    try:
        sides = TemplateExpression(env.from_string(nodes.Template(body, lineno=1)), False)
    except TemplateSyntaxError as exc:
        raise ValueError(f"not a valid expression: {exc.message}") from exc
    except (RecursionError, SyntaxError, MemoryError):  # Python's compiler gave up on the nesting
        raise ValueError(f"assert is nested more than {MAX_NESTING} levels deep") from None
    return _Assertion(expr.ops[0].op, sides)


def _parse(source: str) -> nodes.Expr:
    """The assert as Jinja's parser reads it, all of it (no chunk after the expression)."""
    try:
        parser = Parser(rule_environment(), source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            parser.fail("chunk after expression", parser.stream.current.lineno)
    except TemplateSyntaxError as exc:
        raise ValueError(f"not a valid expression: {exc.message}") from exc
    except RecursionError:
        raise ValueError(f"assert is nested more than {MAX_NESTING} levels deep") from None
    if _depth(expr) > MAX_NESTING:
        raise ValueError(f"assert is nested more than {MAX_NESTING} levels deep")
    return expr


def _depth(expr: nodes.Node) -> int:
    """How deep the expression tree goes (without recursion: the tree may be deep)."""
    deepest, pending = 0, [(expr, 1)]
    while pending:
        node, level = pending.pop()
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in node.iter_child_nodes())
    return deepest


def _bound_names(for_each: Any) -> frozenset[str]:
    return frozenset(for_each) if isinstance(for_each, dict) else frozenset()


def _rule_errors(rule: Any, index: int) -> list[dict[str, str]]:
    """Everything wrong with one rule, as problem+json ``errors`` entries."""
    at = f"{_RULES}/{index}"
    if not isinstance(rule, dict):
        return [{"path": at, "message": "a rule must be a JSON object"}]
    errors = [{"path": f"{at}/{pointer((key,))[1:]}", "message": f"unknown key {key!r}"}
              for key in rule if key not in RULE_KEYS]
    if not isinstance(rule.get("id"), str) or not rule.get("id") or len(rule["id"]) > MAX_NAME:
        errors.append({"path": f"{at}/id", "message": f"id is required: a string of 1 to {MAX_NAME} characters"})
    for key in ("message", "message_en", "description"):
        if key in rule and (not isinstance(rule[key], str) or len(rule[key]) > MAX_TEXT):
            errors.append({"path": f"{at}/{key}",
                           "message": f"{key} must be a string of at most {MAX_TEXT} characters"})
    source = rule.get("assert")
    if not isinstance(source, str) or not source.strip():
        errors.append({"path": f"{at}/assert", "message": "assert is required and must be an expression"})
    else:
        try:
            _compile_assertion(source, _bound_names(rule.get("for_each")))
        except ValueError as exc:
            errors.append({"path": f"{at}/assert", "message": str(exc)})
    errors.extend(_for_each_errors(rule.get("for_each"), f"{at}/for_each"))
    return errors


def _usable_binding(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and len(str(value)) <= MAX_NAME


def _for_each_errors(for_each: Any, at: str) -> list[dict[str, str]]:
    if for_each is None:
        return []
    if not isinstance(for_each, dict):
        return [{"path": at, "message": "for_each must be an object of name → list of values"}]
    errors = []
    instances = 1
    for name, values in for_each.items():
        where = f"{at}/{pointer((name,))[1:]}"
        if not _IDENTIFIER.match(name) or name in RESERVED_NAMES:
            errors.append({"path": where, "message": f"{name!r} is not a usable variable name"})
        if not isinstance(values, list) or not values:
            errors.append({"path": where, "message": "must be a non-empty list"})
            continue
        if not all(_usable_binding(v) for v in values):
            errors.append({"path": where, "message": f"values must be integers or strings of at most {MAX_NAME} "
                                                     "characters"})
        instances *= len(values)
    if instances > MAX_INSTANCES_PER_RULE:
        errors.append({"path": at, "message": f"expands to {instances} instances "
                                              f"(at most {MAX_INSTANCES_PER_RULE})"})
    return errors


def _raise_for_malformed(rules: object, check_time: Callable[[], None]) -> None:
    """Refuse rules whose shape or asserts are wrong (cheap once compiled asserts are cached;
    compiling one takes up to ~30 ms, so compiling is charged to the budget too)."""
    if not isinstance(rules, list) or len(rules) > MAX_RULES:
        problem = f"must be a JSON list of at most {MAX_RULES} rules"
        raise Unprocessable(f"rules.json {problem}", errors=[{"path": _RULES, "message": problem}])
    errors = []
    for index, rule in enumerate(rules):
        try:
            check_time()
        except RuleLimit as exc:
            raise RuleLimitExceeded(f"checking the rules stopped at {_RULES}/{index}: {exc}",
                                    errors=[{"path": f"{_RULES}/{index}", "message": str(exc)}]) from exc
        errors.extend(_rule_errors(rule, index))
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        if isinstance(rule_id, str) and rule_id in seen:
            errors.append({"path": f"{_RULES}/{index}/id",
                           "message": f"duplicate id {rule_id!r} (first at {_RULES}/{seen[rule_id]})"})
        elif isinstance(rule_id, str):
            seen[rule_id] = index
    if errors:
        raise Unprocessable(f"rules.json has {len(errors)} problem(s); first: {errors[0]['path']}: "
                            f"{errors[0]['message']}", errors=errors)


def validate_rules(rules: object, *, timeout: float | None = None) -> None:
    """Check a rules.json document before a template is accepted.

    Besides the shape and the allow-list, every rule instance is run once on empty data under the
    same caps and time budget as a request: an assert that blows a cap on its constants alone
    (``range(10**9) | sum == 0``) is refused now, naming the rule.

    Args:
        rules: the parsed JSON.
        timeout: CPU seconds for the trial run (default: WENSHU_RULE_TIMEOUT's default).

    Raises:
        Unprocessable: with one ``errors`` entry per problem, ``path`` a JSON pointer to the rule
            (``/rules/3/assert``). RuleLimitExceeded / UnsafeTemplate: the trial run hit a limit.
    """
    with time_limit(DEFAULT_TIMEOUT if timeout is None else timeout) as check_time:
        _raise_for_malformed(rules, check_time)
        _run(rules, {}, check_time)


def _compare(op: str, left: Any, right: Any) -> bool:
    """Compare two sides; floats within rounding noise of each other count as equal.

    Report figures with decimals are summed as binary floats (0.1 + 0.2 != 0.3), so floats compare
    with a relative tolerance of 1e-12 — far below a cent at any amount a double holds to the cent.
    """
    numbers = isinstance(left, float | int) and isinstance(right, float | int)
    if numbers and float in (type(left), type(right)) and \
            abs(left - right) <= 1e-12 * max(1.0, abs(left), abs(right)):
        return op in ("eq", "lteq", "gteq")
    return bool(_COMPARISONS[op][1](left, right))


def _instances(for_each: dict[str, list] | None) -> Iterator[dict[str, Any]]:
    names = list(for_each or {})
    return (dict(zip(names, combo, strict=True)) for combo in itertools.product(*(for_each or {}).values()))


def _evaluate(rule: dict, assertion: _Assertion, data: dict, bindings: dict) -> dict | None:
    """Run one rule instance; the violation it produces, or None when it holds.

    Raises:
        RuleLimit, SecurityError: the rule, not the data, is at fault; the caller names it.
    """
    read = Cells()
    context = {_ROOT: wrap(data, (), read), **bindings}
    left = right = error = None
    try:
        left, right = assertion.sides(**context)
        left, right = to_plain(left), to_plain(right)
        if _compare(assertion.op, left, right):
            return None
    except (RuleLimit, SecurityError):
        raise
    except Exception as exc:  # noqa: BLE001 — bad data (text + number, x / 0) fails the rule, not the request
        error = shown(f"{type(exc).__name__}: {exc}")
    left, right = shown(left), shown(right)
    cells = [shown(pointer(path)) for path in itertools.islice(read, MAX_REPORTED_CELLS)]
    values = {**bindings, "left": left, "right": right}
    symbol = _COMPARISONS[assertion.op][0]
    message = rule.get("message") or f"规则“{rule['id']}”不成立：{{left}} {symbol} {{right}}"
    message_en = rule.get("message_en") or rule.get("message") or \
        f"rule {rule['id']!r} failed: {{left}} {symbol} {{right}}"
    violation = {"rule": rule["id"], "message": fill(message, values),
                 "message_en": fill(message_en, values), "path": cells[0] if cells else "",
                 "cells": cells, "left": left, "right": right, "bindings": dict(bindings)}
    return {**violation, "error": error} if error else violation


def _stopped(index: int, rule: dict, bindings: dict, exc: Exception) -> Unprocessable:
    """The 422 for a rule that hit a limit or the sandbox: which rule, which instance, why."""
    at = f"{_RULES}/{index}/assert"
    where = f" with {bindings}" if bindings else ""
    error = {"path": at, "rule": rule["id"], "message": str(exc), "bindings": bindings}
    if isinstance(exc, SecurityError):
        return UnsafeTemplate(f"rule {rule['id']!r} ({at}){where} was stopped by the sandbox: {exc}",
                              errors=[error])
    return RuleLimitExceeded(f"rule {rule['id']!r} ({at}){where} was stopped: {exc}", errors=[error])


def _run(rules: list[dict], data: dict, check_time: Callable[[], None]) -> Violations:
    """Every instance of every rule on ``data``, inside the caller's :func:`time_limit`."""
    found = Violations()
    for index, rule in enumerate(rules):
        assertion = _compile_assertion(rule["assert"], _bound_names(rule.get("for_each")))
        for bindings in _instances(rule.get("for_each")):
            try:
                check_time()
                violation = _evaluate(rule, assertion, data, bindings)
            except (RuleLimit, SecurityError) as exc:
                raise _stopped(index, rule, bindings, exc) from exc
            if violation is not None:
                found.add(violation)
    return found


def check_rules(rules: list[dict], data: dict, *, timeout: float | None = None) -> list[dict]:
    """Check ``data`` against a template's rules.

    Args:
        rules: the rules.json list (validated with :func:`validate_rules` when it was uploaded).
        data: the report JSON.
        timeout: CPU seconds all rules together may take (``Settings.rule_timeout``); None: its default.

    Returns:
        One violation per failing rule instance, in rule order, at most ``rule_data.MAX_VIOLATIONS``
        (``.total`` counts them all); empty when the data is consistent. A violation:
        ``{"rule", "message", "message_en", "path", "cells", "left", "right", "bindings"}``, plus
        ``"error"`` when the assert could not be computed (e.g. text + number).

    Raises:
        Unprocessable: the rules themselves are malformed.
        RuleLimitExceeded: a rule went past a size cap or the rules past ``timeout`` (422 rule-limit).
        UnsafeTemplate: an assert tried to reach Python internals past the upload checks.
    """
    with time_limit(DEFAULT_TIMEOUT if timeout is None else timeout) as check_time:
        _raise_for_malformed(rules, check_time)
        return _run(rules, data, check_time)


def raise_for_violations(violations: list[dict]) -> None:
    """Raise :class:`RuleViolation` (422) listing every violation; return when there are none.

    Raises:
        RuleViolation: ``errors`` holds one entry per violation, ``path`` its first cell.
    """
    if not violations:
        return
    first = violations[0]
    more = getattr(violations, "total", len(violations)) - 1
    detail = (f"数据不符合勾稽规则：{first['message']}" + (f"（另有 {more} 处）" if more else "") +
              f" / Data breaks a consistency rule: {first['message_en']}" +
              (f" (and {more} more)" if more else ""))
    errors = [{"path": v["path"], "message": v["message"], "message_en": v["message_en"],
               "rule": v["rule"], "cells": v["cells"], "left": v["left"], "right": v["right"]}
              for v in violations]
    raise RuleViolation(detail=detail, errors=errors)
