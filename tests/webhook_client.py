"""doorman's code deliveries checked by the Standard Webhooks reference library
(`standardwebhooks`, https://www.standardwebhooks.com), as a bot platform would check
them, against the release binary.

Run from the project root: python3 tests/webhook_client.py (needs standardwebhooks and
requests; ../shared/contract/harness.py starts the binary). The last line of the output
is "N passed, M failed"; the exit status is non-zero on any failure.
"""
import base64
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "contract"))
sys.path.insert(0, os.path.join(os.getcwd(), "..", "shared", "contract"))

from harness import Gateway, Results, free_port  # noqa: E402
from standardwebhooks.webhooks import Webhook, WebhookVerificationError  # noqa: E402

PLAIN_SECRET = "plain-webhook-secret-0123456789"
SPEC_SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()


class StandardSink:
    """A bot platform's endpoint: keeps each delivery's headers and body, unverified, so
    that the tests verify (and replay) them with the library."""

    def __init__(self):
        self.deliveries = []
        self.cv = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink.cv:
                    sink.deliveries.append((dict(self.headers.items()), body))
                    sink.cv.notify_all()
                self.send_response(200)
                self.end_headers()

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/otp"

    def count(self):
        with self.cv:
            return len(self.deliveries)

    def wait_delivery(self, n, timeout=10):
        end = time.time() + timeout
        with self.cv:
            while len(self.deliveries) < n:
                left = end - time.time()
                if left <= 0:
                    raise AssertionError(f"no delivery #{n} within {timeout}s")
                self.cv.wait(left)
            return self.deliveries[n - 1]

    def wait(self, n, timeout=10):
        """The harness's interface: the n-th payload."""
        return json.loads(self.wait_delivery(n, timeout)[1])

    def close(self):
        self.server.shutdown()


def lowercase(headers):
    return {k.lower(): v for k, v in headers.items()}


def deliver(gw, conversation):
    n = gw.sink.count()
    r = gw.conv("whatsapp", conversation, "identify", body={"flow": "payroll", "identifier": "4721"})
    assert r.status_code == 200, r.text
    headers, body = gw.sink.wait_delivery(n + 1)
    return lowercase(headers), body


def verifies(receiver_secret):
    def test(gw):
        headers, body = deliver(gw, f"wh-{time.time_ns()}")
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature", "x-doorman-signature"):
            assert name in headers, (name, headers)
        payload = Webhook(receiver_secret).verify(body, headers)
        assert payload["code"].isdigit() and payload["method"] == "whatsapp", payload
    return test


def rejects_tampering_and_replays(receiver_secret):
    def test(gw):
        webhook = Webhook(receiver_secret)
        headers, body = deliver(gw, f"wh-{time.time_ns()}")
        webhook.verify(body, headers)
        tampered = body.replace(b'"code":"', b'"code":"9')
        for label, h, b in [
            ("a changed body", headers, tampered),
            ("a wrong secret", headers, body),
            ("a shifted timestamp", dict(headers, **{"webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}), body),
        ]:
            verifier = Webhook("whsec_" + base64.b64encode(b"someone-else").decode()) if label == "a wrong secret" else webhook
            try:
                verifier.verify(b, h)
            except WebhookVerificationError:
                continue
            raise AssertionError(f"{label} verified")
        # A delivery captured and replayed later: its signed timestamp is out of the
        # library's five-minute tolerance. (Within it, a receiver rejects a webhook-id
        # it has already seen.)
        import standardwebhooks.webhooks as library
        real_now = library.datetime

        class Later(real_now):
            @classmethod
            def now(cls, tz=None):
                return real_now.now(tz) + library.timedelta(minutes=10)

        library.datetime = Later
        try:
            webhook.verify(body, headers)
        except WebhookVerificationError:
            pass
        else:
            raise AssertionError("a ten-minute-old delivery verified")
        finally:
            library.datetime = real_now
        again, _ = deliver(gw, f"wh-{time.time_ns()}")
        assert again["webhook-id"] != headers["webhook-id"], "every delivery has its own id"
    return test


def main():
    results = Results()
    for label, configured, receiver in [
        ("a plain secret (the receiver's is whsec_ + its base64)", PLAIN_SECRET,
         "whsec_" + base64.b64encode(PLAIN_SECRET.encode()).decode()),
        ("a whsec_ secret, used by both sides as it is", SPEC_SECRET, SPEC_SECRET),
    ]:
        gw = Gateway(sink=StandardSink(), env={"DOORMAN_WEBHOOK_SECRET": configured})
        try:
            results.run(f"standardwebhooks verifies a delivery signed with {label}", verifies(receiver), gw)
            results.run(f"tampering and replays are rejected with {label}", rejects_tampering_and_replays(receiver), gw)
        finally:
            gw.close()
    results.finish()


if __name__ == "__main__":
    main()
