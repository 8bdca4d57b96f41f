//! `/openapi.json`: the whole HTTP API, generated from the handlers' annotations.
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, conversations, messages, oauth, playground, proxy, voice, well_known};
use crate::app::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "doorman", description = "Auth gateway for chat bots and phonebots. Every error has the RFC 6749 shape {\"error\", \"error_description\", ...}. The /oauth endpoints also accept client_secret_post (client_id and client_secret in the body)."),
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
        playground::page, playground::info, playground::message, playground::deliveries,
    ),
    components(schemas(
        messages::MessageBody, crate::dialog::Answer, crate::dialog::Reply, crate::dialog::Expect,
        crate::dialog::Redirect, crate::dialog::Step, crate::dialog::Outcome,
    )),
    modifiers(&SecuritySchemes),
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
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

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/openapi.json", get(openapi_json))
}

#[utoipa::path(get, path = "/openapi.json", tag = "public", responses((status = 200, description = "this document")))]
async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}
