//! `/openapi.json` documents every route the routers register.
use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::helpers::*;

/// `path → methods` as registered with `.route("...", get(..).post(..))` in src/http.
fn registered_routes() -> BTreeMap<String, BTreeSet<String>> {
    let mut routes = BTreeMap::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let source = std::fs::read_to_string(path).unwrap();
        for chunk in source.split(".route(").skip(1) {
            let Some(path) = chunk.trim_start().strip_prefix('"').and_then(|c| c.split('"').next()) else {
                continue;
            };
            let handlers = chunk.split(".layer(").next().unwrap();
            // `any(..)` serves every method; the document lists the five that matter.
            let any = handlers.trim_start_matches(|c| c != ',').contains(" any(");
            let methods = ["get", "post", "put", "delete", "patch"]
                .into_iter()
                .filter(|m| any || handlers.split(&format!("{m}(")).count() > 1)
                .map(String::from)
                .collect::<BTreeSet<_>>();
            assert!(!methods.is_empty(), "no method found for {path}");
            // OpenAPI has no catch-all parameter: `{*path}` is documented as `{path}`.
            routes.insert(path.replace("{*", "{"), methods);
        }
    }
    routes
}

#[tokio::test]
async fn every_route_is_in_the_openapi_document() {
    let app = spawn_app().await;
    let response = app.http.get(format!("{}/openapi.json", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let routes = registered_routes();
    assert!(routes.len() >= 20, "the route scan found only {routes:?}");
    for (path, methods) in &routes {
        let item = &document["paths"][path];
        assert!(item.is_object(), "{path} is not in /openapi.json");
        for method in methods {
            assert!(item[method].is_object(), "{method} {path} is not in /openapi.json");
        }
    }
    let documented: BTreeSet<&String> = document["paths"].as_object().unwrap().keys().collect();
    let served: BTreeSet<&String> = routes.keys().collect();
    assert_eq!(documented, served, "the document names no route that is not served");
}

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

/// What openapi-spec-validator and schemathesis need, checked here too so that a
/// missing annotation fails `cargo test`: unique operation ids, a description on every
/// response, every `{param}` declared as a required path parameter, and the shared error
/// schema on every refusal outside the public documents.
#[tokio::test]
async fn the_document_declares_every_operation_completely() {
    let app = spawn_app().await;
    let document: Value = app.http.get(format!("{}/openapi.json", app.url)).send().await.unwrap().json().await.unwrap();
    let mut ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        let templated: BTreeSet<&str> =
            path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        for method in METHODS.iter().filter(|m| item[**m].is_object()) {
            let operation = &item[*method];
            let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
            let declared: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .inspect(|p| assert_eq!(p["required"], true, "{method} {path}: {p}"))
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(declared, templated, "{method} {path}: path parameters");
            let public = operation["tags"].as_array().unwrap().iter().any(|t| t == "public");
            for (status, response) in operation["responses"].as_object().unwrap() {
                assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{method} {path} {status}");
                if !public && (status.starts_with('4') || status.starts_with('5')) {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
    let schemas = &document["components"]["schemas"];
    for (schema, property) in [("ClientList", "clients"), ("SessionList", "sessions"), ("AuditPage", "events")] {
        assert_eq!(schemas[schema]["properties"][property]["type"], "array", "{schema}: {}", schemas[schema]);
    }
    assert_eq!(schemas["ErrorBody"]["required"], serde_json::json!(["error", "error_description"]));
}
