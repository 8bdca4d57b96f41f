"""doorman's Twilio Voice keypad (DESIGN.md §10) driven the way Twilio drives it: every
request form-encoded and signed by Twilio's own Python library, every answer read as
TwiML with ElementTree, codes read from the webhook sink, the token checked by PyJWT
through the published JWKS, against the release binary.

Run from the project root: python3 tests/voice_client.py (needs twilio, requests and
pyjwt[crypto]; ../shared/contract/harness.py starts the binary). The last line of the
output is "N passed, M failed"; the exit status is non-zero on any failure.
"""
import os
import secrets
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "contract"))
sys.path.insert(0, os.path.join(os.getcwd(), "..", "shared", "contract"))

import jwt  # noqa: E402
import requests  # noqa: E402
from harness import BOT_SECRET, Gateway, Results  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

TWILIO_AUTH_TOKEN = "twilio-auth-token-0123456789abcdef"
IVR_SECRET = "ivr-secret-abcdefghijklmnopqrstuv"
NEXT_URL = "https://ivr.example.com/after-login"
MAX_SILENCES = 2
EXTRA = f"""
[[clients]]
id = "ivr-bot"
secret = "{IVR_SECRET}"
flows = ["payroll"]

[voice]
client = "ivr-bot"
flow = "payroll"
next_url = "{NEXT_URL}"
auth_token = "env:TWILIO_AUTH_TOKEN"
max_silences = {MAX_SILENCES}
"""
WEBHOOK = "/v1/voice/twilio"
ANA_PHONE = "+34665762878"  # record 4721's phone in the harness's employees
CALLER = "+15550001111"  # deliberately not Ana's: codes must never go to From


class Call:
    """One phone call as Twilio reports it: the usual voice parameters on every request."""

    def __init__(self, gw):
        self.gw = gw
        self.sid = "CA" + secrets.token_hex(16)
        self.params = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": self.sid,
                       "CallStatus": "in-progress", "Direction": "inbound", "From": CALLER, "Caller": CALLER,
                       "To": "+15557654321", "Called": "+15557654321"}
        self.next_url = gw.url + WEBHOOK  # where the last TwiML said the call goes next

    def post(self, url=None, token=TWILIO_AUTH_TOKEN, signature=None, tamper=None, **extra):
        """POSTs like Twilio: signed over the URL as called and every parameter sent."""
        url = url or self.next_url
        params = dict(self.params, **extra)
        if signature is None:
            signature = RequestValidator(token).compute_signature(url, params)
        params.update(tamper or {})
        headers = {"X-Twilio-Signature": signature} if signature else {}
        return requests.post(url, data=params, headers=headers, timeout=30)

    def twiml(self, url=None, **extra):
        r = self.post(url, **extra)
        assert r.status_code == 200, (r.status_code, r.text[:500])
        assert "xml" in r.headers.get("Content-Type", ""), r.headers.get("Content-Type")
        root = ET.fromstring(r.content)
        assert root.tag == "Response", r.text
        gather = root.find("Gather")
        if gather is not None:
            self.next_url = gather.get("action")
        return root

    def press(self, digits):
        return self.twiml(Digits=digits)


def says(root):
    """Everything the caller hears, Gather prompts included."""
    return " ".join((s.text or "") for s in root.iter("Say"))


def assert_asks(root, gw):
    gather = root.find("Gather")
    assert gather is not None, ET.tostring(root)
    assert gather.get("input") == "dtmf" and gather.get("method") == "POST", gather.attrib
    assert gather.get("action", "").startswith(gw.url + "/"), gather.attrib
    assert gather.findall("Say") and gather.find("Say").get("language"), ET.tostring(gather)
    silence = root.find("Redirect")
    assert silence is not None and silence.get("method") == "POST", ET.tostring(root)
    assert silence.text.startswith(gw.url + "/"), silence.text
    return gather


def identify(call, gw):
    """Answers the call and types Ana's employee number; returns her delivered code."""
    assert_asks(call.twiml(), gw)
    n = gw.sink.count()
    asked_code = call.press("4721")
    assert_asks(asked_code, gw)
    message = gw.sink.wait(n + 1)
    assert message["destination"] == ANA_PHONE, message["destination"]
    assert message["conversation"] == {"channel": "voice", "id": call.sid}, message["conversation"]
    return message["code"]


def wrong(code):
    return "".join(str((int(c) + 1) % 10) for c in code)


def verified_claims(gw, token):
    meta = requests.get(gw.url + "/.well-known/oauth-authorization-server", timeout=10).json()
    key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=[key.algorithm_name], audience="doorman", issuer=meta["issuer"])


