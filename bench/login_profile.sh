#!/usr/bin/env bash
# Where doorman's CPU goes during bench/login.py: perf record (call graphs) of the
# release binary during the 10-concurrent login phase and during the token refresh
# phase, plus perf stat (context switches, system calls) of each phase.
#   [CALL_GRAPH=dwarf] bash bench/login_profile.sh [OUT_DIR]   (needs perf: apt-get install linux-perf)
# Writes OUT_DIR/{login,token}.perf.data, OUT_DIR/{login,token}.{report,stat}.txt and
# the benchmark's own table in OUT_DIR/bench.txt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=${1:-/tmp/doorman-login-profile}
# The release build has no frame pointers: CALL_GRAPH=dwarf gives whole stacks (and
# much bigger files, slower to read); the default, fp, is cheap and good for flat profiles.
CALL_GRAPH=${CALL_GRAPH:-fp}
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
record() { # record NAME STAT_SECONDS RECORD_SECONDS
  local pid
  pid=$(pgrep -f "target/release/doorman serve" | tail -1)
  python3 bench/threads.py snapshot "$pid" >"$OUT/$1.threads.before"
  perf stat -e task-clock,context-switches,cpu-migrations,raw_syscalls:sys_enter -p "$pid" \
    -o "$OUT/$1.stat.txt" -- sleep "$2"
  python3 bench/threads.py snapshot "$pid" >"$OUT/$1.threads.after"
  perf record -F 999 --call-graph "$CALL_GRAPH" -p "$pid" -o "$OUT/$1.perf.data" -- sleep "$3" 2>/dev/null ||
    echo "perf record of the $1 phase ended early (the phase ended first); its profile is shorter"
}
report() { # report NAME: by thread (runtime workers, sqlx's SQLite workers, argon2), then by symbol
  perf report -i "$OUT/$1.perf.data" --no-children --sort comm --stdio -g none 2>/dev/null |
    grep -v '^$' | grep -v '^#' | head -20 >"$OUT/$1.report.txt" || true
  perf report -i "$OUT/$1.perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
    grep -v '^$' | head -400 >>"$OUT/$1.report.txt" || true
}
phase "logins, 10 concurrent"
sleep 0.5
record login 2 2.5
phase "token refresh, 10 threads"
# past wrk's 1-second rate probe; the measured run lasts about 3 s at 8,000/s (about 7 s at 3,000/s)
sleep 1.5
record token 1 1.5
wait "$bench"
# after the benchmark: reading the profiles takes CPU that would distort it
# by thread, per login and per token, at each phase's mean rate (from the results table)
rate() { grep "$1" "$OUT/bench.txt" | head -1 | awk '{for (i = 1; i <= NF; i++) if ($(i+1) == "/s") { print $i; exit }}'; }
per_thread() { # per_thread NAME STAT_SECONDS RATE_LINE UNIT
  local n
  n=$(awk -v r="$(rate "$3")" -v s="$2" 'BEGIN { printf "%d", r * s }')
  python3 bench/threads.py diff "$OUT/$1.threads.before" "$OUT/$1.threads.after" --per "$n" --unit "$4" \
    >"$OUT/$1.threads.txt"
  echo "$1 phase, by thread, over ~$n ${4}s:"
  cat "$OUT/$1.threads.txt"
}
per_thread login 2 "logins/s, 10 concurrent" login
per_thread token 1 "^token refresh  " token
report login
report token
sed -n '/RESULTS/,$p' "$OUT/bench.txt"
echo "profiles in $OUT"
