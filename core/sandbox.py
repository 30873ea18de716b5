"""The Jinja environment every render and every rule expression runs in.

Always a :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with autoescape on: templates and
rules come from outside (uploaded .docx, rules.json), and docxtpl's default environment lets a
template reach ``os.popen`` (docxtpl issue #632). Autoescape keeps ``<`` and ``&`` in data from
corrupting the XML. *Immutable*: a template reads the data, never changes it — ``append``,
``update``, ``pop`` and the other mutating methods of lists, dicts and sets are refused, so a loop
cannot grow the list it walks until the CPU limit stops it with the memory already taken.

Escaping is also the only thing keeping text from becoming Word XML, so nothing may switch it off:
the filters that mark text as already safe (``safe``, ``forceescape``) or build markup
(``urlize``, ``xmlattr``, ``tojson``) are gone, ``{% autoescape false %}`` is refused when the
template is parsed (so the linter reports it too), and so is the ``lipsum`` global (HTML). Raw
XML reaches the output only through the typed values worker/typed.py builds from checked options
(RichText, Listing, InlineImage); a template may print those or hand them to a filter that passes
values through, but never take them, or any Markup, apart: no attributes, no indexing or slicing,
no string filters. Otherwise ``(x|e)[0:5] ~ …`` or ``x|replace('w:t'|e, 'w:fldSimple')`` would
rebuild arbitrary XML from their characters.
"""

from __future__ import annotations

import functools
import hashlib
import operator
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from jinja2 import Template, Undefined, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import filters


def _finalize(value: Any) -> Any:
    # JSON null prints as nothing (a blank cell), never as the word "None"; 0 still prints "0".
    return "" if value is None else value


CACHE_ENTRIES = 256
"""Compiled template parts (and patched XML) a worker keeps, least recently used dropped first."""
MAX_REPEAT_LENGTH = 1_000_000
"""Items (characters, list elements) ``text * n`` may produce: ``'x' * 10**9`` would otherwise
allocate a gigabyte in one step, which the CPU-time limit cannot interrupt."""
MAX_POWER_BITS = 4096
"""Bits ``a ** b`` may produce: ``10 ** 10**8`` would otherwise run for minutes in one step."""

RAW_OUTPUT_FILTERS = {
    "safe": "it would let text become raw Word XML",
    "forceescape": "output is always escaped; it only exists to override that",
    "urlize": "it writes HTML <a> tags, which are not Word XML",
    "xmlattr": "it writes raw XML attributes",
    "tojson": "it writes unescaped quotes, which can leave a Word XML attribute",
}
"""Jinja's built-in filters that return Markup of their own making, and why each is unavailable."""
PASS_THROUGH_FILTERS = frozenset({"default", "d", "length", "count", *filters.FILTERS})
"""Filters that may receive a typed value or Markup: they return it unchanged (or a number or a
freshly formatted one), never a piece of it. Every other filter refuses them."""


class ReportEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, plus a cache of compiled parts keyed by their source.

    A template version's XML is the same on every render, and compiling it is ~70 % of docxtpl's
    render time for the 8-page flagship report (measured: ~400 of ~550 ms). A worker keeps one
    environment, so each template part is compiled once per process.
    """

    # Jinja's sandbox leaves `*` and `**` unbounded; intercepting them also stops constant folding.
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        """``left <op> right`` for the intercepted operators, refusing results past the caps."""
        if operator_name == "**":
            if (isinstance(left, int) and isinstance(right, int) and right > 0
                    and right * max(abs(left).bit_length() - 1, 1) > MAX_POWER_BITS and abs(left) > 1):
                raise SecurityError(f"{left} ** {right} is larger than {MAX_POWER_BITS} bits")
            return operator.pow(left, right)
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(times, int) and len(seq) * times > MAX_REPEAT_LENGTH:
                raise SecurityError(f"repeating {len(seq)} items {times} times is over the "
                                    f"{MAX_REPEAT_LENGTH}-item limit")
        return operator.mul(left, right)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._memo: OrderedDict[tuple[str, bytes], Any] = OrderedDict()

    def memoize(self, kind: str, source: str, compute: Callable[[str], Any]) -> Any:
        """``compute(source)``, remembered under the hash of ``source``."""
        key = (kind, hashlib.blake2b(source.encode("utf-8", "surrogatepass"), digest_size=20).digest())
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        value = compute(source)
        self._memo[key] = value
        if len(self._memo) > CACHE_ENTRIES:
            self._memo.popitem(last=False)
        return value

    def from_string(self, source, globals=None, template_class=None) -> Template:  # noqa: A002
        if globals or template_class or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        return self.memoize("compiled", source, super().from_string)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Jinja's parse, refusing what would switch escaping off (parse and compile both come here)."""
        tree = super()._parse(source, name, filename)
        refusal = _escape_hatch(tree)
        if refusal:
            message, lineno = refusal
            raise TemplateSyntaxError(message, lineno, name, filename)
        return tree

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """The sandbox's rule, and nothing at all of an object that carries raw XML."""
        return not carries_markup(obj) and super().is_safe_attribute(obj, attr, value)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """``obj[argument]``; refused on Markup and typed values (a slice of XML is a new XML)."""
        _refuse_taking_apart(obj, f"[{argument!r}]")
        return super().getitem(obj, argument)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute``; refused on Markup and typed values (``.replace``, ``.tpl``, ``.xml``...).

        ``row.label`` on a JSON object is most of a long table's fill: Jinja's sandbox first tries
        the attribute, and the AttributeError it raises for every cell cost more than the rest of
        the lookup. A plain dict has no attribute of such a name (nor any public one outside its
        methods), so its item is what the sandbox returns anyway: we return it without the detour.
        """
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES and attribute in obj:
            return obj[attribute]
        _refuse_taking_apart(obj, f".{attribute}")
        return super().getattr(obj, attribute)


_DICT_ATTRIBUTES = frozenset(dir(dict)) | {"__dict__"}
"""Every name ``getattr`` can find on a plain dict (its methods, Python's dunders): those take the sandbox's path."""


def carries_markup(value: Any) -> bool:
    """Whether Jinja would output ``value`` unescaped: Markup, or a docxtpl typed value (``__html__``)."""
    return hasattr(type(value), "__html__") and not isinstance(value, Undefined)


def _refuse_taking_apart(obj: Any, access: str) -> None:
    if carries_markup(obj):
        raise SecurityError(f"{access} is not available on {_what(obj)}: it can only be printed")


def _what(value: Any) -> str:
    kind = type(value).__name__
    return "text marked as markup" if kind == "Markup" else f"a typed value ({kind})"


def _escape_hatch(tree: nodes.Template) -> tuple[str, int] | None:
    """(message, line) for the first construct in ``tree`` that would turn escaping off, or None."""
    for node in tree.find_all((nodes.Filter, nodes.EvalContextModifier, nodes.MarkSafe)):
        if isinstance(node, nodes.Filter) and node.name in RAW_OUTPUT_FILTERS:
            return f"the '{node.name}' filter is not available: {RAW_OUTPUT_FILTERS[node.name]}", node.lineno
        if isinstance(node, nodes.EvalContextModifier) and not all(
                keyword.key == "autoescape" and isinstance(keyword.value, nodes.Const)
                and keyword.value.value is True for keyword in node.options):
            return ("{% autoescape %} can only keep escaping on: data and template text are always "
                    "escaped so they never become Word XML"), node.lineno
        if isinstance(node, nodes.MarkSafe):
            return "marking text as safe markup is not available", node.lineno
    return None


def _guarded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, refusing to take a typed value or Markup apart (see the module docstring)."""

    @functools.wraps(function)  # keeps jinja_pass_arg, so Jinja still passes context/eval context
    def guarded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            if carries_markup(value):
                raise SecurityError(f"the '{name}' filter cannot take {_what(value)}: print it as it is")
        return function(*args, **kwargs)

    return guarded


def make_environment() -> ReportEnvironment:
    """A fresh sandboxed, autoescaping environment with the report filters registered.

    Jinja's filters that make markup are left out; the others that could cut a typed value or
    Markup into pieces are wrapped so they refuse one.
    """
    env = ReportEnvironment(autoescape=True, finalize=_finalize)
    available = {name: f for name, f in env.filters.items() if name not in RAW_OUTPUT_FILTERS}
    available.update(filters.FILTERS)
    env.filters = {name: f if name in PASS_THROUGH_FILTERS else _guarded(name, f) for name, f in available.items()}
    env.globals.pop("lipsum", None)  # writes HTML paragraphs, not Word XML
    return env
