//! The `doorman` binary as an operator runs it.
use std::path::Path;
use std::process::{Command, Output};

use sea_orm::{ConnectionTrait, Database};

const BINARY: &str = env!("CARGO_BIN_EXE_doorman");

pub fn doorman(dir: &Path, args: &[&str]) -> Output {
    Command::new(BINARY).args(args).current_dir(dir).env("RUST_LOG", "warn").output().expect("doorman runs")
}

fn write_config(dir: &Path, extra: &str) -> String {
    let config = format!(
        "[database]\nurl = \"sqlite://{}/doorman.db?mode=rwc\"\n[keys]\ndir = \"{}/keys\"\n\
         [[directories]]\nname = \"employees\"\nidentifiers = [\"employee_number\", \"id_number\"]\n\
         [[flows]]\nname = \"payroll\"\ndirectory = \"employees\"\nidentify_by = \"employee_number\"\ndelivery = [\"sms:phone\"]\n{extra}",
        dir.display(),
        dir.display()
    );
    let path = dir.join("doorman.toml");
    std::fs::write(&path, config).unwrap();
    path.display().to_string()
}

async fn count(dir: &Path, sql: &str) -> i64 {
    let db = Database::connect(format!("sqlite://{}/doorman.db", dir.display())).await.unwrap();
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn import_upserts_csv_and_jsonl_records() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let csv = dir.path().join("employees.csv");
    std::fs::write(
        &csv,
        "employee_number,name,phone,roles,active\n4721,Ana,+34665762878,a;b,true\n1023,Luis,,b,false\n",
    )
    .unwrap();
    let output = doorman(dir.path(), &["import", "employees", csv.to_str().unwrap(), "--config", &config]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("imported 2 records"));
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM records").await, 2);
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM records WHERE key = '4721' AND fields NOT LIKE '%1023%'").await,
        1
    );
    assert_eq!(
        count(dir.path(), "SELECT COUNT(*) FROM records WHERE key = '1023' AND fields LIKE '%phone%'").await,
        0,
        "an empty cell is no field"
    );

    let jsonl = dir.path().join("more.jsonl");
    std::fs::write(&jsonl, "{\"key\": \"4721\", \"fields\": {\"employee_number\": 4721, \"phone\": \"+34600\"}, \"roles\": [\"c\"]}\n\n{\"fields\": {\"employee_number\": \"9\"}}\n").unwrap();
    let output = doorman(dir.path(), &["import", "employees", jsonl.to_str().unwrap(), "--config", &config]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM records").await, 3, "4721 was updated, 9 added");
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM records WHERE key = '4721' AND roles = '[\"c\"]'").await, 1);
}

#[tokio::test]
async fn a_bad_row_is_reported_by_line_and_nothing_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let cases = [
        ("employee_number,active\n1,true\n2,maybe\n", "line 3"),
        ("employee_number,id_number\n1,X1\n2,X1\n", "line 3"),
        ("name\nAna\n", "line 2"),
    ];
    for (text, line) in cases {
        let csv = dir.path().join("bad.csv");
        std::fs::write(&csv, text).unwrap();
        let output = doorman(dir.path(), &["import", "employees", csv.to_str().unwrap(), "--config", &config]);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(stderr(&output).contains(line), "{text}: {}", stderr(&output));
    }
    // A conflict only the database can see: the identifier belongs to a stored record.
    let csv = dir.path().join("first.csv");
    std::fs::write(&csv, "key,employee_number\nA,100\n").unwrap();
    assert!(doorman(dir.path(), &["import", "employees", csv.to_str().unwrap(), "--config", &config]).status.success());
    std::fs::write(&csv, "key,employee_number\nB,200\nC,100\n").unwrap();
    let output = doorman(dir.path(), &["import", "employees", csv.to_str().unwrap(), "--config", &config]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("line 3"), "{}", stderr(&output));
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM records").await, 1, "B was rolled back with C");
}

/// Two routes that can match `GET /employees/4721/payslips`.
const OVERLAPPING_ROUTES: &str = "[[services]]\nname = \"payroll\"\nupstream = \"http://127.0.0.1:9001\"\n\
    [[services.routes]]\nmethods = [\"GET\", \"POST\"]\npath = \"/employees/{n}/{what}\"\n\
    [[services.routes]]\nmethods = [\"GET\"]\npath = \"/employees/{n}/payslips\"\n";

