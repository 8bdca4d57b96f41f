//! `/openapi.json`: the whole HTTP API, generated from the handlers' annotations and the
//! types they read and write. Two modifiers add what every operation shares: the error
//! schema on every refusal and unique operation ids.
use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use super::error::ErrorBody;
use super::{admin, conversations, messages, metrics, oauth, playground, proxy, voice, well_known};
use crate::app::AppState;
use crate::config::Config;

#[derive(OpenApi)]
#[openapi(
    info(title = "doorman", description = "Auth gateway for chat bots and phonebots. Every refusal has the RFC 6749 shape {\"error\", \"error_description\", ...} (the schema ErrorBody)."),
    paths(
        well_known::health, well_known::ready, well_known::jwks, well_known::metadata, well_known::openid_configuration,
        openapi_json,
        conversations::state, conversations::identify, conversations::verify, conversations::resend,
        conversations::token, conversations::cancel,
        messages::message,
        voice::webhook, voice::status,
        oauth::token, oauth::introspect, oauth::revoke,
        admin::put_record, admin::get_record, admin::delete_record, admin::import_records, admin::unlock_record,
        admin::create_client, admin::list_clients, admin::disable_client, admin::rotate_client,
        admin::list_sessions, admin::revoke_sessions, admin::revoke_session, admin::audit,
        proxy::proxy,
        metrics::metrics,
        playground::page, playground::info, playground::message, playground::deliveries,
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "public", description = "health, keys and metadata: no authentication"),
        (name = "conversations", description = "a bot's conversations (HTTP Basic client credentials)"),
        (name = "dialog", description = "doorman holds the login dialog"),
        (name = "oauth", description = "RFC 6749 token endpoint, RFC 7662 introspection, RFC 7009 revocation"),
        (name = "admin", description = "records, clients, sessions and the audit trail ([admin] token)"),
        (name = "proxy", description = "requests forwarded to a [[services]] API"),
        (name = "voice", description = "Twilio Voice webhooks, signed by Twilio"),
        (name = "playground", description = "the development playground (only with [playground] enabled)"),
    ),
    modifiers(&SecuritySchemes, &ErrorResponses, &UniqueOperationIds, &PathParametersRequired),
)]
struct ApiDoc;

/// The document, built once: the generated one with what utoipa cannot express patched in
/// (see [`patch_flattened_options`]), as JSON.
fn document() -> &'static Value {
    static DOCUMENT: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| {
        let mut document = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
        let schemas = document["components"]["schemas"].clone();
        patch_flattened_options(&mut document["components"]["schemas"], &schemas);
        document
    });
    &DOCUMENT
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/openapi.json", get(openapi_json))
}

#[utoipa::path(get, path = "/openapi.json", tag = "public",
    responses((status = 200, description = "this document", body = Object)))]
async fn openapi_json(State(app): State<Arc<AppState>>) -> axum::Json<Value> {
    axum::Json(served_document(&app.auth.config))
}

/// The document as this server serves it: what the configuration decides (the code's
/// length, the flows a new client may name) is filled in, so
/// that a client (or a fuzzer) can tell a valid request from the document alone. Built per
/// request: it is asked for rarely, and a server's tests run several configurations in one
/// process.
pub fn served_document(config: &Config) -> Value {
    let mut document = document().clone();
    if let Some(code) = document.pointer_mut("/components/schemas/VerifyBody/properties/code") {
        code["pattern"] = Value::String(code_pattern(config.otp.length));
    }
    if let Some(flows) = document.pointer_mut("/components/schemas/NewClient/properties/flows") {
        let names: Vec<&str> = config.flows.iter().map(|flow| flow.name.as_str()).collect();
        if names.is_empty() {
            flows["maxItems"] = json!(0);
        } else {
            flows["items"] = json!({"type": "string", "enum": names});
        }
    }
    document
}

/// What `Code::parse` accepts: exactly `length` digits, with any spaces and dashes around
/// and between them.
pub fn code_pattern(length: u32) -> String {
    format!("^[ -]*([0-9][ -]*){{{length}}}$")
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("the [metrics] token")).build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("a bot client: client_id:client_secret"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("a person's access token"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("the [admin] token")).build(),
            ),
        );
    }
}

/// Every 4xx and 5xx an operation documents is an [`ErrorBody`]; every operation may
/// answer 500 `server_error`. The public documents are the exception: their one refusal,
/// `/readyz`'s 503, has no body.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (_, operation) in operations(openapi) {
            if operation.tags.as_ref().is_some_and(|tags| tags.iter().any(|t| t == "public")) {
                continue;
            }
            let responses = &mut operation.responses.responses;
            responses.entry("500".into()).or_insert_with(|| {
                ResponseBuilder::new().description("server_error: the server could not complete the request").into()
            });
            for (status, response) in responses.iter_mut() {
                let RefOr::T(response) = response else { continue };
                if status.starts_with(['4', '5']) && response.content.is_empty() {
                    let schema = RefOr::Ref(Ref::from_schema_name(ErrorBody::name()));
                    response
                        .content
                        .insert("application/json".into(), ContentBuilder::new().schema(Some(schema)).into());
                }
            }
        }
    }
}

/// An operation served under several methods (the proxy) is documented once per method:
/// each gets its method in its id, so that ids stay unique.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut uses: HashMap<String, usize> = HashMap::new();
        for (_, operation) in operations(openapi) {
            *uses.entry(operation.operation_id.clone().unwrap_or_default()).or_default() += 1;
        }
        for (method, operation) in operations(openapi) {
            if let Some(id) = &operation.operation_id
                && uses[id] > 1
            {
                operation.operation_id = Some(format!("{id}_{method}"));
            }
        }
    }
}

