"""The small sandbox rule asserts run in: an allow-list, size caps and a CPU-time budget.

The API evaluates every template's ``rules.json`` on every render request in its own process, which
has no memory or CPU cap (the worker has both). Rules come from whoever uploaded the template, the
numbers they read from whoever posts the data, so one request must not make the API allocate a
gigabyte (``'a'|center(n)``, ``n = 1.5e9``) or spin for minutes. Jinja's sandbox only stops the way
*out* of Python; this module also bounds what a rule may *build*, three ways:

1. **An allow-list**, checked at upload (:func:`static_problem`) and by the environment at run
   time. Rules are arithmetic over report figures (勾稽关系), so they get only the filters
   ``abs round int float`` (numbers), ``length count sum min max`` (aggregates), ``default d first
   last list`` (picking), ``map select reject selectattr rejectattr`` (lazy selection by attribute
   or allowed test), ``lower upper trim`` (codes in either case); the tests ``defined undefined
   none number integer float string boolean true false even odd divisibleby in`` and the
   comparisons (``eq``, ``==``, ``lt``...); one callable global, ``range``. Everything else
   (``center``, ``format``, ``join``, ``replace``, ``lipsum``...) is refused, and so is every
   method call (``'a'.ljust(n)``): a rule reads data keys, never attributes of Python values.
2. **Size caps on everything that can grow**, checked *before* the work is done (a result checked
   after it exists has already cost the memory): ``+``, ``~``, ``list``, ``range`` and slices stay
   within :data:`MAX_SIZE` characters or items, integers within :data:`MAX_INT_BITS` bits
   (``n ** m``, ``n * m``; so ``str(n)`` stays short). ``*`` on text or lists and ``%`` on text are
   refused outright: no report rule needs them. Filters refuse text over :data:`MAX_SIZE`
   (iterating a long string makes an object per character).
3. **A CPU-time budget** (:func:`time_limit`, ``WENSHU_RULE_TIMEOUT``) for all rules of one
   request, charged in every operator, data read and aggregated item, and checked by the caller
   between rule instances.

A limit hit raises :class:`RuleLimit`; ``service/rules.py`` turns it into :class:`RuleLimitExceeded`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import Undefined, nodes, pass_context, pass_environment
from jinja2 import filters as jinja_filters
from jinja2 import tests as jinja_tests
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from core.errors import Unprocessable

from .rule_data import ArrayProxy, ContainerProxy, NullZero

MAX_SIZE = 10_000
"""Characters or items any text or list a rule builds may have (``+``, ``~``, ``list``, ``range``)."""
MAX_INT_BITS = 4096
"""Bits an integer a rule computes may have: ``n ** m`` and ``n * m`` are refused before they run."""
MAX_ROUND_DIGITS = 15
"""Largest ``|precision|`` of ``round``: ``round(n, -10**9)`` would compute ``10 ** 10**9``."""
CONCAT, SLICE = "wenshu_concat", "wenshu_slice"
"""The globals ``a ~ b`` and ``a[i:j:k]`` are rewritten to call (``service/rules.py``): Jinja compiles
both to plain Python that no sandbox hook sees, so the rewrite is what lets their size be checked."""
_CLOCK_EVERY = 16  # budget ticks between reads of the thread's CPU clock (each read costs ~0.3 µs)


class RuleLimit(Exception):  # noqa: N818 — a signal carrying the reason, turned into a 422 by the caller
    """A rule went past a size cap, a forbidden operation or the time budget."""


class RuleLimitExceeded(Unprocessable):
    """The 422 for a :class:`RuleLimit`, naming the rule (``/rules/3/assert``)."""

    title, slug = "Rule evaluation limit exceeded", "rule-limit"


class RuleTimeout(RuleLimit):
    """The rules of one request used up their CPU-time budget."""


class _Budget:
    """CPU seconds (of this thread: other requests do not count) the rules of one request may use."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.thread_time() + seconds
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks % _CLOCK_EVERY == 0:
            self.check()

    def check(self) -> None:
        if time.thread_time() > self.deadline:
            raise RuleTimeout(f"the rules took more than {self.seconds:g} s of CPU time "
                              "(WENSHU_RULE_TIMEOUT); evaluation stopped in this rule")


_BUDGET: ContextVar[_Budget | None] = ContextVar("wenshu_rule_budget", default=None)


