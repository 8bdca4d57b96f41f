# bench/proxy_config.sh: the doorman configuration that bench/proxy.sh and
# bench/proxy_instructions.sh both measure, so that the two always measure one thing.
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
