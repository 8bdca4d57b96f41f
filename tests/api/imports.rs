//! Bulk imports that do not stop the service: staged in short transactions, checked as
//! a whole, applied in batches; the admin API reads the body as a stream. All or
//! nothing still holds, and what a dead import leaves behind is cleaned up or finished.

use doorman::config::Secret;
use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::admin::ADMIN_TOKEN;
use crate::helpers::*;
use crate::proxy::chunked;

async fn spawn_importer(adjust: impl FnOnce(&mut doorman::config::Config)) -> TestApp {
    spawn_app_with(|c| {
        c.admin.token = Some(Secret::new(ADMIN_TOKEN));
        adjust(c);
    })
    .await
}

/// `rows` employees from 100000, one per line (the header is line 1); `bad` replaces the
/// row at that index.
fn employees_csv(rows: usize, bad: Option<(usize, &str)>) -> String {
    let mut csv = String::from("employee_number,id_number,name,phone,corporate_email,roles,active\n");
    for i in 0..rows {
        match bad {
            Some((at, line)) if at == i => csv.push_str(line),
            _ => {
                let n = 100000 + i;
                let active = if i % 50 == 49 { "false" } else { "true" };
                csv.push_str(&format!("{n},,Employee {i},+3461{i:07},e{n}@corp.example,view_own_payroll,{active}"))
            }
        }
        csv.push('\n');
    }
    csv
}

