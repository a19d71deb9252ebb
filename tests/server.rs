//! `causeway serve` as a process: health checks and the model API.

use crate::helpers::{causeway, scratch_dir, Server};

#[test]
fn health_checks_and_model_api_answer() {
    let dir = scratch_dir("server");
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let imported = causeway(&[
        "--data-dir",
        &data_dir,
        "import",
        "estimators/tests/fixtures/retail-networkx.graphml",
    ]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);

    let server = Server::start(&["--data-dir", &data_dir]);
    let (status, body) = server.get("/healthz");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, body) = server.get("/readyz");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ready"}"#));

    let (status, body) = server.get("/api/v1/models");
    assert_eq!(status, 200, "{body}");
    let models: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(models[0]["name"], "retail");

    let (status, body) = server.get("/api/v1/models/retail@1");
    assert_eq!(status, 200, "{body}");
    let model: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(model["model_id"], "retail@1");
    assert_eq!(model["variables"].as_array().unwrap().len(), 5);

    let (status, body) = server.get("/api/v1/models/retail@7");
    assert_eq!(status, 404, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "not_found");
    assert!(error["error"]["message"]
        .as_str()
        .unwrap()
        .contains("retail@1"));

    let (status, _) = server.get("/api/v1/models/retail@x");
    assert_eq!(status, 400);
}

#[test]
fn a_busy_port_is_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let dir = scratch_dir("busy_port");
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let run = causeway(&["--data-dir", &data_dir, "serve", "--addr", &address]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("cannot listen on"), "{}", run.stderr);
}
