"""Schemathesis hooks for tests/openapi_fuzz.sh (loaded through SCHEMATHESIS_HOOKS).

They make requests that schemathesis generates as valid actually valid where validity
depends on something a document cannot express, and change nothing else:

- The OAuth endpoints take one client authentication per request (RFC 6749 §2.3):
  schemathesis always sends the bot's Basic credentials, and the forms also document
  `client_secret_post`. With Basic, `client_secret` is dropped, and `client_id` kept only
  when it names the Basic client.
- A code verifies only in a conversation that has one pending. Every third valid verify
  request is sent, with the test code of `[delivery.test_codes]`, to a conversation the
  hook has just identified for the record kept for it (FUZZ_VERIFY_IDENTIFIER); the others
  go where schemathesis aimed them.

One more, for the fuzzing process itself: `ast.parse` runs one thread at a time (see
`_one_ast_parse_at_a_time`).
"""

import ast
import base64
import itertools
import os
import threading
import urllib.parse
import uuid

import requests
import schemathesis
from schemathesis import GenerationMode

OAUTH_FORMS = {("POST", "/oauth/token"), ("POST", "/oauth/revoke"), ("POST", "/oauth/introspect")}
VERIFY = ("POST", "/v1/conversations/{channel}/{id}/verify")
VERIFY_EVERY = 3

_verify_calls = itertools.count()
_verify_lock = threading.Lock()


def _one_ast_parse_at_a_time():
    """CPython 3.11 keeps the AST builder's recursion counter per interpreter, not per
    thread, so two threads in `ast.parse` at once can make one of them fail with
    `SystemError: AST constructor recursion depth mismatch`. Seen in CI: schemathesis runs
    `--workers 2` threads, and hypothesis parses a lambda's source to describe each
    filtered strategy. The lock goes on `ast.parse` itself, not on hypothesis's caller,
    so that whichever library parses next is covered too; the workers stay.
    """
    parse, lock = ast.parse, threading.Lock()

    def parsed_alone(*args, **kwargs):
        with lock:
            return parse(*args, **kwargs)

    ast.parse = parsed_alone


_one_ast_parse_at_a_time()


def _is_positive(case):
    meta = case.meta
    return meta is None or meta.generation.mode == GenerationMode.POSITIVE


def _basic_client(case):
    """The client id of the request's Basic credentials (form-urlencoded, §2.3.1), or None."""
    header = next((v for k, v in (case.headers or {}).items() if k.lower() == "authorization"), "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user = base64.b64decode(credentials).decode().partition(":")[0]
    except ValueError:
        return None
    return urllib.parse.unquote_plus(user)


def _one_client_authentication(case):
    client = _basic_client(case)
    if client is None or not isinstance(case.body, dict):
        return
    body = dict(case.body)
    body.pop("client_secret", None)
    if body.get("client_id") != client:
        body.pop("client_id", None)
    if body != case.body:
        case.body = body


def _pending_conversation(case):
    """`(channel, id)` of a conversation just identified for the verify record, or None."""
    conversation = f"fuzz-verify-{uuid.uuid4().hex}"
    response = requests.post(
        f"{os.environ['FUZZ_URL']}/v1/conversations/fuzz/{conversation}/identify",
        json={"flow": "payroll", "identifier": os.environ["FUZZ_VERIFY_IDENTIFIER"]},
        auth=("fuzz-bot", os.environ["FUZZ_BOT_SECRET"]),
        timeout=10,
    )
    if response.status_code != 200 or response.json().get("state") != "pending":
        print(f"openapi_fuzz_hooks: identify for verify answered {response.status_code}: {response.text}")
        return None
    return "fuzz", conversation


@schemathesis.hook
def before_call(context, case, kwargs):
    operation = (case.operation.method.upper(), case.operation.path)
    if operation in OAUTH_FORMS:
        _one_client_authentication(case)
    elif operation == VERIFY and _is_positive(case):
        with _verify_lock:
            turn = next(_verify_calls)
        if turn % VERIFY_EVERY != 0:
            return
        pending = _pending_conversation(case)
        if pending is not None:
            case.path_parameters = {"channel": pending[0], "id": pending[1]}
            case.body = {"code": os.environ["FUZZ_VERIFY_CODE"]}
