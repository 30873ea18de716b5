"""A loopback webhook receiver, shared by the job and the batch callback tests.

A real ``http.server`` in a thread on 127.0.0.1 records every request and answers from a script of
statuses, so a test can make a callback fail, redirect or accept and see what the worker sent.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

DELIVERY_WAIT_SECONDS = 90
"""Seconds a test waits for a callback (render + convert + up to 2.5 s of retry backoff)."""


class Receiver:
    """A loopback HTTP endpoint that records every POST and answers from a script of statuses."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[dict[str, str], bytes, int]] = queue.Queue()
        self.script: list[int] = []
        self.redirect_to = ""
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status = receiver.script.pop(0) if receiver.script else 200
                headers = {k.lower(): v for k, v in self.headers.items()}
                headers[":method"] = self.command
                receiver.received.put((headers, body, status))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # noqa: N815 - a followed redirect arrives as GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def answer(self, *statuses: int, redirect_to: str = "") -> None:
        """Answer the next requests with these statuses (200 once they run out); 3xx go to ``redirect_to``."""
        with self.lock:
            self.script = list(statuses)
            self.redirect_to = redirect_to

    def next(self, timeout: float = DELIVERY_WAIT_SECONDS) -> tuple[dict[str, str], bytes, int]:
        return self.received.get(timeout=timeout)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A started receiver, shut down and its socket closed on the way out."""
    r = Receiver()
    r.thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()


def receiver_fixture(name: str = "receiver", scope: str = "function"):
    """A pytest fixture ``name`` yielding a running :class:`Receiver` (``receiver = receiver_fixture()``)."""

    @pytest.fixture(name=name, scope=scope)
    def fixture() -> Iterator[Receiver]:
        with running_receiver() as r:
            yield r

    return fixture
