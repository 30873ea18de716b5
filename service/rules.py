"""The declarative rules engine of a template contract (DESIGN.md §4): cross-field checks, 勾稽关系.

A ``rules.json`` is a JSON list of rules such as::

    {"id": "balance", "message": "一+二 应等于 三（七）+四（{col}）",
     "message_en": "new + carried over must equal total results + carried forward ({col})",
     "for_each": {"col": ["natural_person", "commercial", "total"]},
     "assert": "a.new[col] + a.carried_over[col] == a.results.total[col] + a.carried_forward[col]"}

Why it works the way it does:

- Rules arrive with uploaded templates, so an ``assert`` is never Python: it is compiled with the
  same sandboxed Jinja environment renders use (:func:`core.sandbox.make_environment`), and
  attribute names that start with ``_`` (the way out of a sandbox) are refused at upload time.
- The assert has exactly one top-level comparison; both sides are evaluated separately so a
  violation can say "left 120, right 118" instead of just "false".
- The data is wrapped in proxies (``service/rule_data.py``: ObjectProxy, ArrayProxy, NullZero) that
  treat null and missing keys as 0 and record the JSON pointer of every leaf the assert read, so a
  violation names the cells to fix without any parsing of the expression text.
- Messages are filled by a plain ``{name}`` substitution, never ``str.format``: a message from
  outside must not be able to reach attributes (``{col.__class__}``).
- Compiled rules are cached by their assert text, so checking a report (~50 rule instances) costs
  well under a millisecond per instance once a template has been seen.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from jinja2 import TemplateSyntaxError, nodes
from jinja2.environment import TemplateExpression
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from core.errors import RuleViolation, Unprocessable, UnsafeTemplate
from core.pointer import pointer
from core.sandbox import make_environment

from .rule_data import Cells, to_plain, wrap

MAX_INSTANCES_PER_RULE = 10_000
"""Rule instances (the cartesian product of ``for_each``) one rule may expand to: bounds CPU per request."""
MAX_ASSERT_LENGTH = 2_000
"""Characters an ``assert`` expression may have."""
MAX_POWER = 64
"""Largest exponent ``**`` accepts in an assert."""
RULE_KEYS = frozenset({"id", "message", "message_en", "for_each", "assert", "description"})
"""Keys a rule may have; anything else is most likely a typo (``"asert"``) and is rejected."""
RESERVED_NAMES = frozenset({"left", "right"})
"""``for_each`` names that would clash with the ``{left}``/``{right}`` message placeholders."""

_COMPARISONS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {  # Jinja's op name → (symbol, test)
    "eq": ("==", operator.eq), "ne": ("!=", operator.ne), "lt": ("<", operator.lt),
    "lteq": ("<=", operator.le), "gt": (">", operator.gt), "gteq": (">=", operator.ge)}
_ROOT = "wenshu_data"  # the context name of the data root; asserts cannot name it (every name is rewritten)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _display(value: Any) -> str:
    """A value as written into a message: 3.0 → "3", None → "?"."""
    if value is None:
        return "?"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


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


def _bounded_binop(context: Any, op: str, left: Any, right: Any) -> Any:
    # The sandbox leaves `2 ** 10**8` and `'x' * 10**9` to us: a rule must not burn CPU or memory.
    if op == "**" and (not isinstance(right, int | float) or abs(right) > MAX_POWER):
        raise SecurityError(f"exponent larger than {MAX_POWER}")
    if op == "*" and any(isinstance(v, str | list) for v in (left, right)):
        raise SecurityError("repeating text or lists is not allowed in rules")
    return operator.pow(left, right) if op == "**" else operator.mul(left, right)


@functools.cache
def _environment() -> SandboxedEnvironment:
    # One environment for all rules: compiling is the slow part and the cache below relies on it.
    env = make_environment()
    env.intercepted_binops = frozenset({"*", "**"})
    env.call_binop = _bounded_binop
    return env


def _reject_private_access(expr: nodes.Node) -> str | None:
    """Why ``expr`` reaches for Python internals, or None. The sandbox would stop it anyway at run
    time; refusing it at upload tells the template author straight away."""
    for node in expr.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            return f"attribute {node.attr!r} is not allowed (names starting with _ are private)"
        if (isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const)
                and isinstance(node.arg.value, str) and node.arg.value.startswith("__")):
            return f"key {node.arg.value!r} is not allowed"
    return None


@functools.lru_cache(maxsize=2048)
def _compile_assertion(source: str, bound: frozenset[str] = frozenset()) -> _Assertion:
    """Compile an assert whose ``bound`` names come from for_each; ValueError explains a bad one."""
    if len(source) > MAX_ASSERT_LENGTH:
        raise ValueError(f"assert is longer than {MAX_ASSERT_LENGTH} characters")
    env = _environment()
    try:
        env.compile_expression(source)  # the engine's own checks: syntax, unknown filters/tests
        parser = Parser(env, source, state="variable")
        expr = parser.parse_expression()
    except TemplateSyntaxError as exc:
        raise ValueError(f"not a valid expression: {exc.message}") from exc
    if not isinstance(expr, nodes.Compare) or len(expr.ops) != 1 or expr.ops[0].op not in _COMPARISONS:
        raise ValueError("assert must be exactly one comparison (==, !=, <=, >=, <, >) "
                         "between two expressions, e.g. a + b == c")
    unsafe = _reject_private_access(expr)
    if unsafe:
        raise ValueError(unsafe)
    # Evaluate both sides in one call: a two-item list compiled exactly as compile_expression does.
    keep = bound | env.globals.keys()
    pair = _ReadFromRoot(keep).visit(nodes.List([expr.expr, expr.ops[0].expr], lineno=1))
    pair.set_environment(env)
    body = [nodes.Assign(nodes.Name("result", "store"), pair, lineno=1)]
    sides = TemplateExpression(env.from_string(nodes.Template(body, lineno=1)), False)
    return _Assertion(expr.ops[0].op, sides)


def _bound_names(for_each: Any) -> frozenset[str]:
    return frozenset(for_each) if isinstance(for_each, dict) else frozenset()


def _rule_errors(rule: Any, index: int) -> list[dict[str, str]]:
    """Everything wrong with one rule, as problem+json ``errors`` entries."""
    at = f"/{index}"
    if not isinstance(rule, dict):
        return [{"path": at, "message": "a rule must be a JSON object"}]
    errors = [{"path": f"{at}/{pointer((key,))[1:]}", "message": f"unknown key {key!r}"}
              for key in rule if key not in RULE_KEYS]
    if not isinstance(rule.get("id"), str) or not rule.get("id"):
        errors.append({"path": f"{at}/id", "message": "id is required and must be a non-empty string"})
    for key in ("message", "message_en", "description"):
        if key in rule and not isinstance(rule[key], str):
            errors.append({"path": f"{at}/{key}", "message": f"{key} must be a string"})
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
        if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
            errors.append({"path": where, "message": "values must be strings or integers"})
        instances *= len(values)
    if instances > MAX_INSTANCES_PER_RULE:
        errors.append({"path": at, "message": f"expands to {instances} instances "
                                              f"(at most {MAX_INSTANCES_PER_RULE})"})
    return errors


def validate_rules(rules: object) -> None:
    """Check a rules.json document before a template is accepted.

    Args:
        rules: the parsed JSON.

    Raises:
        Unprocessable: with one ``errors`` entry per problem, ``path`` a JSON pointer into the
            rules document (``/3/assert``).
    """
    if not isinstance(rules, list):
        raise Unprocessable("rules.json must be a JSON list of rules",
                            errors=[{"path": "", "message": "must be a JSON list of rules"}])
    errors = [error for index, rule in enumerate(rules) for error in _rule_errors(rule, index)]
    seen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        rule_id = rule.get("id") if isinstance(rule, dict) else None
        if isinstance(rule_id, str) and rule_id in seen:
            errors.append({"path": f"/{index}/id",
                           "message": f"duplicate id {rule_id!r} (first at /{seen[rule_id]})"})
        elif isinstance(rule_id, str):
            seen[rule_id] = index
    if errors:
        raise Unprocessable(f"rules.json has {len(errors)} problem(s); first: {errors[0]['path']}: "
                            f"{errors[0]['message']}", errors=errors)


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


def _fill(template: str, values: dict[str, Any]) -> str:
    """Replace ``{name}`` placeholders; unknown ones stay as written."""
    return _PLACEHOLDER.sub(lambda m: _display(values[m[1]]) if m[1] in values else m[0], template)


def _instances(for_each: dict[str, list] | None) -> list[dict[str, Any]]:
    names = list(for_each or {})
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(for_each or {}).values())]


def _evaluate(rule: dict, assertion: _Assertion, data: dict, bindings: dict) -> dict | None:
    """Run one rule instance; the violation it produces, or None when it holds."""
    read: Cells = {}
    context = {_ROOT: wrap(data, (), read), **bindings}
    left = right = error = None
    try:
        left, right = assertion.sides(**context)
        left, right = to_plain(left), to_plain(right)
        if _compare(assertion.op, left, right):
            return None
    except SecurityError as exc:
        raise UnsafeTemplate(f"rule {rule['id']!r} was stopped by the sandbox: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 — bad data (text + number, x / 0) fails the rule, not the request
        error = f"{type(exc).__name__}: {exc}"
    cells = [pointer(path) for path in read]
    values = {**bindings, "left": left, "right": right}
    symbol = _COMPARISONS[assertion.op][0]
    message = rule.get("message") or f"规则“{rule['id']}”不成立：{{left}} {symbol} {{right}}"
    message_en = rule.get("message_en") or rule.get("message") or \
        f"rule {rule['id']!r} failed: {{left}} {symbol} {{right}}"
    violation = {"rule": rule["id"], "message": _fill(message, values),
                 "message_en": _fill(message_en, values), "path": cells[0] if cells else "",
                 "cells": cells, "left": left, "right": right, "bindings": dict(bindings)}
    return {**violation, "error": error} if error else violation


def check_rules(rules: list[dict], data: dict) -> list[dict]:
    """Check ``data`` against a template's rules.

    Args:
        rules: the rules.json list (validated with :func:`validate_rules` when it was uploaded).
        data: the report JSON.

    Returns:
        One violation per failing rule instance, in rule order; empty when the data is consistent.
        A violation: ``{"rule", "message", "message_en", "path", "cells", "left", "right",
        "bindings"}``, plus ``"error"`` when the assert could not be computed (e.g. text + number).

    Raises:
        Unprocessable: the rules themselves are malformed.
        UnsafeTemplate: an assert tried to reach Python internals past the upload checks.
    """
    validate_rules(rules)
    results = (_evaluate(rule, _compile_assertion(rule["assert"], _bound_names(rule.get("for_each"))),
                         data, bindings)
               for rule in rules for bindings in _instances(rule.get("for_each")))
    return [violation for violation in results if violation is not None]


def raise_for_violations(violations: list[dict]) -> None:
    """Raise :class:`RuleViolation` (422) listing every violation; return when there are none.

    Raises:
        RuleViolation: ``errors`` holds one entry per violation, ``path`` its first cell.
    """
    if not violations:
        return
    first = violations[0]
    more = len(violations) - 1
    detail = (f"数据不符合勾稽规则：{first['message']}" + (f"（另有 {more} 处）" if more else "") +
              f" / Data breaks a consistency rule: {first['message_en']}" +
              (f" (and {more} more)" if more else ""))
    errors = [{"path": v["path"], "message": v["message"], "message_en": v["message_en"],
               "rule": v["rule"], "cells": v["cells"], "left": v["left"], "right": v["right"]}
              for v in violations]
    raise RuleViolation(detail=detail, errors=errors)
