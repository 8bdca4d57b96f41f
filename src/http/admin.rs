//! `/admin/v1/...`: records, bot clients, sessions and the audit trail, for operators
//! holding the `[admin] token`. The same operations as the CLI, through the same code.
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::routing::{get, post, put};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::ApiError;
use super::extract::{Json, Operator, Path, Query};
use crate::app::AppState;
use crate::config::DirectoryConfig;
use crate::domain::admin::{Admin, AdminError, AuditRow, ClientSecret, ClientView, SessionRow, Whose, parse_time};
use crate::domain::import_pieces::{Format, Pieces};
use crate::domain::records::{self, ImportError, JsonRecord};
use crate::domain::unlocking::Unlocked;
use crate::store::audit::AuditFilter;
use crate::store::records::Record;

/// The import's route template, as registered below (spelled out there for the
/// OpenAPI route scan; tests/api/edge/heads.rs fails if the two differ).
pub(super) const IMPORT_ROUTE: &str = "/admin/v1/directories/{dir}/records";

/// The path of one record, as the document declares it.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // read by the handlers as `Path<(String, String)>`
struct RecordPath {
    /// a [[directories]] name
    dir: String,
    /// the record's key: at most 128 printable characters, no `/`
    #[param(pattern = "^[^/\\u0000-\\u001F\\u007F-\\u009F]{1,128}$")]
    key: String,
}

pub fn router() -> Router<Arc<AppState>> {
    let no_store = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Router::new()
        .route("/admin/v1/directories/{dir}/records/{key}", put(put_record).get(get_record).delete(delete_record))
        .route("/admin/v1/directories/{dir}/records", post(import_records))
        .route("/admin/v1/directories/{dir}/records/{key}/unlock", post(unlock_record))
        .route("/admin/v1/clients", get(list_clients).post(create_client))
        .route("/admin/v1/clients/{id}/disable", post(disable_client))
        .route("/admin/v1/clients/{id}/rotate", post(rotate_client))
        .route("/admin/v1/sessions", get(list_sessions).delete(revoke_sessions))
        .route("/admin/v1/sessions/{id}", axum::routing::delete(revoke_session))
        .route("/admin/v1/audit", get(audit))
        .layer(no_store)
}

fn admin(app: &AppState) -> Admin<'_> {
    Admin { store: &app.auth.store, config: &app.auth.config, hasher: app.clients.hasher(), now: app.auth.clock.now() }
}

fn directory<'a>(app: &'a AppState, name: &str) -> Result<&'a DirectoryConfig, ApiError> {
    app.auth.config.directory(name).ok_or_else(|| AdminError::NotFound(format!("no directory `{name}`")).into())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecordView {
    key: String,
    fields: BTreeMap<String, String>,
    roles: Vec<String>,
    active: bool,
}

impl From<Record> for RecordView {
    fn from(r: Record) -> Self {
        Self { key: r.key, fields: r.fields, roles: r.roles, active: r.active }
    }
}

/// The PUT body: a JSONL line without the key (it is in the path).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    #[serde(default)]
    #[schema(value_type = Object)]
    fields: BTreeMap<String, Value>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default = "yes")]
    active: bool,
}

fn yes() -> bool {
    true
}

#[utoipa::path(put, path = "/admin/v1/directories/{dir}/records/{key}", tag = "admin", operation_id = "put_record",
    security(("admin_token" = [])), params(RecordPath), request_body = RecordBody,
    responses(
        (status = 200, description = "the record as stored", body = RecordView),
        (status = 400, description = "invalid_request: a malformed body, a bad key or field, an identifier that belongs to another record"),
        (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)"),
        (status = 404, description = "not_found: no such directory"),
        (status = 413, description = "invalid_request: the body is larger than server.max_body_bytes"),
        (status = 415, description = "invalid_request: the body is not declared as application/json")))]
