"""Variables the data lacks, noticed where the template uses them (``options.undefined``).

Jinja's default ``Undefined`` prints nothing and loops over nothing, so ``{{ candidate.nmae }}``
gives an empty line and ``{% for i in salary_item %}`` an empty table, silently. A render in
``warn`` or ``strict`` mode installs :func:`recording_undefined` instead: it still prints nothing
(so a ``warn`` render completes), but every time a missing value is *used* — printed, looped
over, measured — it notes the name, the template part being rendered and the line of the
compiled part. The worker turns (part, line) into paragraph and tag (worker/locate.py).

Tests and defaults stay silent on purpose: ``x is defined``, ``x|default(...)`` and ``{% if x %}``
are how a template says a value is optional, so they are not recorded.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from jinja2 import ChainableUndefined, Undefined

MODES = ("strict", "warn", "blank")
DEFAULT_MODE = "warn"
_FRAMES = 40  # how far up the stack the compiled template's frame may be
MAX_MISSES = 200
"""Distinct (name, part, line) uses one render records: enough for any author, bounded for any data."""


@dataclass(frozen=True)
class Miss:
    """One use of a missing value: its name (the last one looked up), the part and line."""

    name: str
    part: str | None
    line: int | None


@dataclass
class Recorder:
    """What one render found missing; ``part`` is kept current by the renderer."""

    part: str | None = None
    misses: dict[Miss, None] = field(default_factory=dict)  # ordered, deduplicated

    def note(self, undefined: Undefined) -> None:
        name = undefined._undefined_name  # noqa: SLF001 - Jinja keeps the name there
        if name is None or len(self.misses) >= MAX_MISSES:
            return
        self.misses.setdefault(Miss(str(name), self.part, _template_line()), None)


def recording_undefined(recorder: Recorder) -> type[Undefined]:
    """An Undefined class that behaves as blank and reports each use to ``recorder``."""

    class Recording(ChainableUndefined):
        __slots__ = ()

        def __str__(self) -> str:
            recorder.note(self)
            return ""

        def __iter__(self) -> Any:
            recorder.note(self)
            return iter(())

        def __len__(self) -> int:
            recorder.note(self)
            return 0

    return Recording


def _template_line() -> int | None:
    """The line of the compiled template that is running now (Jinja's own mapping of frames)."""
    frame = sys._getframe(2)  # noqa: SLF001 - the only way to see which tag is being evaluated
    for _ in range(_FRAMES):
        if frame is None:
            return None
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            return template.get_corresponding_lineno(frame.f_lineno)
        frame = frame.f_back
    return None
