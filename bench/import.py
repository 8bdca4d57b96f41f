#!/usr/bin/env python3
"""Import benchmark for doorman: `doorman import employees FILE --config CONFIG`.

Run from the repository root:  python3 bench/import.py
(or set DOORMAN_CHECKOUT to the repository).

Generates a 10,000-row employees CSV (key,employee_number,name,phone,corporate_email,roles,active)
and times the release binary importing it:
  - into a fresh SQLite file, then the same file again (every row is an update);
  - into a fresh PostgreSQL database, then again, when PostgreSQL answers at
    postgres://postgres@127.0.0.1:5432 (a database bench_import_<random> is created through
    `psql -d test` and dropped afterwards).
Wall times include process start, migrations and parsing; doorman's own "imported N
records ... in T" line (the write transaction) is shown next to them. After each run the
record count in the database is checked.
"""
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

REPO = os.path.abspath(os.environ.get("DOORMAN_CHECKOUT") or os.path.join(os.path.dirname(__file__), ".."))
BINARY = os.path.join(REPO, "target", "release", "doorman")
ROWS = 10000
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
IMPORT_TIMEOUT = 300  # seconds per import; a bound, not an expectation


def build():
    print("cargo build --release --bin doorman ...", flush=True)
    r = subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "doorman"], cwd=REPO,
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        sys.exit("build failed:\n" + r.stderr[-3000:])


def write_csv(path):
    with open(path, "w") as f:
        f.write("key,employee_number,name,phone,corporate_email,roles,active\n")
        for i in range(ROWS):
            n = 200000 + i
            roles = "view_own_payroll;view_own_schedule" if i % 3 == 0 else "view_own_payroll"
            email = "" if i % 10 == 9 else f"employee.{n}@corp.example"   # some records without e-mail
            active = "false" if i % 50 == 49 else "true"
            f.write(f"{n},{n},Employee {i},+3461{i:07d},{email},{roles},{active}\n")


def write_config(workdir, url):
    path = os.path.join(workdir, f"doorman-{secrets.token_hex(3)}.toml")
    with open(path, "w") as f:
        f.write(f'[database]\nurl = "{url}"\n\n[keys]\ndir = "{workdir}/keys"\n\n'
                '[[directories]]\nname = "employees"\nidentifiers = ["employee_number"]\n')
    return path


def run_import(csv_path, config):
    t0 = time.perf_counter()
    r = subprocess.run([BINARY, "import", "employees", csv_path, "--config", config],
                       capture_output=True, text=True, timeout=IMPORT_TIMEOUT,
                       env=dict(os.environ, RUST_LOG="warn"))
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"doorman import exited {r.returncode}: {(r.stderr or r.stdout)[-1500:]}")
    m = re.search(r"imported (\d+) records into \S+ in (\S+)", r.stdout)
    return wall, (m.group(1), m.group(2)) if m else (None, None), r.stdout.strip()


def psql(db, sql):
    return subprocess.run(["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", db, "-v",
                           "ON_ERROR_STOP=1", "-tA", "-c", sql], capture_output=True, text=True, timeout=60)


def postgres_available():
    if not shutil.which("psql"):
        return False, "psql not installed"
    try:
        r = psql("test", "SELECT 1")
    except subprocess.TimeoutExpired:
        return False, "psql timed out"
    return r.returncode == 0, (r.stderr.strip() or "ok")


def main():
    print(f"doorman import benchmark — {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}", flush=True)
    build()
    work = tempfile.mkdtemp(prefix="doorman-bench-import-")
    results = []   # (database, run, wall s, doorman's own time, rows in db)
    failures = []
    try:
        csv_path = os.path.join(work, "employees.csv")
        write_csv(csv_path)
        size_kib = os.path.getsize(csv_path) / 1024

        # SQLite
        db_file = os.path.join(work, "bench.db")
        config = write_config(work, f"sqlite://{db_file}?mode=rwc")
        for run in ("fresh (10,000 inserts)", "again (10,000 updates)"):
            print(f"sqlite: {run} ...", flush=True)
            try:
                wall, (n, own), _ = run_import(csv_path, config)
                with sqlite3.connect(db_file) as c:
                    count = c.execute("SELECT count(*) FROM records").fetchone()[0]
                results.append(("SQLite", run, wall, own, n, count))
            except Exception as e:  # noqa: BLE001 — a failure is a result
                failures.append(("SQLite", run, f"{type(e).__name__}: {e}"))

        # PostgreSQL
        ok, why = postgres_available()
        if not ok:
            print(f"postgres: not reachable at {PG_HOST}:{PG_PORT} ({why}); skipped", flush=True)
        else:
            name = f"bench_import_{secrets.token_hex(4)}"
            r = psql("test", f"CREATE DATABASE {name}")
            if r.returncode != 0:
                failures.append(("PostgreSQL", "create database", r.stderr.strip()))
            else:
                try:
                    config = write_config(work, f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}")
                    for run in ("fresh (10,000 inserts)", "again (10,000 updates)"):
                        print(f"postgres: {run} ...", flush=True)
                        try:
                            wall, (n, own), _ = run_import(csv_path, config)
                            c = psql(name, "SELECT count(*) FROM records")
                            count = int(c.stdout.strip()) if c.returncode == 0 else c.stderr.strip()
                            results.append(("PostgreSQL", run, wall, own, n, count))
                        except Exception as e:  # noqa: BLE001
                            failures.append(("PostgreSQL", run, f"{type(e).__name__}: {e}"))
                finally:
                    d = psql("test", f"DROP DATABASE IF EXISTS {name}")
                    if d.returncode != 0:
                        print(f"warning: could not drop {name}: {d.stderr.strip()}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    print()
    print(f"RESULTS  doorman import, {ROWS:,} rows ({size_kib:.0f} KiB CSV), doorman {head}, "
          f"{os.cpu_count()} cores, {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}")
    print("-" * 96)
    print(f"{'database':<11} {'run':<24} {'wall':>9} {'rows/s':>9} {'doorman says':>14} {'records in db':>14}")
    for db, run, wall, own, n, count in results:
        print(f"{db:<11} {run:<24} {wall:>8.2f}s {ROWS / wall:>9.0f} {(own or '?'):>14} {count!s:>14}")
    print("-" * 96)
    for db, run, msg in failures:
        print(f"FAILED {db} {run}: {msg}")
    bad = [r for r in results if r[5] != ROWS]
    for r in bad:
        print(f"WRONG  {r[0]} {r[1]}: {r[5]} records in the database, expected {ROWS}")
    return 1 if failures or bad else 0


if __name__ == "__main__":
    sys.exit(main())
