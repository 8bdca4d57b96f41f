#!/usr/bin/env python3
"""Logins during a bulk import (issue 12 point 3): do logins keep working while a large
import runs?

Run from the repository root:  python3 bench/import_logins.py [--rows 1000000]
Needs what bench/login.py needs (requests, pyjwt, argon2-cffi; it reuses its client).

What it does, all traffic on 127.0.0.1:
  1. starts the release doorman through shared/contract/harness.py on SQLite (or on
     PostgreSQL with --postgres), with 2,000 employees who log in, webhook delivery and
     send limits high enough that nothing is throttled;
  2. writes a CSV of --rows other employees (key,employee_number,name,phone,
     corporate_email,roles,active; every 50th inactive);
  3. baseline: --threads login threads (identify -> webhook code -> verify, each thread on
     its own keep-alive connection) for --baseline seconds with no import;
  4. the import: POST /admin/v1/directories/employees/records (streamed from the file)
     or, with --via cli, `doorman import` in a second process, while the same login
     threads keep going until the import ends;
  5. prints login p50/p99/max and errors for both phases, the import's wall time and
     rows/s, and checks the record count.
Exit status 1 if any login failed, the import failed, the count is wrong, or the login
p99 during the import is 1 s or more (the target of issue 12).
"""
import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from login import (EMPLOYEES, Api, CodeBook, CpuWindow, Stats, employee, employees_csv, git, login,  # noqa: E402
                   pct, wait_idle)
from harness import ADMIN_TOKEN, Gateway, WebhookSink, build  # noqa: E402

import requests  # noqa: E402

P99_TARGET_MS = 1000.0
IMPORT_TIMEOUT = 3600  # seconds; a bound, not an expectation


def write_csv(path, rows):
    with open(path, "w") as f:
        f.write("key,employee_number,name,phone,corporate_email,roles,active\n")
        for i in range(rows):
            n = 3000000 + i
            active = "false" if i % 50 == 49 else "true"
            f.write(f"{n},{n},Imported {i},+3462{i:07d},imported.{n}@corp.example,view_own_payroll,{active}\n")


class LoginLoad:
    """`threads` threads logging in over and over until stop(); each thread cycles through
    its own slice of the 2,000 employees, so no record hits a send limit."""

    def __init__(self, port, book, threads, tag):
        self.port, self.book, self.threads, self.tag = port, book, threads, tag
        self.stats = Stats()
        self.timeline = []        # (started, ms) of every finished login, for the phases
        self.stop_flag = threading.Event()
        self.done = []

    def start(self):
        per = EMPLOYEES // self.threads

        def worker(t):
            api = Api(self.port)
            i = 0
            while not self.stop_flag.is_set():
                cid = f"+38{self.tag}{t:02d}{i:06d}"
                try:
                    started = time.perf_counter()
                    if login(api, self.book, self.stats, cid, employee(t * per + i % per)):
                        self.timeline.append((started, (time.perf_counter() - started) * 1000))
                except Exception as e:  # noqa: BLE001 — a failure is a result
                    self.stats.error("exception", None, f"{type(e).__name__}: {e}")
                i += 1
            api.close()

        self.workers = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(self.threads)]
        for w in self.workers:
            w.start()
        return self

    def stop(self):
        self.stop_flag.set()
        for w in self.workers:
            w.join(60)
        return self.stats


class Upload:
    """The CSV as a request body that notes when its last byte was read: staging ends
    there and the check begins."""

    def __init__(self, path):
        self.file, self.size, self.read_all_at = open(path, "rb"), os.path.getsize(path), None

    def __len__(self):
        return self.size

    def read(self, n=-1):
        chunk = self.file.read(n)
        if not chunk and self.read_all_at is None:
            self.read_all_at = time.perf_counter()
        return chunk


