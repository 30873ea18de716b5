#!/bin/sh
# Container entrypoint: one image, a role per container.
#
#   api          wenshu serve  (waitress, binds 0.0.0.0 so the published port reaches it)
#   worker       wenshu worker (N RQ worker processes, each supervising one LibreOffice)
#   healthcheck  [api|worker]  exit 0 when this container's role is healthy (HEALTHCHECK, compose)
#   anything else is run as given, e.g. `wenshu render …` or `sh`.
#
# The role is remembered in $TMPDIR/wenshu.role because a HEALTHCHECK process does not see the
# container's command line; `healthcheck ROLE` overrides it (compose passes the role explicitly).
set -eu

role_file="${TMPDIR:-/tmp}/wenshu.role"
here="$(dirname "$0")"

case "${1:-api}" in
  api)
    [ "$#" -gt 0 ] && shift
    echo api > "$role_file"
    # 0.0.0.0 inside the container's own network namespace, so the published port reaches it. With
    # host networking set WENSHU_HOST=127.0.0.1 (or the interface to serve): 0.0.0.0 would expose it.
    exec wenshu serve --host "${WENSHU_HOST:-0.0.0.0}" "$@"   # port: WENSHU_PORT (core/settings.py)
    ;;
  worker)
    shift
    echo worker > "$role_file"
    # A worker-name prefix unique to this container: its health check finds its own workers even
    # where containers share the host's hostname (host networking).
    if [ -z "${WENSHU_WORKER_NAME_PREFIX:-}" ]; then
      WENSHU_WORKER_NAME_PREFIX="wenshu-$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
      export WENSHU_WORKER_NAME_PREFIX
    fi
    echo "$WENSHU_WORKER_NAME_PREFIX" > "${TMPDIR:-/tmp}/wenshu.identity"
    # Without compose's service_healthy (podman 4.3 ignores it), wait for Redis instead of crash-looping.
    python3 "$here/healthcheck.py" wait-redis
    exec wenshu worker "$@"                               # processes: WENSHU_WORKERS
    ;;
  healthcheck)
    shift
    role="${1:-$(cat "$role_file" 2>/dev/null || echo api)}"
    exec python3 "$here/healthcheck.py" "$role"
    ;;
  *)
    exec "$@"
    ;;
esac
