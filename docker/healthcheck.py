"""Container health check for both roles (called by ``entrypoint.sh healthcheck ROLE``).

* ``api``: ``GET http://127.0.0.1:$WENSHU_PORT/healthz`` answers 200. Process liveness only: the
  README defines /healthz as liveness, and a Redis outage must not make every API container "unhealthy"
  and restart-loop (readiness is /readyz's job).
* ``worker``: a worker has no HTTP port. It is healthy while at least one RQ worker registered
  from *this* container (RQ records ``socket.gethostname()``, the container id under Docker) is
  in Redis. RQ drops a worker's key when its heartbeats stop, so a hung or dead worker pool turns
  the container unhealthy. A check on ``soffice.bin`` processes would be wrong here: the
  supervisor starts LibreOffice on first use and restarts it every ``WENSHU_LO_RESTART_AFTER``
  conversions, so "no soffice right now" is normal.

Exit status 0 = healthy, 1 = unhealthy (Docker's HEALTHCHECK contract); one line on stdout says why.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.request
from pathlib import Path

IDENTITY_FILE = os.path.join(os.environ.get("TMPDIR") or "/tmp", "wenshu.identity")
TIMEOUT_SECONDS = 5.0
"""Seconds one probe may take; below the HEALTHCHECK --timeout so the reason gets printed."""


def api_healthy() -> tuple[bool, str]:
    """True when the local API answers /healthz with 200."""
    url = f"http://127.0.0.1:{os.environ.get('WENSHU_PORT') or '8080'}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as resp:
            return resp.status == 200, f"{url} -> {resp.status}"
    except OSError as exc:
        return False, f"{url} -> {exc}"


def worker_healthy() -> tuple[bool, str]:
    """True when Redis lists at least one live RQ worker started on this host/container."""
    from redis import Redis
    from redis.exceptions import RedisError
    from rq import Worker

    from core.settings import Settings

    settings = Settings.from_env()
    prefix = identity()
    host = socket.gethostname()
    try:
        conn = Redis.from_url(settings.redis_url, socket_timeout=TIMEOUT_SECONDS,
                              socket_connect_timeout=TIMEOUT_SECONDS)
        if prefix:   # set by the entrypoint: unique per container, whatever the hostname
            mine = [w.name for w in Worker.all(connection=conn) if w.name.startswith(prefix + "-")]
        else:
            mine = [w.name for w in Worker.all(connection=conn) if w.hostname == host]
    except RedisError as exc:
        return False, f"redis unreachable: {exc}"
    where = f"container {prefix}" if prefix else f"host {host}"
    if not mine:
        return False, f"no RQ worker registered from {where}"
    return True, f"{len(mine)} RQ worker(s) on {where}"


def identity() -> str:
    """The worker-name prefix the entrypoint chose for this container ('' outside one)."""
    try:
        return Path(IDENTITY_FILE).read_text().strip()
    except OSError:
        return ""


def wait_for_redis(seconds: float = 120) -> tuple[bool, str]:
    """Block until Redis answers PING: compose's `depends_on: service_healthy` is not honoured everywhere
    (podman 4.3 ignores it), so each role waits for Redis itself instead of crash-looping."""
    from redis import Redis
    from redis.exceptions import RedisError

    from core.settings import Settings

    url = Settings.from_env().redis_url
    deadline = time.monotonic() + seconds
    while True:
        try:
            Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS).ping()
            return True, "redis answers"
        except RedisError as exc:
            if time.monotonic() > deadline:
                return False, f"redis did not answer within {seconds:.0f} s: {exc}"
            time.sleep(1)


def main(argv: list[str]) -> int:
    """Run the check for ``argv[0]`` (api|worker) and return the exit status."""
    role = argv[0] if argv else "api"
    checks = {"api": api_healthy, "worker": worker_healthy, "wait-redis": wait_for_redis}
    if role not in checks:
        print(f"unknown role {role!r}; expected api, worker or wait-redis")
        return 1
    ok, reason = checks[role]()
    print(("healthy: " if ok else "unhealthy: ") + reason)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