pub async fn put_record(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path((dir, key)): Path<(String, String)>,
    Json(body): Json<RecordBody>,
) -> Result<axum::Json<RecordView>, ApiError> {
    let directory = directory(&app, &dir)?;
    let parsed = JsonRecord { key: Some(key.clone()), fields: body.fields, roles: body.roles, active: body.active };
    let rules = records::RecordRules::new(&app.auth.config, directory);
    let upsert = records::from_json(&rules, parsed)
        .map_err(|problems| AdminError::Invalid(records::describe_problems(&problems)))?;
    import(&app, vec![(1, upsert)]).await?;
    let record = records::find(&app.auth.store, &dir, &key).await.map_err(AdminError::from)?;
    Ok(axum::Json(record.ok_or_else(|| ApiError::Internal("record vanished".into()))?.into()))
}

#[utoipa::path(get, path = "/admin/v1/directories/{dir}/records/{key}", tag = "admin", operation_id = "get_record",
    security(("admin_token" = [])), params(RecordPath),
    responses(
        (status = 200, description = "the record, active or not", body = RecordView),
        (status = 400, description = "invalid_request: a path parameter is malformed (a bad percent-escape, not UTF-8)"),
        (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)"),
        (status = 404, description = "not_found: no such directory or record")))]
pub async fn get_record(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path((dir, key)): Path<(String, String)>,
) -> Result<axum::Json<RecordView>, ApiError> {
    directory(&app, &dir)?;
    let record = records::find(&app.auth.store, &dir, &key).await.map_err(AdminError::from)?;
    Ok(axum::Json(record.ok_or_else(|| AdminError::NotFound(format!("no record `{dir}/{key}`")))?.into()))
}

#[utoipa::path(delete, path = "/admin/v1/directories/{dir}/records/{key}", tag = "admin", operation_id = "delete_record",
    security(("admin_token" = [])), params(RecordPath),
    responses(
        (status = 204, description = "deleted; its sessions ended"),
        (status = 400, description = "invalid_request: a path parameter is malformed (a bad percent-escape, not UTF-8)"),
        (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)"),
        (status = 404, description = "not_found: no such directory or record")))]
pub async fn delete_record(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path((dir, key)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    directory(&app, &dir)?;
    if !records::delete(&app.auth.store, &dir, &key, app.auth.clock.now()).await.map_err(AdminError::from)? {
        return Err(AdminError::NotFound(format!("no record `{dir}/{key}`")).into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Lifts the record's code-login lock (a lockout, or the lifetime cap) and forgives
/// its failed codes; audited as `lockout.unlocked`.
#[utoipa::path(post, path = "/admin/v1/directories/{dir}/records/{key}/unlock", tag = "admin", security(("admin_token" = [])), params(RecordPath),
    responses(
        (status = 200, description = "the record's code logins are unlocked and its count of failures in a row is zero", body = Unlocked),
        (status = 400, description = "invalid_request: a path parameter is malformed (a bad percent-escape, not UTF-8)"),
        (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)"),
        (status = 404, description = "not_found: no such directory or record")))]
pub async fn unlock_record(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path((dir, key)): Path<(String, String)>,
) -> Result<axum::Json<Unlocked>, ApiError> {
    Ok(axum::Json(admin(&app).unlock_record(&dir, &key, "admin_api").await?))
}

/// Bulk import: `text/csv` or `application/x-ndjson` (JSONL), the CLI's formats and rules.
#[utoipa::path(post, path = "/admin/v1/directories/{dir}/records", tag = "admin", operation_id = "import_records",
    security(("admin_token" = [])), params(("dir" = String, Path, description = "a [[directories]] name")),
    request_body(description = "the rows, with the CLI's formats and rules: CSV with a header line, or one JSON record per line; read as a stream and staged in short transactions",
        content((String = "text/csv"), (String = "application/x-ndjson"), (String = "application/jsonl"))),
    responses(
        (status = 200, description = "every row was imported", body = Imported),
        (status = 400, description = "invalid_request: a bad row (its line named), a body that is not UTF-8 or cut off; nothing was imported"),
        (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)"),
        (status = 404, description = "not_found: no such directory"),
        (status = 413, description = "invalid_request: the body is larger than [admin] max_import_bytes"),
        (status = 415, description = "invalid_request: the body is neither text/csv nor application/x-ndjson")))]
