#!/usr/bin/env python3
"""Context switches and CPU of a process, by thread name, between two snapshots.

  python3 bench/threads.py snapshot PID > A;  ...;  python3 bench/threads.py snapshot PID > B
  python3 bench/threads.py diff A B [--per N --unit login]

Reads /proc/PID/task/*/{comm,status,stat}: voluntary + involuntary context switches and
user + system CPU ticks of every thread; `diff` sums them by thread name (sqlx names all
its SQLite workers alike, tokio all its workers) and, with --per, divides by N units
(e.g. the logins made between the snapshots). Used by bench/login_profile.sh.
"""
import collections
import json
import os
import sys

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def snapshot(pid):
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        base = f"/proc/{pid}/task/{tid}"
        try:
            with open(f"{base}/comm") as f:
                name = f.read().strip()
            with open(f"{base}/status") as f:
                switches = sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
            with open(f"{base}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
        threads[tid] = {"name": name, "switches": switches, "ticks": ticks}
    return threads


def diff(before, after):
    by_name = collections.defaultdict(lambda: [0, 0])
    for tid, now in after.items():
        then = before.get(tid, {"switches": 0, "ticks": 0})
        by_name[now["name"]][0] += now["switches"] - then["switches"]
        by_name[now["name"]][1] += now["ticks"] - then["ticks"]
    return by_name


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "snapshot":
        json.dump(snapshot(sys.argv[2]), sys.stdout)
        return
    if len(sys.argv) < 4 or sys.argv[1] != "diff":
        sys.exit(__doc__)
    per, unit = 1.0, None
    args = sys.argv[4:]
    if "--per" in args:
        per = max(1.0, float(args[args.index("--per") + 1]))
        unit = args[args.index("--unit") + 1] if "--unit" in args else "unit"
    with open(sys.argv[2]) as a, open(sys.argv[3]) as b:
        rows = diff(json.load(a), json.load(b))
    label = f" per {unit}" if unit else ""
    print(f"{'thread':20s} {'switches' + label:>22s} {'CPU' + label:>18s}")
    total = [0, 0]
    for name in sorted(rows, key=lambda n: -rows[n][1]):
        switches, ticks = rows[name]
        total[0] += switches
        total[1] += ticks
        if switches or ticks:
            print(f"{name:20s} {switches / per:22.1f} {ticks * TICK_S / per * 1e6:15.0f} us")
    print(f"{'all':20s} {total[0] / per:22.1f} {total[1] * TICK_S / per * 1e6:15.0f} us")


if __name__ == "__main__":
    main()
