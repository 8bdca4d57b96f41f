//! `/admin/v1/...`: records, bot clients, sessions and the audit trail, for operators
//! holding the `[admin] token`. The same operations as the CLI, through the same code.
use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::routing::{get, post, put};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::ApiError;
use super::extract::{Json, Operator, Query};
use crate::app::AppState;
use crate::config::DirectoryConfig;
use crate::domain::admin::{Admin, AdminError, AuditRow, ClientSecret, ClientView, SessionRow, Whose, parse_time};
use crate::domain::import_pieces::{Format, Pieces};
use crate::domain::records::{self, ImportError, JsonRecord};
use crate::store::audit::AuditFilter;
use crate::store::records::Record;

pub fn router() -> Router<Arc<AppState>> {
    let no_store = SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Router::new()
        .route("/admin/v1/directories/{dir}/records/{key}", put(put_record).get(get_record).delete(delete_record))
        .route("/admin/v1/directories/{dir}/records", post(import_records))
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

#[utoipa::path(put, path = "/admin/v1/directories/{dir}/records/{key}", tag = "admin", security(("admin_token" = [])), request_body = RecordBody,
    responses((status = 200, body = RecordView), (status = 400), (status = 401), (status = 404)))]
pub async fn put_record(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path((dir, key)): Path<(String, String)>,
    Json(body): Json<RecordBody>,
) -> Result<axum::Json<RecordView>, ApiError> {
    let directory = directory(&app, &dir)?;
    let parsed = JsonRecord { key: Some(key.clone()), fields: body.fields, roles: body.roles, active: body.active };
    let upsert = records::from_json(directory, parsed).map_err(AdminError::Invalid)?;
    import(&app, vec![(1, upsert)]).await?;
    let record = records::find(&app.auth.store, &dir, &key).await.map_err(AdminError::from)?;
    Ok(axum::Json(record.ok_or_else(|| ApiError::Internal("record vanished".into()))?.into()))
}

#[utoipa::path(get, path = "/admin/v1/directories/{dir}/records/{key}", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, body = RecordView), (status = 401), (status = 404)))]
pub async fn get_record(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path((dir, key)): Path<(String, String)>,
) -> Result<axum::Json<RecordView>, ApiError> {
    directory(&app, &dir)?;
    let record = records::find(&app.auth.store, &dir, &key).await.map_err(AdminError::from)?;
    Ok(axum::Json(record.ok_or_else(|| AdminError::NotFound(format!("no record `{dir}/{key}`")))?.into()))
}

#[utoipa::path(delete, path = "/admin/v1/directories/{dir}/records/{key}", tag = "admin", security(("admin_token" = [])),
    responses((status = 204, description = "deleted; its sessions ended"), (status = 401), (status = 404)))]
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

/// Bulk import: `text/csv` or `application/x-ndjson` (JSONL), the CLI's formats and rules.
/// The body is read as a stream, piece by piece, and staged in short transactions.
#[utoipa::path(post, path = "/admin/v1/directories/{dir}/records", tag = "admin", security(("admin_token" = [])),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, description = "{\"imported\": n}"), (status = 400, description = "a bad row; nothing was imported"), (status = 401), (status = 413), (status = 415)))]
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
    let mut import = records::Import::begin(&app.auth.store, &dir);
    let staged = stage_body(body, Pieces::new(format, directory), &mut import, max).await;
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
async fn stage_body(
    mut body: Body,
    mut pieces: Pieces<'_>,
    import: &mut records::Import<'_>,
    max: u64,
) -> Result<usize, ApiError> {
    let bad_row =
        |(line, reason): records::RowError| AdminError::Invalid(format!("line {line}: {reason}; nothing was imported"));
    let (mut read, mut count) = (0u64, 0);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::InvalidRequest("the body was cut off; nothing was imported".into()))?;
        let Ok(bytes) = frame.into_data() else {
            continue;
        };
        read += bytes.len() as u64;
        if read > max {
            return Err(ApiError::PayloadTooLarge);
        }
        if let Some(rows) = pieces.feed(&bytes).map_err(bad_row)? {
            count += rows.len();
            import.add(rows).await.map_err(import_error)?;
        }
    }
    let rows = pieces.finish().map_err(bad_row)?;
    count += rows.len();
    import.add(rows).await.map_err(import_error)?;
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    client_id: String,
    #[serde(default)]
    flows: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

