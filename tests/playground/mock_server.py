#!/usr/bin/env python3
"""DEV MOCK ONLY - not doorman, not a test oracle.

A stand-in for the playground API that `doorman demo` serves, so the page
(assets/playground.html) can be iterated on without building the server.
It imitates the dialog of DESIGN.md §9 loosely (console delivery, attempts, new
code, cancel, voice keypad wording) and a proxy route with the "own data only"
rule. Tokens are unsigned look-alikes that only this mock accepts.

    python3 tests/playground/mock_server.py [port]      # default 8765
    node tests/playground/browser.mjs http://127.0.0.1:8765 /tmp/shots
"""

import base64
import hashlib
import json
import os
import re
import secrets
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "assets", "playground.html")
CODE_TTL, MAX_ATTEMPTS, TOKEN_TTL, IDLE, RESEND_COOLDOWN = 300, 3, 300, 1800, 30

EMPLOYEES = {
    "4721": {"name": "Ana Ruiz", "phone": "+34665762878", "roles": ["view_own_payroll"], "net": "2,140.00 EUR",
             "gross": "2,830.00 EUR"},
    "4722": {"name": "Luis Gómez", "phone": "+34665762892", "roles": ["view_own_payroll"], "net": "1,980.00 EUR",
             "gross": "2,610.00 EUR"},
}

TEXTS = {
    "en": {
        "login.otp.identifier.prompt": "To verify your identity, what is your employee number?",
        "login.otp.identifier.invalid": "That does not look like an employee number. What is your employee number?",
        "login.otp.identifier.unknown": "I could not find that employee number. Please check it and try again.",
        "login.otp.sms.sent.message": "I found your record. We sent a verification code to the number {destination} "
        "registered in your profile. Please enter the code (expires in {minutes} minutes).",
        "login.otp.code.prompt": "Please enter the 6-digit code we sent you, or say \"new code\".",
        "login.otp.code.invalid.one": "Incorrect code. You have 1 attempt remaining.",
        "login.otp.code.invalid.other": "Incorrect code. You have {attempts_remaining} attempts remaining.",
        "login.otp.too.many.sms.kos": "Incorrect code. For security, the verification process was cancelled. "
        "Message me again to restart.",
        "login.otp.code.expired": "The code has expired. Please message me again and I will send you a new one.",
        "login.otp.resent": "We sent you a new code to {destination}. The previous one no longer works.",
        "login.otp.resend.too.soon": "Please wait {seconds} seconds before asking for a new code.",
        "login.otp.success": "Identity verified. Great! You are now signed in.",
        "login.otp.already.signin": "You are already signed in.",
        "login.otp.cancelled": "Login cancelled. Message me again whenever you want to sign in.",
        "login.otp.too.many.phone.kos": "Too many attempts. Message me again later.",
    },
    "es": {
        "login.otp.identifier.prompt": "Para verificar tu identidad, ¿cuál es tu número de empleado?",
        "login.otp.identifier.invalid": "Eso no parece un número de empleado. ¿Cuál es tu número de empleado?",
        "login.otp.identifier.unknown": "No encuentro ese número de empleado. Revísalo e inténtalo de nuevo.",
        "login.otp.sms.sent.message": "He encontrado tu registro. Hemos enviado un código de verificación al número "
        "{destination} registrado en tu perfil. Introduce el código (caduca en {minutes} minutos).",
        "login.otp.code.prompt": "Introduce el código de 6 cifras que te hemos enviado, o escribe \"nuevo código\".",
        "login.otp.code.invalid.one": "Código incorrecto. Te queda 1 intento.",
        "login.otp.code.invalid.other": "Código incorrecto. Te quedan {attempts_remaining} intentos.",
        "login.otp.too.many.sms.kos": "Código incorrecto. Por seguridad, hemos cancelado la verificación. "
        "Escríbeme de nuevo para empezar otra vez.",
        "login.otp.code.expired": "El código ha caducado. Escríbeme de nuevo y te enviaré otro.",
        "login.otp.resent": "Te hemos enviado un código nuevo a {destination}. El anterior ya no vale.",
        "login.otp.resend.too.soon": "Espera {seconds} segundos antes de pedir un código nuevo.",
        "login.otp.success": "Identidad verificada. ¡Listo! Ya has iniciado sesión.",
        "login.otp.already.signin": "Ya has iniciado sesión.",
        "login.otp.cancelled": "Inicio de sesión cancelado. Escríbeme cuando quieras entrar.",
        "login.otp.too.many.phone.kos": "Demasiados intentos. Escríbeme más tarde.",
    },
}
# The keypad wording replaces the chat wording for these keys on channel voice.
VOICE = {
    "en": {
        "login.otp.identifier.prompt": "Welcome to the HR line. Please type your employee number on the keypad, "
        "then press the hash key.",
        "login.otp.identifier.invalid": "Sorry, I did not get that. Type your employee number, then press hash.",
        "login.otp.sms.sent.message": "We sent a verification code to the number ending in {last2}. Type the code, "
        "then press hash. To get a new code, press star.",
        "login.otp.code.prompt": "Type the 6-digit code, then press hash. Press star for a new code.",
        "login.otp.success": "Identity verified. You are now signed in.",
    },
    "es": {
        "login.otp.identifier.prompt": "Bienvenido a la línea de RR. HH. Marca tu número de empleado y pulsa "
        "almohadilla.",
        "login.otp.identifier.invalid": "No te he entendido. Marca tu número de empleado y pulsa almohadilla.",
        "login.otp.sms.sent.message": "Hemos enviado un código al número acabado en {last2}. Márcalo y pulsa "
        "almohadilla. Para recibir otro, pulsa asterisco.",
        "login.otp.code.prompt": "Marca el código de 6 cifras y pulsa almohadilla. Asterisco para otro código.",
        "login.otp.success": "Identidad verificada. Ya has iniciado sesión.",
    },
}
OTP_MESSAGE = {
    "en": "Your verification code is {code}. It expires in 5 minutes. Do not share it with anyone.",
    "es": "Tu código de verificación es {code}. Caduca en 5 minutos. No lo compartas con nadie.",
}
CANCEL = {"cancel", "cancelar", "stop"}
NEW_CODE = {"new code", "nuevo codigo", "nuevo código", "resend"}

