#!/usr/bin/env bash
# `make run`: Redis (REDIS_URL or our own), the API and WENSHU_WORKERS workers, until Ctrl-C/SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .run
HOST=${WENSHU_HOST:-127.0.0.1}
PORT=${WENSHU_PORT:-8080}
WORKERS=${WENSHU_WORKERS:-2}
pids=()

cleanup() {
  trap - INT TERM EXIT
  echo "wenshu: stopping..." >&2
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "wenshu: stopped" >&2
}
trap cleanup INT TERM EXIT

if [ -z "${REDIS_URL:-}" ]; then
  rport=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$PWD/.run" \
    --logfile "$PWD/.run/redis.log" &
  pids+=($!)
  export REDIS_URL="redis://127.0.0.1:$rport/0"
  for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
  echo "wenshu: started Redis at $REDIS_URL (set REDIS_URL to use another)" >&2
fi

.venv/bin/wenshu worker --processes "$WORKERS" 2>>.run/worker.log &
pids+=($!)
.venv/bin/wenshu serve --host "$HOST" --port "$PORT" 2>>.run/api.log &
pids+=($!)

url="http://$HOST:$PORT"
for _ in $(seq 600); do
  if curl -fs "$url/readyz" >/dev/null 2>&1; then break; fi
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "wenshu: a process exited during start-up; see .run/*.log" >&2; exit 1; }
  done
  sleep 0.2
done
curl -fs "$url/readyz" >/dev/null || { echo "wenshu: not ready after 120 s; see .run/*.log" >&2; exit 1; }

cat <<MSG
wenshu is ready at $url  ($WORKERS workers; logs in .run/)
  API docs:  $url/docs
  Try it (renders the bundled invoice sample to invoice.pdf):
    curl -s $url/v1/templates/invoice/sample \\
      | python3 -c 'import json,sys; print(json.dumps({"template":"invoice","data":json.load(sys.stdin)}))' \\
      | curl -s -X POST '$url/v1/renders?wait=30&download=pdf' \\
          -H 'Content-Type: application/json' --data-binary @- -o invoice.pdf && ls -l invoice.pdf
Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
