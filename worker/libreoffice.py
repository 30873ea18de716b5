"""One supervised LibreOffice per worker process (Gotenberg's process + supervisor split).

:class:`OfficeProcess` is what the :class:`Supervisor` needs from an instance — start, stop, "is it
running", "is it healthy", convert — so unit tests hand it a fake (as Gotenberg's ``ProcessMock``)
and exercise every restart path without LibreOffice. :class:`LibreOfficeProcess` is the real one:
it starts, probes and stops one ``lo_server.py`` (soffice + XML-RPC on a free loopback port) with
its own profile seeded from ``docker/libreoffice/``. soffice itself listens on no TCP port: it
accepts UNO on a named pipe with a random name, which ``lo_server.py`` unlinks as soon as it is
connected, so no other process can drive it.
:class:`Supervisor` owns one process: starts it on first use, restarts it after
``lo_restart_after`` conversions, after a crash, or after a conversion exceeded its timeout, and
retries a conversion once on a fresh instance when the instance died under it.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import xmlrpc.client
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import unoserver

from core.errors import ConversionFailed, ConversionTimeout
from core.logs import log_lines
from core.settings import PROJECT_ROOT, Settings

from .long_tables import conversion_timeout

log = logging.getLogger(__name__)
LO_LOG = logging.getLogger("wenshu.libreoffice")
"""What LibreOffice and its UNO server write to stderr, one JSON line each."""

LO_SERVER_SCRIPT = Path(__file__).with_name("lo_server.py")
START_TIMEOUT_SECONDS = 60.0
"""Seconds a LibreOffice instance may take to start (first start builds its profile)."""
START_ATTEMPTS = 2
"""Starts tried before giving up: a first start can lose a port race or a cold-profile hiccup."""
PROBE_TIMEOUT_SECONDS = 5.0
"""Seconds a health probe (XML-RPC ``info``) may take."""
FONTCONFIG_FILE = PROJECT_ROOT / "docker" / "fontconfig" / "fonts.conf"
TEST_GATE_ENV = "WENSHU_TEST_CONVERT_GATE"
"""Test-only conversion gate (see lo_server.py); passed to LibreOffice only when WENSHU_ENV=test."""

# Reasons given to ``on_restart`` (the label of wenshu_libreoffice_restarts_total).
RECYCLE, DEAD, CRASH, TIMEOUT = "recycle", "dead", "crash", "timeout"


class InstanceDied(Exception):
    """The instance stopped answering in the middle of a call (crashed, killed)."""


class ConversionRefused(Exception):
    """The instance answered, with an error about this document."""


class OfficeProcess(Protocol):
    """One LibreOffice instance as the :class:`Supervisor` drives it."""

    def start(self) -> None:
        """Start and wait until it converts; raise OSError or ConversionFailed if it cannot."""

    def stop(self) -> None:
        """Stop it and everything it started (idempotent)."""

    def running(self) -> bool:
        """True while its process exists: a cheap check that never waits on a busy instance."""

    def healthy(self) -> bool:
        """True when it runs and answers a probe."""

    def convert(self, docx: bytes, fmt: str, filter_options: list[str], update_index: bool,
                timeout: float) -> bytes:
        """``docx`` converted to ``fmt``.

        Raises:
            TimeoutError: no answer within ``timeout`` seconds.
            ConversionRefused: the instance answered with an error.
            InstanceDied: the connection broke mid-call.
        """


ProcessFactory = Callable[[Settings, Path], OfficeProcess]
"""Builds an instance from the settings and its profile directory (LibreOfficeProcess, or a fake)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _TimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def make_connection(self, host):
        conn = super().make_connection(host)
        conn.timeout = self.timeout
        return conn


def rpc(port: int, timeout: float, host: str = "127.0.0.1") -> xmlrpc.client.ServerProxy:
    """An XML-RPC proxy to a conversion endpoint whose every call is bounded by ``timeout``."""
    return xmlrpc.client.ServerProxy(f"http://{host}:{port}", transport=_TimeoutTransport(timeout),
                                     allow_none=True)


def convert_via(proxy: xmlrpc.client.ServerProxy, docx: bytes, fmt: str, filter_options: list[str],
                update_index: bool) -> bytes:
    """One ``convert`` call in unoserver's positional signature (ours and stock unoserver's)."""
    result = proxy.convert(None, xmlrpc.client.Binary(docx), None, fmt, None, filter_options, update_index)
    return result.data if isinstance(result, xmlrpc.client.Binary) else result


def seed_profile(seed: Path, target: Path) -> str:
    """Create a LibreOffice user profile at ``target`` from the hardened seed; return its URL."""
    user = target / "user"
    user.mkdir(parents=True, exist_ok=True)
    for item in seed.iterdir():
        if item.is_file():
            shutil.copy2(item, user / item.name)
    return target.resolve().as_uri()


