"""How a rule's assert sees the data, and how a violation shows it back, both bounded.

The data is wrapped in :class:`ObjectProxy`, :class:`ArrayProxy` and :class:`NullZero` proxies so that a
violation can name the exact cells (JSON pointers) an assert read, in reading order, without
parsing the expression text; null and missing values read as a 0 that remembers its path.

What goes back out is bounded too: at most :data:`MAX_CELLS` cells recorded per instance,
:data:`MAX_VIOLATIONS` violations per check, long values shortened by :func:`shown` — a rule that
fails 10 000 times on a big array must not make the 422 itself the bomb.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Path = tuple[str, ...]
MAX_CELLS = 1_000
"""Cells one rule instance records: ``rows | sum(attribute='v')`` over 100 000 rows must not keep
100 000 pointers per instance (nor put them in the 422)."""
MAX_SHOWN_TEXT = 200
"""Characters of a text value a violation shows (``left``, ``right``, the message)."""
MAX_VIOLATIONS = 100
"""Violations one check reports (all are counted): the 422 stays a readable size."""
MAX_MESSAGE = 4_000
"""Characters of a violation's filled-in message."""
MAX_SHOWN_ITEMS = 10
"""Items of a list or object a violation shows; a bigger (or nested) one is summarised."""


class Cells(dict[Path, None]):
    """The leaves one rule instance read, in reading order (a dict dedupes and keeps order), at most
    :data:`MAX_CELLS` of them."""

    def __setitem__(self, path: Path, value: None) -> None:
        if len(self) < MAX_CELLS or path in self:
            super().__setitem__(path, value)
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_JINJA_PROBES = frozenset({"jinja_pass_arg", "unsafe_callable", "alters_data"})  # never data reads


def wrap(value: Any, path: Path, cells: Cells) -> Any:
    """Containers become proxies; a leaf is recorded and returned, null as a 0 that remembers its path."""
    if isinstance(value, dict):
        return ObjectProxy(value, path, cells)
    if isinstance(value, list):
        return ArrayProxy(value, path, cells)
    cells[path] = None
    return NullZero(path, cells) if value is None else value


class NullZero(int):
    """0 standing for a null or missing value. Looking further into it (``a.missing.b``) moves the
    recorded cell down to the deepest path read, so the pointer names the cell the author wrote."""

    def __new__(cls, path: Path, cells: Cells) -> NullZero:
        zero = super().__new__(cls, 0)
        zero._path, zero._cells = path, cells
        return zero

    def __getitem__(self, key: Any) -> NullZero:
        self._cells.pop(self._path, None)
        return wrap(None, (*self._path, str(key)), self._cells)

    def __getattr__(self, name: str) -> NullZero:
        if name.startswith("_") or name in _JINJA_PROBES:
            raise AttributeError(name)
        return self[name]

    def __iter__(self) -> Iterator[Any]:
        # A null list is empty; without this, Python would iterate through __getitem__ for ever.
        return iter(())


class ContainerProxy:
    """A JSON object or array seen by an assert; ``| length`` and ``in`` read the container itself."""

    __slots__ = ("_data", "_path", "_cells")

    def __init__(self, data: Any, path: Path, cells: Cells) -> None:
        self._data, self._path, self._cells = data, path, cells

    def __len__(self) -> int:
        self._cells[self._path] = None
        return len(self._data)

    def __contains__(self, item: object) -> bool:
        self._cells[self._path] = None
        return item in self._data


class ObjectProxy(ContainerProxy):
    """A JSON object: ``a.b`` and ``a["b"]`` read keys; a missing key is 0."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise TypeError(f"object keys are strings, not {type(key).__name__}")
        key = str(key)  # for_each may bind 2019 for a "2019" key
        return wrap(self._data.get(key), (*self._path, key), self._cells)

    def __getattr__(self, name: str) -> Any:
        # Dunder lookups (copy, markupsafe's __html__) and Jinja's probes must not read data.
        if name.startswith("__") or name in _JINJA_PROBES:
            raise AttributeError(name)
        return self[name]

    def __iter__(self):
        return iter(self._data)


class ArrayProxy(ContainerProxy):
    """A JSON array: ``rows[0]``, ``rows[-1]`` (recorded as its real index), slices, iteration."""

    __slots__ = ()

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self._data))[index]]
        if isinstance(index, str) and index.isdigit():
            index = int(index)
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"array indexes are integers, not {type(index).__name__}")
        position = index + len(self._data) if index < 0 else index
        value = self._data[position] if 0 <= position < len(self._data) else None
        return wrap(value, (*self._path, str(position)), self._cells)

    def __iter__(self):
        return (self[i] for i in range(len(self._data)))


def to_plain(value: Any) -> Any:
    """A side's value as JSON: proxies unwrapped, float noise rounded away (0.30000000000000004)."""
    if isinstance(value, NullZero):
        return 0
    if isinstance(value, ContainerProxy):
        return value._data
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, float):
        return round(value, 10)
    return value


def shown(value: Any, depth: int = 0) -> Any:
    """``value`` (from :func:`to_plain`) cut to a size a 422 can carry: long text is shortened, big or
    deep lists and objects are summarised, so 10 000 violations of ``rows == 0`` do not each
    copy ``rows`` into the response."""
    if isinstance(value, str):
        return value if len(value) <= MAX_SHOWN_TEXT else value[:MAX_SHOWN_TEXT] + f"…({len(value)} characters)"
    if isinstance(value, list | tuple | dict):
        if len(value) > MAX_SHOWN_ITEMS or depth >= 1:
            kind = "object" if isinstance(value, dict) else "list"
            return f"<{kind} of {len(value)} items>"
        if isinstance(value, dict):
            return {shown(k): shown(v, depth + 1) for k, v in value.items()}
        return [shown(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return shown(str(value)[:MAX_SHOWN_TEXT + 1])


def _display(value: Any) -> str:
    """A (shown) value as written into a message: 3.0 → "3", None → "?"."""
    if value is None:
        return "?"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def fill(template: str, values: dict[str, Any]) -> str:
    """Replace ``{name}`` placeholders; unknown ones stay as written. The result is cut at
    :data:`MAX_MESSAGE`: a message of 600 ``{left}`` would otherwise repeat ``left`` 600 times."""
    filled = _PLACEHOLDER.sub(lambda m: _display(values[m[1]]) if m[1] in values else m[0], template)
    return filled if len(filled) <= MAX_MESSAGE else filled[:MAX_MESSAGE] + "…"


class Violations(list):
    """The first :data:`MAX_VIOLATIONS` violations of a check; ``total`` counts every one."""

    total = 0

    def add(self, violation: dict) -> None:
        self.total += 1
        if len(self) < MAX_VIOLATIONS:
            self.append(violation)
