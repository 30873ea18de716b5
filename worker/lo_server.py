"""The LibreOffice side of one worker: soffice plus an XML-RPC conversion endpoint.

Runs under the system Python (``/usr/bin/python3``), the one that imports ``uno``; the worker's venv
only talks XML-RPC to it. We reuse unoserver's ``UnoConverter`` but not its ``UnoServer`` runner,
for two measured reasons (bench/e2e_vs_raw.py):

* unoserver 3.7 sleeps 7 s before serving and retries the UNO connection every 2 s; a cold soffice
  is ready in ~0.7 s, so we poll every 50 ms and serve as soon as the bridge answers.
* unoserver loads documents without ``Hidden=True``; loading hidden (as Carbone does) saves ~25 %
  per conversion because no frame or layout for a view is built.

Both ports are bound to 127.0.0.1: the XML-RPC endpoint has no authentication.
This file must only import the stdlib, ``uno`` and ``unoserver``.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import xmlrpc.client
import xmlrpc.server

import uno  # noqa: F401  (system Python only; makes com.sun.star importable)
from com.sun.star.beans import PropertyValue
from unoserver import converter

CONNECT_POLL_SECONDS = 0.05
"""Seconds between attempts to reach a starting soffice over UNO."""
CONNECT_DEADLINE_SECONDS = 60.0
"""Seconds a cold soffice may take to accept UNO connections."""
PARENT_POLL_SECONDS = 1.0
"""Seconds between checks that the worker that started us is still alive."""


class HiddenLoadingDesktop:
    """Wraps the UNO Desktop so every document is loaded hidden (no view, ~25 % faster)."""

    def __init__(self, desktop):
        self._desktop = desktop

    def loadComponentFromURL(self, url, frame, flags, props):  # noqa: N802 (UNO name)
        hidden = (PropertyValue(Name="Hidden", Value=True),)
        return self._desktop.loadComponentFromURL(url, frame, flags, tuple(props) + hidden)

    def __getattr__(self, name):
        return getattr(self._desktop, name)


def start_soffice(soffice: str, uno_port: int, profile_url: str) -> subprocess.Popen:
    accept = f"socket,host=127.0.0.1,port={uno_port},tcpNoDelay=1;urp;StarOffice.ComponentContext"
    cmd = [soffice, "--headless", "--invisible", "--nocrashreport", "--nodefault", "--nologo",
           "--nofirststartwizard", "--norestore", "--nolockcheck",
           f"-env:UserInstallation={profile_url}", f"--accept={accept}"]
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL)


def connect(uno_port: int, soffice: subprocess.Popen, temp_dir: str | None):
    deadline = time.monotonic() + CONNECT_DEADLINE_SECONDS
    while True:
        try:
            conv = converter.UnoConverter(interface="127.0.0.1", port=str(uno_port), temp_dir=temp_dir)
        except Exception:
            if soffice.poll() is not None:
                raise SystemExit(f"soffice exited with {soffice.returncode} before accepting UNO") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(CONNECT_POLL_SECONDS)
            continue
        conv.desktop = HiddenLoadingDesktop(conv.desktop)
        return conv


def serve(port: int, conv, soffice: subprocess.Popen) -> None:
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
    parser.add_argument("--uno-port", type=int, required=True, help="UNO socket port (127.0.0.1)")
    parser.add_argument("--user-installation", required=True, help="profile URL, file:///...")
    parser.add_argument("--temp-dir", default=None)
    args = parser.parse_args(argv)

    # The worker caps its own address space for rendering; LibreOffice needs its own headroom.
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    soffice = start_soffice(args.soffice, args.uno_port, args.user_installation)

    def stop(signum, frame):
        soffice.terminate()
        try:
            soffice.wait(5)
        except subprocess.TimeoutExpired:
            soffice.kill()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=watch_parent, args=(os.getppid(), lambda: stop(None, None)), daemon=True).start()
    conv = connect(args.uno_port, soffice, args.temp_dir)
    serve(args.port, conv, soffice)


if __name__ == "__main__":
    sys.exit(main())
