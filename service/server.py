"""``wenshu serve``: the API under waitress, so slow or idle clients never hold a request thread.

Why waitress, not gunicorn's ``gthread`` worker: gthread hands a connection to a thread as soon as
its first bytes arrive and the thread then blocks reading the rest, so 40 sockets that send half a
request line and stall held every thread and stopped ``/healthz`` (gunicorn 27 only defers
connections that send *nothing*). Waitress reads every request — headers and body, the body
spooled to a temp file past ``inbuf_overflow`` — in one non-blocking I/O loop and dispatches it to
a thread only once it has fully arrived; responses are flushed by the same loop. A thread is
therefore only ever busy running the Flask app, and the app bounds what it holds there (``?wait=``
by ``WENSHU_MAX_HELD_WAITS``, see ``service/quota.py``).

What this module adds to waitress:

* a read deadline: a connection that has not delivered a whole request within
  ``WENSHU_REQUEST_TIMEOUT`` of its first byte, or that is silent that long (idle keep-alive
  included), is closed — waitress's own ``channel_timeout`` only counts silence, so a client
  trickling a byte a second would otherwise keep its connection for ever;
* errors waitress answers itself (malformed request line, headers too large, body over
  ``WENSHU_MAX_BODY``) as problem+json, like every other error of the API;
* graceful SIGTERM/SIGINT: stop listening, let every request in flight finish (a held ``?wait=``
  included, up to ``WENSHU_MAX_WAIT`` + 5 s), close idle connections, exit 0 — rolling deploys
  drop no request.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from typing import Any

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from core.settings import Settings

log = logging.getLogger("wenshu.server")

CONNECTION_LIMIT = 1000
"""Open connections beyond which waitress stops accepting (each costs a socket, never a thread)."""
MAX_HEADER_BYTES = 64 * 1024
"""Request line plus headers; beyond it waitress answers 431."""
LOOP_TICK_SECONDS = 1
"""Longest the I/O loop sleeps: how soon it notices a stop signal or a connection past its deadline."""
STOP_GRACE_SLACK_SECONDS = 5
"""Time on top of WENSHU_MAX_WAIT that in-flight requests get to finish after SIGTERM."""


class _ProblemErrorTask(ErrorTask):
    """Waitress's own error answers (400, 431, 413...) as problem+json instead of plain text."""

    def execute(self) -> None:
        error = self.request.error
        limit = self.channel.server.adj.max_request_body_size
        detail = (f"the request body is larger than the {limit}-byte limit (WENSHU_MAX_BODY)"
                  if error.code == 413 else f"{error.reason}: {error.body}")
        body = json.dumps({"type": f"https://wenshu.dev/problems/{error.reason.lower().replace(' ', '-')}",
                           "title": error.reason, "status": error.code, "detail": detail}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/problem+json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _DeadlineChannel(HTTPChannel):
    """A connection that remembers when the request it is receiving began."""

    error_task_class = _ProblemErrorTask
    request_started = 0.0

    def received(self, data: bytes) -> bool:
        if self.request is None:  # these bytes start a new request
            self.request_started = time.time()
        return super().received(data)

    def overdue(self, now: float, timeout: float) -> bool:
        """True if the client is too slow: a request not complete in time, or silence for as long."""
        if self.requests:  # a thread is answering it: the app bounds that time, not the client
            return False
        receiving = self.request is not None and now - self.request_started > timeout
        return receiving or now - self.last_activity > timeout

    def in_flight(self) -> bool:
        """A request is being received, answered, or its answer still being sent."""
        return bool(self.requests or self.total_outbufs_len or self.request is not None)


class _Server(TcpWSGIServer):
    """Waitress's TCP server with request deadlines and a graceful stop."""

    channel_class = _DeadlineChannel

    def __init__(self, app: Any, settings: Settings, adj: Adjustments) -> None:
        self.request_timeout = settings.request_timeout
        self.stopping = False
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(adj.threads)
        super().__init__(app, map={}, dispatcher=dispatcher, adj=adj)

    def maintenance(self, now: float) -> None:
        """Close connections past their deadline (replaces waitress's silence-only check)."""
        for channel in list(self.active_channels.values()):
            if channel.overdue(now, self.request_timeout) or (self.stopping and not channel.in_flight()):
                channel.will_close = True

    def serve_until_stopped(self, grace: float) -> None:
        """Serve until :meth:`stop`, then drain in-flight requests for at most ``grace`` seconds."""
        while not self.stopping:
            self._tick()
        self.accepting = False
        self.del_channel()  # stop listening: new connections are refused, not left in the backlog
        self.socket.close()
        deadline = time.monotonic() + grace
        while any(c.in_flight() for c in list(self.active_channels.values())) and time.monotonic() < deadline:
            self.maintenance(time.time())
            self._tick()
        self.task_dispatcher.shutdown(cancel_pending=True, timeout=STOP_GRACE_SLACK_SECONDS)
        wasyncore.close_all(self._map, ignore_all=True)

    def stop(self, *_: Any) -> None:
        """Signal handler: only sets a flag (the loop notices within a tick)."""
        self.stopping = True

    def _tick(self) -> None:
        wasyncore.loop(timeout=LOOP_TICK_SECONDS, use_poll=True, map=self._map, count=1)


def adjustments(settings: Settings) -> Adjustments:
    """Waitress settings derived from ours (the test of the server reads them too)."""
    return Adjustments(host=settings.host, port=settings.port, threads=settings.api_threads,
                       connection_limit=CONNECTION_LIMIT, cleanup_interval=LOOP_TICK_SECONDS,
                       channel_timeout=max(1, int(settings.request_timeout)),
                       max_request_header_size=MAX_HEADER_BYTES, max_request_body_size=settings.max_body,
                       asyncore_use_poll=True, asyncore_loop_timeout=LOOP_TICK_SECONDS, ident="wenshu")


def serve(settings: Settings) -> int:
    """Run the API until SIGTERM/SIGINT, then finish the requests in hand and return 0."""
    from .app import create_app

    server = _Server(create_app(settings), settings, adjustments(settings))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, server.stop)
    log.info("listening", extra={"url": f"http://{server.effective_host}:{server.effective_port}",
                                 "threads": settings.api_threads})
    server.serve_until_stopped(grace=settings.max_wait + STOP_GRACE_SLACK_SECONDS)
    log.info("stopped")
    return 0
