#!/usr/bin/env bash
# `make run`: Redis (REDIS_URL, or a Redis of our own), WENSHU_WORKERS workers and the API, until
# Ctrl-C / SIGTERM / SIGHUP.
#
# Stopping is ordered so that nothing is lost:
#   1. the API gets SIGTERM: it stops accepting and answers the requests in flight, held `?wait=`
#      requests included (for up to WENSHU_MAX_WAIT + 5 s);
#   2. then the workers get SIGTERM: each finishes the job in hand (RQ warm shutdown); jobs still
#      queued stay in Redis and are taken up by the next start;
#   3. Redis last: it flushes its append-only file and exits.
# A second Ctrl-C (or SIGTERM) during that stop hurries it: the API is killed (requests in flight get
# no answer; it holds no state) and the workers stop at once (RQ cold shutdown: the job in hand is
# abandoned and retried by the next start). Redis still stops last and in order.
#
# Our own Redis (only when REDIS_URL is unset) persists: AOF with `appendfsync everysec` under
# $RUN_DIR/redis (an orderly stop loses nothing; a host crash at most the last second; `always`
# would fsync every write for no gain here), and never evicts (`maxmemory-policy noeviction`: when
# full it refuses writes, which the API answers 503, rather than drop a queued job).
# Its port is picked once and kept in $RUN_DIR/redis.port, so
# `redis-cli -p $(cat .run/redis.port)` keeps working across runs.
# Result files go to $RUN_DIR/results (WENSHU_RESULT_STORE=fs), not into Redis, unless
# WENSHU_RESULT_STORE / WENSHU_RESULT_DIR say otherwise.
#
# Host, port and worker count come from core/settings.py (the one place defaults live); a bad
# setting stops the start with the settings' own message.
#
# Script variable (not a service setting):
#   WENSHU_RUN_DIR  where logs, the Redis data and its port go (default: .run in the project).
# Exit status: 0 once stopped in order (on Ctrl-C it re-raises SIGINT, as shells expect);
# 1 if something failed to start or died on its own.
set -euo pipefail
run_dir=${WENSHU_RUN_DIR:-}
cd "$(dirname "$0")/.."
RUN_DIR=$(realpath -m "${run_dir:-.run}")   # relative to the project directory
REDIS_DIR="$RUN_DIR/redis"
PY=.venv/bin/python

api_pid="" pool_pid="" redis_pid=""
stop_signal="" stopping="" hurried=""

say() { echo "wenshu: $*" >&2 || true; }   # never fail (a closed terminal must not abort the stop)
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
role() { case $1 in "$api_pid") echo "the API" ;; "$pool_pid") echo "the worker pool" ;; *) echo "Redis" ;; esac; }

# Wait for one of our children to exit; signals interrupt `wait`, so wait again until it is gone.
await_exit() {
  local rc
  while alive "$1"; do
    wait "$1" 2>/dev/null && rc=0 || rc=$?
    [ "$rc" -ne 127 ] || sleep 0.2
  done
}

read_settings() {
  "$PY" - <<'PY'
import sys

from core.errors import ConfigError
from core.settings import Settings

try:
    s = Settings.from_env()
except ConfigError as exc:
    sys.exit(f"wenshu: cannot start, bad settings: {exc.detail}")
print(s.host, s.port, s.workers)
PY
}

port_free() {  # as Redis binds (SO_REUSEADDR): only a listener makes the port busy
  "$PY" -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}

any_free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The port our Redis listens on: the recorded one while it is free; a new one (recorded) otherwise.
redis_port() {
  local file="$RUN_DIR/redis.port" port=""
  [ -s "$file" ] && port=$(tr -dc 0-9 <"$file")
  if [ -n "$port" ] && ! port_free "$port"; then
    if timeout 3 redis-cli -p "$port" config get dir 2>/dev/null | grep -qxF "$REDIS_DIR"; then
      say "a Redis of an earlier run still serves $REDIS_DIR on port $port; stop it" \
          "(redis-cli -p $port shutdown) and start again"
      return 1
    fi
    say "port $port (from $file) is taken by something else; Redis moves to a new port"
    port=""
  fi
  [ -n "$port" ] || port=$(any_free_port)
  echo "$port" >"$file"
  echo "$port"
}

start_redis() {
  local port
  port=$(redis_port)
  # setsid: a Ctrl-C in the terminal reaches this script only, never Redis directly.
  setsid redis-server --port "$port" --bind 127.0.0.1 --dir "$REDIS_DIR" --save "" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --logfile "$RUN_DIR/redis.log" </dev/null &
  redis_pid=$!
  export REDIS_URL="redis://127.0.0.1:$port/0"
  for _ in $(seq 600); do   # up to 60 s: a large append-only file takes a while to load
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
    alive "$redis_pid" || { say "Redis did not start; see $RUN_DIR/redis.log"; return 1; }
    [ -z "$stop_signal" ] || return 0
    sleep 0.1
  done
  say "started Redis at $REDIS_URL, data in $REDIS_DIR (set REDIS_URL to use another)"
}

