"""The rendering core: template bytes + JSON data → filled .docx bytes.

Used by the worker and by the embedded CLI alike. Every render uses the sandboxed environment
(worker/sandbox.py). Jinja failures become :class:`TemplateError`/:class:`UnsafeTemplate` with the
template part and message, so a template author learns what to fix; a template that loops forever
is stopped after ``render_timeout`` seconds of CPU time.
"""

from __future__ import annotations

import io
import re
import signal
import threading
import zipfile
from contextlib import contextmanager
from typing import Any

from docxtpl import DocxTemplate
from jinja2 import TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaTemplateError

from core.errors import InvalidData, RenderLimitExceeded, TemplateError, UndefinedVariable, UnsafeTemplate
from core.sandbox import ReportEnvironment, make_environment
from core.undefined import DEFAULT_MODE, Recorder, recording_undefined

from .fast_fill import LinearFill
from .locate import error_location, miss_reports, part_maps, place
from .typed import to_context


class _Template(LinearFill, DocxTemplate):
    """docxtpl's template, with its tag-patching regexes remembered per part source."""

    def __init__(self, source, env: ReportEnvironment, recorder: Recorder | None = None) -> None:
        super().__init__(source)
        self._env = env
        self._recorder = recorder

    def patch_xml(self, src_xml: str) -> str:
        return self._env.memoize("patched", src_xml, super().patch_xml)

    def render_xml_part(self, src_xml, part, context, jinja_env=None):
        if self._recorder is not None:  # so a missing variable is noted with the part it is in
            self._recorder.part = part_name(part)
        return super().render_xml_part(src_xml, part, context, jinja_env)


def part_name(part) -> str | None:
    """``word/document.xml`` for a python-docx part (None when there is none)."""
    return str(part.partname).lstrip("/") if part is not None else None


def render_docx(template: bytes, data: dict[str, Any], *, timeout: float | None = None,
                max_output: int | None = None, env: ReportEnvironment | None = None,
                undefined: str = DEFAULT_MODE, warnings: list[dict[str, Any]] | None = None) -> bytes:
    """Fill ``template`` with ``data`` and return the .docx bytes.

    Args:
        template: the .docx template (already safety-checked by the caller).
        data: request JSON; typed values ($image, $rich, ...) are converted here.
        timeout: CPU seconds the fill may take (main thread only; elsewhere unbounded).
        max_output: largest .docx accepted, in bytes.
        env: a long-lived environment whose caches make repeat renders of a template cheap.
        undefined: what a variable the data lacks does (core/undefined.py): ``strict`` fails,
            ``warn`` appends it to ``warnings`` with part, paragraph and tag, ``blank`` says nothing.
        warnings: where ``warn`` mode lists the missing variables.

    Raises:
        TemplateError: Jinja syntax/runtime error; UnsafeTemplate: sandbox violation;
        InvalidData: a malformed typed value; RenderLimitExceeded: time or size limit;
        UndefinedVariable: ``strict`` and the data lacks variables the template uses.
    """
    env = env or make_environment()
    recorder = Recorder() if undefined != "blank" else None
    try:
        tpl = _Template(io.BytesIO(template), env, recorder)
        tpl.get_docx()  # opens the package now, so a broken file fails here with a clear message
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise TemplateError(f"the template is not a readable .docx: {exc}") from exc
    maps = part_maps(template, tpl.patch_xml, env.parse)
    with _cpu_time_limit(timeout), _undefined_as(env, recorder):
        context = to_context(data, tpl)

        def located(exc: BaseException) -> dict[str, Any]:
            """Part, paragraph and tag of the tag whose evaluation raised ``exc``."""
            part = part_name(getattr(tpl, "current_rendering_part", None))
            return error_location(exc, part, maps, _fails_alone(env, context))

        try:
            tpl.render(context, jinja_env=env, autoescape=True)
        except SecurityError as exc:
            raise UnsafeTemplate(f"unsafe template: {exc}", errors=[{"message": str(exc)}]) from exc
        except TemplateSyntaxError as exc:
            raise TemplateError(
                f"template syntax error: {exc.message} (line {exc.lineno} of the part's XML; "
                "run POST /v1/templates/lint for the paragraph)",
                errors=[{"message": exc.message, "line": exc.lineno}]) from exc
        except UndefinedError as exc:
            where = located(exc)
            raise TemplateError(f"template refers to something the data lacks: {exc.message} ({place(where)})",
                                errors=[{"message": exc.message, **where}]) from exc
        except JinjaTemplateError as exc:
            where = located(exc)
            raise TemplateError(f"template error: {exc} ({place(where)})",
                                errors=[{"message": str(exc), **where}]) from exc
        except (InvalidData, RenderLimitExceeded):
            raise
        except MemoryError as exc:
            raise RenderLimitExceeded("the template needed more memory than a render may use "
                                      "(WENSHU_WORKER_MEMORY)") from exc
        except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
            where = located(exc)
            raise TemplateError(f"template failed on this data: {type(exc).__name__}: {exc} ({place(where)})",
                                errors=[{"message": f"{type(exc).__name__}: {exc}", **where}]) from exc
    if recorder is not None and recorder.misses:
        missing = miss_reports(recorder.misses, maps)
        if undefined == "strict":
            names = ", ".join(dict.fromkeys(m["variable"] for m in missing))
            raise UndefinedVariable(f"the data lacks variables the template uses: {names}", errors=missing)
        if warnings is not None:
            warnings.extend(missing)
    out = io.BytesIO()
    tpl.save(out)
    result = out.getvalue()
    if max_output is not None and len(result) > max_output:
        raise RenderLimitExceeded(f"the rendered .docx is {len(result)} bytes, over the {max_output}-byte limit")
    return result


def _fails_alone(env: ReportEnvironment, context: dict[str, Any]):
    """Whether a ``{{ … }}`` tag raises when evaluated on its own (to tell which tag of a
    paragraph failed); statements and tags that use loop variables count as failing."""

    def fails(tag: str) -> bool:
        if not tag.startswith("{{"):
            return True
        try:
            env.compile_expression(re.sub(r"^(p|r)\s", "", tag[2:-2]).strip())(**context)
        except Exception:  # noqa: BLE001 - any failure makes the tag a suspect
            return True
        return False

    return fails


@contextmanager
def _undefined_as(env: ReportEnvironment, recorder: Recorder | None):
    """Missing values recorded into ``recorder`` for this render (the environment is per process)."""
    if recorder is None:
        yield
        return
    previous = env.undefined
    env.undefined = recording_undefined(recorder)
    try:
        yield
    finally:
        env.undefined = previous


@contextmanager
def _cpu_time_limit(seconds: float | None):
    """Raise RenderLimitExceeded after ``seconds`` of CPU time (SIGVTALRM; RQ uses SIGALRM)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise RenderLimitExceeded(
            f"rendering took more than {seconds:g} s of CPU time (WENSHU_RENDER_TIMEOUT); "
            "does the template loop without end?")

    previous = signal.signal(signal.SIGVTALRM, expired)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)
