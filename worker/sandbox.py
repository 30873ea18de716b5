"""The Jinja environment every render and every rule expression runs in.

Always a :class:`jinja2.sandbox.SandboxedEnvironment` with autoescape on: templates and rules come
from outside (uploaded .docx, rules.json), and docxtpl's default environment lets a template reach
``os.popen`` (docxtpl issue #632). Autoescape keeps ``<`` and ``&`` in data from corrupting the XML.
"""

from __future__ import annotations

from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from . import filters


def _finalize(value: Any) -> Any:
    # JSON null prints as nothing (a blank cell), never as the word "None"; 0 still prints "0".
    return "" if value is None else value


def make_environment() -> SandboxedEnvironment:
    """A fresh sandboxed, autoescaping environment with the report filters registered."""
    env = SandboxedEnvironment(autoescape=True, finalize=_finalize)
    env.filters.update(filters.FILTERS)
    return env