def lo_server_env(settings: Settings) -> dict[str, str]:
    """The environment of ``lo_server.py``: ours, plus what the system Python and soffice need.

    The test-only conversion gate passes only when ``settings.env`` is ``test``, and lo_server.py
    checks WENSHU_ENV again: a stray variable on a production host does nothing.
    """
    env = dict(os.environ)
    # The system Python must import unoserver from our venv without the venv's other packages.
    env["PYTHONPATH"] = str(Path(unoserver.__file__).resolve().parent.parent)
    env["WENSHU_ENV"] = settings.env
    if settings.env != "test":
        env.pop(TEST_GATE_ENV, None)
    if FONTCONFIG_FILE.exists():
        env["FONTCONFIG_FILE"] = str(FONTCONFIG_FILE)
    return env


class LibreOfficeProcess:
    """One ``lo_server.py`` process tree: start it, ask if it is healthy, convert, stop it."""

    def __init__(self, settings: Settings, profile_dir: Path) -> None:
        self.settings = settings
        self.profile_dir = profile_dir
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.port = free_port()
        profile_url = seed_profile(self.settings.lo_profile, self.profile_dir)
        cmd = [self.settings.uno_python, str(LO_SERVER_SCRIPT), "--soffice", self.settings.soffice,
               "--port", str(self.port), "--user-installation", profile_url,
               "--temp-dir", str(self.profile_dir / "tmp")]
        # Own session: a timeout kills soffice and the server together with one killpg.
        self.proc = subprocess.Popen(cmd, env=lo_server_env(self.settings), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        log_lines(self.proc.stderr, LO_LOG, port=self.port)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()  # whatever it started (soffice) goes too
                raise ConversionFailed(f"LibreOffice exited during start-up (code {code})")
            if self.healthy():
                return
            time.sleep(0.05)
        self.stop()
        raise ConversionFailed(f"LibreOffice did not start within {START_TIMEOUT_SECONDS:.0f} s")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        """True when the process runs and answers an ``info`` call."""
        if not self.running():
            return False
        try:
            self.info()
            return True
        except (OSError, xmlrpc.client.Error):
            return False

    def info(self) -> dict:
        """What lo_server.py reports: its pid, soffice's pid, the LibreOffice version."""
        return rpc(self.port, PROBE_TIMEOUT_SECONDS).info()

    def convert(self, docx: bytes, fmt: str, filter_options: list[str], update_index: bool,
                timeout: float) -> bytes:
        try:
            return convert_via(rpc(self.port, timeout), docx, fmt, filter_options, update_index)
        except TimeoutError:
            raise
        except xmlrpc.client.Fault as fault:
            raise ConversionRefused(_fault_message(fault)) from fault
        except (OSError, xmlrpc.client.ProtocolError) as exc:
            raise InstanceDied(f"{type(exc).__name__}: {exc}") from exc

    def stop(self) -> None:
        """Stop the whole process group: TERM, then KILL whatever is left of it after the server
        exits or 5 s pass — a soffice that outlived its server (one still starting up ignores TERM)
        would otherwise live on, orphaned, in a session nobody signals again."""
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break  # nothing of the group is left
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                continue
        self.proc.wait(5)
        self.proc = None


def _ignore_restart(reason: str) -> None:
    """Default ``on_restart``: nobody counts restarts (embedded use)."""


@dataclass
class Supervisor:
    """Keeps one LibreOffice instance usable and bounds every conversion in time.

    ``on_restart(reason)`` is called whenever an instance is restarted (not at its first start),
    with RECYCLE, DEAD, CRASH or TIMEOUT, so the worker can count restarts by reason.
    ``process_factory`` builds each instance: :class:`LibreOfficeProcess`, or a fake in unit tests.
    """

    settings: Settings
    on_restart: Callable[[str], None] = _ignore_restart
    process_factory: ProcessFactory = LibreOfficeProcess
    process: OfficeProcess | None = None
    conversions: int = 0
    restarts: int = 0
    _workdir: Path | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start an instance, trying START_ATTEMPTS times.

        Raises:
            ConversionFailed: no attempt produced a working instance.
        """
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="wenshu-lo-"))
        failure: Exception | None = None
        for attempt in range(1, START_ATTEMPTS + 1):
            process = self.process_factory(self.settings, self._workdir / "profile")
            try:
                process.start()
            except (OSError, ConversionFailed) as exc:
                log.warning("LibreOffice start attempt %d/%d failed: %s", attempt, START_ATTEMPTS, exc)
                process.stop()
                failure = exc
                continue
            self.process, self.conversions = process, 0
            return
        self.process = None
        raise ConversionFailed(f"LibreOffice could not be started ({START_ATTEMPTS} attempts): {failure}")

    def restart(self, reason: str, detail: str = "") -> None:
        """Replace the instance; ``reason`` (RECYCLE, DEAD, CRASH, TIMEOUT) goes to ``on_restart``."""
        log.warning("restarting LibreOffice: %s %s", reason, detail)
        if self.process is not None:
            self.process.stop()
            self.process = None
        self.restarts += 1
        self.on_restart(reason)
        self.start()

    def running(self) -> bool:
        """True while an instance process exists (never waits on a busy instance)."""
        return self.process is not None and self.process.running()

    def healthy(self) -> bool:
        return self.process is not None and self.process.healthy()

    def convert(self, docx: bytes, fmt: str, filter_options: list[str] | None = None,
                update_index: bool = False) -> bytes:
        """Convert ``docx`` to ``fmt`` (pdf, odt, docx...).

        Raises:
            ConversionTimeout: the conversion exceeded ``convert_timeout``; the instance was restarted.
            ConversionFailed: LibreOffice refused the document, died twice in a row, or cannot start.
        """
        self._ensure_usable()
        options = filter_options or []
        try:
            return self._convert_once(docx, fmt, options, update_index)
        except InstanceDied as died:
            # The instance crashed under this document: retry once on a fresh LibreOffice.
            self.restart(CRASH, f"during a conversion ({died})")
            try:
                return self._convert_once(docx, fmt, options, update_index)
            except InstanceDied as again:
                self.restart(CRASH, f"again on the same document ({again})")
                raise ConversionFailed(
                    f"LibreOffice crashed converting this document twice ({again})") from again

    def _ensure_usable(self) -> None:
        """Start on first use; recycle after ``lo_restart_after`` conversions; replace a dead one."""
        if self.process is None:
            self.start()
        elif self.conversions >= self.settings.lo_restart_after:
            self.restart(RECYCLE, f"after {self.conversions} conversions")
        elif not self.process.running():
            self.restart(DEAD, "instance found dead before a conversion")

    def _convert_once(self, docx: bytes, fmt: str, filter_options: list[str], update_index: bool) -> bytes:
        assert self.process is not None
        timeout = conversion_timeout(self.settings, docx)  # grows with the document (issue #12)
        try:
            result = self.process.convert(docx, fmt, filter_options, update_index, timeout)
        except TimeoutError as exc:
            self.restart(TIMEOUT, f"a conversion exceeded {timeout:g} s")
            raise ConversionTimeout(
                f"LibreOffice did not finish converting to {fmt} within {_seconds(timeout)} s "
                "(WENSHU_CONVERT_TIMEOUT); the instance was restarted") from exc
        except ConversionRefused as refused:
            # A killed soffice.bin reaches us as a refusal (the UNO bridge is disposed) before our
            # server notices and exits: only an instance that still answers blames the document.
            if not self.process.healthy():
                raise InstanceDied(f"LibreOffice stopped answering: {refused}") from refused
            self.conversions += 1
            raise ConversionFailed(f"LibreOffice could not convert the document to {fmt}: {refused}") from refused
        self.conversions += 1
        return result

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _fault_message(fault: xmlrpc.client.Fault) -> str:
    text = str(fault.faultString)
    # Keep the last line: the exception message, not the server's traceback.
    return text.strip().splitlines()[-1][:300] if text.strip() else "unknown error"


class RemoteConverter:
    """A LibreOffice someone else runs (``--unoserver HOST:PORT``): ours or a stock unoserver."""

    def __init__(self, address: str, timeout: float) -> None:
        host, _, port = address.rpartition(":")
        self.host, self.port, self.timeout = host or "127.0.0.1", int(port), timeout

    def convert(self, docx: bytes, fmt: str, filter_options: list[str] | None = None,
                update_index: bool = False) -> bytes:
        try:
            return convert_via(rpc(self.port, self.timeout, self.host), docx, fmt, filter_options or [],
                               update_index)
        except TimeoutError as exc:
            raise ConversionTimeout(f"{self.host}:{self.port} did not convert within {self.timeout:g} s") from exc
        except (OSError, xmlrpc.client.Error) as exc:
            raise ConversionFailed(f"conversion by {self.host}:{self.port} failed: {exc}") from exc

    def stop(self) -> None:
        """Nothing to stop: the instance is not ours."""


def _seconds(value: float) -> str:
    """A timeout as people read it: whole seconds from 10 s up (a size-scaled one is 10.0129 s), else one decimal."""
    return f"{value:.0f}" if value >= 10 else f"{round(value, 1):g}"
