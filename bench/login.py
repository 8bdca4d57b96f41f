#!/usr/bin/env python3
"""Login and token-refresh benchmark for doorman (release binary, SQLite or PostgreSQL).

Run from the repository root:  python3 bench/login.py
(or set DOORMAN_CHECKOUT to the repository). Needs: requests, pyjwt (for the shared
harness), argon2-cffi (`pip install argon2-cffi`), and wrk (`apt-get install wrk`).
With --postgres postgres://postgres@127.0.0.1:5432/test the same run is made on a scratch
PostgreSQL database created next to the one named (and dropped at the end); psql must
be on the PATH.

What it does, all in one run, all traffic on 127.0.0.1:
  1. argon2id cost in Python (argon2-cffi): the OTP code hash (m=4096 KiB, t=1, p=1)
     and the client-secret hash (m=19456 KiB, t=2, p=1), and from it the login ceiling
     = cores / (2 x code-hash cost)   (a login hashes the code at identify and verifies
     it at verify).
  2. starts doorman through shared/contract/harness.py with 2,000 imported employees,
     webhook delivery into a signed keep-alive sink (DeliverySink), resend cooldown 0s and a record
     failure limit high enough that nothing locks;
  3. logins (identify -> wait for the webhook code of that conversation -> verify) with
     1 and with 10 concurrent conversations: identify / verify latency p50 and p99, and
     logins per second at 10 concurrent;
  4. token refresh: POST /v1/conversations/{channel}/{id}/token over 10 connections on the
     conversations logged in during step 3, a fixed number of requests, sent by wrk with
     bench/token.lua (by Python threads when wrk is not installed), and doorman's CPU per
     token in ES256 signatures, one signature's cost measured right after that phase;
  5. prints one results table, and where doorman's resident memory is (bench/smaps.py)
     idle, after the logins and after the refreshes.

Every loop is bounded by a count and by a deadline. Total run time is well under 3 min.
"""
import hashlib
import hmac
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from base64 import b64encode
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, urlsplit, urlunsplit

