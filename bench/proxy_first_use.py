#!/usr/bin/env python3
"""bench/proxy_first_use.py: what a token's first proxied request costs over a cached one.

Run by bench/proxy.sh when FIRST_USE=N is set (stdlib only). For each of N rounds it
fetches a new access token for the logged-in conversation (POST .../token with the bot's
Basic credentials; the fetch itself is not timed), then times two GETs through the proxy
with it on one keep-alive connection: the first, whose token is in no cache (its
signature is verified, then cached), and the second, answered from the verification
cache. Prints the median, p90, p99 and mean of each and of their difference.

Environment: DOORMAN_BASE (http://127.0.0.1:PORT), RESOURCE (the upstream path),
CONVERSATION (/v1/conversations/sms/...), BOT_ID, BOT_SECRET, FIRST_USE (N).
"""
import base64
import http.client
import json
import os
import statistics
import sys
import time
from urllib.parse import urlsplit

E = os.environ
N = int(E.get("FIRST_USE", "200"))
base = urlsplit(E["DOORMAN_BASE"])
proxy_path = "/v1/proxy/payroll" + E["RESOURCE"]
basic = "Basic " + base64.b64encode(f"{E['BOT_ID']}:{E['BOT_SECRET']}".encode()).decode()

api = http.client.HTTPConnection(base.hostname, base.port, timeout=30)
proxy = http.client.HTTPConnection(base.hostname, base.port, timeout=30)


def fetch_token():
    api.request("POST", E["CONVERSATION"] + "/token", body=b"", headers={"Authorization": basic})
    r = api.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"proxy_first_use: POST token answered {r.status}: {body[:300]!r}")
    answer = json.loads(body)
    return answer.get("access_token") or answer["tokens"]["access_token"]


def timed_get(token):
    t0 = time.perf_counter()
    proxy.request("GET", proxy_path, headers={"Authorization": "Bearer " + token})
    r = proxy.getresponse()
    body = r.read()
    elapsed = time.perf_counter() - t0
    if r.status != 200:
        sys.exit(f"proxy_first_use: the proxy answered {r.status}: {body[:300]!r}")
    return elapsed * 1e6


first, second, seen = [], [], set()
for _ in range(N):
    token = fetch_token()
    if token in seen:
        sys.exit("proxy_first_use: the token endpoint handed out a token twice; nothing to measure")
    seen.add(token)
    first.append(timed_get(token))
    second.append(timed_get(token))


def row(name, xs):
    xs = sorted(xs)
    pick = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))]
    return f"{name:<22} {statistics.median(xs):>8.0f} {pick(0.9):>8.0f} {pick(0.99):>8.0f} {statistics.mean(xs):>8.0f}"


print(f"first use of a token vs a cached one, {N} tokens, one request at a time (microseconds, client-side, "
      "includes Python's own ~50-100 us per request)")
print(f"{'':<22} {'p50':>8} {'p90':>8} {'p99':>8} {'mean':>8}")
print(row("first use (uncached)", first))
print(row("second use (cached)", second))
print(row("difference", [a - b for a, b in zip(first, second)]))