#[test]
fn configuration_errors_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (extra, key) in [
        ("[otp]\nlenght = 6\n", "lenght"),
        ("[sessions]\nidle_timeout = \"often\"\n", "sessions.idle_timeout"),
        ("[[clients]]\nid = \"bot\"\nsecret = \"s\"\nflows = [\"missing\"]\n", "clients[0].flows"),
        ("[admin]\ntoken = \"env:DOORMAN_SURELY_UNSET_VAR\"\n", "admin.token"),
        (
            OVERLAPPING_ROUTES,
            "`GET /employees/{n}/payslips` and services[0].routes[0] `GET,POST /employees/{n}/{what}`",
        ),
        ("[[services]]\nname = \"api\"\nupstream = \"ftp://x\"\n", "services[0].upstream"),
        (
            "[[services]]\nname = \"api\"\nupstream = \"http://x\"\n[[services.routes]]\nmethods = [\"GET\"]\npath = \"/a/../b\"\n",
            "services[0].routes[0].path",
        ),
        (
            "[[services]]\nname = \"api\"\nupstream = \"http://x\"\n[[services.routes]]\nmethods = [\"GET\"]\npath = \"/a/{n}\"\ninject = \"cookie:x\"\n",
            "services[0].routes[0].inject",
        ),
        ("[[services]]\nname = \"doorman\"\nupstream = \"http://x\"\n", "services[0].audience"),
        (
            "[[services]]\nname = \"api\"\nupstream = \"http://x\"\n[[services.routes]]\nmethods = [\"GET\"]\npath = \"/a/{n}\"\ninject = \"header:Connection\"\n",
            "services[0].routes[0].inject",
        ),
        (
            "[[services]]\nname = \"api\"\nupstream = \"http://x\"\n[[services.routes]]\nmethods = [\"GET\"]\npath = \"/a/{n}\"\nbind = { m = \"employee_number\" }\n",
            "services[0].routes[0].bind",
        ),
    ] {
        let config = write_config(dir.path(), extra);
        let output = doorman(dir.path(), &["migrate", "--config", &config]);
        assert_eq!(output.status.code(), Some(2), "{extra}");
        let message = stderr(&output);
        assert!(message.contains(key), "{extra}: {message}");
        assert_eq!(message.trim().lines().count(), 1, "one line: {message}");
    }
    let output = doorman(dir.path(), &["serve", "--bogus"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn keys_generate_writes_a_private_file_named_by_kid() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let output = doorman(dir.path(), &["keys", "generate", "--alg", "EdDSA", "--dir", keys.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    assert!(path.ends_with(".pem"));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777, 0o700);
}

#[tokio::test]
async fn clients_create_prints_a_secret_that_works_once_stored() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let output = doorman(dir.path(), &["clients", "create", "ivr-bot", "--flows", "payroll", "--config", &config]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let secret = stdout.lines().find_map(|l| l.strip_prefix("client_secret=")).unwrap().to_string();
    assert!(stdout.contains("client_id=ivr-bot"));
    assert_eq!(count(dir.path(), &format!("SELECT COUNT(*) FROM clients WHERE secret_hash LIKE '$argon2id$%' AND secret_hash NOT LIKE '%{secret}%'")).await, 1);

    let again = doorman(dir.path(), &["clients", "create", "ivr-bot", "--flows", "payroll", "--config", &config]);
    assert_eq!(again.status.code(), Some(2));
    let bad_flow = doorman(dir.path(), &["clients", "create", "x", "--flows", "nope", "--config", &config]);
    assert_eq!(bad_flow.status.code(), Some(2));

    let database = doorman::config::Database {
        url: format!("sqlite://{}/doorman.db", dir.path().display()),
        ..Default::default()
    };
    let store = doorman::store::Store::connect(&database).await.unwrap();
    let auth = doorman::domain::ClientAuth::new(store).await.unwrap();
    let clock = doorman::clock::SystemClock;
    let client = auth.authenticate("ivr-bot", &secret, &clock).await.expect("the printed secret authenticates");
    assert_eq!(client.flows, vec!["payroll".to_string()]);
    assert!(auth.authenticate("ivr-bot", "wrong", &clock).await.is_err());
}
