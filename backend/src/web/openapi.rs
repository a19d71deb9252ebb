//! The JSON API's routes and its OpenAPI document, `GET /api/v1/openapi.json`,
//! built together so that they cannot drift apart.
//!
//! Every API module returns an [`OpenApiRouter`] whose routes are added with
//! `routes!(handler, …)`: the macro reads each handler's `#[utoipa::path]` for its
//! method and path, so a route is served exactly where it is documented, and a
//! handler without the annotation does not compile into the router. (Adding a
//! route with `OpenApiRouter::route` would bypass the document; `clippy.toml`
//! refuses that method.) [`api`] nests the modules under `/api/v1` and splits the
//! result into the axum router and the document, which the router then serves.
//!
//! A new API module: give each handler a `#[utoipa::path(…, security(("bearer" =
//! [])))]` with its responses (errors as [`ErrorBody`]), return
//! `OpenApiRouter::new().routes(routes!(…))` from its `router()`, merge it in
//! [`api`], and add its paths to the list in this module's test.

use std::sync::Arc;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::ErrorBody;
use super::{api, estimate, jobs, tokens, AppState};

/// The document's fixed parts; the paths and schemas come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Causeway API",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
        description = "The JSON API of Causeway, the conversational causal sandbox: stored causal models, what-if answers computed from them, causal-effect estimates and fit jobs from uploaded data.\n\nOnce the server has any access token, every request needs one as `Authorization: Bearer cw_…` (`causeway token create`); reading takes a viewer token, writing, estimating and fitting an analyst token. A server without tokens is open. Errors are always `{\"error\": {\"code\", \"message\"}}`."
    ),
    modifiers(&BearerToken),
    tags(
        (name = "models", description = "Stored model versions: list, read, import (GraphML), export, delete"),
        (name = "what-if", description = "Questions answered from a model"),
        (name = "estimate", description = "Causal-effect estimates from uploaded data"),
        (name = "jobs", description = "Fit jobs: a structural model fitted on uploaded data and stored"),
        (name = "tokens", description = "Access tokens, for admins"),
        (name = "meta", description = "This document"),
    )
)]
struct ApiDoc;

/// Declares the `bearer` scheme the operations name.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("cw_ and 64 hex digits".into());
        scheme.description = Some("An access token from `causeway token create`.".into());
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document as served, serialised once.
#[derive(Clone)]
struct Document(Arc<str>);

/// The `/api/v1` routes with the route that serves their document.
pub fn api() -> Router<AppState> {
    let (router, document) = split();
    let json = match serde_json::to_string(&document) {
        Ok(json) => json,
        // The document is built from types; failing to write it is a bug, and
        // the route says so rather than the server refusing to start.
        Err(e) => {
            tracing::error!(cause = %e, "the OpenAPI document cannot be written");
            String::new()
        }
    };
    router.layer(Extension(Document(json.into())))
}

/// The OpenAPI document of the `/api/v1` routes.
pub fn document() -> utoipa::openapi::OpenApi {
    split().1
}

fn split() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = api::router()
        .merge(jobs::api_router())
        .merge(estimate::router())
        .merge(tokens::router())
        .routes(routes!(openapi_json));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .split_for_parts()
}

/// This document: the API's operations, their parameters, bodies and answers.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 500, description = "The document could not be written", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
async fn openapi_json(Extension(document): Extension<Document>) -> Response {
    if document.0.is_empty() {
        return api::error_body(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the OpenAPI document could not be written; see the server log",
        );
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.0.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    /// Every operation of the API. A route added to a router shows up in the
    /// document; this list makes adding one a visible decision.
    const OPERATIONS: [(&str, &str); 17] = [
        ("get", "/api/v1/models"),
        ("get", "/api/v1/models/{reference}"),
        ("put", "/api/v1/models/{reference}"),
        ("post", "/api/v1/models/{reference}"),
        ("delete", "/api/v1/models/{reference}"),
        ("get", "/api/v1/models/{reference}/graphml"),
        ("post", "/api/v1/whatif"),
        ("get", "/api/v1/jobs"),
        ("post", "/api/v1/jobs"),
        ("get", "/api/v1/jobs/{id}"),
        ("get", "/api/v1/jobs/{id}/events"),
        ("post", "/api/v1/jobs/{id}/cancel"),
        ("post", "/api/v1/estimate"),
        ("get", "/api/v1/tokens"),
        ("post", "/api/v1/tokens"),
        ("delete", "/api/v1/tokens/{id}"),
        ("get", "/api/v1/openapi.json"),
    ];

    fn as_json() -> Value {
        serde_json::to_value(document()).unwrap()
    }

    fn operations(document: &Value) -> BTreeSet<(String, String)> {
        let mut found = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                found.insert((method.clone(), path.clone()));
            }
        }
        found
    }

    #[test]
    fn the_document_lists_exactly_the_operations_of_the_api() {
        let document = as_json();
        assert!(
            document["openapi"].as_str().unwrap().starts_with("3."),
            "{}",
            document["openapi"]
        );
        let expected: BTreeSet<(String, String)> = OPERATIONS
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(operations(&document), expected);
    }

    #[test]
    fn every_operation_needs_the_bearer_token_and_documents_its_errors() {
        let document = as_json();
        assert_eq!(
            document["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        let mut ids = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let at = format!("{method} {path}");
                assert_eq!(
                    operation["security"],
                    serde_json::json!([{"bearer": []}]),
                    "{at}"
                );
                assert!(
                    ids.insert(operation["operationId"].to_string()),
                    "{at}: duplicate id"
                );
                let responses = operation["responses"].as_object().unwrap();
                assert!(responses.contains_key("401"), "{at} has no 401");
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/ErrorBody",
                            "{at} {status}"
                        );
                    }
                }
            }
        }
    }

    /// Every `$ref` in `value`.
    fn references(value: &Value, found: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(target)) => {
                            found.insert(target.clone());
                        }
                        _ => references(value, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_schema_referenced_is_in_the_document() {
        let document = as_json();
        let mut found = BTreeSet::new();
        references(&document, &mut found);
        assert!(found.contains("#/components/schemas/ModelDocument"));
        assert!(found.contains("#/components/schemas/Report"));
        for target in found {
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {target}"));
            assert!(
                document["components"]["schemas"].get(name).is_some(),
                "{target} is referenced but not defined"
            );
        }
        // The estimate's fields are at the top level of the report, as the CLI prints them.
        let report = &document["components"]["schemas"]["Report"];
        assert!(
            report.to_string().contains("#/components/schemas/Estimate"),
            "{report}"
        );
    }

    #[test]
    fn the_forms_are_documented_from_the_lists_the_handlers_check() {
        let document = as_json();
        for (path, form) in [
            ("/api/v1/estimate", &estimate::FORM[..]),
            ("/api/v1/jobs", &jobs::FORM[..]),
        ] {
            let schema = &document["paths"][path]["post"]["requestBody"]["content"]
                ["multipart/form-data"]["schema"];
            let documented: Vec<&str> = schema["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{path}: {schema}"))
                .keys()
                .map(String::as_str)
                .collect();
            let mut fields: Vec<&str> = form.iter().map(|f| f.name).collect();
            fields.sort_unstable();
            assert_eq!(documented, fields, "{path}");
            assert_eq!(schema["properties"]["data"]["format"], "binary", "{path}");
            assert!(schema["required"]
                .as_array()
                .unwrap()
                .contains(&Value::from("data")));
        }
    }
}
