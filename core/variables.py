"""Every variable a template reads, nested: ``candidate.name``, ``salary_items[].amount``.

``jinja2.meta.find_undeclared_variables`` names only the top level (``candidate``), which tells
a template author little about the data to send. This walks the Jinja AST instead: attribute and
item chains become paths, a ``for`` target stands for the items of what it loops over (``[]``),
``with`` and ``set`` bind a name to a path for their scope, and names a template defines itself
(``loop``, macro arguments, computed ``set`` values) are left out.

The result is a trie (:class:`Trie`); :mod:`core.skeleton` turns it into a JSON Schema and a
sample, and the worker uses :func:`references` to name the full path of a variable the data lacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jinja2 import nodes

ITEMS = "[]"
"""The path segment for "each item of this list"."""
_METHODS = frozenset({"items", "keys", "values", "get", "upper", "lower", "strip", "title", "split",
                      "replace", "format", "startswith", "endswith", "join", "capitalize"})
_NUMERIC_OPS = (nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow)


@dataclass
class Trie:
    """One variable and what the template does with it: fields, list items, arithmetic."""

    children: dict[str, Trie] = field(default_factory=dict)
    numeric: bool = False
    mapping: bool = False

    def child(self, segment: str) -> Trie:
        return self.children.setdefault(segment, Trie())

    @property
    def kind(self) -> str:
        """``list`` (looped over), ``object`` (has fields) or ``value`` (printed or tested)."""
        if ITEMS in self.children:
            return "list"
        return "object" if self.children or self.mapping else "value"


def join(path: tuple[str, ...]) -> str:
    """``("items", "[]", "amount")`` → ``items[].amount``."""
    text = ""
    for segment in path:
        text += segment if segment == ITEMS or not text else "." + segment
    return text


class _Walker:
    """Walks one AST, adding every path it reads to a trie and noting each reference's line."""

    def __init__(self, root: Trie, ignore: frozenset[str]) -> None:
        self.root = root
        self.ignore = ignore
        self.refs: list[tuple[int, tuple[str, ...]]] = []

    def add(self, path: tuple[str, ...], lineno: int) -> Trie:
        node = self.root
        for segment in path:
            node = node.child(segment)
        self.refs.append((lineno, path))
        return node

    def path(self, node: nodes.Node, scope: dict[str, tuple[str, ...] | None]) -> tuple[str, ...] | None:
        """The data path an expression stands for, or None when it is not a plain path."""
        if isinstance(node, nodes.Name):
            if node.name in scope:
                return scope[node.name]
            return None if node.name in self.ignore else (node.name,)
        if isinstance(node, nodes.Getattr):
            base = self.path(node.node, scope)
            return None if base is None else (*base, node.attr)
        if isinstance(node, nodes.Getitem):
            base = self.path(node.node, scope)
            arg = node.arg
            if base is None or not isinstance(arg, nodes.Const):
                return None
            if isinstance(arg.value, str):
                return (*base, arg.value)
            return (*base, ITEMS) if isinstance(arg.value, int) else None
        return None

    def walk(self, node: nodes.Node, scope: dict[str, tuple[str, ...] | None]) -> None:
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is not None:
            handler(node, scope)
            return
        for child in node.iter_child_nodes():
            self.walk(child, scope)

    def _chain(self, node: nodes.Node, scope: dict) -> None:
        path = self.path(node, scope)
        if path is None:
            # not a plain path (a call, a computed index): its parts may still read data
            for child in node.iter_child_nodes():
                self.walk(child, scope)
            return
        if path:
            self.add(path, node.lineno)
        if isinstance(node, nodes.Getitem):
            self.walk(node.arg, scope)

    _Name = _Getattr = _Getitem = _chain

    def _Call(self, node: nodes.Call, scope: dict) -> None:
        callee = node.node
        if isinstance(callee, nodes.Getattr) and callee.attr in _METHODS:
            base = self.path(callee.node, scope)
            key = node.args[0] if node.args else None
            if base and callee.attr == "get" and isinstance(key, nodes.Const) and isinstance(key.value, str):
                self.add((*base, key.value), node.lineno)
            elif base:
                self.add(base, node.lineno).mapping = callee.attr in ("items", "keys", "values", "get")
            else:
                self.walk(callee.node, scope)
            rest = node.args[1:] if callee.attr == "get" else node.args
        else:
            self.walk(callee, scope)
            rest = node.args
        for child in (*rest, *node.kwargs):
            self.walk(child, scope)

    def _BinOp(self, node: nodes.BinExpr, scope: dict) -> None:
        for side in (node.left, node.right):
            path = self.path(side, scope)
            if path and isinstance(node, _NUMERIC_OPS):
                self.add(path, side.lineno).numeric = True
            else:
                self.walk(side, scope)

    _Sub = _Mul = _Div = _FloorDiv = _Mod = _Pow = _Add = _BinOp

    def _For(self, node: nodes.For, scope: dict) -> None:
        iterated = node.iter
        while isinstance(iterated, nodes.Filter) and iterated.node is not None:  # items|sort(...)
            for arg in (*iterated.args, *iterated.kwargs):
                self.walk(arg, scope)
            iterated = iterated.node
        source = self.path(iterated, scope)
        if source is None:
            self.walk(iterated, scope)
        elif source:
            self.add((*source, ITEMS), iterated.lineno)
        inner = dict(scope, loop=None)
        if isinstance(node.target, nodes.Name):
            inner[node.target.name] = (*source, ITEMS) if source else None
        else:
            inner.update(dict.fromkeys(_names(node.target)))
        if node.test is not None:
            self.walk(node.test, inner)
        for child in node.body:
            self.walk(child, inner)
        for child in node.else_:
            self.walk(child, scope)

    def _With(self, node: nodes.With, scope: dict) -> None:
        inner = dict(scope)
        for target, value in zip(node.targets, node.values, strict=False):
            self.walk(value, scope)
            if isinstance(target, nodes.Name):
                inner[target.name] = self.path(value, scope)
        for child in node.body:
            self.walk(child, inner)

    def _Assign(self, node: nodes.Assign, scope: dict) -> None:
        self.walk(node.node, scope)
        value = self.path(node.node, scope)
        for name in _names(node.target):
            scope[name] = value if isinstance(node.target, nodes.Name) else None

    def _AssignBlock(self, node: nodes.AssignBlock, scope: dict) -> None:
        for child in node.body:
            self.walk(child, scope)
        for name in _names(node.target):
            scope[name] = None

    def _Macro(self, node: nodes.Macro, scope: dict) -> None:
        scope[node.name] = None
        inner = dict(scope, caller=None, varargs=None, kwargs=None)
        inner.update({arg.name: None for arg in node.args})
        for child in (*node.defaults, *node.body):
            self.walk(child, inner)

    def _CallBlock(self, node: nodes.CallBlock, scope: dict) -> None:
        self.walk(node.call, scope)
        inner = dict(scope)
        inner.update({arg.name: None for arg in node.args})
        for child in node.body:
            self.walk(child, inner)