#[utoipa::path(post, path = "/admin/v1/clients", tag = "admin", security(("admin_token" = [])), request_body = NewClient,
    responses((status = 201, body = ClientSecret, description = "the secret is shown this once"), (status = 400), (status = 401), (status = 409)))]
pub async fn create_client(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Json(body): Json<NewClient>,
) -> Result<(StatusCode, axum::Json<ClientSecret>), ApiError> {
    let created = admin(&app).create_client(&body.client_id, body.flows, body.scopes).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

#[utoipa::path(get, path = "/admin/v1/clients", tag = "admin", security(("admin_token" = [])), responses((status = 200, body = Vec<ClientView>), (status = 401)))]
pub async fn list_clients(_: Operator, State(app): State<Arc<AppState>>) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(json!({"clients": admin(&app).list_clients().await?})))
}

#[utoipa::path(post, path = "/admin/v1/clients/{id}/disable", tag = "admin", security(("admin_token" = [])),
    responses((status = 204, description = "disabled; its sessions ended"), (status = 401), (status = 404), (status = 409)))]
pub async fn disable_client(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin(&app).disable_client(&id).await?;
    app.clients.forget(&id);
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/admin/v1/clients/{id}/rotate", tag = "admin", security(("admin_token" = [])),
    responses((status = 200, body = ClientSecret, description = "the new secret, shown this once"), (status = 401), (status = 404), (status = 409)))]
pub async fn rotate_client(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<axum::Json<ClientSecret>, ApiError> {
    let rotated = admin(&app).rotate_secret(&id).await?;
    app.clients.forget(&id);
    Ok(axum::Json(rotated))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SessionQuery {
    /// `directory/key`
    subject: Option<String>,
    client_id: Option<String>,
    #[serde(default)]
    include_ended: bool,
}

impl SessionQuery {
    fn whose(&self) -> Whose<'_> {
        Whose { subject: self.subject.as_deref(), client_id: self.client_id.as_deref() }
    }
}

#[utoipa::path(get, path = "/admin/v1/sessions", tag = "admin", security(("admin_token" = [])), params(SessionQuery),
    responses((status = 200, body = Vec<SessionRow>), (status = 400), (status = 401), (status = 404)))]
pub async fn list_sessions(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Query(query): Query<SessionQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let sessions = admin(&app).list_sessions(query.whose(), query.include_ended).await?;
    Ok(axum::Json(json!({"sessions": sessions})))
}

#[utoipa::path(delete, path = "/admin/v1/sessions", tag = "admin", security(("admin_token" = [])), params(SessionQuery),
    responses((status = 200, description = "{\"revoked\": n}"), (status = 400), (status = 401), (status = 404)))]
pub async fn revoke_sessions(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Query(query): Query<SessionQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(json!({"revoked": admin(&app).revoke_sessions(query.whose()).await?})))
}

#[utoipa::path(delete, path = "/admin/v1/sessions/{id}", tag = "admin", security(("admin_token" = [])),
    responses((status = 204), (status = 401), (status = 404)))]
pub async fn revoke_session(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    admin(&app).revoke_session(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    subject: Option<String>,
    client_id: Option<String>,
    kind: Option<String>,
    /// RFC 3339; events at or after.
    since: Option<String>,
    /// RFC 3339; events before.
    until: Option<String>,
    /// Paging: the `next_before` of the previous page.
    before: Option<i64>,
    /// Page size, 1 to 500 (default 100).
    limit: Option<u64>,
}

#[utoipa::path(get, path = "/admin/v1/audit", tag = "admin", security(("admin_token" = [])), params(AuditQuery),
    responses((status = 200, body = Vec<AuditRow>, description = "{\"events\": [...], \"next_before\": id or null}, newest first"), (status = 400), (status = 401)))]
pub async fn audit(
    _: Operator,
    State(app): State<Arc<AppState>>,
    Query(query): Query<AuditQuery>,
) -> Result<axum::Json<Value>, ApiError> {
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
    Ok(axum::Json(json!({"events": events, "next_before": next})))
}
