"""``wenshu preview template.docx data.json``: a warm LibreOffice re-rendering on every save.

A template author edits in Word and looks at the PDF. ``wenshu render`` starts LibreOffice cold
each time (seconds); this keeps one :class:`worker.pipeline.Pipeline` (and its supervised
LibreOffice) for the whole session and polls both files' modification times, so a save costs
only the fill and the conversion. Each render prints one line: the output and its timings, with
the missing variables (``options.undefined`` = ``warn``), or the error with its part, paragraph
and tag. Polling needs no dependency and works on every file system an editor saves to.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

POLL_SECONDS = 0.25


def run(template: Path, data: Path, output: Path, settings: Any, *, once: bool = False,
        undefined: str = "warn", out: TextIO = sys.stdout) -> int:
    """Render now and (unless ``once``) again whenever ``template`` or ``data`` changes.

    Returns:
        ``once``: 0 when the render succeeded, 1 otherwise; else 0 when interrupted.
    """
    from worker.pipeline import Pipeline

    from .quiet import filtered_stderr

    signal.signal(signal.SIGTERM, _interrupt)  # so LibreOffice is stopped on `kill` too
    seen: tuple | None = None
    ok = False
    with filtered_stderr(), Pipeline(settings) as pipeline:
        try:
            while True:
                stamp = (_stamp(template), _stamp(data))
                if stamp != seen and _settled(stamp, template, data):
                    seen = stamp
                    ok = _render_once(pipeline, template, data, output, undefined, out)
                    if once:
                        break
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            return 0
    return 0 if ok else 1


def _settled(stamp: tuple, template: Path, data: Path) -> bool:
    """Whether the files stay as ``stamp`` for one more poll: an editor that writes in place is done."""
    time.sleep(POLL_SECONDS)
    return (_stamp(template), _stamp(data)) == stamp


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def _render_once(pipeline: Any, template: Path, data: Path, output: Path, undefined: str, out: TextIO) -> bool:
    from core.errors import WenshuError
    from service.template_checks import check_template

    clock = time.strftime("%H:%M:%S")
    try:
        docx = template.read_bytes()
        values = json.loads(data.read_text(encoding="utf-8"))
        check_template(docx)
        result = pipeline.produce(docx, values, ["pdf"], {"undefined": undefined})
    except WenshuError as exc:
        details = "; ".join(_message(e) for e in exc.errors[:5])
        _say(out, f"{clock} error {exc.detail}" + (f": {details}" if details else ""))
        return False
    except (OSError, ValueError) as exc:  # unreadable file, JSON mid-save
        _say(out, f"{clock} error {type(exc).__name__}: {exc}")
        return False
    _write_atomically(output, result.files["pdf"])
    timings = ", ".join(f"{k} {v} ms" for k, v in result.timings_ms.items())
    line = f"{clock} ok {output} ({timings})"
    if result.warnings:
        line += f"; {len(result.warnings)} warning(s): " + "; ".join(_message(w) for w in result.warnings)
    _say(out, line)
    return True


def _message(entry: dict[str, Any]) -> str:
    text = entry.get("message_en") or entry.get("message") or ""
    where = entry.get("path") or entry.get("part")
    if where and where not in text:
        text += f" ({where})"
    return text.replace("\n", " ")


def _write_atomically(path: Path, data: bytes) -> None:
    """A PDF viewer reloading on change never sees a half-written file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def _say(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()
