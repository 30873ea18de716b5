"""The render environment stops template injection (docxtpl issue #632) and keeps data XML-safe.

Every payload below would run ``touch <marker>`` with docxtpl's default environment; with
``make_environment()`` it must fail and the marker file must not exist.
"""

from __future__ import annotations

import io

import pytest
from docx import Document
from docxtpl import DocxTemplate
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError

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


@pytest.mark.parametrize("source", [
    "{% for x in items %}{{ items.append(x) }}{% endfor %}",   # would walk a list it keeps growing
    "{{ row.update({'total': 0}) }}{{ row.total }}",
    "{{ items.pop() }}{{ row.setdefault('x', 1) }}",
    "{% set s = items|list %}{{ s.extend(items) }}",
])
def test_a_template_cannot_change_the_data_it_reads(source):
    items, row = [1, 2], {"total": 5}
    with pytest.raises(SecurityError):
        make_environment().from_string(source).render(items=items, row=row)
    assert items == [1, 2] and row == {"total": 5}


def test_reading_lists_and_dicts_still_works():
    source = "{{ items|length }} {{ items.index(2) }} {{ row.get('total') }} {{ row.items()|list|length }}"
    assert make_environment().from_string(source).render(items=[1, 2], row={"total": 5}) == "2 1 5 1"


def test_markup_characters_in_data_are_escaped():
    assert make_environment().from_string("{{ x }}").render(x="<a&b>") == "&lt;a&amp;b&gt;"


def test_null_prints_as_nothing():
    assert make_environment().from_string("[{{ x }}]").render(x=None) == "[]"


def test_zero_still_prints_as_zero():
    assert make_environment().from_string("{{ x }}").render(x=0) == "0"


# --- no raw-XML escape hatch -----------------------------------------------------------------

XML = '</w:t></w:r><w:fldSimple w:instr="INCLUDETEXT /etc/passwd"/><w:r><w:t>'


def typed_rich():
    from docxtpl import RichText

    rich = RichText()
    rich.add("INCLUDETEXT x", color="C00000")
    return rich


@pytest.mark.parametrize(("source", "reason"), [
    ("{{ x|safe }}", "'safe' filter is not available"),
    ("{{ '<w:fldSimple/>'|safe }}", "'safe' filter is not available"),
    ("{% filter safe %}{{ x }}{% endfilter %}", "'safe' filter is not available"),
    ("{{ x|forceescape }}", "'forceescape' filter is not available"),
    ("{{ x|urlize }}", "'urlize' filter is not available"),
    ("{{ {'a': x}|xmlattr }}", "'xmlattr' filter is not available"),
    ("{{ x|tojson }}", "'tojson' filter is not available"),
    ("{% autoescape false %}{{ x }}{% endautoescape %}", "autoescape"),
    ("{% autoescape flag %}{{ x }}{% endautoescape %}", "autoescape"),
], ids=["safe-data", "safe-literal", "filter-block", "forceescape", "urlize", "xmlattr", "tojson",
        "autoescape-false", "autoescape-variable"])
def test_construct_that_switches_escaping_off_is_refused_when_parsed(source, reason):
    with pytest.raises(TemplateSyntaxError) as caught:
        make_environment().parse(source)
    assert reason in caught.value.message


def test_autoescape_true_block_is_still_allowed_and_escapes():
    source = "{% autoescape true %}{{ x }}{% endautoescape %}"
    assert make_environment().from_string(source).render(x="<b>") == "&lt;b&gt;"


def test_lipsum_global_writing_html_is_gone():
    with pytest.raises(UndefinedError):
        make_environment().from_string("{{ lipsum() }}").render()


@pytest.mark.parametrize("source", [
    "{{ r.xml }}",
    "{{ r['xml'] }}",
    "{{ r.add('x', color='\"/><w:fldSimple/>') }}",
    "{{ r|attr('xml') }}",
    "{{ [r]|map(attribute='xml')|join }}",
    "{{ (r|e)[0:5] }}",
    "{{ (r|e).replace('w:t', 'w:fldSimple') }}",
    "{{ r|replace('w:t'|e, 'w:fldSimple') }}",
    "{{ r|e|list|join }}",
    "{{ r|reverse }}",
    "{{ r|string|truncate(9) }}",
    "{% set y %}{{ r }}{% endset %}{{ y|replace('w:t'|e, 'w:instrText') }}",
    "{% filter upper %}{{ r }}{% endfilter %}",
])
def test_typed_value_can_be_printed_but_not_taken_apart(source):
    with pytest.raises(SecurityError):
        make_environment().from_string(source).render(r=typed_rich())


@pytest.mark.parametrize("source", ["{{ r }}", "{{ r|default('') }}", "{{ [r]|first }}", "{{ r|thousands }}",
                                    "{{ [r, r]|join }}", "{% if r %}{{ r }}{% endif %}"])
def test_typed_value_still_prints_its_own_xml(source):
    rendered = make_environment().from_string(source).render(r=typed_rich())
    assert '<w:r><w:rPr><w:color w:val="C00000"/></w:rPr><w:t xml:space="preserve">INCLUDETEXT x</w:t></w:r>' \
        in rendered


@pytest.mark.parametrize("source", ["{{ x }}", "{{ x|upper|lower }}", "{{ x|replace('a', 'b') }}",
                                    "{{ x|e }}", "{{ x ~ x }}", "{{ [x, x]|join(', ') }}", "{{ x|truncate(500) }}",
                                    "{{ '%s'|format(x) }}", "{{ x|default_blank }}"])
def test_xml_in_data_comes_out_escaped_whatever_filter_it_passes(source):
    rendered = make_environment().from_string(source).render(x=XML)
    assert "<" not in rendered and "&lt;" in rendered


def test_linter_reports_the_safe_filter_with_its_part_and_paragraph():
    from service.lint import lint_docx

    document = Document()
    document.add_paragraph("Report")
    document.add_paragraph("Title: {{ title|safe }}")
    buffer = io.BytesIO()
    document.save(buffer)
    report = lint_docx(buffer.getvalue())
    assert not report["ok"]
    (problem,) = report["problems"]
    assert (problem["part"], problem["paragraph"]) == ("word/document.xml", 2)
    assert "'safe' filter is not available" in problem["message"]