pub async fn import_records(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path(dir): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<Value>, ApiError> {
    let directory = directory(&app, &dir)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = match content_type.split(';').next().unwrap_or("").trim() {
        "text/csv" => Format::Csv,
        "application/x-ndjson" | "application/jsonl" => Format::Jsonl,
        _ => return Err(ApiError::UnsupportedMediaType),
    };
    let max = app.auth.config.admin.max_import_bytes;
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max) {
        return Err(ApiError::PayloadTooLarge);
    }
    let rules = records::RecordRules::new(&app.auth.config, directory);
    let mut import = records::Import::begin(&app.auth.store, &dir);
    let staged = stage_body(body, Pieces::new(format, &rules), &mut import, max).await;
    let count = match staged {
        Ok(count) => count,
        Err(e) => {
            import.abandon().await;
            return Err(e);
        }
    };
    import.finish(app.auth.clock.now(), || {}).await.map_err(import_error)?;
    Ok(axum::Json(json!({"imported": count})))
}

/// Reads the body into `import`, a piece at a time; returns how many rows it held.
/// A bad row stops the staging but not the reading, so that the answer lists every
/// bad line of the body (and nothing is imported).
async fn stage_body(
    mut body: Body,
    mut pieces: Pieces<'_>,
    import: &mut records::Import<'_>,
    max: u64,
) -> Result<usize, ApiError> {
    let (mut read, mut count, mut bad) = (0u64, 0, Vec::new());
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::InvalidRequest("the body was cut off; nothing was imported".into()))?;
        let Ok(bytes) = frame.into_data() else {
            continue;
        };
        read += bytes.len() as u64;
        if read > max {
            return Err(ApiError::PayloadTooLarge);
        }
        if let Some(piece) = pieces.feed(&bytes) {
            count += stage(piece, import, &mut bad).await?;
        }
    }
    count += stage(pieces.finish(), import, &mut bad).await?;
    match bad.is_empty() {
        true => Ok(count),
        false => Err(AdminError::Invalid(records::describe(&bad)).into()),
    }
}

/// Stages a piece's rows while no bad row has been seen; keeps its bad rows.
async fn stage(
    piece: records::Checked,
    import: &mut records::Import<'_>,
    bad: &mut Vec<records::BadRow>,
) -> Result<usize, ApiError> {
    bad.extend(piece.bad);
    if !bad.is_empty() {
        return Ok(0);
    }
    let count = piece.rows.len();
    import.add(piece.rows).await.map_err(import_error)?;
    Ok(count)
}

/// One record (a PUT): a broken rule is the body's fault, and there is no line to name.
async fn import(app: &AppState, rows: records::Rows) -> Result<(), ApiError> {
    records::import(&app.auth.store, &rows, app.auth.clock.now(), || {}).await.map_err(|e| match e {
        ImportError::Row(_, reason) => AdminError::Invalid(reason).into(),
        other => import_error(other),
    })
}

fn import_error(e: ImportError) -> ApiError {
    match e {
        ImportError::Row(line, reason) => {
            AdminError::Invalid(format!("line {line}: {reason}; nothing was imported")).into()
        }
        ImportError::Store(e) => AdminError::Store(e).into(),
    }
}

/// What `POST /admin/v1/directories/{dir}/records` answers.
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)] // documentation only: the handler writes the same object with json!
pub struct Imported {
    /// How many rows were written.
    imported: usize,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// Letters, digits, - and _; not one declared in the configuration file.
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    client_id: String,
    /// Configured flows (the served document lists them).
    #[serde(default)]
    flows: Vec<String>,
    /// Scope names: RFC 6749 scope-tokens of at most 64 characters are documented; the
    /// server takes any 1 to 64 bytes without white space.
    #[serde(default)]
    #[schema(inline, value_type = Vec<ScopeToken>)]
    scopes: Vec<String>,
}

