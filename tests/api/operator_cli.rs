//! `doorman clients`, `doorman sessions` and `doorman audit` on a running app's database.
use serde_json::Value;

use crate::cli::{doorman, stderr};
use crate::helpers::*;

/// A configuration file for the CLI that shares `app`'s database.
pub(crate) fn cli_config(app: &TestApp, dir: &std::path::Path) -> String {
    let config = format!(
        "[database]\nurl = \"{}\"\n[[directories]]\nname = \"employees\"\nidentifiers = [\"employee_number\"]\n\
         [[flows]]\nname = \"payroll\"\ndirectory = \"employees\"\nidentify_by = \"employee_number\"\ndelivery = [\"sms:phone\"]\n",
        app.config.database.url
    );
    let path = dir.join("doorman.toml");
    std::fs::write(&path, config).unwrap();
    path.display().to_string()
}

pub(crate) fn stdout_lines(output: &std::process::Output) -> Vec<String> {
    assert!(output.status.success(), "{}", stderr(output));
    String::from_utf8_lossy(&output.stdout).lines().map(String::from).collect()
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_from_the_command_line() {
    let app = spawn_app().await;
    app.add_ana().await;
    let login = app.login("c1").await;
    app.state.auth.audit_log.flush().await; // the CLI below writes to the same trail
    let dir = tempfile::tempdir().unwrap();
    let config = cli_config(&app, dir.path());
    let listed =
        stdout_lines(&doorman(dir.path(), &["sessions", "list", "--subject", "employees/4721", "--config", &config]));
    assert_eq!(listed.len(), 1);
    let row: Value = serde_json::from_str(&listed[0]).unwrap();
    assert_eq!(row["id"], login["session"]["id"]);
    assert_eq!(row["subject"], "employees/4721", "the subject, not an internal row id: {row}");
    assert!(row.get("record_id").is_none(), "{row}");
    let revoked = doorman(dir.path(), &["sessions", "revoke", "--client", "hr-bot", "--config", &config]);
    assert_eq!(stdout_lines(&revoked), ["revoked 1 session"]);
    assert_eq!(app.state_of("c1").await["state"], "unidentified");
    let neither = doorman(dir.path(), &["sessions", "list", "--config", &config]);
    assert_eq!(neither.status.code(), Some(2), "{}", stderr(&neither));
    assert!(stderr(&neither).contains("--client"), "the hint names the flag: {}", stderr(&neither));

    let events =
        stdout_lines(&doorman(dir.path(), &["audit", "query", "--kind", "session.ended", "--config", &config]));
    assert_eq!(events.len(), 1);
    assert!(events[0].contains("revoked_by_operator"));
    let tail = stdout_lines(&doorman(dir.path(), &["audit", "tail", "-n", "2", "--config", &config]));
    assert_eq!(tail.len(), 2);
    assert!(tail[1].contains("session.ended"), "oldest first, newest last: {tail:?}");
    let bad = doorman(dir.path(), &["audit", "query", "--since", "yesterday", "--config", &config]);
    assert_eq!(bad.status.code(), Some(2));
}

#[tokio::test]
async fn clients_are_listed_rotated_and_disabled_from_the_command_line() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let config = cli_config(&app, dir.path());
    let secret_of =
        |lines: Vec<String>| lines.iter().find_map(|l| l.strip_prefix("client_secret=").map(String::from)).unwrap();
    let created = doorman(
        dir.path(),
        &["clients", "create", "web-bot", "--flows", "payroll", "--scopes", "a,b", "--config", &config],
    );
    let first = secret_of(stdout_lines(&created));
    let listed = stdout_lines(&doorman(dir.path(), &["clients", "list", "--config", &config]));
    let web: Value = serde_json::from_str(listed.iter().find(|l| l.contains("web-bot")).unwrap()).unwrap();
    assert_eq!(web["scopes"], serde_json::json!(["a", "b"]));
    let second = secret_of(stdout_lines(&doorman(dir.path(), &["clients", "rotate", "web-bot", "--config", &config])));
    assert_ne!(first, second);
    assert_eq!(app.get_as(("web-bot", &first), "c1").await.status(), 401);
    assert_eq!(app.get_as(("web-bot", &second), "c1").await.status(), 200);
    stdout_lines(&doorman(dir.path(), &["clients", "disable", "web-bot", "--config", &config]));
    app.state.clients.forget("web-bot");
    assert_eq!(app.get_as(("web-bot", &second), "c1").await.status(), 401);
    let missing = doorman(dir.path(), &["clients", "rotate", "ghost", "--config", &config]);
    assert_eq!(missing.status.code(), Some(1));
}
