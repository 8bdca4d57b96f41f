"""doorman's proxy driven from outside, against the release binary: a bot calls through
/v1/proxy, and the downstream API behind it is a small Python server that validates the
injected token with PyJWT through the published JWKS, the way a company API would.

Run from the project root: python3 tests/proxy_client.py (needs requests and
pyjwt[crypto]; ../shared/contract/harness.py starts the binary). The last line of the
output is "N passed, M failed"; the exit status is non-zero on any failure.
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "contract"))
sys.path.insert(0, os.path.join(os.getcwd(), "..", "shared", "contract"))

import jwt  # noqa: E402
import requests  # noqa: E402
from harness import BOT_SECRET, Gateway, Results, free_port  # noqa: E402

AUDIENCE = "payroll-api"


class PayrollApi:
    """The company API: trusts only tokens doorman minted for its audience."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.seen = []
        self.gateway_url = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                token = None
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Bearer "):
                    token = auth[len("Bearer "):]
                elif "auth" in parse_qs(parts.query):
                    token = parse_qs(parts.query)["auth"][0]
                api.seen.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}})
                try:
                    claims = api.validate(token)
                except Exception as e:  # noqa: BLE001 — any failure is a 401 to the caller
                    body, status = {"error": f"{type(e).__name__}: {e}"}, 401
                else:
                    body, status = {"sub": claims["sub"], "employee_number": claims["employee_number"],
                                    "path": self.path}, 200
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def validate(self, token):
        meta = requests.get(self.gateway_url + "/.well-known/oauth-authorization-server", timeout=10).json()
        assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
        key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=[key.algorithm_name], audience=AUDIENCE,
                          issuer=meta["issuer"], options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})

    def close(self):
        self.server.shutdown()


def services(upstream):
    # Each test logs Ana in, and every login sends her phone a code.
    return f"""
[delivery.limits]
per_destination_per_hour = 100

[[services]]
name = "payroll"
upstream = "{upstream}"
audience = "{AUDIENCE}"
timeout = "5s"
[[services.routes]]
methods = ["GET"]
path = "/employees/{{employee_number}}/payslips/{{month}}"
roles = ["view_own_payroll"]
bind = {{ employee_number = "employee_number" }}
inject = "authorization"
token = "exchange"
[[services.routes]]
methods = ["GET"]
path = "/legacy/{{employee_number}}"
roles = ["view_own_payroll"]
bind = {{ employee_number = "employee_number" }}
upstream_path = "/old/payslip?emp={{claim.employee_number}}&auth={{authtoken}}"
inject = "none"
"""


def proxy(gw, path, token=None, **kw):
    headers = kw.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(f"{gw.url}/v1/proxy/payroll{path}", headers=headers, timeout=30, **kw)


def own_payslip_with_an_exchanged_token(gw, api):
    login = gw.login("proxy-own")
    r = proxy(gw, "/employees/4721/payslips/2026-10", login["access_token"])
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.json()["sub"] == "employees/4721", r.json()
    forwarded = api.seen[-1]["headers"]["authorization"][len("Bearer "):]
    assert forwarded != login["access_token"], "exchange mode must not forward the person's token"
    assert r.headers.get("X-Request-Id"), "doorman returns the request id"


def someone_elses_payslip_is_refused_before_the_api(gw, api):
    login = gw.login("proxy-other")
    before = len(api.seen)
    r = proxy(gw, "/employees/1023/payslips/2026-10", login["access_token"])
    assert r.status_code == 403 and r.json()["error"] == "forbidden_resource", (r.status_code, r.text)
    r = proxy(gw, "/employees/4721/../1023/payslips/2026-10".replace("..", "%2e%2e"), login["access_token"])
    assert r.status_code == 400, (r.status_code, r.text)
    assert len(api.seen) == before, "nothing reached the API"


def a_legacy_api_gets_the_token_in_its_url(gw, api):
    login = gw.login("proxy-legacy")
    r = proxy(gw, "/legacy/4721", login["access_token"])
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.json()["path"].startswith("/old/payslip?emp=4721&auth="), r.json()


def the_persons_token_is_no_key_for_the_api_directly(gw, api):
    login = gw.login("proxy-direct")
    r = requests.get(f"{api.url}/employees/4721/payslips/2026-10",
                     headers={"Authorization": f"Bearer {login['access_token']}"}, timeout=10)
    assert r.status_code == 401 and "Audience" in r.json()["error"], r.text


def logging_out_ends_proxy_access(gw, api):
    login = gw.login("proxy-logout")
    assert proxy(gw, "/employees/4721/payslips/2026-10", login["access_token"]).status_code == 200
    assert gw.conv("whatsapp", "proxy-logout", method="DELETE").status_code == 204
    r = proxy(gw, "/employees/4721/payslips/2026-10", login["access_token"])
    assert r.status_code == 401 and r.json()["error"] == "invalid_token", (r.status_code, r.text)


def conversation_mode(gw, api):
    gw.login("proxy-conv")
    r = proxy(gw, "/employees/4721/payslips/2026-10", auth=("hr-bot", BOT_SECRET),
              headers={"X-Doorman-Conversation": "whatsapp/proxy-conv"})
    assert r.status_code == 200 and r.json()["sub"] == "employees/4721", (r.status_code, r.text)


def main():
    results = Results()
    api = PayrollApi()
    gw = Gateway(extra=services(api.url))
    api.gateway_url = gw.url
    try:
        for name, test in [
            ("her own payslip, through an exchanged token the API validates with the JWKS",
             own_payslip_with_an_exchanged_token),
            ("someone else's payslip and an encoded traversal are refused before the API",
             someone_elses_payslip_is_refused_before_the_api),
            ("a legacy API gets a valid token in its URL", a_legacy_api_gets_the_token_in_its_url),
            ("the person's own token does not open the API directly", the_persons_token_is_no_key_for_the_api_directly),
            ("logging out ends access through the proxy", logging_out_ends_proxy_access),
            ("conversation mode: Basic credentials and the conversation", conversation_mode),
        ]:
            results.run(name, test, gw, api)
    finally:
        gw.close()
        api.close()
    results.finish()


if __name__ == "__main__":
    main()
