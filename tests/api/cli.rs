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
    std::fs::write(&jsonl, "{\"key\": \"4721\", \"fields\": {\"employee_number\": 4721, \"phone\": \"+34600000002\"}, \"roles\": [\"c\"]}\n\n{\"fields\": {\"employee_number\": \"9\"}}\n").unwrap();
    let output = doorman(dir.path(), &["import", "employees", jsonl.to_str().unwrap(), "--config", &config]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM records").await, 3, "4721 was updated, 9 added");
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM records WHERE key = '4721' AND roles = '[\"c\"]'").await, 1);
    let one = dir.path().join("one.csv");
    std::fs::write(&one, "employee_number,name\n77,Solo\n").unwrap();
    let output = doorman(dir.path(), &["import", "employees", one.to_str().unwrap(), "--config", &config]);
    assert!(String::from_utf8_lossy(&output.stdout).contains("imported 1 record into"), "{output:?}");
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

/// A second flow that sends codes by e-mail, so `corporate_email` is a delivery field too.
const EMAIL_FLOW: &str = "[[flows]]\nname = \"mail\"\ndirectory = \"employees\"\nidentify_by = \"employee_number\"\n\
    delivery = [\"email:corporate_email\"]\n";

#[tokio::test]
async fn every_bad_delivery_field_is_listed_and_nothing_is_imported() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), EMAIL_FLOW);
    let csv = dir.path().join("people.csv");
    std::fs::write(
        &csv,
        "employee_number,name,phone,corporate_email\n\
         1,Ana,+34665762878,ana@corp.example\n\
         2,Luis,665762878,luis@corp.example\n\
         3,Marta,+34665762892,marta.corp.example\n\
         4,Nil,,\n\
         5,Pau,+34 12,pau@\n\
         6,Eva,too,many,cells\n",
    )
    .unwrap();
    let output = doorman(dir.path(), &["import", "employees", csv.to_str().unwrap(), "--config", &config]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("4 bad rows, nothing was imported"), "{message}");
    for expected in [
        "line 3, phone: \"665762878\" is not a phone number in E.164 form",
        "line 4, corporate_email: \"marta.corp.example\" is not an e-mail address",
        "line 6, phone: \"+34 12\"",
        "line 6, corporate_email: \"pau@\"",
        "line 7, has 5 fields where the header has 4",
    ] {
        assert!(message.contains(expected), "{expected} in {message}");
    }
    assert_eq!(message.matches("line 7").count(), 1, "a CSV error names its line once: {message}");
    assert!(!message.contains("line 2,") && !message.contains("line 5,"), "good rows are not listed: {message}");
    assert!(!dir.path().join("doorman.db").exists(), "nothing was written: not even a database");

    let output =
        doorman(dir.path(), &["import", "employees", csv.to_str().unwrap(), "--skip-invalid", "--config", &config]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("imported 2 records"), "{output:?}");
    let message = stderr(&output);
    assert!(message.contains("skipped 4 bad rows") && message.contains("line 3, phone"), "{message}");
    assert_eq!(count(dir.path(), "SELECT COUNT(*) FROM records").await, 2, "rows 1 and 4 (no address is fine)");

    let jsonl = dir.path().join("people.jsonl");
    std::fs::write(
        &jsonl,
        "{\"fields\": {\"employee_number\": 8, \"phone\": \"+1 202\"}}\n{\"fields\": {\"employee_number\": 9}, \"bogus\": 1}\n",
    )
    .unwrap();
    let output = doorman(dir.path(), &["import", "employees", jsonl.to_str().unwrap(), "--config", &config]);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("line 1, phone: \"+1 202\""), "{message}");
    assert!(message.contains("line 2, unknown field `bogus`"), "{message}");
    assert!(!message.contains("at line 1"), "serde's own position is not repeated: {message}");
}

fn doorman_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BINARY);
    command.args(args).current_dir(dir).env("RUST_LOG", "info").env_remove("DOORMAN_CONFIG");
    command.envs(env.iter().copied()).output().expect("doorman runs")
}