class ImportWatch:
    """Samples the SQLite database every 50 ms from a read-only connection: when the
    import starts applying, and how large the WAL grows."""

    def __init__(self, db_path):
        self.db_path, self.applying_at, self.max_wal = db_path, None, 0
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        c = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
        while not self.stop_flag.wait(0.05):
            try:
                self.max_wal = max(self.max_wal, os.path.getsize(self.db_path + "-wal"))
                if self.applying_at is None and c.execute("SELECT 1 FROM imports WHERE state = 'applying'").fetchone():
                    self.applying_at = time.perf_counter()
            except (sqlite3.Error, OSError):
                pass
        c.close()

    def stop(self):
        self.stop_flag.set()
        self.thread.join(5)


def run_import(gw, csv_path, via, upload=None):
    t0 = time.perf_counter()
    if via == "cli":
        r = subprocess.run([gw.binary, "import", "employees", csv_path, "--config", gw.config], env=gw.env,
                           capture_output=True, text=True, timeout=IMPORT_TIMEOUT)
        ok, detail = r.returncode == 0, (r.stdout.strip() or r.stderr.strip())[-500:]
    else:
        r = requests.post(f"{gw.url}/admin/v1/directories/employees/records", data=upload or Upload(csv_path),
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "text/csv"},
                          timeout=IMPORT_TIMEOUT)
        ok, detail = r.status_code == 200, r.text[:500]
    return ok, detail, time.perf_counter() - t0


def count_records(gw, database_url):
    if database_url:
        r = subprocess.run(["psql", database_url, "-tA", "-c", "SELECT count(*) FROM records"],
                           capture_output=True, text=True, timeout=60)
        return int(r.stdout.strip()) if r.returncode == 0 else r.stderr.strip()
    with sqlite3.connect(os.path.join(gw.dir, "doorman.db")) as c:
        return c.execute("SELECT count(*) FROM records").fetchone()[0]


def row(label, stats):
    ms = stats.login_ms
    return (f"{label:<34} {len(ms):>7} {pct(ms, 50):>9.1f} {pct(ms, 99):>9.1f} {max(ms or [float('nan')]):>9.1f} "
            f"{stats.error_count:>7}")


def served_during(log):
    """Doorman's own latency of identify and verify, from its access log: what the
    server spent, without the bench's client and webhook sink."""
    served = {}
    for m in re.finditer(r"route=\S*/(identify|verify)\b.*?latency_ms=([0-9.]+)", log):
        served.setdefault(m.group(1), []).append(float(m.group(2)))
    return served


