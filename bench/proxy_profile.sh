#!/usr/bin/env bash
# bench/proxy_profile.sh: nginx proxy_pass and doorman's proxy, each alone under the same
# wrk load, profiled side by side. Run by `PROFILE=DIR bash bench/proxy.sh` once its
# processes are up (it exports what this needs); writes into DIR:
#   {nginx,doorman}.stat     perf stat of the proxy's processes: task-clock, context
#                            switches, migrations, page faults, system calls (when the
#                            raw_syscalls tracepoint is readable), per second of load
#   {nginx,doorman}.wrk      the wrk output of each run (requests, to divide by)
#   {nginx,doorman}.report   perf record (cpu-clock sampling, DWARF call graphs: the
#                            release build has no frame pointers) -> top symbols, self time
#   summary.txt              per request: CPU, system calls, context switches, kernel/user
#                            share, and the top user-space symbols of each
# Environment: URL_NGINX URL_DOORMAN TOKEN NGINX_PID DOORMAN_PID PROFILE, and optional
# PROFILE_SECONDS (8) and PROFILE_CONNECTIONS (32). With BASELINE (URL_BASELINE, BASELINE_PID,
# BASELINE_TOKEN) the baseline doorman is profiled too, and with FLOOR (URL_FLOOR, FLOOR_PID)
# the hyper floor. PROFILE_EVENTS adds perf stat events
# (e.g. uprobes on the allocator, `perf probe -x BINARY -a NAME=mi_malloc_aligned`), counted
# per request in the summary for every party (an event on another binary counts 0).
set -euo pipefail
OUT=${PROFILE:?PROFILE=DIR}
SECS=${PROFILE_SECONDS:-8}
CONNS=${PROFILE_CONNECTIONS:-32}
mkdir -p "$OUT"
command -v perf >/dev/null || { echo "proxy_profile.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }

pids_of() {  # a pid and its direct children, comma-separated (an nginx master and its workers)
    { echo "$1"; ps -o pid= --ppid "$1" || true; } | tr -d " " | paste -sd,
}

events=task-clock,context-switches,cpu-migrations,page-faults
if perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then events+=,raw_syscalls:sys_enter; fi
events+=${PROFILE_EVENTS:+,$PROFILE_EVENTS}
names=(nginx doorman)
[[ -z ${URL_BASELINE:-} ]] || names+=(baseline)
[[ -z ${URL_FLOOR:-} ]] || names+=(floor)

for name in "${names[@]}"; do
    case $name in
        nginx) url=$URL_NGINX pid=$NGINX_PID hdr=() ;;
        doorman) url=$URL_DOORMAN pid=$DOORMAN_PID hdr=(-H "Authorization: Bearer $TOKEN") ;;
        baseline) url=$URL_BASELINE pid=$BASELINE_PID hdr=(-H "Authorization: Bearer $BASELINE_TOKEN") ;;
        floor) url=$URL_FLOOR pid=$FLOOR_PID hdr=(-H "Authorization: Bearer $TOKEN") ;;
    esac
    pids=$(pids_of "$pid")
    echo "== profile $name (pids $pids): wrk c=$CONNS ${SECS}s, perf stat then perf record"
    wrk -t 2 -c "$CONNS" -d 2s "${hdr[@]}" "$url" >/dev/null   # warm-up
    wrk -t 2 -c "$CONNS" -d "$((SECS + 2))s" "${hdr[@]}" "$url" >"$OUT/$name.wrk" &
    w=$!
    sleep 1
    perf stat -e "$events" -p "$pids" -o "$OUT/$name.stat" -- sleep "$SECS" 2>/dev/null || \
        perf stat -e task-clock,context-switches,cpu-migrations,page-faults -p "$pids" -o "$OUT/$name.stat" -- sleep "$SECS"
    wait "$w"
    wrk -t 2 -c "$CONNS" -d "$((SECS + 2))s" "${hdr[@]}" "$url" >"$OUT/$name.record.wrk" &
    w=$!
    sleep 1
    perf record -q -e cpu-clock -F 2000 --call-graph dwarf,16384 -p "$pids" -o "$OUT/$name.data" -- sleep "$SECS" 2>/dev/null
    wait "$w"
    perf report -q -i "$OUT/$name.data" --no-children --sort sym --percent-limit 0.7 --stdio -g none \
        >"$OUT/$name.report" 2>/dev/null || true
    perf report -q -i "$OUT/$name.data" --no-children --sort dso --stdio -g none >"$OUT/$name.dso" 2>/dev/null || true
done

python3 - "$OUT" "$SECS" "${names[@]}" <<'PY'
import re, sys
out, secs, names = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
KNOWN = {"task-clock", "context-switches", "cpu-migrations", "page-faults", "raw_syscalls:sys_enter"}
def stat(name):
    text = open(f"{out}/{name}.stat").read()
    v = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,.]+)\s+(?:msec\s+)?([\w:-]+)", line)
        if m:
            v[m.group(2)] = float(m.group(1).replace(",", ""))
    return v
def rps(name):
    m = re.search(r"^Requests/sec:\s+([\d.]+)", open(f"{out}/{name}.wrk").read(), re.M)
    return float(m.group(1)) if m else None
def kernel_share(name):
    k = u = 0.0
    for line in open(f"{out}/{name}.dso"):
        m = re.match(r"\s*([\d.]+)%\s+(\S+)", line)
        if m:
            if m.group(2) == "[kernel.kallsyms]": k += float(m.group(1))
            else: u += float(m.group(1))
    return k, u
lines = []
for name in names:
    s, r = stat(name), rps(name)
    reqs = r * secs
    cpu_us = s.get("task-clock", 0) * 1000 / reqs
    sysc = s.get("raw_syscalls:sys_enter")
    k, u = kernel_share(name)
    lines.append(f"{name:<8} {r:>9.0f} req/s  CPU {cpu_us:5.1f} us/req  "
                 f"syscalls {'%.1f' % (sysc / reqs) if sysc else '?':>5}/req  "
                 f"ctx switches {s.get('context-switches', 0) / secs / 1000:6.1f}k/s "
                 f"({s.get('context-switches', 0) / reqs:.2f}/req)  "
                 f"kernel/user {k:.0f}%/{u:.0f}% = {cpu_us * k / 100:.1f}/{cpu_us * u / 100:.1f} us/req")
    extra = {e: v for e, v in s.items() if e not in KNOWN and ":" in e}
    if extra:
        lines.append(" " * 9 + "  ".join(f"{e} {v / reqs:.1f}/req" for e, v in sorted(extra.items())))
lines.append("")
for name in names:
    lines.append(f"-- {name}: top user-space symbols (self %)")
    n = 0
    for line in open(f"{out}/{name}.report"):
        if re.match(r"\s*[\d.]+%\s+\[\.\]", line) and n < 15:
            lines.append("   " + line.strip()); n += 1
open(f"{out}/summary.txt", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