def whole_call_logs_in_and_the_phonebot_gets_its_token(gw):
    call = Call(gw)
    code = identify(call, gw)
    retry = call.press(wrong(code))
    assert "attempt" in says(retry).lower(), says(retry)
    assert_asks(retry, gw)
    done = call.press(code)
    redirect = done.find("Redirect")
    assert done.find("Gather") is None and redirect is not None, ET.tostring(done)
    assert redirect.text == NEXT_URL and redirect.get("method") == "POST", ET.tostring(redirect)
    path = f"{gw.url}/v1/conversations/voice/{call.sid}/token"
    r = requests.post(path, auth=("ivr-bot", IVR_SECRET), timeout=30)
    assert r.status_code == 200, (r.status_code, r.text)
    claims = verified_claims(gw, r.json()["access_token"])
    assert claims["sub"] == "employees/4721", claims
    # The conversation is the voice client's, not any client's who knows the CallSid.
    other = requests.post(path, auth=("hr-bot", BOT_SECRET), timeout=30)
    assert other.status_code != 200, (other.status_code, other.text)


def star_sends_a_new_code(gw):
    call = Call(gw)
    first = identify(call, gw)
    n = gw.sink.count()
    again = call.press("*")
    assert_asks(again, gw)
    second = gw.sink.wait(n + 1)
    assert second["destination"] == ANA_PHONE, second
    done = call.press(second["code"])
    assert done.find("Redirect").text == NEXT_URL, (first, ET.tostring(done))


def too_many_wrong_codes_hang_up(gw):
    call = Call(gw)
    code = identify(call, gw)
    for _ in range(2):
        assert_asks(call.press(wrong(code)), gw)
    last = call.press(wrong(code))
    assert last.find("Hangup") is not None and last.find("Gather") is None, ET.tostring(last)
    r = requests.post(f"{gw.url}/v1/conversations/voice/{call.sid}/token", auth=("ivr-bot", IVR_SECRET), timeout=30)
    assert r.status_code != 200, (r.status_code, r.text)


def silence_repeats_the_prompt_then_hangs_up(gw):
    """`max_silences` = prompts repeated after silence: silences 1..N re-ask, N+1 hangs up."""
    call = Call(gw)
    root = call.twiml()
    for _ in range(MAX_SILENCES):
        assert_asks(root, gw)
        root = call.twiml(root.find("Redirect").text)
    assert_asks(root, gw)
    last = call.twiml(root.find("Redirect").text)
    assert last.find("Hangup") is not None and last.find("Gather") is None, ET.tostring(last)


def forged_requests_are_refused_and_do_nothing(gw):
    call = Call(gw)
    assert_asks(call.twiml(), gw)
    n = gw.sink.count()
    for name, forged in [
        ("another auth token", call.post(token="not-the-twilio-token", Digits="4721")),
        ("no signature", call.post(signature="", Digits="4721")),
        ("garbage signature", call.post(signature="AAAAAAAAAAAAAAAAAAAAAAAAAAA=", Digits="4721")),
        ("a parameter changed after signing", call.post(Digits="1023", tamper={"Digits": "4721"})),
        ("signed for another URL", call.post(signature=RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(
            "https://evil.example" + WEBHOOK, dict(call.params, Digits="4721")), Digits="4721")),
    ]:
        assert forged.status_code == 403, (name, forged.status_code, forged.text[:300])
    # Delivery happens inside the request, so a forged identify would already have sent a code.
    assert_asks(call.press("4721"), gw)
    gw.sink.wait(n + 1)
    assert gw.sink.count() == n + 1, "a forged request sent a code"


def main():
    results = Results()
    started = {}
    results.run("doorman starts with a [voice] section",
                lambda: started.setdefault("gw", Gateway(extra=EXTRA, env={"TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN})))
    gw = started.get("gw")
    if gw is None:
        results.finish()
    try:
        for name, test in [
            ("a whole call: identifier, wrong code, right code, Redirect, then the phonebot's token",
             whole_call_logs_in_and_the_phonebot_gets_its_token),
            ("* at the code step sends a new code", star_sends_a_new_code),
            ("three wrong codes hang up and leave no session", too_many_wrong_codes_hang_up),
            ("silence repeats the prompt max_silences times, then hangs up", silence_repeats_the_prompt_then_hangs_up),
            ("forged or unsigned requests get 403 and send nothing", forged_requests_are_refused_and_do_nothing),
        ]:
            results.run(name, test, gw)
    finally:
        gw.close()
    results.finish()


if __name__ == "__main__":
    main()
