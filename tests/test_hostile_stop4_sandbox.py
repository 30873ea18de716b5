"""Hostile lookups against the sandbox's dict short path and its immutability (core/sandbox.py).

``row.label`` on a plain dict skips Jinja's attribute detour. An attacker names data keys after
every attribute Python can find on a dict, its type or ``object`` and hopes the short path hands
back a key where the sandbox would refuse, or the method where a key was meant, or takes a typed
value (RichText) apart once it is reached through a key rather than a top-level name.
"""

from __future__ import annotations

import copy
import io

import pytest
from docx import Document
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core.errors import TemplateError
from core.sandbox import make_environment
from helpers import docx_with
from worker.render import render_docx

ATTACK_NAMES = sorted(set(dir(dict)) | set(dir(type)) | set(dir(object)) | {
    "__dict__", "__weakref__", "__name__", "__qualname__", "__mro__", "__base__", "__bases__", "__self__",
    "__func__", "__code__", "__globals__", "__builtins__", "__objclass__", "__module__", "__slots__",
    "gi_frame", "f_globals", "mro", "format", "format_map", "_TemplateReference__context"})


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_a_data_key_named_like_an_attribute_reads_as_jinjas_immutable_sandbox(name):
    row = {name: "键值", "label": "标签"}
    ours, reference = make_environment(), ImmutableSandboxedEnvironment(autoescape=True)
    assert repr(ours.getattr(row, name)) == repr(reference.getattr(row, name))
    assert ours.getitem(row, name) == "键值"


MUTATIONS = [
    "{{ row.update({'label': 'x'}) }}", "{{ row.pop('label') }}", "{{ row.setdefault('new', 1) }}",
    "{{ row.clear() }}", "{{ row.popitem() }}", "{{ row.__setitem__('label', 'x') }}",
    "{{ rows.append(row) }}", "{{ rows.extend(rows) }}", "{{ rows.insert(0, 1) }}", "{{ rows.sort() }}",
    "{{ rows.__iadd__(rows) }}", "{% for r in rows %}{{ rows.append(r) }}{% endfor %}",
    "{{ (row|attr('update'))({'label': 'x'}) }}", "{{ row.label.__class__.__base__.__subclasses__() }}",
    "{{ '{0.__class__.__init__.__globals__}'.format(row) }}", "{{ '{0[label].__class__}'.format(row) }}",
    "{{ row.items().__class__ }}", "{{ row.get.__self__.update({'label': 'x'}) }}",
]


@pytest.mark.parametrize("source", MUTATIONS)
def test_reaching_python_internals_or_changing_the_data_is_refused_and_the_data_stays(source):
    data = {"row": {"label": "标签", "update": "键", "pop": "键", "__class__": 1}, "rows": [1, 2]}
    before = copy.deepcopy(data)
    try:
        out = make_environment().from_string(source).render(data)
    except SecurityError:
        out = None
    assert data == before
    assert out is None or ("class" not in out and "globals" not in out and "function" not in out), out


RICH = {"row": {"title": {"$rich": [{"text": "加粗标题", "bold": True}]}, "label": "甲"}}


@pytest.mark.parametrize("source", [
    "{{ row.title.xml }}", "{{ row['title'].xml }}", "{{ row.title|attr('xml') }}", "{{ row.title[0:5] }}",
    "{{ row['title']|replace('w:r', 'w:fldSimple') }}", "{{ (row.title|string)[0:9] }}",
    "{{ row.title.__html__() }}", "{% for part in row.title %}{{ part }}{% endfor %}",
])
def test_a_typed_value_reached_through_a_dict_key_cannot_be_taken_apart(source):
    """Refused by the sandbox (UnsafeTemplate), or by RichText itself (not sliceable, not iterable):
    either way a failed job naming the tag, never a piece of its XML in the document."""
    with pytest.raises(TemplateError, match="RichText|typed value"):
        render_docx(docx_with(source), RICH)


def test_a_typed_value_reached_through_a_dict_key_prints_as_rich_text():
    template = docx_with("{{r row.title }}", "{{r row['title'] }}", "{{ row.label }}")
    ours = Document(io.BytesIO(render_docx(template, RICH)))
    assert [paragraph.text for paragraph in ours.paragraphs] == ["加粗标题", "加粗标题", "甲"]
    bold = [[run.text for run in paragraph.runs if run.bold] for paragraph in ours.paragraphs]
    assert bold == [["加粗标题"], ["加粗标题"], []]
