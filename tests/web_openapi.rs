//! `GET /api/v1/openapi.json` on a running `causeway serve`: the document is
//! OpenAPI 3, is the one the code generates, sits behind the token check like the
//! rest of the API, and every operation it lists is answered by a handler.

use serde_json::Value;

use crate::auth::create_token;
use crate::helpers::{http_request_with_headers, scratch_dir, Server};

#[test]
fn the_served_document_is_the_generated_one_and_every_operation_is_routed() {
    let dir = scratch_dir("web_openapi");
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let viewer = create_token(&data_dir, "viewer");
    let server = Server::start(&["--data-dir", &data_dir]);
    let authorization = format!("Bearer {viewer}");
    let with_token = [("Authorization", authorization.as_str())];

    let refused =
        http_request_with_headers(&server.address, "GET", "/api/v1/openapi.json", &[], None);
    assert_eq!(refused.status, 401, "{}", refused.body);

    let served = http_request_with_headers(
        &server.address,
        "GET",
        "/api/v1/openapi.json",
        &with_token,
        None,
    );
    assert_eq!(served.status, 200, "{}", served.body);
    assert_eq!(served.header("content-type"), Some("application/json"));
    let document = served.json();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        document["openapi"]
    );
    let generated = serde_json::to_value(causeway::web::openapi::document()).unwrap();
    assert_eq!(document, generated);

    // Each documented operation reaches its handler: the answer is the API's JSON
    // (a viewer may be refused a write with 403, a made-up id is a JSON 404), never
    // the router's bare 404 or 405 for a route it does not have.
    let paths = document["paths"].as_object().unwrap();
    assert!(paths.contains_key("/api/v1/estimate"), "{paths:?}");
    assert!(paths.contains_key("/api/v1/openapi.json"), "{paths:?}");
    for (path, item) in paths {
        let concrete = path
            .replace("{reference}", "nosuchmodel@1")
            .replace("{id}", "nosuchjob");
        for method in item.as_object().unwrap().keys() {
            let response = http_request_with_headers(
                &server.address,
                &method.to_ascii_uppercase(),
                &concrete,
                &with_token,
                None,
            );
            let at = format!("{method} {concrete}");
            assert_ne!(response.status, 405, "{at}");
            assert!(
                response
                    .header("content-type")
                    .is_some_and(|t| t.starts_with("application/json")),
                "{at}: {} {:?}",
                response.status,
                response.body
            );
            let body: Value = response.json();
            if response.status >= 400 {
                assert!(body["error"]["code"].is_string(), "{at}: {body}");
            }
        }
    }
}
