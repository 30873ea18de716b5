"""The rendering core: template bytes + JSON data → filled .docx bytes.

Used by the worker and by the embedded CLI alike. Every render uses the sandboxed environment
(worker/sandbox.py). Jinja failures become :class:`TemplateError`/:class:`UnsafeTemplate` with the
template part and message, so a template author learns what to fix; a template that loops forever
is stopped after ``render_timeout`` seconds of CPU time.
"""

from __future__ import annotations

import io
import signal
import threading
import zipfile
from contextlib import contextmanager
from typing import Any

from docxtpl import DocxTemplate
from jinja2 import TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaTemplateError

from core.errors import InvalidData, RenderLimitExceeded, TemplateError, UnsafeTemplate
from core.sandbox import ReportEnvironment, make_environment

from .typed import to_context


class _Template(DocxTemplate):
    """docxtpl's template, with its tag-patching regexes remembered per part source."""

    def __init__(self, source, env: ReportEnvironment) -> None:
        super().__init__(source)
        self._env = env

    def patch_xml(self, src_xml: str) -> str:
        return self._env.memoize("patched", src_xml, super().patch_xml)


def render_docx(template: bytes, data: dict[str, Any], *, timeout: float | None = None,
                max_output: int | None = None, env: ReportEnvironment | None = None) -> bytes:
    """Fill ``template`` with ``data`` and return the .docx bytes.

    Args:
        template: the .docx template (already safety-checked by the caller).
        data: request JSON; typed values ($image, $rich, ...) are converted here.
        timeout: CPU seconds the fill may take (main thread only; elsewhere unbounded).
        max_output: largest .docx accepted, in bytes.
        env: a long-lived environment whose caches make repeat renders of a template cheap.

    Raises:
        TemplateError: Jinja syntax/runtime error; UnsafeTemplate: sandbox violation;
        InvalidData: a malformed typed value; RenderLimitExceeded: time or size limit.
    """
    env = env or make_environment()
    try:
        tpl = _Template(io.BytesIO(template), env)
        tpl.get_docx()  # opens the package now, so a broken file fails here with a clear message
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise TemplateError(f"the template is not a readable .docx: {exc}") from exc
    with _cpu_time_limit(timeout):
        context = to_context(data, tpl)
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
            raise TemplateError(f"template refers to something the data lacks: {exc.message}",
                                errors=[{"message": exc.message}]) from exc
        except JinjaTemplateError as exc:
            raise TemplateError(f"template error: {exc}", errors=[{"message": str(exc)}]) from exc
        except (InvalidData, RenderLimitExceeded):
            raise
        except MemoryError as exc:
            raise RenderLimitExceeded("the template needed more memory than a render may use "
                                      "(WENSHU_WORKER_MEMORY)") from exc
        except (TypeError, ValueError, ArithmeticError, AttributeError, KeyError, IndexError) as exc:
            raise TemplateError(f"template failed on this data: {type(exc).__name__}: {exc}",
                                errors=[{"message": f"{type(exc).__name__}: {exc}"}]) from exc
    out = io.BytesIO()
    tpl.save(out)
    result = out.getvalue()
    if max_output is not None and len(result) > max_output:
        raise RenderLimitExceeded(f"the rendered .docx is {len(result)} bytes, over the {max_output}-byte limit")
    return result


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
