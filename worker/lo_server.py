"""The LibreOffice side of one worker: soffice plus an XML-RPC conversion endpoint.

Runs under the system Python (``/usr/bin/python3``), the one that imports ``uno``; the worker's venv
only talks XML-RPC to it. We reuse unoserver's ``UnoConverter`` but not its ``UnoServer`` runner,
for two measured reasons (bench/e2e_vs_raw.py):

* unoserver 3.7 sleeps 7 s before serving and retries the UNO connection every 2 s; a cold soffice
  is ready in ~0.7 s, so we poll every 50 ms and serve as soon as the bridge answers.
* unoserver loads documents without ``Hidden=True``; loading hidden (as Carbone does) saves ~25 %
  per conversion because no frame or layout for a view is built.

UNO is reachable only by this process: soffice listens on no TCP port (any local user can connect
to one of those) but on a named pipe, a Unix socket in /tmp created under umask 077 (only its owner
may connect) with a random name made here; once we are connected, we unlink it, so no second UNO
connection can ever be made to this soffice. unoserver
3.7's ``UnoConverter`` only dials TCP sockets, so :class:`PipeUnoConverter` resolves the pipe
itself. The XML-RPC port is bound to 127.0.0.1 and takes bytes only, never paths.

Test hook (accepted only when WENSHU_ENV=test): WENSHU_TEST_CONVERT_GATE names a directory. Every
conversion, once soffice has loaded its document, appends "<our pid> <soffice pid>" to
``<dir>/entered`` and then waits while ``<dir>/hold`` exists (at most GATE_MAX_HOLD_SECONDS). A
test creates ``hold``, reads ``entered`` to know a conversion is in progress (no guessing with
sleeps or slow documents), does its damage, and removes ``hold`` to let it go.

This file must only import the stdlib, ``uno``, ``unoserver`` and its sibling ``lo_seams``.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import signal
import subprocess
import sys
import threading
import time
import traceback
import xmlrpc.client
import xmlrpc.server
from pathlib import Path

import uno
from com.sun.star.beans import PropertyValue
from lo_seams import mend_seams  # our sibling module (stdlib and uno only)
from unoserver import converter

CONNECT_POLL_SECONDS = 0.05
"""Seconds between attempts to reach a starting soffice over UNO."""
CONNECT_DEADLINE_SECONDS = 60.0
"""Seconds a cold soffice may take to accept UNO connections."""
PARENT_POLL_SECONDS = 1.0
"""Seconds between checks that the worker that started us is still alive."""
TEST_GATE_ENV = "WENSHU_TEST_CONVERT_GATE"
GATE_POLL_SECONDS = 0.05
GATE_MAX_HOLD_SECONDS = 300.0
"""A forgotten ``hold`` file must not wedge a test run for ever."""
PIPE_DIRS = ("/tmp", "/var/tmp")
"""Where LibreOffice's sal layer puts named pipes (OSL_PIPE_<uid>_<name>), first one that exists."""


class ConversionGate:
    """Test-only: hold each conversion after its document is loaded, until the test lets it go."""

    def __init__(self, directory: str, soffice_pid: int) -> None:
        self.directory = Path(directory)
        self.line = f"{os.getpid()} {soffice_pid}\n"

    @classmethod
    def from_env(cls, soffice_pid: int) -> ConversionGate | None:
        """The gate WENSHU_TEST_CONVERT_GATE names, only under WENSHU_ENV=test."""
        directory = os.environ.get(TEST_GATE_ENV)
        if not directory or os.environ.get("WENSHU_ENV") != "test":
            return None
        return cls(directory, soffice_pid)

    def pass_through(self) -> None:
        with open(self.directory / "entered", "a") as log:
            log.write(self.line)
        deadline = time.monotonic() + GATE_MAX_HOLD_SECONDS
        while (self.directory / "hold").exists() and time.monotonic() < deadline:
            time.sleep(GATE_POLL_SECONDS)


class HiddenLoadingDesktop:
    """Wraps the UNO Desktop so every document is loaded hidden (no view, ~25 % faster)."""

    def __init__(self, desktop, after_load=None):
        self._desktop = desktop
        self._after_load = after_load

    def loadComponentFromURL(self, url, frame, flags, props):  # noqa: N802 (UNO name)
        hidden = (PropertyValue(Name="Hidden", Value=True),)
        document = self._desktop.loadComponentFromURL(url, frame, flags, tuple(props) + hidden)
        if document is not None:
            mend_seams(document)  # a long table converted in chunks: each chunk starts a page (lo_seams.py)
        if self._after_load is not None:
            self._after_load()
        return document

    def __getattr__(self, name):
        return getattr(self._desktop, name)


class PipeUnoConverter(converter.UnoConverter):
    """unoserver's converter, connected over a named pipe instead of a TCP socket.

    Sets the same attributes as ``UnoConverter.__init__`` (unoserver 3.7), which only builds
    ``uno:socket`` URLs.
    """

    def __init__(self, pipe_name: str, temp_dir: str | None = None) -> None:
        self.local_context = uno.getComponentContext()
        self.resolver = self.local_context.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", self.local_context)
        self.context = self.resolver.resolve(f"uno:pipe,name={pipe_name};urp;StarOffice.ComponentContext")
        self.service = self.context.ServiceManager
        self.desktop = self.service.createInstanceWithContext("com.sun.star.frame.Desktop", self.context)
        self.filter_service = self.service.createInstanceWithContext(
            "com.sun.star.document.FilterFactory", self.context)
        self.type_service = self.service.createInstanceWithContext(
            "com.sun.star.document.TypeDetection", self.context)
        self.temp_dir = temp_dir
        self._export_filters = None
        self._import_filters = None


