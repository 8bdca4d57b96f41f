#!/usr/bin/env bash
# The OpenAPI document against the server it describes, from the project root:
#   bash tests/openapi_fuzz.sh
#   1. starts doorman (target/release/doorman, or $DOORMAN_BIN) with a config written here:
#      SQLite in a temporary directory, console delivery, one bot client, the admin token;
#   2. validates the served /openapi.json with openapi-spec-validator;
#   3. runs schemathesis against the conversation, dialog, OAuth and admin operations, with
#      the bot's Basic credentials and the admin token, and fails on any 5xx, any response
#      whose status, content type or body the document does not describe, and on the
#      "schema validation mismatch" warning (valid data the server refuses).
# Needs openapi-spec-validator and schemathesis (pip). OPENAPI_FUZZ_EXAMPLES (default 40)
# bounds the examples per operation and phase, OPENAPI_FUZZ_SEED (default 1) picks them,
# OPENAPI_FUZZ_ARGS adds schemathesis options (e.g. --include-operation-id verify).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${DOORMAN_BIN:-target/release/doorman}
EXAMPLES=${OPENAPI_FUZZ_EXAMPLES:-40}
SEED=${OPENAPI_FUZZ_SEED:-1}
[ -x "$BIN" ] || { echo "ERROR: $BIN is not built (cargo build --release)"; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

DIR=$(mktemp -d "${TMPDIR:-/tmp}/doorman-openapi-fuzz.XXXXXX")
PID=""
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
export DOORMAN_ADMIN_TOKEN FUZZ_BOT_SECRET
DOORMAN_ADMIN_TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
FUZZ_BOT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(24))')

cat >"$DIR/doorman.toml" <<EOF
[server]
listen = "127.0.0.1:$PORT"
public_url = "$URL"

[database]
url = "sqlite://$DIR/doorman.db?mode=rwc"

[keys]
dir = "$DIR/keys"

[admin]
token = "env:DOORMAN_ADMIN_TOKEN"

[otp]
resend_cooldown = "0s"

[[clients]]
id = "fuzz-bot"
secret = "env:FUZZ_BOT_SECRET"
flows = ["payroll", "schedule"]
scopes = ["reports.read", "reports.write"]

[[directories]]
name = "employees"
identifiers = ["employee_number"]

[[flows]]
name = "payroll"
directory = "employees"
identify_by = "employee_number"
require_otp = true
delivery = ["whatsapp:phone", "sms:phone", "email:corporate_email"]
claims = ["employee_number", "name"]

[[flows]]
name = "schedule"
directory = "employees"
identify_by = "employee_number"
require_otp = false
delivery = ["sms:phone"]
claims = ["employee_number"]
EOF

cat >"$DIR/employees.csv" <<'EOF'
key,employee_number,name,phone,corporate_email,roles,active
4721,4721,Ana Ruiz,+34665762878,ana.ruiz@corp.example,view_own_payroll;view_own_schedule,true
1023,1023,Luis Gomez,+34600111223,luis.gomez@corp.example,view_own_schedule,true
7000,7000,Mail Only,,mail.only@corp.example,view_own_payroll,true
EOF

# Known values the fuzzer mixes into what it generates, so that valid requests can
# succeed: a flow, a person, a directory and the bot itself.
cat >"$DIR/schemathesis.toml" <<'EOF'
[auth.openapi.basic]
username = "fuzz-bot"
password = "${FUZZ_BOT_SECRET}"

[auth.openapi.admin_token]
bearer = "${DOORMAN_ADMIN_TOKEN}"

[dictionaries.flows]
values = ["payroll", "schedule"]

[dictionaries.identifiers]
values = ["4721", "1023", "7000"]

[dictionaries.directories]
values = ["employees"]

[dictionaries.clients]
values = ["fuzz-bot"]

[dictionaries.scopes]
values = ["reports.read", "reports.write"]

[dictionaries.grant_types]
values = ["client_credentials"]

[parameters]
"body.flow" = { dictionary = "flows", probability = 0.8 }
"body.identifier" = { dictionary = "identifiers", probability = 0.5 }
"path.dir" = { dictionary = "directories", probability = 0.8 }
"query.client_id" = { dictionary = "clients", probability = 0.5 }
"body.grant_type" = { dictionary = "grant_types", probability = 0.5 }
"body.flows[*]" = { dictionary = "flows", probability = 0.9 }
"body.scopes[*]" = { dictionary = "scopes", probability = 0.9 }

[warnings]
fail-on = ["validation_mismatch", "missing_auth"]
EOF

"$BIN" import employees "$DIR/employees.csv" --config "$DIR/doorman.toml" >"$DIR/import.log" 2>&1 ||
  { cat "$DIR/import.log"; exit 1; }
RUST_LOG=warn "$BIN" serve --config "$DIR/doorman.toml" >"$DIR/serve.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { echo "ERROR: doorman exited:"; cat "$DIR/serve.log"; exit 1; }
  sleep 0.2
done
curl -fsS "$URL/openapi.json" -o "$DIR/openapi.json"

status=0
echo "    openapi-spec-validator $URL/openapi.json"
python3 -m openapi_spec_validator "$DIR/openapi.json" || status=1

echo "    schemathesis run $URL/openapi.json (at most $EXAMPLES examples per operation, seed $SEED)"
(
  cd "$DIR"
  schemathesis --config-file "$DIR/schemathesis.toml" run "$URL/openapi.json" \
    --include-tag-regex '^(conversations|dialog|oauth|admin)$' \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$EXAMPLES" --seed "$SEED" --workers 2 --request-timeout 10 \
    --generation-database none --no-color ${OPENAPI_FUZZ_ARGS:-}
) || status=1

if [ "$status" -ne 0 ] && grep -qiE "panic|ERROR" "$DIR/serve.log"; then
  echo "    the server's log:"
  grep -iE "panic|ERROR" "$DIR/serve.log" | tail -n 40 | sed 's/^/    | /'
fi
exit "$status"
