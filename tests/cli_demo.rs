//! `causeway demo` as a process: it installs the three demo models, prints its
//! address and the mission's questions, and serves them.

use std::io::BufRead;

use crate::helpers::{scratch_dir, Server};

#[test]
fn demo_installs_three_models_prints_questions_and_serves() {
    let dir = scratch_dir("demo");
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let args = [
        "--data-dir",
        &data_dir,
        "demo",
        "--addr",
        "127.0.0.1:0",
        "--seed",
        "7",
    ];
    let (server, mut stdout) = Server::spawn(&args);
    let mut printed = String::new();
    while !printed.contains("如果把電視廣告減少10%，門市銷售會怎樣？") {
        let mut line = String::new();
        if stdout.read_line(&mut line).expect("output") == 0 {
            break;
        }
        printed.push_str(&line);
    }
    assert!(
        printed.contains("If we cut TV ads by 10%, what happens to store sales?"),
        "{printed}"
    );
    assert!(
        printed.contains("如果把電視廣告減少10%，門市銷售會怎樣？"),
        "{printed}"
    );

    let (status, body) = server.get("/healthz");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, body) = server.get("/api/v1/models");
    assert_eq!(status, 200, "{body}");
    let models: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut names: Vec<&str> = models
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["factory", "onboarding", "retail"]);
    drop(server);

    // A restart finds the models and adds no versions.
    let (server, _) = Server::spawn(&args);
    let (_, body) = server.get("/api/v1/models");
    let models: serde_json::Value = serde_json::from_str(&body).unwrap();
    for model in models.as_array().unwrap() {
        assert_eq!(model["versions"], serde_json::json!([1]), "{model}");
    }
}
