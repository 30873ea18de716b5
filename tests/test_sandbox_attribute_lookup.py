"""``row.label`` on JSON data: our sandbox's short path for plain dicts answers what Jinja's sandbox answers.

core/sandbox.py returns a dict's item without Jinja's failed-attribute detour (most of a long
table's fill); every lookup here is rendered by our environment and by Jinja's own
SandboxedEnvironment, and must read the same, including keys named like dict methods, private
and dunder names, missing keys and dict subclasses.
"""

from __future__ import annotations

from collections import OrderedDict

import pytest
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from core.sandbox import make_environment

ROW = {"label": "第1号", "items": "遮蔽", "get": 3, "_private": "私", "__class__": "类", "__len__": 7, "n": 0}

LOOKUPS = {
    "{{ r.label }}": "第1号",
    "{{ r.n }}": "0",
    "{{ r.items is callable }}": "True",  # Jinja prefers the attribute: the method, not the key
    "{{ r.get is callable }}": "True",
    "{{ r._private }}": "私",  # no such attribute, so the item
    "{{ r.__class__ is defined }}": "False",  # the attribute exists and is unsafe
    "{{ r.__len__ is defined }}": "False",
    "{{ r.missing is defined }}": "False",
    "{{ r.missing }}": "",
    "{{ o.label }}|{{ o.items is callable }}": "第1号|True",  # a dict subclass takes the sandbox's path
}


@pytest.mark.parametrize("source, expected", LOOKUPS.items(), ids=LOOKUPS.keys())
def test_dict_lookups_read_as_in_jinjas_sandbox(source, expected):
    data = {"r": ROW, "o": OrderedDict(ROW)}
    ours = make_environment().from_string(source).render(data)
    assert ours == SandboxedEnvironment(autoescape=True).from_string(source).render(data)
    assert ours == expected


def test_unsafe_attributes_of_a_dict_are_still_refused():
    env = make_environment()
    with pytest.raises(SecurityError, match="'__class__' of 'dict' object is unsafe"):
        env.from_string("{{ r.__class__.__mro__ }}").render(r=ROW)
    with pytest.raises(SecurityError, match="'__len__' of 'dict' object is unsafe"):
        env.from_string("{{ r.__len__() }}").render(r=ROW)
