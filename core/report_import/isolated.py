"""Run an import in a child process with CPU, memory, page and wall-clock limits.

Why a child process and not a render job: reading a report needs no LibreOffice and answers in
about a second, so the caller (the API, the studio opening it, the CLI) waits for it directly; but a
PDF is hostile input to a large parser (pdfminer), so it never runs in a request thread's process.
The child sets RLIMIT_CPU and RLIMIT_AS on itself before parsing; a wall-clock timeout covers a
child that sleeps or blocks. Importing this module loads no parser.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from core.errors import UnreadableReport
from core.settings import PROJECT_ROOT, Settings


def import_isolated(content: bytes, variant: str, settings: Settings) -> dict[str, Any]:
    """``{"data", "unread"}`` of a report, read in a limited child process.

    Raises:
        UnreadableReport: the child refused the file, or ran past a limit.
    """
    cpu = settings.import_cpu_seconds
    command = [sys.executable, "-m", "core.report_import", variant, str(settings.import_max_pages), str(cpu),
               str(settings.import_memory)]
    try:
        done = subprocess.run(command, input=content, capture_output=True, cwd=PROJECT_ROOT,
                              timeout=cpu * 3 + 10)
    except subprocess.TimeoutExpired as exc:
        raise _over_limit(cpu) from exc
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        answer = None
    if done.returncode != 0 or not isinstance(answer, dict):
        raise _over_limit(cpu)  # killed by RLIMIT_CPU (SIGXCPU/SIGKILL) or by running out of memory
    if "error" in answer:
        raise UnreadableReport(answer["error"]["detail"], errors=answer["error"]["errors"])
    return answer["ok"]


def _over_limit(cpu: float) -> UnreadableReport:
    return UnreadableReport(f"reading the report took more than the import's limits ({cpu:g} CPU seconds, "
                            "WENSHU_IMPORT_MEMORY bytes)",
                            errors=[{"path": "file", "message": "stopped at the import limits"}])