#[test]
fn the_configuration_is_found_and_named_and_its_absence_explained() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("people.csv");
    std::fs::write(&csv, "employee_number\n1\n").unwrap();
    let import = ["import", "employees", csv.to_str().unwrap()];

    let output = doorman_with(dir.path(), &import, &[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains(
            "no directory named `employees` is configured (no configuration file was read: running on the \
             embedded defaults; pass --config or set DOORMAN_CONFIG)"
        ),
        "{message}"
    );
    let output = doorman_with(dir.path(), &["clients", "create", "bot", "--flows", "payroll"], &[]);
    assert!(stderr(&output).contains("no flow named `payroll` is configured (no configuration file was read"));

    let elsewhere = tempfile::tempdir().unwrap();
    let config = write_config(elsewhere.path(), "");
    let output = doorman_with(dir.path(), &import, &[("DOORMAN_CONFIG", &config)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let named = format!("configuration: {config} (from DOORMAN_CONFIG)");
    assert!(stderr(&output).contains(&named), "{}", stderr(&output));

    // ./doorman.toml, and --config before $DOORMAN_CONFIG.
    write_config(dir.path(), "");
    let output = doorman_with(dir.path(), &import, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("configuration: doorman.toml (found in the working directory)"),
        "{}",
        stderr(&output)
    );
    let output =
        doorman_with(dir.path(), &["migrate", "--config", &config], &[("DOORMAN_CONFIG", "/nonexistent.toml")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = doorman_with(dir.path(), &["migrate"], &[("DOORMAN_CONFIG", "/nonexistent.toml")]);
    assert_eq!(output.status.code(), Some(2), "a named file that is missing is an error, not a fall-back");
    assert!(stderr(&output).contains("/nonexistent.toml"));
}

#[test]
fn help_describes_everything_and_completions_are_printed() {
    let dir = tempfile::tempdir().unwrap();
    let help = String::from_utf8(doorman(dir.path(), &["--help"]).stdout).unwrap();
    for expected in ["DOORMAN_CONFIG", "./doorman.toml", "Exit codes:", "2  bad usage", "completions"] {
        assert!(help.contains(expected), "{expected} in {help}");
    }
    let import = String::from_utf8(doorman(dir.path(), &["import", "--help"]).stdout).unwrap();
    for expected in ["<DIRECTORY>", "<FILE>", "--skip-invalid", "--format", "--config <FILE>", "E.164"] {
        assert!(import.contains(expected), "{expected} in {import}");
    }
    // Every argument and option of every command has a description.
    for command in [
        vec!["serve"],
        vec!["import"],
        vec!["keys", "generate"],
        vec!["clients", "create"],
        vec!["sessions", "list"],
        vec!["sessions", "revoke"],
        vec!["audit", "query"],
        vec!["audit", "prune"],
        vec!["demo"],
        vec!["completions"],
    ] {
        let mut args = command.clone();
        args.push("-h");
        let text = String::from_utf8(doorman(dir.path(), &args).stdout).unwrap();
        let undescribed: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  ") && l.trim_start().starts_with(['-', '<', '[']))
            .filter(|l| !l.trim().contains("  "))
            .collect();
        assert!(undescribed.is_empty(), "{command:?}: undescribed {undescribed:?}\n{text}");
    }
    for shell in ["bash", "zsh", "fish"] {
        let output = doorman(dir.path(), &["completions", shell]);
        assert!(output.status.success(), "{}", stderr(&output));
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(script.contains("doorman") && script.contains("skip-invalid"), "{shell}");
    }
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
    let auth = doorman::domain::ClientAuth::new(store).unwrap();
    let clock = doorman::clock::SystemClock;
    let client = auth.authenticate("ivr-bot", &secret, &clock).await.expect("the printed secret authenticates");
    assert_eq!(client.flows, vec!["payroll".to_string()]);
    assert!(auth.authenticate("ivr-bot", "wrong", &clock).await.is_err());
}