/// RFC 6749 §3.3 scope-token, at most 64 characters.
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^[!#-\\[\\]-~]{1,64}$")]
#[allow(dead_code)] // documentation only
struct ScopeToken(String);

#[utoipa::path(post, path = "/admin/v1/clients", tag = "admin", operation_id = "create_client",
    security(("admin_token" = [])), request_body = NewClient,
    responses(
        (status = 201, description = "the secret is shown this once", body = ClientSecret),
        (status = 400, description = "invalid_request: a malformed body, a bad client id, an unknown flow, a bad scope"),
        (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)"),
        (status = 409, description = "conflict: the client exists, or is declared in the configuration file"),
        (status = 413, description = "invalid_request: the body is larger than server.max_body_bytes"),
        (status = 415, description = "invalid_request: the body is not declared as application/json")))]
pub async fn create_client(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Json(body): Json<NewClient>,
) -> Result<(StatusCode, axum::Json<ClientSecret>), ApiError> {
    let created = admin(&app).create_client(&body.client_id, body.flows, body.scopes).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Every bot client, configured or created here.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ClientList {
    clients: Vec<ClientView>,
}

#[utoipa::path(get, path = "/admin/v1/clients", tag = "admin", operation_id = "list_clients", security(("admin_token" = [])),
    responses((status = 200, description = "every client, without secrets", body = ClientList), (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)")))]
pub async fn list_clients(_: Operator, State(app): State<Arc<AppState>>) -> Result<axum::Json<ClientList>, ApiError> {
    Ok(axum::Json(ClientList { clients: admin(&app).list_clients().await? }))
}

#[utoipa::path(post, path = "/admin/v1/clients/{id}/disable", tag = "admin", operation_id = "disable_client",
    security(("admin_token" = [])), params(("id" = String, Path, description = "a client id: letters, digits, - and _", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 204, description = "disabled; its sessions ended"),
        (status = 400, description = "invalid_request: a path parameter is malformed (a bad percent-escape, not UTF-8)"),
        (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)"),
        (status = 404, description = "not_found: no such client"),
        (status = 409, description = "conflict: the client is declared in the configuration file")))]
pub async fn disable_client(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin(&app).disable_client(&id).await?;
    app.clients.forget(&id);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/admin/v1/clients/{id}/rotate", tag = "admin", operation_id = "rotate_client",
    security(("admin_token" = [])), params(("id" = String, Path, description = "a client id: letters, digits, - and _", pattern = "^[A-Za-z0-9_-]{1,64}$")),
    responses(
        (status = 200, description = "the new secret, shown this once", body = ClientSecret),
        (status = 400, description = "invalid_request: a path parameter is malformed (a bad percent-escape, not UTF-8)"),
        (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)"),
        (status = 404, description = "not_found: no such client"),
        (status = 409, description = "conflict: the client is declared in the configuration file")))]
pub async fn rotate_client(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<axum::Json<ClientSecret>, ApiError> {
    let rotated = admin(&app).rotate_secret(&id).await?;
    app.clients.forget(&id);
    Ok(axum::Json(rotated))
}

/// Whose sessions: exactly one of `subject` and `client_id`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SessionQuery {
    /// A person, `directory/key`.
    subject: Option<String>,
    /// A bot client.
    client_id: Option<String>,
    /// Ended sessions too (listing only).
    #[serde(default)]
    include_ended: bool,
}

impl SessionQuery {
    fn whose(&self) -> Whose<'_> {
        Whose { subject: self.subject.as_deref(), client_id: self.client_id.as_deref() }
    }
}

/// Sessions, newest first (at most 1000).
#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionList {
    sessions: Vec<SessionRow>,
}