LOCK = threading.Lock()
CONVERSATIONS = {}  # (channel, id) -> dict
DELIVERIES = {}  # id -> [delivery]
TOKENS = {}  # access token -> claims


def csp_for(page):
    """The strict policy the page is written for: its one inline script and style pinned by hash."""
    def digest(tag):
        body = re.search(rf"<{tag}>(.*?)</{tag}>".encode(), page, re.S).group(1)
        return "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
    return (f"default-src 'none'; script-src {digest('script')}; style-src {digest('style')}; img-src data:; "
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def now():
    return time.time()


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()


def text(conv, key, **kw):
    loc = conv["locale"]
    table = VOICE[loc] if conv["channel"] == "voice" and key in VOICE[loc] else TEXTS[loc]
    return {"key": key, "text": table[key].format(**kw)}


def answer(conv, step, replies, outcome=None, expect=None):
    state = "authenticated" if conv.get("session") else ("pending" if conv.get("challenge") else "unidentified")
    if conv["channel"] == "voice":
        expect = {"input": "dtmf", "finish_on_key": "#", **({"digits": 6} if step == "ask_code" else {})}
    elif expect is None:
        expect = {"input": "text", **({"digits": 6} if step == "ask_code" else {})}
    out = {"state": state, "step": step, "replies": replies, "expect": expect, "outcome": outcome, "redirect": None}
    if outcome in ("authenticated", "already_authenticated"):
        out.update(mint(conv))
        intent = conv.pop("intent", None) if outcome == "authenticated" else None
        out["redirect"] = {"intent": intent} if intent else None
    return out


def mint(conv):
    s = conv["session"]
    t = int(now())
    claims = {"iss": "http://127.0.0.1/", "sub": s["sub"], "aud": ["payroll"], "exp": t + TOKEN_TTL, "iat": t,
              "jti": str(uuid.uuid4()), "client_id": "demo-bot", "sid": s["id"], "roles": s["roles"],
              "amr": ["otp"], "acr": "loa2", "auth_time": s["auth_time"], "channel": conv["channel"],
              "flow": "payroll", "employee_number": s["key"], "name": EMPLOYEES[s["key"]]["name"]}
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": "demo-mock-key"}
    token = f"{b64(header)}.{b64(claims)}.{base64.urlsafe_b64encode(secrets.token_bytes(64)).rstrip(b'=').decode()}"
    TOKENS[token] = claims
    return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL,
            "subject": {"id": s["sub"], "roles": s["roles"]},
            "session": {"id": s["id"], "idle_timeout": IDLE, "expires_at": iso(s["auth_time"] + 86400)}}


