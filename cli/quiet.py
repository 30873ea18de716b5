"""Keep LibreOffice's start-up noise off the author's terminal.

soffice prints ``Warning: failed to launch javaldx - java may not function correctly`` on every
start (wenshu uses no Java), and it writes straight to the file descriptor it inherited, so no
Python logging setting reaches it. While :func:`filtered_stderr` is active, file descriptor 2 is
a pipe; a thread copies each line to the real stderr unless it is known noise. A child started
inside the block keeps the pipe for its whole life, so its later lines are filtered too.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

NOISE = re.compile(rb"failed to launch javaldx|java may not function correctly")


@contextmanager
def filtered_stderr(noise: re.Pattern[bytes] = NOISE) -> Iterator[None]:
    """Drop lines matching ``noise`` from everything written to file descriptor 2."""
    sys.stderr.flush()
    real = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)
    copier = threading.Thread(target=_copy, args=(read, real, noise), daemon=True, name="stderr-filter")
    copier.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real, 2)  # the copier keeps forwarding what children still write, until they exit


def _copy(read: int, real: int, noise: re.Pattern[bytes]) -> None:
    with os.fdopen(read, "rb", buffering=0) as source:
        for line in iter(source.readline, b""):
            if not noise.search(line):
                os.write(real, line)