#[utoipa::path(get, path = "/admin/v1/sessions", tag = "admin", operation_id = "list_sessions",
    security(("admin_token" = [])), params(SessionQuery),
    responses(
        (status = 200, description = "the sessions of the subject or client", body = SessionList),
        (status = 400, description = "invalid_request: not exactly one of subject and client_id, a subject that is not directory/key, an unknown parameter"),
        (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)"),
        (status = 404, description = "not_found: no such record")))]
pub async fn list_sessions(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Query(query): Query<SessionQuery>,
) -> Result<axum::Json<SessionList>, ApiError> {
    let sessions = admin(&app).list_sessions(query.whose(), query.include_ended).await?;
    Ok(axum::Json(SessionList { sessions }))
}

/// How many open sessions were ended.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RevokedSessions {
    revoked: usize,
}

#[utoipa::path(delete, path = "/admin/v1/sessions", tag = "admin", operation_id = "revoke_sessions",
    security(("admin_token" = [])), params(SessionQuery),
    responses(
        (status = 200, description = "every open session of the subject or client ended", body = RevokedSessions),
        (status = 400, description = "invalid_request: not exactly one of subject and client_id, a subject that is not directory/key, an unknown parameter"),
        (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)"),
        (status = 404, description = "not_found: no such record")))]
pub async fn revoke_sessions(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Query(query): Query<SessionQuery>,
) -> Result<axum::Json<RevokedSessions>, ApiError> {
    Ok(axum::Json(RevokedSessions { revoked: admin(&app).revoke_sessions(query.whose()).await? }))
}

#[utoipa::path(delete, path = "/admin/v1/sessions/{id}", tag = "admin", operation_id = "revoke_session",
    security(("admin_token" = [])), params(("id" = String, Path, description = "a session id (the `sid` claim)")),
    responses(
        (status = 204, description = "the session ended"),
        (status = 400, description = "invalid_request: a path parameter is malformed (a bad percent-escape, not UTF-8)"),
        (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)"),
        (status = 404, description = "not_found: no open session with this id")))]
pub async fn revoke_session(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin(&app).revoke_session(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Events of a person, `directory/key`.
    subject: Option<String>,
    /// Events of a bot client.
    client_id: Option<String>,
    /// Events of one kind, e.g. `code.failed`.
    kind: Option<String>,
    /// RFC 3339; events at or after.
    since: Option<String>,
    /// RFC 3339; events before.
    until: Option<String>,
    /// Paging: the `next_before` of the previous page.
    before: Option<i64>,
    /// Page size, 1 to 500 (default 100); smaller is 1, larger is 500.
    limit: Option<u64>,
}

/// One page of the audit trail, newest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    events: Vec<AuditRow>,
    /// The `before` of the next page; null on the last one.
    next_before: Option<i64>,
}

#[utoipa::path(get, path = "/admin/v1/audit", tag = "admin", operation_id = "audit", security(("admin_token" = [])), params(AuditQuery),
    responses(
        (status = 200, description = "one page of events", body = AuditPage),
        (status = 400, description = "invalid_request: a time that is not RFC 3339, a number that is not one, an unknown parameter"),
        (status = 401, description = "invalid_token: the admin token is missing or wrong (WWW-Authenticate: Bearer)")))]
pub async fn audit(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<AuditPage>, ApiError> {
    let filter = AuditFilter {
        since: query.since.as_deref().map(|t| parse_time("since", t)).transpose()?,
        until: query.until.as_deref().map(|t| parse_time("until", t)).transpose()?,
        subject: query.subject,
        client_id: query.client_id,
        kind: query.kind,
        before: query.before,
    };
    // Conversation events are written in batches; an operator reads what has happened.
    app.flush_audit().await;
    let (events, next) = admin(&app).audit(&filter, query.limit.unwrap_or(100)).await?;
    Ok(axum::Json(AuditPage { events, next_before: next }))
}