def send_code(conv, key):
    code = f"{secrets.randbelow(10**6):06d}"
    phone = EMPLOYEES[key]["phone"]
    conv["challenge"] = {"key": key, "code": code, "expires": now() + CODE_TTL, "attempts": MAX_ATTEMPTS,
                         "sent": now(), "masked": "***" + phone[-2:], "last2": phone[-2:]}
    DELIVERIES.setdefault(conv["id"], []).append(
        {"method": "whatsapp", "destination": phone, "message": OTP_MESSAGE[conv["locale"]].format(code=code),
         "code": code, "at": iso(now())})
    return conv["challenge"]


def norm(s):
    return re.sub(r"^[\W_]+|[\W_]+$", "", s.strip().lower())


def dialog(conv, body):
    said = body.get("text")
    if said is None:
        said = body.get("digits") or ""
        if said.endswith("#"):
            said = said[:-1]
    if body.get("intent"):
        conv["intent"] = body["intent"]
    s = conv.get("session")
    if s and now() - s["last"] < IDLE:
        s["last"] = now()
        return answer(conv, "done", [text(conv, "login.otp.already.signin")], "already_authenticated")
    conv["session"] = None
    command = norm(said)
    if command in CANCEL:
        conv.update(challenge=None, step=None, prompts=0)
        return answer(conv, "done", [text(conv, "login.otp.cancelled")], "cancelled")
    ch = conv.get("challenge")
    if ch:
        if command in NEW_CODE or said == "*":
            wait = int(ch["sent"] + RESEND_COOLDOWN - now())
            if wait > 0:
                return answer(conv, "ask_code", [text(conv, "login.otp.resend.too.soon", seconds=wait)])
            ch = send_code(conv, ch["key"])
            return answer(conv, "ask_code", [text(conv, "login.otp.resent", destination=ch["masked"])])
        found = re.findall(r"(?<!\d)\d{6}(?!\d)", said)
        if len(found) != 1:
            return answer(conv, "ask_code", [text(conv, "login.otp.code.prompt")])
        if now() > ch["expires"]:
            return answer(conv, "ask_code", [text(conv, "login.otp.code.expired")])
        if found[0] != ch["code"]:
            ch["attempts"] -= 1
            if ch["attempts"] == 0:
                conv.update(challenge=None, step=None)
                return answer(conv, "done", [text(conv, "login.otp.too.many.sms.kos")], "failed")
            key = "login.otp.code.invalid.one" if ch["attempts"] == 1 else "login.otp.code.invalid.other"
            return answer(conv, "ask_code", [text(conv, key, attempts_remaining=ch["attempts"])])
        key = ch["key"]
        conv["challenge"] = None
        conv["session"] = {"id": str(uuid.uuid4()), "sub": f"employees/{key}", "key": key,
                           "roles": EMPLOYEES[key]["roles"], "auth_time": int(now()), "last": now()}
        return answer(conv, "done", [text(conv, "login.otp.success")], "authenticated")
    if conv.get("step") != "ask_identifier":
        conv.update(step="ask_identifier", prompts=0)
        if not re.search(r"\d", said):
            return answer(conv, "ask_identifier", [text(conv, "login.otp.identifier.prompt")])
    found = re.findall(r"(?<!\d)\d{3,8}(?!\d)", said)
    if len(found) != 1:
        conv["prompts"] += 1
        if conv["prompts"] >= 3:
            conv["step"] = None
            return answer(conv, "done", [text(conv, "login.otp.too.many.phone.kos")], "failed")
        return answer(conv, "ask_identifier", [text(conv, "login.otp.identifier.invalid")])
    if found[0] not in EMPLOYEES:
        return answer(conv, "ask_identifier", [text(conv, "login.otp.identifier.unknown")])
    conv["step"] = "ask_code"
    ch = send_code(conv, found[0])
    return answer(conv, "ask_code", [text(conv, "login.otp.sms.sent.message", destination=ch["masked"],
                                          minutes=CODE_TTL // 60, last2=ch["last2"])])


class Handler(BaseHTTPRequestHandler):
    def reply(self, status, obj, ctype="application/json", csp=None):
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if csp:
            self.send_header("Content-Security-Policy", csp)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, desc):
        self.reply(status, {"error": code, "error_description": desc})

    def do_GET(self):
        url = urlparse(self.path)
        if url.path in ("/", "/playground", "/playground/"):
            with open(PAGE, "rb") as f:  # read on every request: edit the page, reload the browser
                page = f.read()
            return self.reply(200, page, "text/html; charset=utf-8", csp_for(page))
        if url.path == "/playground/api/info":
            return self.reply(200, {"client": "demo-bot", "flow": "payroll", "channels": ["whatsapp", "voice"],
                                    "code_length": 6,
                                    "proxy_example": "/v1/proxy/payroll/employees/{employee_number}/payslip"})
        if url.path == "/playground/api/deliveries":
            conv = parse_qs(url.query).get("conversation", [""])[0]
            with LOCK:
                return self.reply(200, DELIVERIES.get(conv, []))
        m = re.fullmatch(r"/v1/proxy/payroll/employees/([^/]+)/payslip", url.path)
        if m:
            return self.payslip(m.group(1))
        self.error(404, "not_found", "no such page in the mock")

    def payslip(self, number):
        auth = self.headers.get("Authorization", "")
        claims = TOKENS.get(auth[7:]) if auth.startswith("Bearer ") else None
        if not claims or claims["exp"] < now():
            return self.error(401, "invalid_token", "the access token is missing, expired or unknown")
        if "view_own_payroll" not in claims["roles"]:
            return self.error(403, "insufficient_role", "the token lacks the role view_own_payroll")
        if claims["employee_number"] != number:
            return self.error(403, "forbidden_resource", "employee_number is not the caller's own")
        e = EMPLOYEES[number]
        self.reply(200, {"employee_number": number, "name": e["name"], "month": "2026-11", "gross": e["gross"],
                         "net": e["net"], "paid_on": "2026-11-28"})

    def do_POST(self):
        if urlparse(self.path).path != "/playground/api/messages":
            return self.error(404, "not_found", "no such endpoint in the mock")
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        except ValueError:
            return self.error(400, "invalid_request", "the body is not JSON")
        channel, cid = body.get("channel"), body.get("conversation")
        if channel not in ("whatsapp", "voice") or not isinstance(cid, str) or not cid:
            return self.error(400, "invalid_request", "channel must be whatsapp or voice, conversation an id")
        if body.get("text") and body.get("digits"):
            return self.error(400, "invalid_request", "send text or digits, not both")
        time.sleep(0.35)  # a real network round trip, so the typing indicator shows
        with LOCK:
            conv = CONVERSATIONS.setdefault((channel, cid), {"channel": channel, "id": cid, "prompts": 0})
            conv["locale"] = body.get("locale") if body.get("locale") in TEXTS else "en"
            self.reply(200, dialog(conv, body))

    def log_message(self, fmt, *args):
        sys.stderr.write("mock: " + fmt % args + "\n")


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8765
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"mock playground API on http://127.0.0.1:{port}/playground", flush=True)
    server.serve_forever()
