"""OAuth endpoint benchmark for doorman (release binary, SQLite): the rotating
refresh_token grant, client_credentials and introspection, each from 10 threads with a
keep-alive connection per thread. Fixed request counts, one deadline per phase.

Run from the repository root: python3 bench/oauth.py (reuses ../shared/contract/harness.py).
"""
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.getcwd(), "..", "shared", "contract"))
import requests  # noqa: E402
from harness import BOT_SECRET, Gateway  # noqa: E402

THREADS, PER_THREAD, DEADLINE_S = 10, 300, 60.0
SCOPED = '\n[[clients]]\nid = "reports"\nsecret = "reports-secret-0123456789abcdef"\nscopes = ["reports.read"]\n'


def phase(name, make_request):
    """Runs THREADS x PER_THREAD requests; make_request(session, thread, i) -> response."""
    latencies, errors, lock = [], [], threading.Lock()
    deadline = time.time() + DEADLINE_S

    def worker(t):
        session = requests.Session()
        for i in range(PER_THREAD):
            if time.time() > deadline:
                break
            started = time.perf_counter()
            r = make_request(session, t, i)
            elapsed = time.perf_counter() - started
            with lock:
                (latencies if r.status_code == 200 else errors).append(elapsed if r.status_code == 200 else r.text)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0] * 99
    print(f"{name:<28} {len(latencies):>6} ok {len(errors):>4} errors {len(latencies) / wall:>8.0f} req/s "
          f"p50 {q[49] * 1000:6.2f} ms  p99 {q[98] * 1000:6.2f} ms")
    if errors:
        print("  first error:", errors[0][:300])


def main():
    gw = Gateway(extra=SCOPED, otp={"max_failures_per_record": 1000000})
    try:
        token_url, introspect_url = gw.url + "/oauth/token", gw.url + "/oauth/introspect"
        chains = [gw.login(f"bench-{t}")["refresh_token"] for t in range(THREADS)]
        access = gw.login("bench-introspect")["access_token"]

        def refresh(session, t, i):
            r = session.post(token_url, auth=("hr-bot", BOT_SECRET),
                             data={"grant_type": "refresh_token", "refresh_token": chains[t]})
            if r.status_code == 200:
                chains[t] = r.json()["refresh_token"]
            return r

        phase("refresh_token (rotating)", refresh)
        phase("client_credentials", lambda s, t, i: s.post(
            token_url, auth=("reports", "reports-secret-0123456789abcdef"), data={"grant_type": "client_credentials"}))
        phase("introspect (access token)", lambda s, t, i: s.post(
            introspect_url, auth=("hr-bot", BOT_SECRET), data={"token": access}))
    finally:
        gw.close()


if __name__ == "__main__":
    main()