@contextmanager
def time_limit(seconds: float) -> Iterator[Callable[[], None]]:
    """Run rules under a CPU-time budget; yields the check to call between rule instances."""
    budget = _Budget(seconds)
    token = _BUDGET.set(budget)
    try:
        yield budget.check
    finally:
        _BUDGET.reset(token)


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is not None:  # None while Jinja folds constants at compile time: caps still apply
        budget.tick()


def _ticking(items: Iterable[Any]) -> Iterator[Any]:
    """``items``, charging the budget per item: aggregates over a 100 000-row array stay stoppable."""
    _check_text(items)
    for item in items:
        _tick()
        yield item


def _check_text(value: Any) -> None:
    if isinstance(value, str) and len(value) > MAX_SIZE:
        raise RuleLimit(f"text of {len(value)} characters is longer than the {MAX_SIZE}-character "
                        "limit for filters in rules")


def _check_int(value: Any) -> Any:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise RuleLimit(f"a number of {value.bit_length()} bits is larger than the {MAX_INT_BITS}-bit "
                        "limit for rules")
    return value


def _check_size(size: int, what: str) -> None:
    if size > MAX_SIZE:
        raise RuleLimit(f"{what} would have {size} items or characters, over the {MAX_SIZE} limit for rules")


def _sized(value: Any) -> bool:
    return isinstance(value, str | list | tuple)


