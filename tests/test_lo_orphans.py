"""No LibreOffice outlives the server that started it, however that server ends.

Each lo_server.py runs in a session of its own with its soffice (so a timeout stops both with one
killpg). Found after a test run: an oosplash + soffice.bin pair left running, its server gone — a
server that died during start-up (the port it was given taken since, or no UNO connection within
the deadline) left its soffice behind, in a session nobody signals again.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from core.errors import ConversionFailed
from core.settings import Settings
from worker import libreoffice


def using_profile(profile: Path) -> list[int]:
    """Live processes whose command line names ``profile`` (lo_server and its soffice do)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(profile).encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def gone_within(profile: Path, seconds: float = 15) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := using_profile(profile)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_a_server_that_cannot_take_its_port_leaves_no_libreoffice_behind(monkeypatch, tmp_path):
    profile = tmp_path / "lo"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(libreoffice, "free_port", lambda: taken.getsockname()[1])
        with pytest.raises(ConversionFailed, match="exited during start-up"):
            libreoffice.LibreOfficeProcess(Settings(env="test"), profile).start()
    assert gone_within(profile) == []


def test_stopping_a_server_stops_its_libreoffice(tmp_path):
    profile = tmp_path / "lo"
    process = libreoffice.LibreOfficeProcess(Settings(env="test"), profile)
    process.start()
    soffice = process.info()["soffice_pid"]
    assert soffice in using_profile(profile)
    process.stop()
    assert gone_within(profile) == []