def _names(target: nodes.Node) -> list[str]:
    """The names an assignment target binds (``x`` or ``k, v``)."""
    if isinstance(target, nodes.Name):
        return [target.name]
    return [n.name for n in target.find_all(nodes.Name)]


def collect(ast: nodes.Template, root: Trie | None = None, ignore: frozenset[str] = frozenset()
            ) -> tuple[Trie, list[tuple[int, tuple[str, ...]]]]:
    """Add the variables ``ast`` reads to ``root`` (a new trie if None).

    Args:
        ast: a parsed template (``env.parse(source)``).
        root: the trie to add to, so several parts of one document share a tree.
        ignore: global names that are not data (``range``, ``dict``...: the environment's globals).

    Returns:
        The trie and every reference as ``(line, path)``, in walking order.
    """
    walker = _Walker(root if root is not None else Trie(), ignore)
    walker.walk(ast, {})
    return walker.root, walker.refs


def references(ast: nodes.Template, ignore: frozenset[str] = frozenset()) -> list[tuple[int, str]]:
    """Every ``(line, dotted path)`` the template reads: where a variable is used, by full path."""
    return [(line, join(path)) for line, path in collect(ast, ignore=ignore)[1]]


def tree(root: Trie) -> list[dict[str, Any]]:
    """The trie as the API shows it: ``[{name, path, kind, children}]``, sorted by name."""
    return _nodes(root, ())


def _nodes(trie: Trie, prefix: tuple[str, ...]) -> list[dict[str, Any]]:
    out = []
    for name, child in sorted(trie.children.items()):
        path = (*prefix, name)
        if name == ITEMS:
            if child.kind != "list":  # a list's item fields are the list's own children
                continue
            out.append({"name": ITEMS, "path": join(path), "kind": "list",
                        "children": _nodes(child, path)})
            continue
        below = child.children.get(ITEMS) if child.kind == "list" else child
        out.append({"name": name, "path": join(path), "kind": child.kind,
                    "children": _nodes(below, (*path, ITEMS) if child.kind == "list" else path)})
    return out


def paths(nodes_: list[dict[str, Any]]) -> list[str]:
    """The path of every node of a :func:`tree`, sorted."""
    found: list[str] = []
    stack = list(nodes_)
    while stack:
        node = stack.pop()
        found.append(node["path"])
        stack.extend(node["children"])
    return sorted(found)


def parse_tags(env: Any, tags: list[str], attempts: int = 200) -> nodes.Template | None:
    """The best AST of a part whose whole text does not parse, from its tags alone.

    ``tags`` are the part's tags one per line (``{{ x }}``, ``{% for ... %}``). A tag that breaks
    the parse is dropped and blocks left open are closed, so the variables of every tag that can
    be read still reach the author while they fix the others.
    """
    from jinja2.exceptions import TemplateSyntaxError

    lines = list(tags)
    for _ in range(attempts):
        try:
            return env.parse("\n".join(lines))
        except TemplateSyntaxError as exc:
            closer = _missing_end(exc.message or "")
            if closer:
                lines.append("{% " + closer + " %}")
            elif exc.lineno and 0 < exc.lineno <= len(lines) and lines[exc.lineno - 1]:
                lines[exc.lineno - 1] = ""
            else:
                return None
    return None


def _missing_end(message: str) -> str | None:
    """``endfor`` from Jinja's "Jinja was looking for the following tags: 'endfor' or 'else'"."""
    import re

    if "end of template" not in message:
        return None
    found = re.search(r"'(end\w+)'", message)
    return found.group(1) if found else None
