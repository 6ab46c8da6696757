#!/usr/bin/env bash
# GET /v1/config of a 4 KiB document, and its 304 path, with wrk over loopback: cowd side by
# side with nginx serving the same bytes as a static file, in the same run.
#
# Usage: crates/cowd/bench/wrk_vs_nginx.sh [DURATION] [CONNECTIONS] [WRK_THREADS] [ROUNDS]
#        (defaults: 10s 64 2 3); COWD_ARGS adds options to `cowd serve` (e.g. "--io-threads 0").
# Needs: wrk, nginx, curl, python3 (Debian packages). Builds cowd in release mode.
# Both servers get the machine's cores (cowd: a tokio worker per core; nginx: worker_processes
# auto). Each round runs cowd 200, nginx 200, cowd 304, nginx 304; the table reports the median
# requests/s over the rounds, and the ratio cowd / nginx.
set -euo pipefail

DURATION=${1:-10s}
CONNECTIONS=${2:-64}
THREADS=${3:-2}
ROUNDS=${4:-3}

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && cargo build --release -p cowd --bins --examples >&2)
COWD="$TARGET/release/cowd"

WORK=$(mktemp -d)
COWD_PID=""
NGINX_PID=""
cleanup() {
    [ -n "$COWD_PID" ] && kill "$COWD_PID" 2>/dev/null && wait "$COWD_PID" 2>/dev/null || true
    [ -n "$NGINX_PID" ] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A deterministic JSON document of 4096 bytes (compact).
python3 - "$WORK/seed.json" <<'PY'
import json, sys
doc = {"service": "checkout", "log_level": "info", "flags": {}}
i = 0
while len(json.dumps(doc, separators=(",", ":"))) < 4096:
    doc["flags"][f"flag_{i:03d}"] = {"enabled": i % 3 == 0, "rollout": i % 101}
    i += 1
text = json.dumps(doc, separators=(",", ":"))
while len(text) > 4096:
    doc["flags"].popitem()
    text = json.dumps(doc, separators=(",", ":"))
doc["pad"] = "x" * (4096 - len(text) - len(',"pad":""'))
open(sys.argv[1], "w").write(json.dumps(doc, separators=(",", ":")))
PY

# shellcheck disable=SC2086 # COWD_ARGS is a list of extra options
RUST_LOG=warn "$COWD" serve --listen 127.0.0.1:0 --addr-file "$WORK/addr" \
    --data-dir "$WORK/data" --config "$WORK/seed.json" ${COWD_ARGS:-} 2>"$WORK/cowd.log" &
COWD_PID=$!
for _ in $(seq 100); do [ -s "$WORK/addr" ] && break; sleep 0.1; done
COWD_URL="http://$(cat "$WORK/addr")/v1/config"

# nginx serves exactly the bytes cowd serves.
mkdir -p "$WORK/www/v1"
curl -sf "$COWD_URL" -o "$WORK/www/v1/config"
SIZE=$(stat -c %s "$WORK/www/v1/config")
chmod 755 "$WORK" && chmod -R a+rX "$WORK/www"   # nginx workers may run as nobody
NGINX_PORT=$(free_port)
cat > "$WORK/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 65;
    client_body_temp_path $WORK/nginx-tmp;
    proxy_temp_path $WORK/nginx-tmp;
    fastcgi_temp_path $WORK/nginx-tmp;
    uwsgi_temp_path $WORK/nginx-tmp;
    scgi_temp_path $WORK/nginx-tmp;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/www;
        default_type application/json;
    }
}
CONF
mkdir -p "$WORK/nginx-tmp"
nginx -c "$WORK/nginx.conf" -p "$WORK" &
NGINX_PID=$!
NGINX_URL="http://127.0.0.1:$NGINX_PORT/v1/config"
for _ in $(seq 100); do curl -sf -o /dev/null "$NGINX_URL" && break; sleep 0.1; done

COWD_ETAG=$(curl -sI "$COWD_URL" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
NGINX_ETAG=$(curl -sI "$NGINX_URL" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}')
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $COWD_ETAG" "$COWD_URL")" = 304 ]
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $NGINX_ETAG" "$NGINX_URL")" = 304 ]
cmp <(curl -s "$COWD_URL") <(curl -s "$NGINX_URL")

rps() { # url [header]
    local out
    if [ $# -gt 1 ]; then
        out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "$2" "$1")
    else
        out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$1")
    fi
    echo "$out" | awk '/Requests\/sec/ {print $2}'
}

echo "document: $SIZE bytes; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; $ROUNDS rounds; $(nproc) cores" >&2
declare -a C200 N200 C304 N304
for round in $(seq "$ROUNDS"); do
    C200+=("$(rps "$COWD_URL")")
    N200+=("$(rps "$NGINX_URL")")
    C304+=("$(rps "$COWD_URL" "If-None-Match: $COWD_ETAG")")
    N304+=("$(rps "$NGINX_URL" "If-None-Match: $NGINX_ETAG")")
    echo "round $round: cowd 200 ${C200[-1]}, nginx 200 ${N200[-1]}, cowd 304 ${C304[-1]}, nginx 304 ${N304[-1]} req/s" >&2
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
c200=$(median "${C200[@]}"); n200=$(median "${N200[@]}")
c304=$(median "${C304[@]}"); n304=$(median "${N304[@]}")
echo
echo "| path | cowd req/s | nginx req/s | cowd / nginx |"
echo "|---|---:|---:|---:|"
echo "| GET 200 ($SIZE B body) | $c200 | $n200 | $(ratio "$c200" "$n200") |"
echo "| GET 304 (If-None-Match) | $c304 | $n304 | $(ratio "$c304" "$n304") |"
