"""The render environment stops template injection (docxtpl issue #632) and keeps data XML-safe.

Every payload below would run ``touch <marker>`` with docxtpl's default environment; with
``make_environment()`` it must fail and the marker file must not exist.
"""

from __future__ import annotations

import io

import pytest
from docx import Document
from docxtpl import DocxTemplate
from jinja2.exceptions import SecurityError, UndefinedError

from core.sandbox import make_environment

PAYLOADS = [
    # docxtpl #632 as published, with `id` replaced by a command that leaves a trace.
    "{{{{ self._TemplateReference__context.cycler.__init__.__globals__.os.popen('{cmd}').read() }}}}",
    "{{{{ cycler.__init__.__globals__.os.popen('{cmd}').read() }}}}",
    "{{{{ joiner.__init__.__globals__.os.popen('{cmd}').read() }}}}",
    "{{{{ namespace.__init__.__globals__.os.popen('{cmd}').read() }}}}",
    "{{{{ lipsum.__globals__['os'].popen('{cmd}').read() }}}}",
    "{{% for c in ''.__class__.__mro__[1].__subclasses__() %}}"
    "{{% if c.__name__ == 'Popen' %}}{{{{ c('{cmd}', shell=True).wait() }}}}{{% endif %}}{{% endfor %}}",
    "{{{{ ''['__class__']['__mro__'][1]['__subclasses__']() }}}}",
    "{{{{ (''|attr('__class__')|attr('__mro__'))[1].__subclasses__() }}}}",
    "{{{{ '{{0.__class__.__mro__}}'.format('') }}}}",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_injection_payload_fails_and_runs_no_command(payload, tmp_path):
    marker = tmp_path / "pwned"
    source = payload.format(cmd=f"touch {marker}")
    with pytest.raises((SecurityError, UndefinedError)):
        make_environment().from_string(source).render(x=1)
    assert not marker.exists()


def test_issue_632_payload_inside_a_docx_fails_and_runs_no_command(tmp_path):
    marker = tmp_path / "pwned"
    document = Document()
    document.add_paragraph(PAYLOADS[0].format(cmd=f"touch {marker}"))
    buffer = io.BytesIO()
    document.save(buffer)
    buffer.seek(0)
    template = DocxTemplate(buffer)
    with pytest.raises((SecurityError, UndefinedError)):
        template.render({}, jinja_env=make_environment())
    assert not marker.exists()


def test_markup_characters_in_data_are_escaped():
    assert make_environment().from_string("{{ x }}").render(x="<a&b>") == "&lt;a&amp;b&gt;"


def test_null_prints_as_nothing():
    assert make_environment().from_string("[{{ x }}]").render(x=None) == "[]"


def test_zero_still_prints_as_zero():
    assert make_environment().from_string("{{ x }}").render(x=0) == "0"
