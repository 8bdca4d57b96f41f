# bench/proxy_config.sh: the doorman configuration that bench/proxy.sh and
# bench/proxy_instructions.sh both measure, and the login that gets their token, so that
# the two always measure one thing. Needs PHONE, TEST_CODE, EMPLOYEE and TOKEN_MODE.
# proxy_config DIR PORT UPSTREAM_PORT: writes DIR/doorman.toml for a doorman on PORT with
# its database and keys in DIR, one flow (console SMS, the test code $TEST_CODE for
# $PHONE) and one service in front of 127.0.0.1:UPSTREAM_PORT: GET
# /employees/{employee_number}/payslips/{month}, role view_own_payroll, the employee
# number bound to the token's claim, the token injected as Authorization ($TOKEN_MODE:
# exchange or forward). The client secret is read from BENCH_BOT_SECRET.
proxy_config() {
    local dir=$1 port=$2 upstream_port=$3
    cat >"$dir/doorman.toml" <<EOF
[server]
listen = "127.0.0.1:$port"
public_url = "http://127.0.0.1:$port"

[database]
url = "sqlite://$dir/doorman.db?mode=rwc"

[keys]
dir = "$dir/keys"

[tokens]
access_ttl = "1h"

[sessions]
idle_timeout = "2h"

[[clients]]
id = "bench-bot"
secret = "env:BENCH_BOT_SECRET"
flows = ["payroll"]

[[directories]]
name = "employees"
identifiers = ["employee_number"]

[[flows]]
name = "payroll"
directory = "employees"
identify_by = "employee_number"
delivery = ["sms:phone"]
claims = ["employee_number"]

[delivery]
sms = "console"

[delivery.test_codes]
"$PHONE" = "$TEST_CODE"

[[services]]
name = "payroll"
upstream = "http://127.0.0.1:$upstream_port"

[[services.routes]]
methods = ["GET"]
path = "/employees/{employee_number}/payslips/{month}"
roles = ["view_own_payroll"]
bind = { employee_number = "employee_number" }
inject = "authorization"
token = "$TOKEN_MODE"
EOF
}

# proxy_login DIR PORT: logs EMPLOYEE in on the doorman at PORT through the conversation
# API (identify, then verify with the test code; the answers go to DIR) and prints the
# access token.
proxy_login() {
    local dir=$1 port=$2 step
    local conv="http://127.0.0.1:$port/v1/conversations/sms/${PHONE/+/%2B}"
    for step in identify:"{\"flow\":\"payroll\",\"identifier\":\"$EMPLOYEE\"}" verify:"{\"code\":\"$TEST_CODE\"}"; do
        curl -sS --max-time 60 --fail-with-body -u "bench-bot:$BENCH_BOT_SECRET" \
            -H 'Content-Type: application/json' -d "${step#*:}" "$conv/${step%%:*}" >"$dir/${step%%:*}.json" \
            || { echo "POST $conv/${step%%:*} failed" >&2; return 1; }
    done
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' "$dir/verify.json" \
        || { echo "no access_token in the verify answer: $(cat "$dir/verify.json")" >&2; return 1; }
}
