"""Child-process entry of an import: limits itself, reads the report on stdin, answers JSON on stdout.

``python -m core.report_import <variant> <max_pages> <cpu_seconds> <memory_bytes>``. The limits
are set before any byte of the report is parsed, so a hostile PDF (endless object streams, deep
nesting, a decompression bomb) ends this process, never the caller. The answer is
``{"ok": {"data", "unread"}}`` or ``{"error": {"detail", "errors"}}``.
"""

from __future__ import annotations

import json
import resource
import sys

from core.errors import WenshuError


def main(argv: list[str]) -> int:
    variant, max_pages, cpu, memory = argv[0], int(argv[1]), float(argv[2]), int(argv[3])
    seconds = max(1, int(cpu + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    content = sys.stdin.buffer.read()
    try:
        from . import import_report

        answer = {"ok": import_report(content, variant, max_pages=max_pages)}
    except WenshuError as exc:
        answer = {"error": {"detail": exc.detail, "errors": exc.errors}}
    except MemoryError:
        answer = {"error": {"detail": f"reading the report needs more than {memory} bytes of memory",
                            "errors": [{"path": "file", "message": "memory limit"}]}}
    except RecursionError:
        answer = {"error": {"detail": "the report is nested too deeply to read",
                            "errors": [{"path": "file", "message": "recursion limit"}]}}
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
