"""doorman's OAuth endpoints driven by a standard client nobody here wrote (authlib), and
its tokens checked by PyJWT through the published JWKS, against the release binary.

Run from the project root: python3 tests/oauth_client.py (needs authlib, requests and
pyjwt[crypto]; ../shared/contract/harness.py starts the binary). The last line of the
output is "N passed, M failed"; the exit status is non-zero on any failure.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "contract"))
sys.path.insert(0, os.path.join(os.getcwd(), "..", "shared", "contract"))

import jwt  # noqa: E402
import requests  # noqa: E402
from authlib.integrations.base_client import OAuthError  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from harness import BOT_SECRET, Gateway, Results  # noqa: E402

REPORTS_SECRET = "reports-secret-0123456789abcdefghij"
EXTRA = f"""
[[clients]]
id = "reports"
secret = "{REPORTS_SECRET}"
scopes = ["reports.read", "reports.write"]
"""
OTP_GRANT = "urn:doorman:params:oauth:grant-type:otp"


def metadata(gw):
    return requests.get(gw.url + "/.well-known/oauth-authorization-server", timeout=10).json()


def verified_claims(gw, token):
    """Checks the token as a downstream API would: the key by kid from the JWKS named in
    the metadata, the algorithm that key declares, iss, aud and typ."""
    meta = metadata(gw)
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt", header
    signing_key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token)
    algorithm = signing_key.algorithm_name
    assert algorithm in meta["access_token_signing_alg_values_supported"], algorithm
    return jwt.decode(token, signing_key.key, algorithms=[algorithm], audience="doorman", issuer=meta["issuer"],
                      options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})


def expect_oauth_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except OAuthError as e:
        assert e.error == code, (e.error, e.description)
        return
    raise AssertionError(f"expected the OAuth error {code}")


def client_credentials_basic(gw):
    client = OAuth2Session("reports", REPORTS_SECRET, scope="reports.read",
                           token_endpoint_auth_method="client_secret_basic")
    token = client.fetch_token(metadata(gw)["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["scope"] == "reports.read", token
    assert "refresh_token" not in token
    claims = verified_claims(gw, token["access_token"])
    assert claims["sub"] == "reports" and claims["client_id"] == "reports", claims
    assert claims["scope"] == "reports.read", claims


def client_credentials_post(gw):
    client = OAuth2Session("reports", REPORTS_SECRET, token_endpoint_auth_method="client_secret_post")
    token = client.fetch_token(metadata(gw)["token_endpoint"], grant_type="client_credentials")
    assert token["scope"] == "reports.read reports.write", token
    assert verified_claims(gw, token["access_token"])["sub"] == "reports"


def client_credentials_refused(gw):
    endpoint = metadata(gw)["token_endpoint"]
    wrong = OAuth2Session("reports", "not-the-secret", token_endpoint_auth_method="client_secret_basic")
    expect_oauth_error("invalid_client", wrong.fetch_token, endpoint, grant_type="client_credentials")
    greedy = OAuth2Session("reports", REPORTS_SECRET, scope="admin")
    expect_oauth_error("invalid_scope", greedy.fetch_token, endpoint, grant_type="client_credentials")


def refresh_token_rotates(gw):
    login = gw.login("oauth-refresh")
    endpoint = metadata(gw)["token_endpoint"]
    client = OAuth2Session("hr-bot", BOT_SECRET, token_endpoint_auth_method="client_secret_basic",
                           token={"access_token": login["access_token"], "token_type": "Bearer",
                                  "refresh_token": login["refresh_token"]})
    fresh = client.refresh_token(endpoint, refresh_token=login["refresh_token"])
    assert fresh["refresh_token"] != login["refresh_token"], "a new refresh token on every use"
    claims = verified_claims(gw, fresh["access_token"])
    assert claims["sub"] == "employees/4721" and claims["sid"] == login["session"]["id"], claims
    again = client.refresh_token(endpoint, refresh_token=fresh["refresh_token"])
    assert verified_claims(gw, again["access_token"])["sid"] == login["session"]["id"]


def refresh_token_reuse_revokes(gw):
    login = gw.login("oauth-reuse")
    endpoint = metadata(gw)["token_endpoint"]
    client = OAuth2Session("hr-bot", BOT_SECRET, token_endpoint_auth_method="client_secret_post")
    fresh = client.refresh_token(endpoint, refresh_token=login["refresh_token"])
    expect_oauth_error("invalid_grant", client.refresh_token, endpoint, refresh_token=login["refresh_token"])
    expect_oauth_error("invalid_grant", client.refresh_token, endpoint, refresh_token=fresh["refresh_token"])
    state = gw.conv("whatsapp", "oauth-reuse", method="GET").json()
    assert state == {"state": "unidentified"}, state


def otp_grant(gw):
    n = gw.sink.count()
    r = gw.conv("whatsapp", "oauth-otp", "identify", body={"flow": "payroll", "identifier": "4721"})
    assert r.status_code == 200, r.text
    code = gw.sink.wait(n + 1)["code"]
    client = OAuth2Session("hr-bot", BOT_SECRET)
    token = client.fetch_token(metadata(gw)["token_endpoint"], grant_type=OTP_GRANT,
                               conversation="whatsapp:oauth-otp", code=code)
    claims = verified_claims(gw, token["access_token"])
    assert claims["acr"] == "loa2" and claims["sub"] == "employees/4721", claims


def introspect_and_revoke(gw):
    login = gw.login("oauth-revoke")
    meta = metadata(gw)
    client = OAuth2Session("hr-bot", BOT_SECRET)
    answer = client.introspect_token(meta["introspection_endpoint"], token=login["access_token"]).json()
    assert answer["active"] is True and answer["sub"] == "employees/4721", answer
    assert client.revoke_token(meta["revocation_endpoint"], token=login["access_token"]).status_code == 200
    answer = client.introspect_token(meta["introspection_endpoint"], token=login["access_token"]).json()
    assert answer == {"active": False}, answer
    assert client.introspect_token(meta["introspection_endpoint"], token="garbage").json() == {"active": False}


def main():
    results = Results()
    gw = Gateway(extra=EXTRA)
    try:
        for name, test in [
            ("client_credentials with client_secret_basic, verified through the JWKS", client_credentials_basic),
            ("client_credentials with client_secret_post", client_credentials_post),
            ("client_credentials refuses a wrong secret and a foreign scope", client_credentials_refused),
            ("refresh_token rotates and keeps the session", refresh_token_rotates),
            ("a reused refresh_token revokes the session", refresh_token_reuse_revokes),
            ("the OTP grant returns a verified token", otp_grant),
            ("introspection and revocation", introspect_and_revoke),
        ]:
            results.run(name, test, gw)
    finally:
        gw.close()
    results.finish()


if __name__ == "__main__":
    main()
