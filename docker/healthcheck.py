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
import urllib.request

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

    url = Settings.from_env().redis_url
    host = socket.gethostname()
    try:
        conn = Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS)
        mine = [w.name for w in Worker.all(connection=conn) if w.hostname == host]
    except RedisError as exc:
        return False, f"redis unreachable: {exc}"
    if not mine:
        return False, f"no RQ worker registered from host {host}"
    return True, f"{len(mine)} RQ worker(s) on {host}"


def main(argv: list[str]) -> int:
    """Run the check for ``argv[0]`` (api|worker) and return the exit status."""
    role = argv[0] if argv else "api"
    checks = {"api": api_healthy, "worker": worker_healthy}
    if role not in checks:
        print(f"unknown role {role!r}; expected api or worker")
        return 1
    ok, reason = checks[role]()
    print(("healthy: " if ok else "unhealthy: ") + reason)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
