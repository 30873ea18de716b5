"""Lint a docxtpl template so its author sees *where* a tag is wrong (``POST /v1/templates/lint``).

Jinja reports errors by line of the patched XML docxtpl feeds it, which means nothing to someone
editing in Word. So the linter works in two passes over every part docxtpl renders:

1. Paragraph pass: for each ``w:p`` (numbered 1-based in document order within its part,
   table paragraphs included) join its ``w:t`` text the way docxtpl does and check each tag on
   its own: unclosed ``{{``/``{%``, stray ``}}``/``%}``, expressions that do not parse, unknown
   filters/tests, ``{%p``/``{%tr``/``{%tc`` tags placed where docxtpl would silently drop
   content, and the balance of for/if blocks across paragraphs. Every problem names its
   paragraph and the tag as typed.
2. Part pass: docxtpl's own ``patch_xml`` + ``env.parse`` on the whole part, the authority on
   whether it will render. Its error is reported only when the paragraph pass found nothing
   (it is then a problem the paragraph pass does not model), mapped back to a paragraph when
   the Jinja line identifies one.

The safety checks (``core.docx_safety.check_docx``) are separate; the API runs both.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from jinja2 import meta, nodes
from jinja2.exceptions import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree

from core import variables as tree_of
from core.errors import TemplateRejected
from core.sandbox import make_environment
from core.skeleton import skeleton

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_P, _T, _TR, _TC = (f"{{{W}}}{n}" for n in ("p", "t", "tr", "tc"))
_TBL, _TBL_GRID = f"{{{W}}}tbl", f"{{{W}}}tblGrid"

# Parts docxtpl renders (document body, headers, footers, footnotes) plus endnotes, which a
# template author would expect to behave the same; listed in the order an author reads them.
_STORY = re.compile(r"word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml$")
_STORY_ORDER = {"document": 0, "header": 1, "footer": 2, "footnotes": 3, "endnotes": 4}
_CORE_PROPS = ("title", "subject", "creator", "description", "identifier", "language")

_OPEN = re.compile(r"\{\{|\{%|\{#")
_CLOSE = {"{{": "}}", "{%": "%}", "{#": "#}"}
_STRAY = re.compile(r"\}\}|%\}")
_PREFIX = re.compile(r"(p|r|tr|tc)\s")  # docxtpl's {%p / {{r / {%tr / {%tc tag levels
_SMART_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})  # as docxtpl's clean_tags

_BLOCKS = {"for", "if", "macro", "call", "filter", "with", "autoescape", "block", "raw"}
_MIDDLE = {"else": ("if", "for"), "elif": ("if",)}
_LOADERS = {"include", "import", "from", "extends"}  # need a template loader: never in wenshu
_DOCXTPL_CELL_TAGS = {"colspan", "cellbg", "vm", "hm"}  # rewritten by docxtpl's patch_xml
_LEVEL_NAMES = {"": "plain {% … %}", "p": "{%p … %}", "tr": "{%tr … %}", "tc": "{%tc … %}",
                "r": "{%r … %}"}


def lint_docx(data: bytes) -> dict[str, Any]:
    """Check a .docx template's Jinja tags and list the variables it uses.

    Args:
        data: the .docx bytes (run ``check_docx`` on untrusted uploads first).

    Returns:
        ``{"ok": bool, "variables": [sorted top-level names],
        "problems": [{"part", "paragraph" (1-based or None), "tag", "message"}],
        "variable_tree": [{name, path, kind, children}], "variable_paths": [...],
        "skeleton": {"schema", "sample"}}`` (see core.variables and core.skeleton)

    Raises:
        TemplateRejected: the bytes are not a .docx (not a zip, no word/document.xml).
    """
    env = make_environment()
    problems: list[dict[str, Any]] = []
    variables: set[str] = set()
    trie = tree_of.Trie()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = sorted((n for n in archive.namelist() if _STORY.match(n)), key=_part_order)
            if "word/document.xml" not in names:
                raise zipfile.BadZipFile("no word/document.xml")
            parts = {name: archive.read(name) for name in names}
            core = archive.read("docProps/core.xml") if "docProps/core.xml" in archive.namelist() else None
    except (zipfile.BadZipFile, OSError) as exc:
        raise TemplateRejected("not a .docx", errors=[
            {"part": "", "message": f"not a .docx: {exc}", "found": "not-docx"}]) from exc
    for name, raw in parts.items():
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
        linter = _PartLinter(name, env)
        found = linter.run(root) + _tables_without_grid(name, root)
        ast, whole = _parse_part(name, root, env)
        problems.extend(found or whole)
        if ast is not None:
            variables |= _variables(ast, env)
        # a part that does not parse still shows the variables of the tags that do
        ast = ast or tree_of.parse_tags(env, linter.sources)
        if ast is not None:
            tree_of.collect(ast, trie, frozenset(env.globals))
    if core is not None:
        problems.extend(_lint_properties(core, env, variables, trie))
    nested = tree_of.tree(trie)
    return {"ok": not problems, "variables": sorted(variables), "problems": problems,
            "variable_tree": nested, "variable_paths": tree_of.paths(nested), "skeleton": skeleton(trie)}


def _tables_without_grid(part: str, root: etree._Element) -> list[dict[str, Any]]:
    """Tables without ``w:tblGrid``: Word always writes one (the schema requires it), and docxtpl's
    fill fails on such a table with a bare AttributeError on every render, whatever the data."""
    numbers = {p: i for i, p in enumerate(root.iter(_P), 1)}
    return [_problem(part, next((numbers[p] for p in table.iter(_P)), None), None,
                     "a table here has no column grid (w:tblGrid), which Word always writes: "
                     "open and save the document in Word or WPS")
            for table in root.iter(_TBL) if table.find(_TBL_GRID) is None]


def _part_order(name: str) -> tuple[int, int, str]:
    stem = re.sub(r"\d+$", "", name[5:-4])
    number = re.search(r"(\d+)\.xml$", name)
    return (_STORY_ORDER.get(stem, 9), int(number.group(1)) if number else 0, name)


def _problem(part: str, paragraph: int | None, tag: str | None, message: str) -> dict[str, Any]:
    return {"part": part, "paragraph": paragraph, "tag": tag, "message": message}


class _PartLinter:
    """The paragraph pass over one part: per-tag checks plus block balance across paragraphs."""

    def __init__(self, part: str, env: SandboxedEnvironment) -> None:
        self.part = part
        self.env = env
        self.problems: list[dict[str, Any]] = []
        self.stack: list[tuple[str, str, int, str]] = []  # open blocks: keyword, level, paragraph, tag
        self.sources: list[str] = []  # every tag as Jinja source, for core.variables.parse_tags

    def run(self, root: etree._Element) -> list[dict[str, Any]]:
        for number, paragraph in enumerate(root.iter(_P), 1):
            self._paragraph(number, paragraph)
        for keyword, _level, number, tag in self.stack:
            self._add(number, tag, f"'{keyword}' block is never closed: add {{% end{keyword} %}}")
        return self.problems

    def _add(self, paragraph: int | None, tag: str | None, message: str) -> None:
        self.problems.append(_problem(self.part, paragraph, tag, message))

    def _paragraph(self, number: int, paragraph: etree._Element) -> None:
        text = _own_text(paragraph)
        pos = 0
        while pos < len(text):
            opened = _OPEN.search(text, pos)
            stop = opened.start() if opened else len(text)
            for stray in _STRAY.finditer(text, pos, stop):
                self._add(number, stray.group(), f"'{stray.group()}' closes a tag that was never opened")
            if not opened:
                break
            closer = _CLOSE[opened.group()]
            end = text.find(closer, opened.end())
            following = _OPEN.search(text, opened.end())
            if end < 0 or (following and following.start() < end and opened.group() != "{#"):
                cut = following.start() if following else len(text)
                self._add(number, _unclosed_tag(text[opened.start():cut]),
                          f"'{opened.group()}' is not closed with '{closer}'")
                pos = cut
                continue
            raw = text[opened.start():end + 2]
            self._tag(number, paragraph, text, raw)
            pos = end + 2

    def _tag(self, number: int, paragraph: etree._Element, text: str, raw: str) -> None:
        kind, body = raw[:2], raw[2:-2]
        prefix = _PREFIX.match(body)
        level = prefix.group(1) if prefix else ""
        if prefix:
            body = body[prefix.end():]
            if re.search(r"[}%]", body):
                self._add(number, raw, f"a {{{kind[1]}{level} … tag cannot contain '%' or '}}': docxtpl "
                                       "would cut it short")
            self._check_placement(number, paragraph, text, raw, level)
        if kind == "{#":
            return
        body = body.translate(_SMART_QUOTES).strip().strip("-+").strip()
        self.sources.append(f"{kind} {body} {_CLOSE[kind]}")
        if kind == "{{":
            self._check_source(number, raw, "{{ " + body + " }}", "expression")
        else:
            self._statement(number, raw, body, level)

    def _check_placement(self, number: int, paragraph: etree._Element, text: str, raw: str,
                         level: str) -> None:
        """{%p/{%tr/{%tc replace their whole paragraph/row/cell: nothing else may live there."""
        if level == "r":
            return
        container = paragraph
        if level in ("tr", "tc"):
            container = next(paragraph.iterancestors(_TR if level == "tr" else _TC), None)
            if container is None:
                where = "table row" if level == "tr" else "table cell"
                self._add(number, raw, f"{raw[:2]}{level} … tag outside a {where}: docxtpl would "
                                       f"remove the nearest {where} before it instead")
                return
            text = "".join(_own_text(p) for p in container.iter(_P))
        rest = text.replace(raw, "", 1)
        # A {#tr … #} comment removing its row is the point of it; tags must not lose text.
        if rest.strip() and not raw.startswith("{#"):
            what = {"p": "paragraph", "tr": "table row", "tc": "table cell"}[level]
            self._add(number, raw, f"{raw[:2]}{level} … replaces its whole {what}, so the other text in "
                                   f"it ({rest.strip()[:40]!r}) would be lost: give the tag a {what} of "
                                   "its own")

    def _statement(self, number: int, raw: str, body: str, level: str) -> None:
        keyword = body.split(None, 1)[0] if body.split() else ""
        if keyword in _DOCXTPL_CELL_TAGS:
            self._docxtpl_cell_tag(number, raw, body, keyword)
        elif keyword in _LOADERS:
            self._add(number, raw, f"'{keyword}' is not available: templates cannot load other files")
        elif keyword in _BLOCKS or (keyword == "set" and "=" not in body):
            self._check_source(number, raw, "{% " + body + " %}{% end" + keyword + " %}", "tag")
            self.stack.append((keyword, level, number, raw))
        elif keyword in _MIDDLE:
            self._check_source(number, raw, "{% if x %}{% " + body + " %}{% endif %}", "tag")
            self._middle(number, raw, keyword, level)
        elif keyword.startswith("end") and keyword[3:] in _BLOCKS | {"set"}:
            self._close(number, raw, keyword[3:], level)
        elif keyword == "set":
            self._check_source(number, raw, "{% " + body + " %}", "tag")
        elif keyword in _LEVEL_NAMES:
            self._add(number, raw, f"unknown tag '{keyword}': docxtpl's {keyword}-level tags are written "
                                   f"{{%{keyword} … %}} with no space after '{{%'")
        else:
            self._add(number, raw, f"unknown tag '{keyword}'" if keyword else "empty tag")

    def _docxtpl_cell_tag(self, number: int, raw: str, body: str, keyword: str) -> None:
        argument = body[len(keyword):].strip()
        if keyword in ("colspan", "cellbg"):
            if not argument:
                self._add(number, raw, f"'{keyword}' needs a value")
            else:
                self._check_source(number, raw, "{{ " + argument + " }}", "expression")
        elif argument:
            self._add(number, raw, f"'{keyword}' takes no argument")

    def _middle(self, number: int, raw: str, keyword: str, level: str) -> None:
        if not self.stack or self.stack[-1][0] not in _MIDDLE[keyword]:
            self._add(number, raw, f"'{keyword}' outside an {' or '.join(_MIDDLE[keyword])} block")
        elif self.stack[-1][1] != level:
            self._level_mismatch(number, raw, self.stack[-1], level)

    def _close(self, number: int, raw: str, keyword: str, level: str) -> None:
        if not any(opened[0] == keyword for opened in self.stack):
            self._add(number, raw, f"'end{keyword}' closes nothing: no '{keyword}' block is open")
            return
        while self.stack[-1][0] != keyword:  # blocks opened inside and left open
            inner, _lvl, at, tag = self.stack.pop()
            self._add(at, tag, f"'{inner}' block is never closed before 'end{keyword}' "
                               f"in paragraph {number}: add {{% end{inner} %}}")
        opened = self.stack.pop()
        if opened[1] != level:
            self._level_mismatch(number, raw, opened, level)

    def _level_mismatch(self, number: int, raw: str, opened: tuple[str, str, int, str], level: str) -> None:
        self._add(number, raw, f"block opened as {_LEVEL_NAMES[opened[1]]} in paragraph {opened[2]} "
                               f"({opened[3]}) but continued as {_LEVEL_NAMES[level]}: docxtpl would "
                               "produce broken XML; use the same kind of tag for both")

    def _check_source(self, number: int, raw: str, source: str, what: str) -> None:
        try:
            ast = self.env.parse(source)
        except TemplateSyntaxError as exc:
            self._add(number, raw, f"{what} does not parse: {exc.message}")
            return
        for message in _unknown_names(ast, self.env):
            self._add(number, raw, message)


def _own_text(paragraph: etree._Element) -> str:
    """The paragraph's w:t text, leaving out paragraphs nested in it (text boxes)."""
    return "".join(t.text or "" for t in paragraph.iter(_T)
                   if next(t.iterancestors(_P), None) is paragraph)


def _unclosed_tag(text: str) -> str:
    """The unclosed tag as the author typed it: up to its last '}' or '%', else a short prefix."""
    match = re.match(r"[^}%]*[}%]+", text[2:])
    tag = text[:2] + match.group() if match else text
    return tag.strip() if len(tag) <= 80 else tag[:77] + "..."


def _unknown_names(ast: nodes.Template, env: SandboxedEnvironment) -> list[str]:
    messages = [f"unknown filter '{n.name}'" for n in ast.find_all(nodes.Filter) if n.name not in env.filters]
    messages += [f"unknown test '{n.name}'" for n in ast.find_all(nodes.Test) if n.name not in env.tests]
    return messages


def _variables(ast: nodes.Template, env: SandboxedEnvironment) -> set[str]:
    """Top-level names the template reads, even when it uses filters the sandbox lacks."""
    # find_undeclared_variables compiles the template, and compiling refuses unknown filters;
    # those are reported as problems already, so let them through here as no-ops.
    tolerant = env.overlay()
    tolerant.filters = dict(env.filters, **{n.name: str for n in ast.find_all(nodes.Filter)
                                            if n.name not in env.filters})
    tolerant.tests = dict(env.tests, **{n.name: bool for n in ast.find_all(nodes.Test)
                                        if n.name not in env.tests})
    ast.set_environment(tolerant)
    return meta.find_undeclared_variables(ast)


def _parse_part(part: str, root: etree._Element, env: SandboxedEnvironment
                ) -> tuple[nodes.Template | None, list[dict[str, Any]]]:
    """docxtpl's own view of the part: patch_xml then parse, as DocxTemplate.render does."""
    marked = etree.fromstring(etree.tostring(root))
    for number, paragraph in enumerate(marked.iter(_P), 1):
        paragraph.set("wenshu-p", str(number))  # survives patch_xml: lets a Jinja line name its paragraph
    # docxtpl is the authority on how it rewrites tags; imported here, not at module level, so
    # the API process starts without the rendering engine and loads only this part of it on lint.
    from docxtpl import DocxTemplate

    source = DocxTemplate(io.BytesIO()).patch_xml(etree.tostring(marked, encoding="unicode"))
    source = re.sub(r"<w:p([ >])", r"\n<w:p\1", source)  # one paragraph per line, like render_xml_part
    try:
        return env.parse(source), []
    except TemplateSyntaxError as exc:
        return None, [_problem(part, _line_paragraph(source, exc.lineno), None, exc.message or str(exc))]


def _line_paragraph(source: str, lineno: int | None) -> int | None:
    """The paragraph a Jinja error line belongs to, when that is unambiguous."""
    lines = source.split("\n")
    if not lineno or lineno > len(lines):
        return None
    line = lines[lineno - 1]
    marker = re.match(r'<w:p [^>]*wenshu-p="(\d+)"', line)
    # Tags after the paragraph's end come from {%p/{%tr paragraphs docxtpl removed: ambiguous.
    tail = line.rsplit("</w:p>", 1)[-1] if "</w:p>" in line else ""
    if marker is None or re.search(r"\{[{%]", tail):
        return None
    return int(marker.group(1))


def _lint_properties(core: bytes, env: SandboxedEnvironment, variables: set[str],
                     trie: tree_of.Trie) -> list[dict[str, Any]]:
    """docxtpl renders the title, subject, author... properties as templates too."""
    problems = []
    root = etree.fromstring(core, etree.XMLParser(resolve_entities=False, no_network=True))
    for element in root:
        name = etree.QName(element).localname
        if name not in _CORE_PROPS or not element.text or not _OPEN.search(element.text):
            continue
        try:
            ast = env.parse(element.text)
        except TemplateSyntaxError as exc:
            problems.append(_problem("docProps/core.xml", None, element.text[:80],
                                     f"document property '{name}' does not parse: {exc.message}"))
            continue
        variables |= _variables(ast, env)
        tree_of.collect(ast, trie, frozenset(env.globals))
        problems += [_problem("docProps/core.xml", None, element.text[:80], message)
                     for message in _unknown_names(ast, env)]
    return problems
