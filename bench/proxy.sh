#!/usr/bin/env bash
# bench/proxy.sh: throughput and latency of doorman's proxy (/v1/proxy/{service}/...)
# next to nginx proxy_pass, both in front of the same nginx upstream.
#
# Run from anywhere:  bash bench/proxy.sh
# Environment (all optional):
#   DURATION=10          seconds per measured wrk run (after a WARMUP-second warm-up run)
#   WARMUP=2             seconds of warm-up before each measured run (0 = none)
#   CONNECTIONS="32 4"   concurrencies to measure, space- or comma-separated
#   THREADS=2            wrk threads (lowered to the connection count when that is smaller)
#   NGINX_WORKERS=auto   worker_processes of BOTH nginx instances (see below)
#   KEEP_TMP=1           keep the temp dir (configs, logs, wrk outputs) instead of deleting it
#   TOKEN_MODE=exchange  the route's `token`: exchange (a token minted for the service, cached
#                        per session) or forward (the caller's own token goes upstream)
#   FIRST_USE=N          after the wrk runs, time N tokens' first proxied request (not in the
#                        verification cache) against their second (bench/proxy_first_use.py)
#   PROFILE=DIR          after the wrk runs, profile nginx and doorman each alone under wrk
#                        (perf stat + perf record, bench/proxy_profile.sh) into DIR
#   BASELINE=PATH        also bench a second doorman binary (e.g. a release build of an older
#                        commit) in the same run, as the row "baseline", so a change is
#                        measured before and after under the same machine conditions
#   FLOOR=1              also bench bench/hyper_floor (hyper's server and client in doorman's thread
#                        model, doing none of doorman's work) as the row "floor": what no change
#                        inside doorman can win back, and how far doorman is above it
#   ROUNDS=1             measure every path this many times, interleaved (round 1: all paths
#                        at each concurrency, then round 2, ...); the table shows each
#                        column's median over the rounds and a line per round gives its ratios,
#                        so a small change can be told from this VM's drift over minutes
#
# What it does, everything on 127.0.0.1 on free ports, in a temp dir removed on exit:
#   1. installs nginx, wrk (and curl, python3) with apt-get when missing (sudo if not root),
#      and builds target/release/doorman with `cargo build --release`;
#   2. starts
#      - upstream: nginx answering `200 {"ok":true}` (application/json), keep-alive on;
#      - nginx:    nginx proxy_pass to the upstream with a keep-alive upstream pool
#                  (keepalive 64, HTTP/1.1, Connection "") - the fair comparison;
#      - doorman:  `doorman serve` (SQLite, console delivery, a QA test code) with one
#                  [[services]] route GET /employees/{employee_number}/payslips/{month},
#                  role view_own_payroll, bound to the employee_number claim, with an
#                  exchanged token injected as `Authorization: Bearer`;
#      imports one record (employee 4721) and logs in through the conversation API
#      (identify + verify with the test code) to get an access token;
#   3. checks once with curl that the three paths answer 200 {"ok":true};
#   4. runs wrk --latency against direct, nginx and doorman at each concurrency;
#   5. prints one table per concurrency (req/s, p50, p99, doorman/nginx ratio, p99 added
#      over direct, CPU used by each party) and exits 1 if any run had errors or non-2xx.
#
# Worker count: worker_processes defaults to `auto` (one worker per core, 2 on the
# 2-core development VM) for both nginx instances. doorman's tokio runtime also starts
# one worker thread per core, so the two proxies may use the same number of cores; the
# upstream gets the same setting because it is shared by all three paths. Every party
# (wrk, upstream, proxy) shares the same cores, so absolute numbers are machine-bound;
# the ratios and the "other" CPU column are what to read.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/proxy_config.sh
source "$REPO/bench/proxy_config.sh"
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-1}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32 4}
CONNECTIONS=${CONNECTIONS//,/ }
THREADS=${THREADS:-2}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
TOKEN_MODE=${TOKEN_MODE:-exchange}
FIRST_USE=${FIRST_USE:-}
PROFILE=${PROFILE:-}
EMPLOYEE=4721
PHONE=+34600000000
TEST_CODE=123456
MONTH=2026-10

die() { echo "proxy.sh: $*" >&2; exit 1; }
log() { echo "== $*"; }

[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a whole number of seconds, got '$DURATION'"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be a whole number of seconds, got '$WARMUP'"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$ROUNDS'"
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer, got '$THREADS'"
[[ $NGINX_WORKERS =~ ^(auto|[1-9][0-9]*)$ ]] || die "NGINX_WORKERS must be auto or a positive integer"
[[ $TOKEN_MODE =~ ^(exchange|forward)$ ]] || die "TOKEN_MODE must be exchange or forward, got '$TOKEN_MODE'"
[[ -z $FIRST_USE || $FIRST_USE =~ ^[1-9][0-9]*$ ]] || die "FIRST_USE must be a positive integer"
for c in $CONNECTIONS; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "CONNECTIONS must be positive integers, got '$c'"; done
[[ -n ${CONNECTIONS// /} ]] || die "CONNECTIONS is empty"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before starting: $LOAD_BEFORE ($(nproc) cores)"

# --- 1. tools and build -----------------------------------------------------------------
# /usr/sbin is not on a normal user's PATH on Debian, and nginx lives there.
PATH=$PATH:/usr/sbin:/sbin
missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
    SUDO=()
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null || die "need root or sudo to install: ${missing[*]}"
        SUDO=(sudo)
    fi
    log "installing ${missing[*]} with apt-get"
    # On a machine with systemd this also starts the distribution's own nginx service on
    # port 80; the benchmark does not use it (it runs its own instances on free ports).
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi
command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (https://rustup.rs) first"

log "cargo build --release"
(cd "$REPO" && cargo build --release --quiet --bin doorman)
DOORMAN=$REPO/target/release/doorman
[[ -x $DOORMAN ]] || die "$DOORMAN was not built"
BASELINE=${BASELINE:-}
[[ -z $BASELINE || -x $BASELINE ]] || die "BASELINE=$BASELINE is not an executable"
FLOOR=${FLOOR:-}
if [[ -n $FLOOR ]]; then
    (cd "$REPO" && cargo build --release --quiet -p hyper-floor)
fi

# --- 2. processes ---------------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/doorman-bench-proxy.XXXXXX")
chmod 755 "$TMP"   # nginx workers run as an unprivileged user when the script runs as root
PIDS=()
cleanup() {
    local rc=$? p i
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if [[ -n ${KEEP_TMP:-} ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Five free ports, held open together so they are distinct, then released.
read -r P_UP P_NGX P_DM P_BASE P_FLOOR < <(python3 -c '
import socket
s = [socket.socket() for _ in range(5)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))')

# wait_http NAME PID URL SECONDS LOG: poll until URL answers at all (any HTTP status).
wait_http() {
    local name=$1 pid=$2 url=$3 deadline=$((SECONDS + $4)) logf=$5
    until curl -s -o /dev/null --max-time 1 "$url"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$logf" >&2 || true
            die "$name exited before answering on $url (log above: $logf)"
        fi
        ((SECONDS < deadline)) || { tail -n 30 "$logf" >&2 || true; die "$name not answering on $url after $4 s"; }
        sleep 0.1
    done
}

# nginx_conf DIR SERVER_BLOCK [HTTP_EXTRA]: a self-contained nginx.conf under DIR.
nginx_conf() {
    local dir=$1
    mkdir -p "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_timeout 65s;
    keepalive_requests 1000000;   # no reconnect churn for any client (wrk, nginx, doorman)
${3:-}
    server {
$2
    }
}
EOF
}

# start_nginx NAME DIR PORT
start_nginx() {
    local name=$1 dir=$2 port=$3
    nginx -q -t -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" || die "$name: bad nginx config"
    nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' >>"$dir/error.log" 2>&1 &
    PIDS+=($!)
    declare -g "${name^^}_PID=$!"
    wait_http "$name" "$!" "http://127.0.0.1:$port/" 20 "$dir/error.log"
}

log "starting upstream (nginx) on 127.0.0.1:$P_UP"
nginx_conf "$TMP/upstream" "        listen 127.0.0.1:$P_UP;
        default_type application/json;
        location / { return 200 '{\"ok\":true}'; }"
start_nginx upstream "$TMP/upstream" "$P_UP"

log "starting nginx proxy_pass on 127.0.0.1:$P_NGX"
nginx_conf "$TMP/nginx" "        listen 127.0.0.1:$P_NGX;
        location / {
            proxy_pass http://bench_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }" "    upstream bench_upstream {
        server 127.0.0.1:$P_UP;
        keepalive 64;
        keepalive_requests 1000000;
    }"
start_nginx nginx "$TMP/nginx" "$P_NGX"

BENCH_BOT_SECRET=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
export BENCH_BOT_SECRET RUST_LOG=warn

# start_doorman NAME BINARY PORT: a doorman with its own database and keys under
# $TMP/NAME, one employee imported and logged in; sets NAME_PID and NAME_TOKEN.
start_doorman() {
local name=$1 bin=$2 port=$3 dir=$TMP/$1
mkdir -p "$dir"
log "starting $name ($bin) on 127.0.0.1:$port"
local CONF=$dir/doorman.toml
proxy_config "$dir" "$port" "$P_UP"
printf 'employee_number,phone,roles\n%s,%s,view_own_payroll\n' "$EMPLOYEE" "$PHONE" >"$dir/employees.csv"
"$bin" import employees "$dir/employees.csv" --config "$CONF" >"$dir/import.log" 2>&1 \
    || { cat "$dir/import.log" >&2; die "$name: doorman import failed"; }
"$bin" serve --config "$CONF" >"$dir/doorman.log" 2>&1 &
local pid=$!
PIDS+=("$pid")
declare -g "${name^^}_PID=$pid"
wait_http "$name" "$pid" "http://127.0.0.1:$port/healthz" 60 "$dir/doorman.log"

log "$name: logging in employee $EMPLOYEE (sms conversation $PHONE, test code)"
local token
token=$(proxy_login "$dir" "$port") || die "$name: logging in failed (see above)"
declare -g "${name^^}_TOKEN=$token"
}
start_doorman doorman "$DOORMAN" "$P_DM"
TOKEN=$DOORMAN_TOKEN
URL_BASELINE= BASELINE_PID= BASELINE_TOKEN=
if [[ -n $BASELINE ]]; then
    start_doorman baseline "$BASELINE" "$P_BASE"
fi

URL_FLOOR= FLOOR_PID=
if [[ -n $FLOOR ]]; then
    log "starting the hyper floor on 127.0.0.1:$P_FLOOR"
    "$REPO/target/release/hyper-floor" "$P_FLOOR" "$P_UP" >"$TMP/floor.log" 2>&1 &
    FLOOR_PID=$!
    PIDS+=("$FLOOR_PID")
    wait_http floor "$FLOOR_PID" "http://127.0.0.1:$P_FLOOR/" 10 "$TMP/floor.log"
fi

# --- 3. one request on each path ------------------------------------------------------
RESOURCE=/employees/$EMPLOYEE/payslips/$MONTH
URL_DIRECT=http://127.0.0.1:$P_UP$RESOURCE
URL_NGINX=http://127.0.0.1:$P_NGX$RESOURCE
URL_DOORMAN=http://127.0.0.1:$P_DM/v1/proxy/payroll$RESOURCE
check() {  # check NAME URL [curl args...]
    local name=$1 url=$2 code body
    shift 2
    code=$(curl -s --max-time 10 -o "$TMP/check.body" -w '%{http_code}' "$@" "$url") || true
    body=$(cat "$TMP/check.body" 2>/dev/null || true)
    if [[ $code != 200 || $body != '{"ok":true}' ]]; then
        echo "FAILED: $name $url answered HTTP $code: $body" >&2
        [[ $name != doorman && $name != baseline ]] || tail -n 20 "$TMP/$name/doorman.log" >&2
        die "the $name path does not work; not benchmarking"
    fi
    echo "   $name  200 $body  $url"
}
log "checking each path once"
check direct "$URL_DIRECT"
check nginx "$URL_NGINX"
check doorman "$URL_DOORMAN" -H "Authorization: Bearer $TOKEN"
if [[ -n $BASELINE ]]; then
    URL_BASELINE=http://127.0.0.1:$P_BASE/v1/proxy/payroll$RESOURCE
    check baseline "$URL_BASELINE" -H "Authorization: Bearer $BASELINE_TOKEN"
fi
if [[ -n $FLOOR ]]; then
    URL_FLOOR=http://127.0.0.1:$P_FLOOR$RESOURCE
    check floor "$URL_FLOOR" -H "Authorization: Bearer $TOKEN"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL_DOORMAN")
[[ $code == 401 ]] || die "doorman answered $code without a token; expected 401 (is the route really guarded?)"

# --- 4 and 5. wrk runs and the table (python3 helper, stdlib only) --------------------
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "wrk: connections [$CONNECTIONS], ${DURATION}s per run after ${WARMUP}s warm-up (load average now $LOAD_START)"
export URL_DIRECT URL_NGINX URL_DOORMAN TOKEN DURATION ROUNDS WARMUP CONNECTIONS THREADS NGINX_WORKERS
export URL_BASELINE BASELINE_TOKEN BASELINE_PID URL_FLOOR FLOOR_PID
export UPSTREAM_PID NGINX_PID DOORMAN_PID LOAD_BEFORE LOAD_START TMP
export HEAD_INFO="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$REPO" status --porcelain --untracked-files=no -- src Cargo.toml Cargo.lock 2>/dev/null | grep -q . && echo ' +uncommitted src changes' || true)"
export NGINX_VERSION="$(nginx -v 2>&1 | sed 's/.*nginx\///')"
cat >"$TMP/wrkrun.py" <<'PY'
import os, re, resource, signal, subprocess, sys, time
from datetime import datetime, timezone

E = os.environ
DURATION, WARMUP, THREADS = int(E["DURATION"]), int(E["WARMUP"]), int(E["THREADS"])
ROUNDS = int(E["ROUNDS"])
CONNS = [int(c) for c in E["CONNECTIONS"].split()]
TMP = E["TMP"]
TICK = os.sysconf("SC_CLK_TCK")
TARGETS = [("direct", E["URL_DIRECT"], [], int(E["UPSTREAM_PID"])),
           ("nginx", E["URL_NGINX"], [], int(E["NGINX_PID"])),
           ("doorman", E["URL_DOORMAN"], ["-H", "Authorization: Bearer " + E["TOKEN"]], int(E["DOORMAN_PID"]))]
if E.get("URL_BASELINE"):
    TARGETS.append(("baseline", E["URL_BASELINE"], ["-H", "Authorization: Bearer " + E["BASELINE_TOKEN"]],
                    int(E["BASELINE_PID"])))
if E.get("URL_FLOOR"):
    # The same request bytes as doorman's (its Bearer header), so only the work differs.
    TARGETS.append(("floor", E["URL_FLOOR"], ["-H", "Authorization: Bearer " + E["TOKEN"]], int(E["FLOOR_PID"])))
child = None

def on_term(*_):
    if child and child.poll() is None:
        child.kill()
    sys.exit(143)
signal.signal(signal.SIGTERM, on_term)

def busy_ticks():
    f = open("/proc/stat").readline().split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in f[:8])
    return user + nice + system + irq + softirq + steal

def tree(pid):
    """pid and its direct children (an nginx master and its workers)."""
    out = [pid]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out

def cpu_ticks(pids):
    total = 0
    for p in pids:
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])   # utime, stime (all threads)
        except (OSError, IndexError, ValueError):
            pass
    return total

def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def wrk(url, extra, conns, seconds, latency):
    global child
    cmd = ["wrk", "-t", str(min(THREADS, conns)), "-c", str(conns), "-d", f"{seconds}s"]
    cmd += (["--latency"] if latency else []) + extra + [url]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, _ = child.communicate(timeout=seconds + 60)
    if child.returncode != 0:
        raise RuntimeError(f"wrk exited {child.returncode}:\n{out}")
    return out

UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
def parse(out):
    def num(pattern, cast=float, default=None):
        m = re.search(pattern, out, re.M)
        return cast(m.group(1)) if m else default
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
        return float(m.group(1)) * UNIT[m.group(2)] if m else None
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": num(r"^Requests/sec:\s+([\d.]+)"), "requests": num(r"^\s*(\d+) requests in", int, 0),
            "p50": pct(50), "p99": pct(99), "non2xx": num(r"Non-2xx or 3xx responses:\s+(\d+)", int, 0),
            "sockerr": sum(int(x) for x in sock.groups()) if sock else 0,
            "sockline": sock.group(0) if sock else ""}

runs, problems = {}, []
upstream_pids = tree(int(E["UPSTREAM_PID"]))
for rnd in range(ROUNDS):
    tag, suffix = (f"round {rnd + 1}: ", f"-r{rnd + 1}") if ROUNDS > 1 else ("", "")
    for conns in CONNS:
        for name, url, extra, pid in TARGETS:
            if WARMUP:
                print(f"   {tag}c={conns:<4} {name:<8} warm-up {WARMUP}s ...", flush=True)
                wrk(url, extra, conns, WARMUP, False)
            print(f"   {tag}c={conns:<4} {name:<8} {DURATION}s ...", flush=True)
            proxy_pids = tree(pid) if name != "direct" else []
            b0, u0, p0, w0, t0 = busy_ticks(), cpu_ticks(upstream_pids), cpu_ticks(proxy_pids), children_cpu(), time.monotonic()
            out = wrk(url, extra, conns, DURATION, True)
            b1, u1, p1, w1, t1 = busy_ticks(), cpu_ticks(upstream_pids), cpu_ticks(proxy_pids), children_cpu(), time.monotonic()
            with open(os.path.join(TMP, f"wrk-c{conns}-{name}{suffix}.txt"), "w") as f:
                f.write(out)
            r = parse(out)
            el = t1 - t0
            r["cpu_wrk"] = (w1 - w0) / el
            r["cpu_up"] = (u1 - u0) / TICK / el
            r["cpu_proxy"] = (p1 - p0) / TICK / el if proxy_pids else None
            r["cpu_other"] = max(0.0, (b1 - b0) / TICK / el - r["cpu_wrk"] - r["cpu_up"] - (r["cpu_proxy"] or 0))
            r["us_per_req"] = (p1 - p0) / TICK * 1e6 / r["requests"] if proxy_pids and r["requests"] else None
            flags = []
            if r["non2xx"]:
                flags.append(f"{r['non2xx']} non-2xx")
            if r["sockerr"]:
                flags.append(r["sockline"])
            if not r["requests"] or r["rps"] is None or r["p50"] is None or r["p99"] is None:
                flags.append("unparsable or empty wrk output")
            r["flags"] = flags
            if flags:
                problems.append((conns, name, flags, out))
            runs.setdefault((conns, name), []).append(r)
        if not os.path.exists(f"/proc/{E['DOORMAN_PID']}"):
            problems.append((conns, "doorman", ["doorman process died"], ""))
            break
    else:
        continue
    break


def median(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2 if values else None

# Each column's median over the rounds (the only run when ROUNDS=1).
def merged(k, rs):
    if k == "flags":
        return [flag for r in rs for flag in r[k]]
    if k == "sockline":
        return "; ".join(r[k] for r in rs if r[k])
    return median([r[k] for r in rs])
results = {key: {k: merged(k, rs) for k in rs[0]} for key, rs in runs.items()}

def f(v, fmt, dash="-"):
    return dash if v is None else format(v, fmt)

load_end = " ".join(open("/proc/loadavg").read().split()[:3])
W = 118
print()
print(f"RESULTS  doorman proxy vs nginx proxy_pass, doorman {E['HEAD_INFO']}, nginx {E['NGINX_VERSION']} "
      f"(worker_processes {E['NGINX_WORKERS']}), {os.cpu_count()} cores, {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}")
print(f"load average (1/5/15 min): before the script {E['LOAD_BEFORE']} | before wrk {E['LOAD_START']} | at end {load_end}")
print(f"wrk {DURATION}s per run after a {WARMUP}s warm-up, {ROUNDS} round(s) (columns: medians); upstream = nginx `return 200 {{\"ok\":true}}`; "
      "CPU columns in cores (2 = whole machine)")
for conns in CONNS:
    rows = [(n, results.get((conns, n))) for n, *_ in TARGETS]
    if not all(r for _, r in rows):
        continue
    d, n, m = (r for _, r in rows[:3])
    print("-" * W)
    print(f"c={conns}, {min(THREADS, conns)} wrk threads")
    print(f"{'path':<8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99 added':>10} "
          f"{'proxy CPU':>9} {'us CPU/req':>10} {'upstream':>8} {'wrk':>5} {'other':>5}  problems")
    for name, r in rows:
        added = None if name == "direct" or r["p99"] is None or d["p99"] is None else r["p99"] - d["p99"]
        print(f"{name:<8} {f(r['rps'], '9.0f'):>9} {f(r['p50'], '8.2f'):>8} {f(r['p99'], '8.2f'):>8} "
              f"{f(added, '+10.2f'):>10} {f(r['cpu_proxy'], '9.2f'):>9} {f(r['us_per_req'], '10.1f'):>10} "
              f"{r['cpu_up']:>8.2f} {r['cpu_wrk']:>5.2f} {r['cpu_other']:>5.2f}  "
              f"{'!! ' + '; '.join(r['flags']) if r['flags'] else 'none'}")
    ratio = m["rps"] / n["rps"] if m["rps"] and n["rps"] else None
    print(f"doorman / nginx req/s = {f(ratio, '.2f')};  p99 added over direct: "
          f"nginx {f(None if n['p99'] is None or d['p99'] is None else n['p99'] - d['p99'], '+.2f')} ms, "
          f"doorman {f(None if m['p99'] is None or d['p99'] is None else m['p99'] - d['p99'], '+.2f')} ms")
    b, fl = dict(rows).get("baseline"), dict(rows).get("floor")
    if b:
        print(f"baseline / nginx req/s = {f(b['rps'] / n['rps'] if b['rps'] and n['rps'] else None, '.2f')};  "
              f"doorman / baseline req/s = {f(m['rps'] / b['rps'] if m['rps'] and b['rps'] else None, '.3f')};  "
              f"CPU/req doorman {f(m['us_per_req'], '.1f')} us vs baseline {f(b['us_per_req'], '.1f')} us")
    if fl:
        print(f"floor / nginx req/s = {f(fl['rps'] / n['rps'] if fl['rps'] and n['rps'] else None, '.2f')};  "
              f"doorman / floor req/s = {f(m['rps'] / fl['rps'] if m['rps'] and fl['rps'] else None, '.2f')};  "
              f"CPU/req above the floor: doorman +{f(m['us_per_req'] - fl['us_per_req'] if m['us_per_req'] and fl['us_per_req'] else None, '.1f')} us, "
              f"nginx {f(n['us_per_req'] - fl['us_per_req'] if n['us_per_req'] and fl['us_per_req'] else None, '+.1f')} us")
if ROUNDS > 1:
    print("per round (same order as run):")
    for conns in CONNS:
        for i in range(ROUNDS):
            def at(name):
                rs = runs.get((conns, name), [])
                return rs[i] if i < len(rs) else None
            n, m, b, fl = at("nginx"), at("doorman"), at("baseline"), at("floor")
            if not (n and m):
                continue
            line = f"  c={conns:<3} round {i + 1}: doorman/nginx {f(m['rps'] / n['rps'] if m['rps'] and n['rps'] else None, '.2f')}"
            line += f", CPU/req doorman {f(m['us_per_req'], '.1f')} us nginx {f(n['us_per_req'], '.1f')} us"
            if b:
                line += (f"; baseline/nginx {f(b['rps'] / n['rps'] if b['rps'] and n['rps'] else None, '.2f')}, "
                         f"doorman/baseline {f(m['rps'] / b['rps'] if m['rps'] and b['rps'] else None, '.3f')}, "
                         f"CPU/req baseline {f(b['us_per_req'], '.1f')} us")
            if fl:
                line += (f"; floor/nginx {f(fl['rps'] / n['rps'] if fl['rps'] and n['rps'] else None, '.2f')}, "
                         f"CPU/req floor {f(fl['us_per_req'], '.1f')} us")
            line += f", other {max(r['cpu_other'] for r in (n, m, b, fl) if r):.2f}"
            print(line)
print("-" * W)
if problems:
    print(f"PROBLEMS in {len(problems)} run(s):")
    for conns, name, flags, out in problems:
        print(f"  c={conns} {name}: {'; '.join(flags)}")
        for line in out.splitlines():
            if re.search(r"Non-2xx|Socket errors|requests in|Requests/sec", line):
                print("      " + line.strip())
    sys.exit(1)
print("no errors: every wrk run had 0 non-2xx responses and 0 socket errors")
PY
echo "route token mode: $TOKEN_MODE"
python3 "$TMP/wrkrun.py" &
PIDS+=($!)
wait "$!"
if [[ -n $FIRST_USE ]]; then
    log "first use of $FIRST_USE tokens vs their second use"
    DOORMAN_BASE=http://127.0.0.1:$P_DM RESOURCE=$RESOURCE CONVERSATION="/v1/conversations/sms/${PHONE/+/%2B}" \
        BOT_ID=bench-bot BOT_SECRET=$BENCH_BOT_SECRET FIRST_USE=$FIRST_USE python3 "$REPO/bench/proxy_first_use.py"
fi
if [[ -n $PROFILE ]]; then
    PROFILE=$(realpath -m "$PROFILE") bash "$REPO/bench/proxy_profile.sh"
fi
kill -0 "$DOORMAN_PID" 2>/dev/null || die "doorman is no longer running (log: $TMP/doorman/doorman.log)"
for name in doorman ${BASELINE:+baseline}; do
    if grep -qiE 'panic|error' "$TMP/$name/doorman.log"; then
        echo "$name log has errors or panics:" >&2
        grep -iE 'panic|error' "$TMP/$name/doorman.log" | head -n 10 >&2
    fi
done