def phases(timeline, started, staged, applying, ended):
    """The logins during the import by the phase they started in: staging (the upload),
    the check, applying. A phase whose start is unknown is folded into the one before."""
    marks = [("  staging (upload)", started), ("  checking", staged), ("  applying", applying)]
    marks = [(label, at) for label, at in marks if at is not None] + [("end", ended)]
    out = []
    for (label, begin), (_, end) in zip(marks, marks[1:]):
        out.append((f"{label} ({end - begin:.1f}s)", [ms for t, ms in timeline if begin <= t < end]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows to import (default 1,000,000)")
    ap.add_argument("--via", choices=["api", "cli"], default="api", help="admin API (default) or doorman import")
    ap.add_argument("--threads", type=int, default=4, help="concurrent login threads (default 4)")
    ap.add_argument("--baseline", type=float, default=10.0, help="seconds of logins before the import")
    ap.add_argument("--postgres", metavar="URL", help="a fresh PostgreSQL database URL instead of SQLite")
    ap.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS")
    args = ap.parse_args()

    print(f"doorman logins during an import — {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}", flush=True)
    build()
    if args.wait_idle > 0:
        wait_idle(min(args.wait_idle, 600))
    work = tempfile.mkdtemp(prefix="doorman-bench-import-logins-")
    csv_path = os.path.join(work, "import.csv")
    print(f"writing {args.rows:,} rows ...", flush=True)
    write_csv(csv_path, args.rows)
    size_mib = os.path.getsize(csv_path) / 2**20

    sink = WebhookSink()
    gw = Gateway(
        otp={"resend_cooldown": "0s", "max_failures_per_record": 1000000, "max_sends": 3},
        records=employees_csv(), sink=sink, database_url=args.postgres,
        env={"RUST_LOG": "warn,doorman::access=info,doorman::telemetry::access=info"},
        extra="[delivery.limits]\nper_destination_per_hour = 1000000\nglobal_per_hour = 100000000\n",
    )
    book = CodeBook(sink)
    failures = []
    try:
        print(f"baseline: {args.threads} login threads for {args.baseline:.0f}s ...", flush=True)
        load = LoginLoad(gw.port, book, args.threads, "b").start()
        time.sleep(args.baseline)
        baseline = load.stop()

        print(f"importing {args.rows:,} rows ({size_mib:.0f} MiB) via {args.via} while logging in ...", flush=True)
        load = LoginLoad(gw.port, book, args.threads, "i").start()
        cpu = CpuWindow(gw.proc.pid).start()
        watch = None if args.postgres else ImportWatch(os.path.join(gw.dir, "doorman.db"))
        upload = Upload(csv_path)
        log_mark = len(gw.logs())
        import_started = time.perf_counter()
        ok, detail, wall = run_import(gw, csv_path, args.via, upload)
        import_ended = time.perf_counter()
        cpu.stop()
        if watch:
            watch.stop()
        during = load.stop()
        if not ok:
            failures.append(f"import failed: {detail}")
        served = served_during(gw.logs()[log_mark:])
        count = count_records(gw, args.postgres)
        if count != EMPLOYEES + args.rows:
            failures.append(f"{count} records in the database, expected {EMPLOYEES + args.rows:,}")
        alive = gw.proc.poll() is None
    finally:
        gw.close()
        shutil.rmtree(work, ignore_errors=True)

    database = "PostgreSQL" if args.postgres else "SQLite"
    print()
    print(f"RESULTS  logins during a {args.rows:,}-row import ({size_mib:.0f} MiB CSV, via {args.via}), {database}, "
          f"doorman {git('rev-parse', '--short', 'HEAD')}, {os.cpu_count()} cores, "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}")
    print("-" * 100)
    print(f"{'phase':<34} {'logins':>7} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'errors':>7}")
    print(row(f"no import ({args.baseline:.0f}s)", baseline))
    print(row(f"during the import ({wall:.1f}s)", during))
    print(f"{'import':<34} {wall:>7.1f}s {args.rows / wall:>9.0f} rows/s; doorman used "
          f"{cpu.cores(cpu.doorman):.2f} cores, other processes {cpu.cores(cpu.other):.2f}")
    for label, ms in phases(load.timeline, import_started, upload.read_all_at if args.via == "api" else None,
                            watch and watch.applying_at, import_ended):
        print(f"{'  ' + label:<34} {len(ms):>7} {pct(ms, 50):>9.1f} {pct(ms, 99):>9.1f} "
              f"{max(ms or [float('nan')]):>9.1f}")
    if watch:
        print(f"{'largest WAL':<34} {watch.max_wal / 2**20:>7.0f} MiB")
    for route, ms in sorted(served.items()):
        print(f"{'  doorman says: ' + route:<34} {len(ms):>7} {pct(ms, 50):>9.1f} {pct(ms, 99):>9.1f} "
              f"{max(ms or [float('nan')]):>9.1f}")
    slowest = sorted(load.timeline, key=lambda t: -t[1])[:8]
    print(f"{'slowest logins (s into import, ms)':<34} "
          + ", ".join(f"{t - import_started:.1f}s {ms:.0f}" for t, ms in sorted(slowest)))
    print(f"{'records in the database':<34} {count!s:>7}  doorman alive at the end: {alive}")
    print("-" * 100)
    for what, status, body in (baseline.errors + during.errors)[:10]:
        print(f"ERROR {what} {status}: {body!r}")
    p99 = pct(during.login_ms, 99)
    if not during.login_ms:
        failures.append("no login finished during the import")
    elif p99 >= P99_TARGET_MS:
        failures.append(f"login p99 during the import is {p99:.0f} ms (target < {P99_TARGET_MS:.0f} ms)")
    if baseline.error_count or during.error_count:
        failures.append(f"{baseline.error_count + during.error_count} logins failed")
    for f in failures:
        print(f"FAILED {f}")
    return 1 if failures or not alive else 0


if __name__ == "__main__":
    sys.exit(main())
