#!/usr/bin/env bash
# bench/proxy_instructions.sh: doorman's user-space instructions per proxied request,
# counted by valgrind's callgrind: the same count for the same binary and requests,
# whatever else the machine is doing. bench/proxy.sh measures what matters in the end
# (throughput and CPU against nginx), but on the shared 2-core VM two runs of the same
# binary differ by 10 % and more, which hides any change smaller than that; this
# script tells such a change apart, for the user-space half of the cost (the kernel's
# loopback TCP, the other half, is not counted).
#
# Run from anywhere:  bash bench/proxy_instructions.sh [BINARY ...]
#   BINARY: doorman release binaries to compare (default: target/release/doorman, built)
# Environment (optional):
#   REQUESTS=2000   proxied requests counted per binary (after WARMUP of them)
#   WARMUP=200      requests first, not counted (caches, pools, timers settle)
#   TOKEN_MODE=exchange   as in bench/proxy.sh
#   KEEP_TMP=1      keep the temp dir (configs, logs, callgrind files)
#
# For each binary: an nginx upstream (`200 {"ok":true}`, keep-alive), `doorman serve`
# under callgrind with bench/proxy.sh's configuration (one route, a role, a bound path
# parameter, an exchanged token injected), one employee logged in through the
# conversation API, then WARMUP + REQUESTS GETs on one keep-alive connection. The
# counters are zeroed after the warm-up and dumped after the last request: instructions
# per request = the dump's total / REQUESTS. The functions with the most instructions of
# their own (callgrind_annotate) go to annotate.txt in the temp dir (KEEP_TMP=1 keeps it).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/proxy_config.sh
source "$REPO/bench/proxy_config.sh"
REQUESTS=${REQUESTS:-2000}
WARMUP=${WARMUP:-200}
TOKEN_MODE=${TOKEN_MODE:-exchange}
EMPLOYEE=4721 PHONE=+34600000000 TEST_CODE=123456
die() { echo "proxy_instructions.sh: $*" >&2; exit 1; }
[[ $REQUESTS =~ ^[1-9][0-9]*$ && $WARMUP =~ ^[0-9]+$ ]] || die "REQUESTS and WARMUP must be whole numbers"
[[ $TOKEN_MODE =~ ^(exchange|forward)$ ]] || die "TOKEN_MODE must be exchange or forward"
PATH=$PATH:/usr/sbin:/sbin
for tool in valgrind callgrind_control callgrind_annotate nginx curl python3; do
    command -v "$tool" >/dev/null || die "$tool not found (apt-get install valgrind nginx curl)"
done

BINARIES=("$@")
if ((${#BINARIES[@]} == 0)); then
    (cd "$REPO" && cargo build --release --quiet --bin doorman)
    BINARIES=("$REPO/target/release/doorman")
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/doorman-bench-instr.XXXXXX")
chmod 755 "$TMP"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    if [[ -n ${KEEP_TMP:-} ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # wait_http URL SECONDS PID
    local deadline=$((SECONDS + $2))
    until curl -s -o /dev/null --max-time 2 "$1"; do
        kill -0 "$3" 2>/dev/null || die "process $3 exited before answering on $1"
        ((SECONDS < deadline)) || die "nothing answers on $1 after $2 s"
        sleep 0.5
    done
}

P_UP=$(free_port)
mkdir -p "$TMP/upstream/tmp"
cat >"$TMP/upstream/nginx.conf" <<EOF
worker_processes 1;
pid $TMP/upstream/nginx.pid;
error_log $TMP/upstream/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $TMP/upstream/tmp/body;
    proxy_temp_path $TMP/upstream/tmp/proxy;
    fastcgi_temp_path $TMP/upstream/tmp/fastcgi;
    uwsgi_temp_path $TMP/upstream/tmp/uwsgi;
    scgi_temp_path $TMP/upstream/tmp/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$P_UP;
        default_type application/json;
        location / { return 200 '{"ok":true}'; }
    }
}
EOF
nginx -p "$TMP/upstream/" -c "$TMP/upstream/nginx.conf" -g 'daemon off;' >>"$TMP/upstream/error.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$P_UP/" 20 "$!"

BENCH_BOT_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
export BENCH_BOT_SECRET RUST_LOG=warn

# count NAME BINARY: prints "instructions per request" for BINARY.
count() {
    local name=$1 bin=$2 dir=$TMP/$1 port
    port=$(free_port)
    mkdir -p "$dir"
    proxy_config "$dir" "$port" "$P_UP"
    printf 'employee_number,phone,roles\n%s,%s,view_own_payroll\n' "$EMPLOYEE" "$PHONE" >"$dir/employees.csv"
    "$bin" import employees "$dir/employees.csv" --config "$dir/doorman.toml" >"$dir/import.log" 2>&1 \
        || { cat "$dir/import.log" >&2; die "$name: import failed"; }
    valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.%p" \
        "$bin" serve --config "$dir/doorman.toml" >"$dir/doorman.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port/healthz" 180 "$pid"
    local token
    token=$(proxy_login "$dir" "$port") || die "$name: logging in failed (see above)"
    # The warm-up and the counted requests share one keep-alive connection, so that
    # they are served by the same worker thread: a thread's first upstream connection
    # pays one-time costs (its TLS connector loads the system's CA certificates).
    python3 - "$port" "$token" "$WARMUP" "$REQUESTS" "$pid" <<'PY' || die "$name: a request failed"
import http.client, subprocess, sys
port, token, warmup, n, pid = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
def requests(count):
    for _ in range(count):
        c.request("GET", "/v1/proxy/payroll/employees/4721/payslips/2026-10", headers={"Authorization": "Bearer " + token})
        r = c.getresponse(); body = r.read()
        if r.status != 200 or body != b'{"ok":true}':
            sys.exit(f"answer {r.status}: {body[:200]!r}")
requests(warmup)
subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
requests(n)
subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
PY
    # The first dump on request: callgrind.PID.1 (the file at exit, callgrind.PID, also
    # holds the start-up and the warm-up).
    local dump=$dir/callgrind.$pid.1
    [[ -f $dump ]] || die "$name: callgrind wrote no $dump"
    callgrind_annotate --inclusive=no "$dump" >"$dir/annotate.txt" 2>/dev/null || true
    local total sha
    total=$(awk '/^summary:|^totals:/ { print $2; exit }' "$dump")
    [[ -n $total ]] || die "$name: no total in $dump"
    # valgrind hides SHA-NI from the program, so sha2 runs its software SHA-256 here,
    # several times what the hardware instructions cost: shown apart, and left out.
    sha=$(callgrind_annotate --inclusive=no --threshold=100 "$dump" 2>/dev/null |
        awk '/sha2::sha256::compress256/ && !seen { gsub(",", "", $1); print $1; seen = 1 }')
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    python3 -c "print(f'{\"$name\":<12} {($total - ${sha:-0}) / $REQUESTS:>10,.0f} instructions per request, and {${sha:-0} / $REQUESTS:,.0f} in software SHA-256  ($REQUESTS requests, $bin)')"
}

echo "user-space instructions per proxied request (callgrind; TOKEN_MODE=$TOKEN_MODE, warm-up $WARMUP)"
i=0
for bin in "${BINARIES[@]}"; do
    [[ -x $bin ]] || die "$bin is not an executable"
    count "doorman-$i" "$bin"
    i=$((i + 1))
done