wait_until_ready() {
  for _ in $(seq 900); do   # up to 180 s: the first LibreOffice start is slow on a busy machine
    [ -z "$stop_signal" ] || return 0
    curl -fs --max-time 2 "$url/readyz" >/dev/null 2>&1 && return 0
    for pid in "$pool_pid" "$api_pid"; do
      alive "$pid" || { say "a process exited during start-up; see $RUN_DIR/*.log"; return 1; }
    done
    sleep 0.2
  done
  say "not ready after 180 s; see $RUN_DIR/*.log"
  return 1
}

# Second signal during the stop (run by a trap): cut the drain short (API killed, RQ cold shutdown).
# shellcheck disable=SC2317
hurry() {
  [ -z "$hurried" ] || return 0
  hurried=1
  say "hurrying: requests in flight are dropped, running jobs are retried on the next start"
  # The API keeps no state (jobs live in Redis): killing it only drops the answers in flight.
  if alive "$api_pid"; then kill -KILL "$api_pid" 2>/dev/null || true; fi
  if [ "$stopping" = workers ] && alive "$pool_pid"; then
    sleep 1   # RQ ignores a second signal within 1 s of the first
    kill -TERM "$pool_pid" 2>/dev/null || true
  fi
}

stop_workers() {
  say "stopping the workers: each finishes the job in hand; queued jobs stay in Redis for the next start"
  kill -TERM "$pool_pid" 2>/dev/null || true
  if [ -n "$hurried" ]; then sleep 1; kill -TERM "$pool_pid" 2>/dev/null || true; fi
  await_exit "$pool_pid"
}

# API first (it drains), then the workers (they finish their jobs), Redis last (it keeps the queue).
stop_all() {
  [ -z "$stopping" ] || return 0
  [ -n "$redis_pid$pool_pid$api_pid" ] || return 0   # nothing started (e.g. bad settings)
  stopping=api
  trap hurry INT TERM HUP
  if alive "$api_pid"; then
    say "stopping the API: it answers the requests in flight (Ctrl-C again to hurry)"
    kill -TERM "$api_pid" 2>/dev/null || true
    await_exit "$api_pid"
  fi
  stopping=workers
  if alive "$pool_pid"; then stop_workers; fi
  stopping=redis
  if alive "$redis_pid"; then
    say "stopping Redis: queue, jobs and results are kept in $REDIS_DIR"
    kill -TERM "$redis_pid" 2>/dev/null || true
    await_exit "$redis_pid"
  fi
  say "stopped"
}

trap 'stop_signal=${stop_signal:-INT}' INT
trap 'stop_signal=${stop_signal:-TERM}' TERM HUP
trap 'stop_all' EXIT

settings=$(read_settings)
read -r host port workers <<<"$settings"
url="http://$host:$port"
mkdir -p "$REDIS_DIR"
export WENSHU_RESULT_STORE=${WENSHU_RESULT_STORE:-fs}
[ "$WENSHU_RESULT_STORE" != fs ] || export WENSHU_RESULT_DIR=${WENSHU_RESULT_DIR:-$RUN_DIR/results}

if [ -z "${REDIS_URL:-}" ]; then start_redis; fi
if [ -z "$stop_signal" ]; then
  # Each in a session of its own, so a terminal's Ctrl-C reaches only this script, which stops
  # them in order. The workers first: the API reports ready only once a worker is.
  setsid .venv/bin/wenshu worker </dev/null >>"$RUN_DIR/worker.log" 2>&1 &
  pool_pid=$!
  setsid .venv/bin/wenshu serve </dev/null >>"$RUN_DIR/api.log" 2>&1 &
  api_pid=$!
  wait_until_ready
fi

if [ -z "$stop_signal" ]; then
  cat <<MSG
wenshu is ready at $url  ($workers workers; logs in $RUN_DIR/)
  API docs:  $url/docs
  Try it (renders the bundled invoice sample to invoice.pdf):
    curl -sS --fail-with-body $url/v1/templates/invoice/sample \\
      | python3 -c 'import json,sys; print(json.dumps({"template":"invoice","data":json.load(sys.stdin)}))' \\
      | curl -sS --fail-with-body -X POST '$url/v1/renders/download?format=pdf&wait=60' \\
          -H 'Content-Type: application/json' --data-binary @- -o invoice.pdf && ls -l invoice.pdf
(on an error curl exits 22 and invoice.pdf holds the problem+json that says why)
Press Ctrl-C to stop (API, then workers, then Redis); Ctrl-C again hurries the stop.
MSG
fi

status=0
while [ -z "$stop_signal" ]; do
  wait -n "$api_pid" "$pool_pid" ${redis_pid:+"$redis_pid"} 2>/dev/null || true
  [ -z "$stop_signal" ] || break
  for pid in "$api_pid" "$pool_pid" "$redis_pid"; do
    if [ -n "$pid" ] && ! alive "$pid"; then
      say "$(role "$pid") (pid $pid) exited on its own; stopping the rest (see $RUN_DIR/*.log)"
      status=1
      break 2
    fi
  done
done

stop_all
trap - EXIT INT
if [ "$stop_signal" = INT ] && [ "$status" -eq 0 ]; then kill -INT $$; fi
exit "$status"