def start_soffice(soffice: str, pipe_name: str, profile_url: str) -> subprocess.Popen:
    accept = f"pipe,name={pipe_name};urp;StarOffice.ComponentContext"
    cmd = [soffice, "--headless", "--invisible", "--nocrashreport", "--nodefault", "--nologo",
           "--nofirststartwizard", "--norestore", "--nolockcheck",
           f"-env:UserInstallation={profile_url}", f"--accept={accept}"]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL)


def remove_pipe(pipe_name: str) -> None:
    """Remove the pipe's socket file, which a killed soffice leaves behind in /tmp."""
    for directory in PIPE_DIRS:
        try:
            os.unlink(f"{directory}/OSL_PIPE_{os.getuid()}_{pipe_name}")
        except OSError:
            pass


def connect(pipe_name: str, soffice: subprocess.Popen, temp_dir: str | None):
    deadline = time.monotonic() + CONNECT_DEADLINE_SECONDS
    while True:
        try:
            conv = PipeUnoConverter(pipe_name, temp_dir=temp_dir)
        except Exception:
            if soffice.poll() is not None:
                raise SystemExit(f"soffice exited with {soffice.returncode} before accepting UNO") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(CONNECT_POLL_SECONDS)
            continue
        # Connected: take the pipe's name off the file system, so nobody (not even a process of
        # our own user) can open a second UNO connection; ours stays up, and nothing is left behind.
        remove_pipe(pipe_name)
        gate = ConversionGate.from_env(soffice.pid)
        conv.desktop = HiddenLoadingDesktop(conv.desktop, gate.pass_through if gate else None)
        return conv


def serve(port: int, conv, soffice: subprocess.Popen, on_soffice_exit) -> None:
    server = xmlrpc.server.SimpleXMLRPCServer(("127.0.0.1", port), allow_none=True, logRequests=False)

    # Same positional signature as unoserver's own server, so its client (and `--unoserver`
    # pointing at a stock unoserver) work against either. Paths are refused: callers send bytes,
    # and an RPC that names local files would let anyone on loopback read them.
    def convert(inpath=None, indata=None, outpath=None, convert_to=None, filtername=None,
                filter_options=None, update_index=True, infiltername=None, password=None):
        if inpath or outpath:
            raise ValueError("this server converts bytes only (inpath/outpath refused)")
        data = indata.data if isinstance(indata, xmlrpc.client.Binary) else indata
        result = conv.convert(indata=data, convert_to=convert_to, filtername=filtername,
                              filter_options=filter_options or [], update_index=update_index,
                              infiltername=infiltername)
        return xmlrpc.client.Binary(result)

    def info():
        return {"soffice_pid": soffice.pid, "pid": os.getpid(), "version": conv.uno_info()}

    server.register_function(convert, "convert")
    server.register_function(info, "info")

    def watch_soffice():
        # If LibreOffice dies, this process exits too, so the supervisor sees one failure.
        soffice.wait()
        on_soffice_exit()
        os._exit(3)

    threading.Thread(target=watch_soffice, daemon=True).start()
    print(f"wenshu-lo ready port={port} soffice_pid={soffice.pid}", flush=True)
    server.serve_forever()


def watch_parent(parent_pid: int, stop) -> None:
    """Stop soffice and exit when the worker that started us is gone.

    We run in a session of our own (so one killpg stops soffice with us), which also means a
    ``kill -9`` of the worker reaches neither us nor soffice: without this, they would live on.
    """
    while os.getppid() == parent_pid:
        time.sleep(PARENT_POLL_SECONDS)
    stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soffice", default="soffice")
    parser.add_argument("--port", type=int, required=True, help="XML-RPC port (127.0.0.1)")
    parser.add_argument("--user-installation", required=True, help="profile URL, file:///...")
    parser.add_argument("--temp-dir", default=None)
    args = parser.parse_args(argv)

    # The worker caps its own address space for rendering; LibreOffice needs its own headroom.
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    # Unguessable, and a fresh one per instance: no two instances (or stale sockets) ever meet.
    pipe_name = f"wenshu-{secrets.token_hex(16)}"
    os.umask(0o077)  # the pipe's socket file (and every file soffice writes) is its owner's only
    soffice = start_soffice(args.soffice, pipe_name, args.user_installation)

    def stop(signum, frame, code: int = 0):
        remove_pipe(pipe_name)  # first: a stop cut short by SIGKILL must not leave it in /tmp
        soffice.terminate()
        try:
            soffice.wait(5)
        except subprocess.TimeoutExpired:
            soffice.kill()
        remove_pipe(pipe_name)
        os._exit(code)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=watch_parent, args=(os.getppid(), lambda: stop(None, None)), daemon=True).start()
    try:
        conv = connect(pipe_name, soffice, args.temp_dir)
        serve(args.port, conv, soffice, lambda: remove_pipe(pipe_name))
    except BaseException:
        # No soffice outlives us, whatever ended us (no UNO within the deadline, the port taken
        # since the worker picked it): in its own session, nobody else would ever stop it.
        traceback.print_exc()
        stop(None, None, code=1)


if __name__ == "__main__":
    sys.exit(main())