/// OpenAPI requires every path parameter to be required; a parameter whose schema is
/// built by hand (`schema_with`, the conversation id) loses the flag in the derive.
struct PathParametersRequired;

impl Modify for PathParametersRequired {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (_, operation) in operations(openapi) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(parameter) = parameter
                    && parameter.parameter_in == ParameterIn::Path
                {
                    parameter.required = Required::True;
                }
            }
        }
    }
}

/// A flattened `Option<T>` (the tokens of an authenticated state) comes out of the derive
/// as `allOf: [{oneOf: [T, null]}, ...]`, which an object without T's fields never matches:
/// the object is not null, and it lacks T's required fields. What is served instead is
/// "all of T, or none of T's required fields" (`not` has no place in utoipa's types).
fn patch_flattened_options(value: &mut Value, schemas: &Value) {
    if let Some(parts) = value.get_mut("allOf").and_then(Value::as_array_mut) {
        for part in parts {
            let Some([Value::Object(some), Value::Object(none)]) =
                part.get("oneOf").and_then(Value::as_array).map(Vec::as_slice)
            else {
                continue;
            };
            let Some(name) =
                some.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
            else {
                continue;
            };
            let Some(required) =
                schemas[name]["required"].as_array().filter(|_| none.get("type") == Some(&json!("null")))
            else {
                continue;
            };
            let absent: Vec<Value> = required.iter().map(|field| json!({"required": [field]})).collect();
            *part = json!({"anyOf": [some, {"not": {"anyOf": absent}}]});
        }
    }
    match value {
        Value::Object(object) => {
            for child in object.values_mut() {
                patch_flattened_options(child, schemas);
            }
        }
        Value::Array(items) => {
            for child in items {
                patch_flattened_options(child, schemas);
            }
        }
        _ => {}
    }
}

fn operations(openapi: &mut utoipa::openapi::OpenApi) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    openapi.paths.paths.values_mut().flat_map(|item| {
        [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ]
        .into_iter()
        .filter_map(|(method, operation)| operation.as_mut().map(|o| (method, o)))
    })
}

/// `grant_type`: one of [`oauth::GRANT_TYPES`], the list the metadata publishes too.
fn grant_type_schema() -> utoipa::openapi::Object {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(oauth::GRANT_TYPES.iter().copied())).build()
}

/// What `POST /oauth/token` reads (of [`oauth::OAuthParams`], which every OAuth endpoint
/// parses): `refresh_token` for that grant, `conversation` and `code` for the OTP grant.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
pub struct TokenForm {
    #[schema(schema_with = grant_type_schema)]
    grant_type: String,
    /// client_credentials: space-separated scopes, each one the client has (default: all).
    scope: Option<String>,
    /// refresh_token: the refresh token; it is used up.
    #[schema(max_length = 4096)]
    refresh_token: Option<String>,
    /// OTP grant: `channel:id` of the conversation the code was sent for.
    #[schema(max_length = 4096)]
    conversation: Option<String>,
    /// OTP grant: the code the person received.
    #[schema(max_length = 4096)]
    code: Option<String>,
    /// client_secret_post; with Basic only if it names the same client.
    client_id: Option<String>,
    /// client_secret_post; never together with Basic.
    client_secret: Option<String>,
}

/// What `POST /oauth/introspect` and `POST /oauth/revoke` read.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
pub struct TokenHintForm {
    /// An access or refresh token.
    #[schema(min_length = 1, max_length = 4096)]
    token: String,
    /// Accepted and not needed: doorman tells its token kinds apart itself.
    token_type_hint: Option<String>,
    /// client_secret_post; with Basic only if it names the same client.
    client_id: Option<String>,
    /// client_secret_post; never together with Basic.
    client_secret: Option<String>,
}

/// RFC 7662: `{"active": false}` for anything expired, revoked, unknown or not the
/// client's; otherwise the token's claims (and the flow's record claims).
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only
pub struct Introspection {
    active: bool,
    /// `Bearer` or `refresh_token`.
    token_type: Option<String>,
    sub: Option<String>,
    client_id: Option<String>,
    iss: Option<String>,
    aud: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    jti: Option<String>,
    sid: Option<String>,
    scope: Option<String>,
    roles: Option<Vec<String>>,
    amr: Option<Vec<String>>,
    acr: Option<String>,
}

/// RFC 7009: always `{}`.
#[derive(ToSchema)]
pub struct RevokeResponse {}

/// RFC 7517: the active public keys.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: served from jsonwebtoken's JwkSet
pub struct Jwks {
    /// `kid`, `kty`, `alg`, `use: "sig"` and the key's parameters.
    #[schema(value_type = Vec<Object>)]
    keys: Vec<serde_json::Value>,
}

/// RFC 8414 metadata.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: served with json!
pub struct ServerMetadata {
    issuer: String,
    jwks_uri: String,
    token_endpoint: String,
    token_endpoint_auth_methods_supported: Vec<String>,
    introspection_endpoint: String,
    introspection_endpoint_auth_methods_supported: Vec<String>,
    revocation_endpoint: String,
    revocation_endpoint_auth_methods_supported: Vec<String>,
    grant_types_supported: Vec<String>,
    /// Empty: there is no authorization endpoint.
    response_types_supported: Vec<String>,
    scopes_supported: Vec<String>,
    access_token_signing_alg_values_supported: Vec<String>,
    acr_values_supported: Vec<String>,
    service_documentation: String,
}
