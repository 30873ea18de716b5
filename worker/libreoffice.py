"""One supervised LibreOffice per worker process (Gotenberg's process + supervisor split).

:class:`LibreOfficeProcess` starts, probes and stops one ``lo_server.py`` (soffice + XML-RPC) on
free loopback ports with its own profile seeded from ``docker/libreoffice/``.
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

import unoserver

from core.errors import ConversionFailed, ConversionTimeout
from core.settings import PROJECT_ROOT, Settings

log = logging.getLogger(__name__)

LO_SERVER_SCRIPT = Path(__file__).with_name("lo_server.py")
START_TIMEOUT_SECONDS = 60.0
"""Seconds a LibreOffice instance may take to start (first start builds its profile)."""
PROBE_TIMEOUT_SECONDS = 5.0
"""Seconds a health probe (XML-RPC ``info``) may take."""
FONTCONFIG_FILE = PROJECT_ROOT / "docker" / "fontconfig" / "fonts.conf"


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


class LibreOfficeProcess:
    """One ``lo_server.py`` process tree: start it, ask if it is healthy, stop it."""

    def __init__(self, settings: Settings, profile_dir: Path) -> None:
        self.settings = settings
        self.profile_dir = profile_dir
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.port, uno_port = free_port(), free_port()
        profile_url = seed_profile(self.settings.lo_profile, self.profile_dir)
        env = dict(os.environ)
        # The system Python must import unoserver from our venv without the venv's other packages.
        env["PYTHONPATH"] = str(Path(unoserver.__file__).resolve().parent.parent)
        if FONTCONFIG_FILE.exists():
            env["FONTCONFIG_FILE"] = str(FONTCONFIG_FILE)
        cmd = [self.settings.uno_python, str(LO_SERVER_SCRIPT), "--soffice", self.settings.soffice,
               "--port", str(self.port), "--uno-port", str(uno_port),
               "--user-installation", profile_url, "--temp-dir", str(self.profile_dir / "tmp")]
        # Own session: a timeout kills soffice and the server together with one killpg.
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ConversionFailed(f"LibreOffice exited during start-up (code {self.proc.returncode})")
            if self.healthy():
                return
            time.sleep(0.05)
        self.stop()
        raise ConversionFailed(f"LibreOffice did not start within {START_TIMEOUT_SECONDS:.0f} s")

    def healthy(self) -> bool:
        """True when the process runs and answers an ``info`` call."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            rpc(self.port, PROBE_TIMEOUT_SECONDS).info()
            return True
        except (OSError, xmlrpc.client.Error):
            return False

    def info(self) -> dict:
        return rpc(self.port, PROBE_TIMEOUT_SECONDS).info()

    def convert(self, docx: bytes, fmt: str, filter_options: list[str], update_index: bool,
                timeout: float) -> bytes:
        return convert_via(rpc(self.port, timeout), docx, fmt, filter_options, update_index)

    def stop(self) -> None:
        """Stop the whole process group: TERM, then KILL after 5 s."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(5)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)
        self.proc = None


@dataclass
class Supervisor:
    """Keeps one LibreOffice instance usable and bounds every conversion in time.

    ``on_restart(reason)`` is called whenever an instance is (re)started after the first start,
    so the worker can count restarts in its metrics.
    """

    settings: Settings
    on_restart: Callable[[str], None] = lambda reason: None
    process: LibreOfficeProcess | None = None
    conversions: int = 0
    restarts: int = 0
    _workdir: Path | None = field(default=None, repr=False)

    def start(self) -> None:
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="wenshu-lo-"))
        self.process = LibreOfficeProcess(self.settings, self._workdir / "profile")
        self.process.start()
        self.conversions = 0

    def restart(self, reason: str) -> None:
        log.warning("restarting LibreOffice: %s", reason)
        if self.process is not None:
            self.process.stop()
        self.restarts += 1
        self.on_restart(reason)
        self.start()

    def healthy(self) -> bool:
        return self.process is not None and self.process.healthy()

    def convert(self, docx: bytes, fmt: str, filter_options: list[str] | None = None,
                update_index: bool = False) -> bytes:
        """Convert ``docx`` to ``fmt`` (pdf, odt, docx...).

        Raises:
            ConversionTimeout: the conversion exceeded ``convert_timeout``; the instance was restarted.
            ConversionFailed: LibreOffice refused the document, or died twice in a row.
        """
        if self.process is None:
            self.start()
        elif self.conversions >= self.settings.lo_restart_after:
            self.restart(f"after {self.conversions} conversions")
        elif self.process.proc is None or self.process.proc.poll() is not None:
            self.restart("instance found dead")
        try:
            return self._convert_once(docx, fmt, filter_options or [], update_index)
        except _InstanceDied as died:
            # The instance crashed under this document: retry once on a fresh LibreOffice.
            self.restart(f"crashed during conversion ({died})")
            try:
                return self._convert_once(docx, fmt, filter_options or [], update_index)
            except _InstanceDied as again:
                self.restart(f"crashed again ({again})")
                raise ConversionFailed(
                    f"LibreOffice crashed converting this document twice ({again})") from again

    def _convert_once(self, docx: bytes, fmt: str, filter_options: list[str], update_index: bool) -> bytes:
        assert self.process is not None
        timeout = self.settings.convert_timeout
        try:
            result = self.process.convert(docx, fmt, filter_options, update_index, timeout)
        except TimeoutError as exc:
            self.restart(f"conversion exceeded {timeout:g} s")
            raise ConversionTimeout(
                f"LibreOffice did not finish converting to {fmt} within {timeout:g} s "
                "(WENSHU_CONVERT_TIMEOUT); the instance was restarted") from exc
        except xmlrpc.client.Fault as fault:
            # A killed soffice.bin reaches us as a Fault (the UNO bridge is disposed) before our
            # server notices and exits: only an instance that still answers blames the document.
            if not self.process.healthy():
                raise _InstanceDied(f"LibreOffice stopped answering: {_fault_message(fault)}") from fault
            self.conversions += 1
            raise ConversionFailed(f"LibreOffice could not convert the document to {fmt}: "
                                   f"{_fault_message(fault)}") from fault
        except (OSError, xmlrpc.client.ProtocolError) as exc:
            raise _InstanceDied(f"{type(exc).__name__}: {exc}") from exc
        self.conversions += 1
        return result

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


class _InstanceDied(Exception):
    """Internal: the connection to the instance broke mid-call (crash, kill)."""


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