impl TestApp {
    async fn import_csv(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = self
            .admin(Method::POST, "/directories/employees/records")
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn record(&self, key: &str) -> Option<Value> {
        let response = self.admin(Method::GET, &format!("/directories/employees/records/{key}")).send().await.unwrap();
        match response.status().as_u16() {
            200 => Some(response.json().await.unwrap()),
            _ => None,
        }
    }

    async fn count(&self, sql: &str) -> i64 {
        let db = self.state.auth.store.db();
        let stmt = sea_orm::Statement::from_string(db.get_database_backend(), sql.to_string());
        db.query_one_raw(stmt).await.unwrap().unwrap().try_get_by_index::<i64>(0).unwrap()
    }

    async fn staged(&self) -> (i64, i64, i64) {
        (
            self.count("SELECT count(*) FROM imports").await,
            self.count("SELECT count(*) FROM import_rows").await,
            self.count("SELECT count(*) FROM import_identifiers").await,
        )
    }
}

#[tokio::test]
async fn a_large_streamed_import_is_applied_whole_and_leaves_no_staging() {
    let app = spawn_importer(|_| {}).await;
    let csv = employees_csv(15_000, None);
    assert!(csv.len() > 1 << 20, "more than one piece of the body");
    // Chunked, in pieces that cut lines in the middle.
    let parts = csv.as_bytes().chunks(7777).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    let (status, body) = app.import_csv(chunked(parts)).await;
    assert_eq!((status, body), (200, json!({"imported": 15_000})));
    assert_eq!(app.count("SELECT count(*) FROM records").await, 15_000);
    assert_eq!(app.staged().await, (0, 0, 0));
    let last = app.record("114999").await.expect("the last row");
    assert_eq!(last["fields"]["phone"], "+34610014999");
    assert_eq!(app.record("100049").await.unwrap()["active"], false);

    // Imported again, every row is an update; an identifier lookup finds the record.
    let (status, _) = app.import_csv(csv).await;
    assert_eq!(status, 200);
    assert_eq!(app.count("SELECT count(*) FROM records").await, 15_000);
    assert_eq!(app.count("SELECT count(*) FROM record_identifiers").await, 15_000);
    let found = app.state.auth.store.find_record_by_identifier("employees", "employee_number", "107000").await;
    assert_eq!(found.unwrap().unwrap().key, "107000");
}

#[tokio::test]
async fn a_bad_row_late_in_a_large_import_leaves_nothing_applied() {
    let app = spawn_importer(|_| {}).await;
    app.add_record("777", &[("employee_number", "777"), ("id_number", "X-1")], &[], true).await;
    // Row 12000 (line 12002) takes record 777's id_number.
    let csv = employees_csv(12_500, Some((12_000, "112000,X-1,Late,,,,")));
    let (status, body) = app.import_csv(csv).await;
    assert_eq!(status, 400, "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("line 12002") && description.contains("already belongs"), "{description}");
    assert_eq!(app.record("100000").await, None, "nothing was imported");
    assert_eq!(app.count("SELECT count(*) FROM records").await, 1);
    assert_eq!(app.staged().await, (0, 0, 0), "staging is cleaned up");

    // A key repeated far from its first line is named with both lines.
    let repeated = employees_csv(3_000, Some((2_500, "100007,,Again,,,,")));
    let (status, body) = app.import_csv(repeated).await;
    assert_eq!(status, 400);
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("line 2502") && description.contains("line 9"), "{description}");
    assert_eq!(app.staged().await, (0, 0, 0));
}

#[tokio::test]
async fn identifiers_may_move_between_records_of_one_import() {
    let app = spawn_importer(|_| {}).await;
    let (status, _) = app.import_csv("key,employee_number,id_number\na,1,X-1\nb,2,X-2\n").await;
    assert_eq!(status, 200);
    // a takes b's id_number and b takes a's: each is held by a record the import rewrites.
    let (status, body) = app.import_csv("key,employee_number,id_number\na,1,X-2\nb,2,X-1\n").await;
    assert_eq!(status, 200, "{body}");
    let x2 = doorman::domain::identifier::normalize("X-2").unwrap();
    let found = app.state.auth.store.find_record_by_identifier("employees", "id_number", &x2).await;
    assert_eq!(found.unwrap().expect("X-2 is a's now").key, "a");
}

#[tokio::test]
async fn an_import_over_the_configured_size_is_413_and_leaves_nothing() {
    let app = spawn_importer(|c| c.admin.max_import_bytes = 50_000).await;
    let csv = employees_csv(2_000, None);
    assert!(csv.len() > 50_000);
    let (status, body) = app.import_csv(csv.clone()).await;
    assert_eq!((status, body["error"].as_str()), (413, Some("invalid_request")), "declared length");
    // Streamed without a length: refused once the limit passes. The client may still be
    // sending when the answer comes and the connection closes, so it may see only that.
    let parts: Vec<String> = csv.as_bytes().chunks(4096).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    let streamed = app
        .admin(Method::POST, "/directories/employees/records")
        .header("content-type", "text/csv")
        .body(chunked(parts))
        .send()
        .await;
    if let Ok(response) = streamed {
        assert_eq!(response.status(), 413, "streamed without a length");
    }
    assert_eq!(app.count("SELECT count(*) FROM records").await, 0);
    assert_eq!(app.staged().await, (0, 0, 0));
}

#[tokio::test]
async fn what_a_dead_import_left_is_dropped_or_finished_by_the_next() {
    let app = spawn_importer(|_| {}).await;
    let store = &app.state.auth.store;
    let rows = |from: usize, count: usize| -> doorman::domain::records::Rows {
        (from..from + count)
            .map(|i| {
                let key = format!("{}", 500000 + i);
                let fields = [("employee_number".to_string(), key.clone())].into();
                let upsert = doorman::store::records::RecordUpsert {
                    directory: "employees".into(),
                    key: key.clone(),
                    fields,
                    roles: vec![],
                    active: true,
                    identifiers: vec![("employee_number".into(), key)],
                };
                (i as u64 + 2, upsert)
            })
            .collect()
    };
    // One import died while staging, another after it was accepted; their heartbeats
    // stopped long ago.
    for (from, state) in [(0, "staging"), (5000, "applying")] {
        let mut import = doorman::domain::records::Import::begin(store, "employees");
        import.add(rows(from, 2500)).await.unwrap();
        drop(import);
        let stmt = format!("UPDATE imports SET heartbeat_at = 0, state = '{state}' WHERE heartbeat_at > 0");
        store.db().execute_unprepared(&stmt).await.unwrap();
    }
    assert_eq!(app.count("SELECT count(*) FROM imports").await, 2);
    assert_eq!(app.count("SELECT count(*) FROM records").await, 0, "staged rows are invisible");

    let (status, _) = app.import_csv("employee_number\n42\n").await;
    assert_eq!(status, 200);
    assert_eq!(app.staged().await, (0, 0, 0));
    // The accepted one was finished (its 2400 staged rows: 2500 pushed, flushed per 200).
    let applied = app.count("SELECT count(*) FROM records").await;
    assert_eq!(applied, 2400 + 1, "the accepted import was rolled forward, the other dropped");
    assert!(app.record("505000").await.is_some());
    assert!(app.record("500000").await.is_none());
}

#[tokio::test]
async fn logins_keep_working_while_a_large_import_runs() {
    let app = spawn_importer(|_| {}).await;
    // People who log in meanwhile (active ones: every 50th row is not), each sent a few
    // codes at most, under its send limit.
    let people = 45;
    let (status, _) = app.import_csv(employees_csv(people, None)).await;
    assert_eq!(status, 200);
    let mut csv = employees_csv(20_000, None);
    csv = csv.replace(",view_own_payroll,", ",view_own_schedule,");
    let importing = {
        let request = app
            .admin(Method::POST, "/directories/employees/records")
            .header("content-type", "text/csv")
            .body(csv)
            .send();
        tokio::spawn(request)
    };
    let mut logins = 0;
    while !importing.is_finished() && logins < people * 4 {
        let conversation = format!("+3460000{logins:04}");
        let response = app.identify(&conversation, &(100000 + logins % people).to_string()).await;
        let status = response.status();
        assert_eq!(status, 200, "identify during the import: {}", response.text().await.unwrap());
        logins += 1;
    }
    let response = importing.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert!(logins > 0);
    assert_eq!(app.record("119999").await.unwrap()["roles"], json!(["view_own_schedule"]));
}

/// An answer that takes longer than `server.idle_timeout` (the import applying after
/// its body arrived, the socket silent) is still delivered: waiting is not idling.
#[tokio::test]
async fn a_long_import_outlives_the_idle_timeout() {
    let idle = std::time::Duration::from_millis(200);
    let app = spawn_importer(|c| c.server.idle_timeout = idle).await;
    let started = std::time::Instant::now();
    let (status, body) = app.import_csv(employees_csv(20_000, None)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"], 20_000);
    assert!(started.elapsed() > 3 * idle, "the import was too quick to show anything: {:?}", started.elapsed());
}