def _guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` charged to the budget, refusing over-long text in and over-large numbers out."""

    @functools.wraps(func)  # keeps Jinja's pass_context / pass_environment marker
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if func is not _length:  # measuring a long text costs nothing
            for arg in (*args, *kwargs.values()):
                _check_text(arg)
        result = func(*args, **kwargs)
        if _sized(result):
            _check_size(len(result), "a filter's result")
        return _check_int(result)

    return guarded


def _number(value: Any) -> int | float:
    if not isinstance(value, int | float):
        raise TypeError(f"sum adds numbers, not {type(value).__name__}")
    return value


@pass_environment
def _sum(environment: Any, iterable: Iterable[Any], attribute: str | int | None = None, start: Any = 0) -> Any:
    """Jinja's ``sum`` for numbers only: ``sum(start=[])`` over lists of lists would be quadratic."""
    getter = jinja_filters.make_attrgetter(environment, attribute)
    total = _number(start)
    for item in _ticking(iterable):
        total = _check_int(total + _number(getter(item)))
    return total


def _length(value: Any) -> int:
    """``len``, or the count of a ``select``/``map`` result, which has no length of its own."""
    if hasattr(value, "__len__"):
        return len(value)
    return sum(1 for _ in _ticking(value))


def _list(value: Any) -> list[Any]:
    items: list[Any] = []
    for item in _ticking(value):
        items.append(item)
        _check_size(len(items), "a list")
    return items


def _round(value: Any, precision: int = 0, method: str = "common") -> Any:
    if not isinstance(precision, int) or abs(precision) > MAX_ROUND_DIGITS:
        raise RuleLimit(f"round's precision must be a whole number from -{MAX_ROUND_DIGITS} to {MAX_ROUND_DIGITS}")
    return jinja_filters.do_round(value, precision, method)


def _over_iterable(func: Callable[..., Any], pass_arg: Callable[[Any], Any]) -> Callable[..., Any]:
    """A Jinja filter whose input is iterated lazily, with the budget charged per item."""
    return pass_arg(functools.wraps(func)(lambda first, value, *args, **kwargs:
                                          func(first, _ticking(value), *args, **kwargs)))


FILTERS: dict[str, Callable[..., Any]] = {name: _guarded(func) for name, func in {
    "abs": abs, "round": _round, "int": jinja_filters.do_int, "float": jinja_filters.do_float,
    "length": _length, "count": _length, "sum": _sum, "list": _list,
    "min": _over_iterable(jinja_filters.do_min, pass_environment),
    "max": _over_iterable(jinja_filters.do_max, pass_environment),
    "first": _over_iterable(jinja_filters.sync_do_first, pass_environment),
    "last": jinja_filters.do_last, "default": jinja_filters.do_default, "d": jinja_filters.do_default,
    **{name: _over_iterable(getattr(jinja_filters, f"sync_do_{name}"), pass_context)
       for name in ("map", "select", "reject", "selectattr", "rejectattr")},
    "lower": jinja_filters.do_lower, "upper": jinja_filters.do_upper, "trim": jinja_filters.do_trim,
}.items()}
"""The filters a rule may use; see the module docstring for why these."""
TESTS: dict[str, Callable[..., Any]] = {name: jinja_tests.TESTS[name] for name in (
    "defined", "undefined", "none", "number", "integer", "float", "string", "boolean", "true", "false",
    "even", "odd", "divisibleby", "in", "==", "eq", "equalto", "!=", "ne", ">", "gt", "greaterthan",
    ">=", "ge", "<", "lt", "lessthan", "<=", "le")}
"""The tests a rule may use (``x is divisibleby 3``, ``rows | selectattr('kind', 'eq', 'a')``)."""
_NAMING_FILTER = {"map": 0}  # filter → position of the argument that names a filter
_NAMING_TEST = {"select": 0, "reject": 0, "selectattr": 1, "rejectattr": 1}  # ... that names a test


def _range(*args: int) -> range:
    """``range`` of at most :data:`MAX_SIZE` numbers."""
    numbers = range(*args)
    try:
        size = len(numbers)
    except OverflowError:
        size = MAX_SIZE + 1
    _check_size(size, "range()")
    return numbers


def _concat(*parts: Any) -> str:
    """``a ~ b``: only text and numbers, and only when the result is within :data:`MAX_SIZE`."""
    for part in parts:
        if not isinstance(part, str | int | float) and part is not None and not _undefined(part):
            raise RuleLimit(f"~ joins text and numbers, not {type(part).__name__}")
    texts = [str(_check_int(part)) for part in parts]
    _check_size(sum(map(len, texts)), "text joined with ~")
    return "".join(texts)


def _slice(value: Any, start: Any = None, stop: Any = None, step: Any = None) -> Any:
    """``value[start:stop:step]`` within :data:`MAX_SIZE` items: ``[s[::-1], s[::-1], ...]`` on a long
    text would otherwise copy it once per slice."""
    _tick()
    if not isinstance(value, str | list | tuple | range | ArrayProxy):
        raise TypeError(f"{type(value).__name__} cannot be sliced")
    part = slice(start, stop, step)
    _check_size(len(range(len(value))[part]), "a slice")
    return value[part]


def _undefined(value: Any) -> bool:
    return isinstance(value, Undefined)


GLOBALS: dict[str, Callable[..., Any]] = {"range": _range, CONCAT: _concat, SLICE: _slice}
CALLABLE = frozenset({"range"})
"""Names a rule may call; calling anything else (``lipsum(n)``, a method) is refused at upload."""


def _int_bits(op: str, left: Any, right: Any) -> int:
    """Bits ``left <op> right`` can have at most, for two integers (checked before computing it)."""
    if op == "*":
        return left.bit_length() + right.bit_length()
    if op == "**" and right > 0 and abs(left) > 1:
        return right * abs(left).bit_length()
    return max(left.bit_length(), right.bit_length()) + 1


def _check_binop(op: str, left: Any, right: Any) -> None:
    if op == "*" and (_sized(left) or _sized(right)):
        raise RuleLimit("repeating text or lists with * is not allowed in rules")
    if op == "%" and isinstance(left, str):
        raise RuleLimit("formatting text with % is not allowed in rules")
    if op == "+" and _sized(left) and _sized(right):
        _check_size(len(left) + len(right), "the result of +")
    if isinstance(left, int) and isinstance(right, int) and _int_bits(op, left, right) > MAX_INT_BITS:
        raise RuleLimit(f"{op} would make a number larger than the {MAX_INT_BITS}-bit limit for rules")


class RuleEnvironment(SandboxedEnvironment):
    """Jinja's sandbox with the allow-lists above, every operator checked and charged to the budget."""

    intercepted_binops = frozenset(SandboxedEnvironment.default_binop_table)  # also stops constant folding
    intercepted_unops = frozenset(SandboxedEnvironment.default_unop_table)

    def __init__(self) -> None:
        # Not optimized: Jinja's constant folding re-walks every subtree (~0.3 s for one long assert) and
        # would run filters at compile time, outside the budget. Rule results are never written into XML.
        super().__init__(autoescape=False, optimized=False)
        self.filters = dict(FILTERS)
        self.tests = dict(TESTS)
        self.globals = dict(GLOBALS)
        self._callables = tuple(GLOBALS.values())

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        """``left <op> right`` once its size is known to be within the caps."""
        _tick()
        _check_binop(operator_name, left, right)
        return _check_int(self.binop_table[operator_name](left, right))

    def call_unop(self, context: Any, operator_name: str, arg: Any) -> Any:
        """``-x``/``+x``, charged to the budget."""
        _tick()
        return self.unop_table[operator_name](arg)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``a.b`` reads data keys only: Python attributes (methods) of values are out of reach."""
        return self.getitem(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """``a[k]`` on data, literals and ranges (slices never come here: see :func:`_slice`)."""
        _tick()
        if isinstance(argument, str) and argument.startswith("_") and not isinstance(obj, ContainerProxy | NullZero):
            raise SecurityError(f"{argument!r} is not readable in rules")  # the way out of a sandbox
        readable = isinstance(obj, ContainerProxy | NullZero | str | list | tuple | dict | range)
        try:
            return obj[argument] if readable else self.undefined(obj=obj, name=argument)
        except (TypeError, LookupError, ValueError):
            return self.undefined(obj=obj, name=argument)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 — Jinja's signature
        """Only the rule globals (``range``) can be called; :func:`static_problem` says so at upload."""
        _tick()
        if not any(__obj is allowed for allowed in __self._callables):
            raise SecurityError("only range() can be called in rules")
        return __obj(*args, **kwargs)


@functools.cache
def rule_environment() -> RuleEnvironment:
    """The one environment all rules compile in (compiled rules are cached against it)."""
    return RuleEnvironment()


def _named_by_argument(node: nodes.Filter) -> str | None:
    """Why a ``map('center')`` or ``select('callable')`` names something off the allow-lists, or None."""
    for table, allowed, kind in ((_NAMING_FILTER, FILTERS, "filter"), (_NAMING_TEST, TESTS, "test")):
        position = table.get(node.name)
        if position is None or len(node.args) <= position or any(k.key == "attribute" for k in node.kwargs):
            continue
        named = node.args[position]
        if isinstance(named, nodes.Const) and isinstance(named.value, str) and named.value not in allowed:
            return f"{kind} {named.value!r} (named in {node.name}) is not allowed in rules"
    return None


def _call_problem(node: nodes.Call) -> str:
    if isinstance(node.node, nodes.Getattr):
        return f"method calls are not allowed in rules (.{node.node.attr}())"
    if isinstance(node.node, nodes.Name):
        return f"{node.node.name!r} cannot be called in rules; only {', '.join(sorted(CALLABLE))} can"
    return f"only {', '.join(sorted(CALLABLE))} can be called in rules"


def _literal_text_or_list(node: nodes.Node) -> bool:
    return (isinstance(node, nodes.Const) and isinstance(node.value, str)) or \
        isinstance(node, nodes.List | nodes.Tuple | nodes.Concat)


def _node_problem(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
        return f"attribute {node.attr!r} is not allowed (names starting with _ are private)"
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and \
            isinstance(node.arg.value, str) and node.arg.value.startswith("__"):
        return f"key {node.arg.value!r} is not allowed"
    if isinstance(node, nodes.Filter):
        if node.name not in FILTERS:
            return f"filter {node.name!r} is not allowed in rules (allowed: {', '.join(sorted(FILTERS))})"
        return _named_by_argument(node)
    if isinstance(node, nodes.Test) and node.name not in TESTS:
        return f"test {node.name!r} is not allowed in rules (allowed: {', '.join(sorted(TESTS))})"
    if isinstance(node, nodes.Call) and not (isinstance(node.node, nodes.Name) and node.node.name in CALLABLE):
        return _call_problem(node)
    if isinstance(node, nodes.Mul) and (_literal_text_or_list(node.left) or _literal_text_or_list(node.right)):
        return "repeating text or lists with * is not allowed in rules"
    if isinstance(node, nodes.Mod) and _literal_text_or_list(node.left):
        return "formatting text with % is not allowed in rules"
    return None


def static_problem(expr: nodes.Node) -> str | None:
    """Why a parsed assert steps off the allow-list, or None: what upload refuses before running it.

    The environment refuses the same things at run time (and the sandbox any ``_`` attribute);
    saying so at upload tells the template's author instead of failing their users' requests.
    """
    for node in expr.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter, nodes.Test, nodes.Call,
                               nodes.Mul, nodes.Mod)):
        problem = _node_problem(node)
        if problem:
            return problem
    return None

