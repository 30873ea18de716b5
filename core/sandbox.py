"""The Jinja environment every render and every rule expression runs in.

Always a :class:`jinja2.sandbox.SandboxedEnvironment` with autoescape on: templates and rules come
from outside (uploaded .docx, rules.json), and docxtpl's default environment lets a template reach
``os.popen`` (docxtpl issue #632). Autoescape keeps ``<`` and ``&`` in data from corrupting the XML.
"""

from __future__ import annotations

import hashlib
import operator
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from jinja2 import Template
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

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


class ReportEnvironment(SandboxedEnvironment):
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


def make_environment() -> ReportEnvironment:
    """A fresh sandboxed, autoescaping environment with the report filters registered."""
    env = ReportEnvironment(autoescape=True, finalize=_finalize)
    env.filters.update(filters.FILTERS)
    return env