REPO = os.path.abspath(os.environ.get("DOORMAN_CHECKOUT") or os.path.join(os.path.dirname(__file__), ".."))
os.environ["DOORMAN_CHECKOUT"] = REPO  # harness.py reads it at import time
sys.path.insert(0, os.path.join(REPO, "..", "shared", "contract"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import BOT_SECRET, WEBHOOK_SECRET, Gateway, build  # noqa: E402
from smaps import breakdown, table  # noqa: E402
from threads import TICK_S, snapshot  # noqa: E402

try:
    from argon2.low_level import Type, hash_secret_raw
except ImportError:  # pragma: no cover
    sys.exit("argon2-cffi is missing: pip install argon2-cffi")

# --- sizes and bounds -----------------------------------------------------------------
EMPLOYEES = 2000
SERIAL_LOGINS = 150            # 1 concurrent conversation
CONCURRENCY = 10
LOGINS_PER_THREAD = 150        # 10 x 150 = 1,500 logins at 10 concurrent
TOKEN_THREADS = 10
TOKEN_REQUESTS = 20000         # in total, split over the threads
TOKEN_CONVERSATIONS = 100      # sessions the refresh phase cycles through
WRK_THREADS = 2                # wrk's threads for the token phase (TOKEN_THREADS connections)
CODE_HASHES = 200
SECRET_HASHES = 60
ES256_SIGNATURES = 500          # per round; the fastest of 5 rounds counts
PHASE_DEADLINE = {"serial": 40.0, "concurrent": 60.0, "token": 60.0}
CODE_WAIT = 10.0               # seconds to wait for one webhook delivery
CHANNEL = "whatsapp"
CLIENT_ID = "hr-bot"



def run_workers(worker, threads, deadline, deadline_s, start):
    """Starts one thread per worker, opens the deadline once all are ready (the
    `start` barrier), waits for them; returns the moment the load began."""
    ts = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for t in ts:
        t.start()
    deadline[0] = time.monotonic() + deadline_s
    start.wait()
    t0 = time.perf_counter()
    for t in ts:
        t.join(deadline_s + 60)
    return t0

def cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def pct(values, p):
    """Nearest-rank percentile of a list of numbers (p in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def hashing_seconds(pid):
    """CPU seconds doorman's argon2 threads (crypto/hash_pool.rs) have used so far."""
    return sum(t["ticks"] for t in snapshot(pid).values() if t["name"].startswith("argon2")) * TICK_S


def proc_cpu_seconds(pid):
    """utime + stime of a process from /proc (Linux), or None."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def system_cpu():
    """(busy, total) jiffies of the whole machine from /proc/stat, or None."""
    try:
        v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        idle = v[3] + (v[4] if len(v) > 4 else 0)
        return (sum(v[:8]) - idle) / os.sysconf("SC_CLK_TCK"), sum(v[:8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class CpuWindow:
    """CPU seconds used by doorman, by this Python process (client + webhook sink) with the
    load generators it ran (wrk), and by everything else on the machine between start()
    and stop()."""

    def __init__(self, pid):
        self.pid = pid

    def start(self):
        self.d0, self.p0, self.s0, self.t0 = proc_cpu_seconds(self.pid), os.times(), system_cpu(), time.perf_counter()
        return self

    def stop(self):
        d1, p1, s1, t1 = proc_cpu_seconds(self.pid), os.times(), system_cpu(), time.perf_counter()
        self.wall = t1 - self.t0
        self.doorman = None if self.d0 is None or d1 is None else d1 - self.d0
        # children: wrk, once it has been waited for (doorman is not waited for until the end)
        self.python = sum(p1[:4]) - sum(self.p0[:4])
        self.busy = None if self.s0 is None or s1 is None else s1[0] - self.s0[0]
        doorman = 0.0 if self.pid is None else self.doorman
        self.other = None if self.busy is None or doorman is None else max(0.0, self.busy - doorman - self.python)
        return self

    def cores(self, x):
        return x / self.wall if (x is not None and self.wall > 0) else float("nan")


def fsync_cost(directory, n=100):
    """Mean seconds for write(4 KiB) + fsync in `directory` (what an SQLite commit waits for)."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        return (time.perf_counter() - t0) / n
    finally:
        os.close(fd)
        os.unlink(path)


def proc_rss_mib(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


# --- argon2 ceiling -------------------------------------------------------------------
def argon2_cost(memory_kib, time_cost, n):
    """Mean seconds per argon2id hash (p=1, 32-byte output) over n hashes, one thread."""
    salt = b"benchsalt0123456"
    hash_secret_raw(b"warmup", salt, time_cost=time_cost, memory_cost=memory_kib, parallelism=1,
                    hash_len=32, type=Type.ID)
    t0 = time.perf_counter()
    for i in range(n):
        hash_secret_raw(b"%06d" % i, salt, time_cost=time_cost, memory_cost=memory_kib, parallelism=1,
                        hash_len=32, type=Type.ID)
    return (time.perf_counter() - t0) / n


def argon2_parallel_rate(memory_kib, time_cost, threads, n_per_thread):
    """Hashes per second with `threads` threads (cffi releases the GIL during the call)."""
    salt = b"benchsalt0123456"

    def work():
        for i in range(n_per_thread):
            hash_secret_raw(b"%06d" % i, salt, time_cost=time_cost, memory_cost=memory_kib, parallelism=1,
                            hash_len=32, type=Type.ID)

    ts = [threading.Thread(target=work) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return threads * n_per_thread / (time.perf_counter() - t0)


def es256_cost(n, rounds=5):
    """Seconds per ES256 signature (ECDSA P-256 over SHA-256 of a JWT-sized input), one
    thread, the fastest of `rounds` rounds of n (a round that another process interrupted
    says nothing about the signature): the unit of the token target. OpenSSL's P-256 and
    aws-lc's (doorman's) share their assembly."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    message = b"x" * 400
    for _ in range(50):
        key.sign(message, ec.ECDSA(hashes.SHA256()))
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(n):
            key.sign(message, ec.ECDSA(hashes.SHA256()))
        best = min(best, (time.perf_counter() - t0) / n)
    return best


# --- HTTP client: one keep-alive connection per thread ----------------------------------
class Api:
    def __init__(self, port):
        self.port = port
        self.auth = "Basic " + b64encode(f"{CLIENT_ID}:{BOT_SECRET}".encode()).decode()
        self.conn = None
        self.reconnects = 0

    def post(self, path, body=None):
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"Authorization": self.auth, "Content-Type": "application/json",
                   "Content-Length": str(len(data))}
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                self.conn.request("POST", path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, raw
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the server closed an idle keep-alive connection: reconnect once
                self.close()
                self.reconnects += 1
                if attempt == 2:
                    raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def conv_path(cid, action):
    return f"/v1/conversations/{CHANNEL}/{quote(cid, safe='')}/{action}"


# --- codes from the webhook sink, matched by conversation ------------------------------
class CodeBook:
    """Indexes sink.messages by payload["conversation"] = {"channel", "id"}; incremental,
    so waiting for a code costs O(new messages), not O(all messages)."""

    def __init__(self, sink):
        self.sink = sink
        self.seen = 0
        self.by_conversation = {}
        self.unmatched = 0

    def wait(self, channel, cid, timeout=CODE_WAIT):
        end = time.monotonic() + timeout
        key = (channel, cid)
        with self.sink.cv:
            while True:
                messages = self.sink.messages
                while self.seen < len(messages):
                    m = messages[self.seen]
                    self.seen += 1
                    c = m.get("conversation") if isinstance(m, dict) else None
                    if not isinstance(c, dict):
                        self.unmatched += 1
                        continue
                    self.by_conversation.setdefault((c.get("channel"), c.get("id")), []).append(m)
                queued = self.by_conversation.get(key)
                if queued:
                    return queued.pop(0)
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no webhook delivery for {channel}:{cid} within {timeout}s")
                self.sink.cv.wait(left)


class DeliverySink:
    """The harness's webhook sink as a bot platform's endpoint would be: HTTP/1.1 with
    keep-alive (doorman reuses its connection instead of opening one per code), and a
    code wakes only the thread waiting for its conversation. The harness's sink answers
    HTTP/1.0, so each code cost a TCP connection and a new Python thread, and woke all 10
    client threads; that was about a tenth of the machine during the login phase, on
    the same 2 cores as doorman. Same HMAC check; `wait` is `CodeBook.wait`."""

    def __init__(self, secret=WEBHOOK_SECRET):
        self.secret, self.bad_signatures, self.unmatched, self.received = secret.encode(), 0, 0, 0
        self.lock = threading.Lock()
        self.slots = {}  # (channel, id) -> [Condition, [messages]]
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                want = "sha256=" + hmac.new(sink.secret, body, hashlib.sha256).hexdigest()
                sink.deliver(hmac.compare_digest(want, self.headers.get("X-Doorman-Signature", "")), body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/otp"

    def slot(self, key):
        with self.lock:
            return self.slots.setdefault(key, [threading.Condition(), []])

    def deliver(self, signed, body):
        try:
            message = json.loads(body)
            c = message.get("conversation")
            key = (c.get("channel"), c.get("id"))
        except (ValueError, AttributeError):
            with self.lock:
                self.unmatched += 1
            return
        with self.lock:
            self.received += 1
            self.bad_signatures += 0 if signed else 1
        cv, queued = self.slot(key)
        with cv:
            queued.append(message)
            cv.notify()

    def wait(self, channel, cid, timeout=CODE_WAIT):
        cv, queued = self.slot((channel, cid))
        with cv:
            if not cv.wait_for(lambda: queued, timeout):
                raise TimeoutError(f"no webhook delivery for {channel}:{cid} within {timeout}s")
            return queued.pop(0)

    def count(self):
        return self.received

    def close(self):
        self.server.shutdown()


# --- one login -----------------------------------------------------------------------
class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.identify_ms, self.verify_ms, self.login_ms = [], [], []
        self.errors = []          # (what, status, body) — first few kept verbatim
        self.error_count = 0
        self.logged_in = []       # conversation ids with a session

    def error(self, what, status, body):
        with self.lock:
            self.error_count += 1
            if len(self.errors) < 10:
                self.errors.append((what, status, body[:300] if isinstance(body, (bytes, str)) else body))


def login(api, book, stats, cid, employee_number):
    t0 = time.perf_counter()
    status, body = api.post(conv_path(cid, "identify"), {"flow": "payroll", "identifier": employee_number})
    t1 = time.perf_counter()
    if status != 200:
        stats.error("identify", status, body)
        return False
    pending = json.loads(body)
    if pending.get("state") != "pending":
        stats.error("identify (state)", status, body)
        return False
    try:
        message = book.wait(CHANNEL, cid)
    except TimeoutError as e:
        stats.error("webhook", None, str(e))
        return False
    challenge_id = (pending.get("challenge") or {}).get("id")
    if challenge_id and message.get("challenge_id") != challenge_id:
        stats.error("webhook (challenge_id mismatch)", None, f"{message.get('challenge_id')} != {challenge_id}")
        return False
    t2 = time.perf_counter()
    status, body = api.post(conv_path(cid, "verify"), {"code": message.get("code", "")})
    t3 = time.perf_counter()
    if status != 200:
        stats.error("verify", status, body)
        return False
    done = json.loads(body)
    if done.get("state") != "authenticated" or not done.get("access_token"):
        stats.error("verify (state)", status, body)
        return False
    with stats.lock:
        stats.identify_ms.append((t1 - t0) * 1000)
        stats.verify_ms.append((t3 - t2) * 1000)
        stats.login_ms.append((t3 - t0) * 1000)
        stats.logged_in.append(cid)
    return True


def employees_csv():
    lines = ["key,employee_number,name,phone,corporate_email,roles,active"]
    for i in range(EMPLOYEES):
        n = 100000 + i
        lines.append(f"{n},{n},Employee {i},+3460000{i:04d},e{n}@corp.example,view_own_payroll,true")
    return "\n".join(lines) + "\n"


def employee(i):
    return str(100000 + i)


def run_logins(port, book, threads, per_thread, first_employee, tag, deadline_s):
    """`threads` threads, each with its own connection, conversation ids and employees.
    Returns (stats, wall seconds from the common start to the last finished login)."""
    stats = Stats()
    start = threading.Barrier(threads + 1)
    deadline = [0.0]
    finished = [0.0] * threads

    def worker(t):
        api = Api(port)
        start.wait()
        for i in range(per_thread):
            if time.monotonic() > deadline[0]:
                break
            cid = f"+39{tag}{t:02d}{i:05d}"
            try:
                login(api, book, stats, cid, employee(first_employee + t * per_thread + i))
            except Exception as e:  # noqa: BLE001 — record and go on; the count is bounded
                stats.error("exception", None, f"{type(e).__name__}: {e}")
        finished[t] = time.perf_counter()
        api.close()

    t0 = run_workers(worker, threads, deadline, deadline_s, start)
    return stats, max(finished) - t0


def run_tokens(port, conversations, threads, total, deadline_s):
    lat = [[] for _ in range(threads)]
    errors = Stats()
    start = threading.Barrier(threads + 1)
    deadline = [0.0]
    finished = [0.0] * threads
    per_thread = total // threads

    def worker(t):
        api = Api(port)
        mine = conversations[t::threads] or conversations
        start.wait()
        for i in range(per_thread):
            if time.monotonic() > deadline[0]:
                break
            cid = mine[i % len(mine)]
            t0 = time.perf_counter()
            try:
                status, body = api.post(conv_path(cid, "token"))
            except Exception as e:  # noqa: BLE001
                errors.error("token exception", None, f"{type(e).__name__}: {e}")
                continue
            t1 = time.perf_counter()
            if status != 200 or b"access_token" not in body:
                errors.error("token", status, body)
                continue
            lat[t].append((t1 - t0) * 1000)
        finished[t] = time.perf_counter()
        api.close()

    t0 = run_workers(worker, threads, deadline, deadline_s, start)
    wall = max(finished) - t0
    return [x for l in lat for x in l], wall, errors


def run_tokens_wrk(port, conversations, total, deadline_s):
    """The token phase with wrk (bench/token.lua) as the client: a load generator in C costs
    a few per cent of what Python's http.client costs per request, so on 2 shared cores it
    no longer takes the CPU that doorman's refreshes are measured against. wrk runs for a
    duration, not a count: a 1-second run gives the rate, and the measured run lasts what
    `total` requests take at that rate (within the deadline). Returns (requests in both
    runs, the measured run's requests, its seconds, p50 ms, p99 ms, errors)."""
    import tempfile
    errors = Stats()
    with tempfile.NamedTemporaryFile("w", suffix=".paths", delete=False) as f:
        f.write("".join(conv_path(cid, "token") + "\n" for cid in conversations))
    env = dict(os.environ, TOKEN_PATHS=f.name, TOKEN_AUTH=Api(port).auth)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "token.lua")

    def wrk(seconds):
        r = subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{TOKEN_THREADS}", f"-d{seconds}s", "-s", script,
                            f"http://127.0.0.1:{port}"], env=env, capture_output=True, text=True,
                           timeout=seconds + 30)
        line = next((l for l in r.stdout.splitlines() if l.startswith("TOKEN_RESULT ")), None)
        if r.returncode != 0 or line is None:
            errors.error("wrk", r.returncode, (r.stdout + r.stderr)[-300:])
            return None
        res = json.loads(line.split(" ", 1)[1])
        for what in ("non_2xx", "socket_errors"):
            if res[what]:
                errors.error(f"token ({what})", None, f"{res[what]} of {res['requests']} requests")
        res["ok"] = res["requests"] - res["non_2xx"] - res["socket_errors"]
        return res

    try:
        probe = wrk(1)
        if probe is None:
            return 0, 0, 0.0, float("nan"), float("nan"), errors
        rate = max(1.0, probe["ok"] / probe["seconds"])
        left = max(0, total - probe["ok"])
        # a fifth more than the rate says, so that the phase surely makes `total` requests
        run = wrk(int(min(deadline_s, max(2, -(-left * 6 // (5 * rate)) + 1))))
    finally:
        os.unlink(f.name)
    if run is None:
        return probe["ok"], 0, 0.0, float("nan"), float("nan"), errors
    return probe["ok"] + run["ok"], run["ok"], run["seconds"], run["p50_ms"], run["p99_ms"], errors


class ScratchDatabase:
    """A fresh PostgreSQL database beside the one `url` names, dropped on exit; `url` is only
    used to connect for CREATE and DROP DATABASE (with psql)."""

    def __init__(self, url):
        self.admin = url
        self.name = f"doorman_bench_{os.getpid()}_{int(time.time())}"
        self.url = urlunsplit(urlsplit(url)._replace(path="/" + self.name))

    def psql(self, sql):
        r = subprocess.run(["psql", self.admin, "-v", "ON_ERROR_STOP=1", "-tAc", sql], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {r.stderr.strip()}")

    def __enter__(self):
        self.psql(f"CREATE DATABASE {self.name}")
        return self

    def __exit__(self, *_):
        try:
            self.psql(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"warning: scratch database {self.name} not dropped: {e}", flush=True)


def git(*args):
    r = subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True)
    return r.stdout.strip()


def wait_idle(max_seconds, busy_limit=0.25):
    """Wait (at most max_seconds) for a second in which the machine uses < busy_limit cores.
    Returns the busy cores of the last sampled second."""
    began = time.monotonic()
    end = began + max_seconds
    busy = float("nan")
    next_note = began
    while True:
        w = CpuWindow(None).start()
        time.sleep(1.0)
        w.stop()
        busy = w.cores(w.busy)
        if busy < busy_limit:
            print(f"  machine idle after {time.monotonic() - began:.0f}s", flush=True)
            return busy
        if time.monotonic() >= end:
            print(f"  machine still busy after {max_seconds:.0f}s ({busy:.2f} cores); measuring anyway", flush=True)
            return busy
        if time.monotonic() >= next_note:
            print(f"  machine busy ({busy:.2f} cores used by other processes), waiting ...", flush=True)
            next_note += 30


def main():
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                    help="before measuring, wait up to SECONDS for the machine to be idle (other "
                         "processes, e.g. cargo builds, distort every number here); default 0")
    ap.add_argument("--postgres", metavar="URL",
                    help="run on PostgreSQL: a scratch database is created beside the one URL names "
                         "(e.g. postgres://postgres@127.0.0.1:5432/test) and dropped at the end")
    ap.add_argument("--db-dir", metavar="DIR",
                    help="put the SQLite file in DIR (e.g. /dev/shm, where fsync is free) instead of "
                         "the gateway's temp dir — a diagnostic, not the product's configuration")
    ap.add_argument("--doorman-env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra environment for doorman serve (repeatable), e.g. MALLOC_ARENA_MAX=2")
    args = ap.parse_args()
    if args.postgres and args.db_dir:
        ap.error("--db-dir is for SQLite; it cannot go with --postgres")
    extra_env = dict(kv.split("=", 1) for kv in args.doorman_env)
    if args.postgres:
        with ScratchDatabase(args.postgres) as scratch:
            return bench(args, extra_env, scratch.url, None, "PostgreSQL")
    db_url, db_file = None, None
    if args.db_dir:
        db_file = os.path.join(os.path.abspath(args.db_dir), f"doorman-bench-{os.getpid()}.db")
        db_url = f"sqlite://{db_file}?mode=rwc"
    return bench(args, extra_env, db_url, db_file, "SQLite" + (" in " + args.db_dir if args.db_dir else ""))


def bench(args, extra_env, db_url, db_file, database):
    """The whole run on the database `db_url` (None: SQLite in the gateway's temp dir)."""
    began = time.time()
    ncores = cores()
    print(f"doorman login benchmark — {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}, {ncores} cores", flush=True)
    print("building the release binary (harness.build: cargo build --release, once per HEAD) ...", flush=True)
    build()
    if args.wait_idle > 0:
        wait_idle(min(args.wait_idle, 600))

    # 1. argon2 in Python, on an otherwise idle machine (before doorman starts)
    print("measuring argon2id in Python (argon2-cffi) ...", flush=True)
    aw = CpuWindow(None).start()
    code_cost = argon2_cost(4096, 1, CODE_HASHES)
    secret_cost = argon2_cost(19456, 2, SECRET_HASHES)
    code_rate_par = argon2_parallel_rate(4096, 1, ncores, CODE_HASHES // ncores)
    aw.stop()
    ceiling = ncores / (2 * code_cost)
    ceiling_measured = code_rate_par / 2

    # 2. doorman
    print(f"starting doorman (release build, {database}, 2,000 employees) ...", flush=True)
    sink = DeliverySink()
    gw = Gateway(
        otp={"resend_cooldown": "0s", "max_failures_per_record": 1000000, "max_sends": 3},
        records=employees_csv(), sink=sink, env=extra_env, database_url=db_url,
        # generous send limits so the benchmark is never throttled (SMS-pumping guards)
        extra="[delivery.limits]\nper_destination_per_hour = 1000\nglobal_per_hour = 1000000\n",
    )
    binary_mtime = datetime.fromtimestamp(os.path.getmtime(gw.binary)).strftime("%Y-%m-%d %H:%M:%S")
    head = git("rev-parse", "--short", "HEAD")
    dirty = bool(git("status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock", "entity", "migration"))
    book = sink
    try:
        fsync_s = None if database == "PostgreSQL" else fsync_cost(os.path.dirname(db_file) if db_file else gw.dir)
        rss_idle = proc_rss_mib(gw.proc.pid)
        memory = [("idle", breakdown(gw.proc.pid))]
        # warm-up: the first request pays the client-secret hash; keep it out of the numbers
        warm = Stats()
        wapi = Api(gw.port)
        for i in range(5):
            login(wapi, book, warm, f"+39w{i:05d}", employee(EMPLOYEES - 1 - i))
        wapi.close()
        if warm.error_count:
            print("warm-up errors:", warm.errors, flush=True)

        # 3a. one conversation at a time
        print(f"logins, 1 concurrent ({SERIAL_LOGINS}) ...", flush=True)
        serial, serial_wall = run_logins(gw.port, book, 1, SERIAL_LOGINS, 0, "s", PHASE_DEADLINE["serial"])

        # 3b. ten at a time; each thread its own conversations and employees
        print(f"logins, {CONCURRENCY} concurrent ({CONCURRENCY}x{LOGINS_PER_THREAD}) ...", flush=True)
        cw = CpuWindow(gw.proc.pid).start()
        hashing_before = hashing_seconds(gw.proc.pid)
        conc, conc_wall = run_logins(gw.port, book, CONCURRENCY, LOGINS_PER_THREAD, SERIAL_LOGINS, "c",
                                     PHASE_DEADLINE["concurrent"])
        cw.stop()
        hashing = hashing_seconds(gw.proc.pid) - hashing_before
        rss_after_logins = proc_rss_mib(gw.proc.pid)
        memory.append(("after logins", breakdown(gw.proc.pid)))
        logins_done = len(conc.logged_in)
        logins_per_s = logins_done / conc_wall if conc_wall > 0 else 0.0
        doorman_cpu_per_login = (cw.doorman / logins_done * 1000) if (cw.doorman is not None and logins_done) else None

        # 4. token refresh on live sessions
        sessions = conc.logged_in[:TOKEN_CONVERSATIONS] or serial.logged_in[:TOKEN_CONVERSATIONS]
        print(f"token refresh, {TOKEN_THREADS} threads, {TOKEN_REQUESTS} requests over {len(sessions)} sessions ...",
              flush=True)
        tw = CpuWindow(gw.proc.pid).start()
        if shutil.which("wrk"):
            tok_client = f"wrk, {WRK_THREADS} threads x {TOKEN_THREADS} connections"
            tok_total, tok_n, tok_wall, tok_p50, tok_p99, tok_err = run_tokens_wrk(
                gw.port, sessions, TOKEN_REQUESTS, PHASE_DEADLINE["token"])
        else:
            tok_client = f"Python, {TOKEN_THREADS} threads (no wrk on the PATH)"
            tok_lat, tok_wall, tok_err = run_tokens(gw.port, sessions, TOKEN_THREADS, TOKEN_REQUESTS,
                                                    PHASE_DEADLINE["token"])
            tok_n, tok_p50, tok_p99 = len(tok_lat), pct(tok_lat, 50), pct(tok_lat, 99)
            tok_total = tok_n
        tw.stop()
        # The unit of the token target, measured right after the phase it divides (doorman
        # idle again): this VM's speed drifts over minutes, so a signature timed at the
        # start of the run can be a third faster or slower than during the refreshes.
        es256_s = es256_cost(ES256_SIGNATURES)
        rss_after_tokens = proc_rss_mib(gw.proc.pid)
        memory.append(("after tokens", breakdown(gw.proc.pid)))
        tok_rate = tok_n / tok_wall if tok_wall > 0 else 0.0
        alive = gw.proc.poll() is None
        bad_sigs = sink.bad_signatures
    finally:
        gw.close()
        if db_file:
            for suffix in ("", "-wal", "-shm", "-journal"):
                try:
                    os.unlink(db_file + suffix)
                except OSError:
                    pass

    # 5. results
    def ms(x):
        return f"{x:8.2f} ms"

    others = "other processes (PostgreSQL's server among them)" if database == "PostgreSQL" else "other processes"
    rows = []
    rows.append(("argon2id code hash (m=4096 KiB, t=1, p=1), 1 thread", ms(code_cost * 1000),
                 f"mean of {CODE_HASHES}"))
    rows.append(("argon2id secret hash (m=19456 KiB, t=2, p=1), 1 thread", ms(secret_cost * 1000),
                 f"mean of {SECRET_HASHES}"))
    rows.append((f"argon2id code hashes/s, {ncores} threads in parallel", f"{code_rate_par:8.1f} /s",
                 f"other processes used {aw.cores(aw.other):.2f} cores meanwhile"))
    rows.append((f"login ceiling = {ncores} cores / (2 x code hash)", f"{ceiling:8.1f} /s",
                 f"parallel-measured: {ceiling_measured:.1f}/s"))
    for label, st, wall in (("1 concurrent", serial, serial_wall), (f"{CONCURRENCY} concurrent", conc, conc_wall)):
        rows.append((f"identify latency, {label}: p50 / p99",
                     f"{pct(st.identify_ms, 50):6.2f} / {pct(st.identify_ms, 99):6.2f} ms",
                     f"n={len(st.identify_ms)}"))
        rows.append((f"verify latency,   {label}: p50 / p99",
                     f"{pct(st.verify_ms, 50):6.2f} / {pct(st.verify_ms, 99):6.2f} ms",
                     f"n={len(st.verify_ms)}"))
    rows.append(("logins/s, 1 concurrent", f"{len(serial.logged_in) / serial_wall if serial_wall else 0:8.1f} /s",
                 f"{len(serial.logged_in)} in {serial_wall:.1f}s"))
    rows.append((f"logins/s, {CONCURRENCY} concurrent", f"{logins_per_s:8.1f} /s",
                 f"{logins_done} in {conc_wall:.1f}s"))
    rows.append(("measured / ceiling", f"{logins_per_s / ceiling * 100:8.1f} %",
                 f"target >= 90 %; vs parallel-measured: {logins_per_s / ceiling_measured * 100:.1f} %"))
    if doorman_cpu_per_login is not None:
        rows.append(("doorman CPU per login (10 concurrent)", ms(doorman_cpu_per_login),
                     f"2 x code hash = {2 * code_cost * 1000:.2f} ms (Python/C)"))
        rows.append(("  of which doorman's argon2 threads", ms(hashing / logins_done * 1000),
                     "its 2 code hashes (argon2 crate, AVX2), measured under the same load"))
        rows.append((f"CPU during {CONCURRENCY}-concurrent logins: doorman", f"{cw.cores(cw.doorman):8.2f} cores",
                     f"bench client+sink {cw.cores(cw.python):.2f}, {others} {cw.cores(cw.other):.2f}"))
    rows.append(("token refresh", f"{tok_rate:8.1f} /s",
                 f"target >= 5,000/s; {tok_n} in {tok_wall:.1f}s ({tok_total} in all) over {len(sessions)} "
                 f"sessions; {tok_client}"))
    rows.append(("token refresh latency p50 / p99", f"{tok_p50:6.2f} / {tok_p99:6.2f} ms", ""))
    rows.append(("ES256 signature (P-256, OpenSSL via cryptography), 1 thread", f"{es256_s * 1e6:8.1f} us",
                 f"fastest of 5 rounds of {ES256_SIGNATURES}"))
    if tw.doorman is not None:
        per_token = tw.doorman / max(1, tok_total)
        rows.append(("doorman CPU per token", f"{per_token * 1e6:8.1f} us",
                     f"= {per_token / es256_s:.1f} ES256 signatures (target <= 5)"))
        rows.append(("CPU during token refresh: doorman", f"{tw.cores(tw.doorman):8.2f} cores",
                     f"bench client {tw.cores(tw.python):.2f}, {others} {tw.cores(tw.other):.2f}"))
    if fsync_s is not None:
        rows.append(("write(4 KiB)+fsync on the database's filesystem", ms(fsync_s * 1000),
                     "mean of 100; every SQLite commit waits for one"))
    if rss_idle is not None:
        rows.append(("doorman RSS idle / after logins / after tokens",
                     f"{rss_idle:.1f} / {rss_after_logins:.1f} / {rss_after_tokens:.1f} MiB", ""))
    errors_total = serial.error_count + conc.error_count + tok_err.error_count
    rows.append(("errors (non-200, missing code, exceptions)", f"{errors_total:8d}",
                 f"bad webhook signatures: {bad_sigs}; doorman alive at end: {alive}"))

    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print()
    print(f"RESULTS  doorman {head}{' +uncommitted src changes' if dirty else ''} "
          f"(binary built {binary_mtime}), {database}, {ncores} cores, "
          f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}, run took {time.time() - began:.0f}s")
    print("-" * (w0 + w1 + 40))
    for a, b, c in rows:
        print(f"{a:<{w0}}  {b:>{w1}}  {c}")
    print("-" * (w0 + w1 + 40))
    print("\n".join(table(memory)))
    print("-" * (w0 + w1 + 40))
    if extra_env:
        print(f"doorman environment: {extra_env}")
    for name, st in (("1 concurrent", serial), ("10 concurrent", conc), ("token refresh", tok_err)):
        for e in st.errors:
            print(f"error sample [{name}]: {e}")
    return 0 if errors_total == 0 and alive else 1


if __name__ == "__main__":
    sys.exit(main())
