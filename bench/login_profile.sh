#!/usr/bin/env bash
# Where doorman's CPU goes during bench/login.py: perf record (call graphs) of the
# release binary during the 10-concurrent login phase and during the token refresh
# phase, plus perf stat (context switches, system calls) of each phase.
#   bash bench/login_profile.sh [OUT_DIR]      (needs perf: apt-get install linux-perf)
# Writes OUT_DIR/{login,token}.perf.data, OUT_DIR/{login,token}.{report,stat}.txt and
# the benchmark's own table in OUT_DIR/bench.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${1:-/tmp/doorman-login-profile}
mkdir -p "$OUT"
# shellcheck disable=SC2086  # BENCH_ARGS: extra options for bench/login.py, word-split
python3 bench/login.py ${BENCH_ARGS:-} >"$OUT/bench.txt" 2>&1 &
bench=$!
phase() { # phase TEXT: waits until the benchmark prints TEXT
  until grep -q "$1" "$OUT/bench.txt"; do
    kill -0 "$bench" 2>/dev/null || { echo "benchmark ended early:"; tail -20 "$OUT/bench.txt"; exit 1; }
    sleep 0.2
  done
}
record() { # record NAME SECONDS
  local pid
  pid=$(pgrep -f "target/release/doorman serve" | tail -1)
  perf stat -e task-clock,context-switches,cpu-migrations,raw_syscalls:sys_enter -p "$pid" \
    -o "$OUT/$1.stat.txt" -- sleep 3
  perf record -F 999 -g -p "$pid" -o "$OUT/$1.perf.data" -- sleep "$2" 2>/dev/null
  perf report -i "$OUT/$1.perf.data" --no-children --sort dso,sym --stdio 2>/dev/null |
    grep -v '^$' | head -400 >"$OUT/$1.report.txt"
}
phase "logins, 10 concurrent"
sleep 1
record login 8
phase "token refresh, 10 threads"
sleep 1
record token 6
wait "$bench"
sed -n '/RESULTS/,$p' "$OUT/bench.txt"
echo "profiles in $OUT"
