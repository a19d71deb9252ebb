//! `POST /api/v1/estimate` on a running `causeway serve`: a known effect recovered
//! from seeded synthetic data, the same JSON as `causeway estimate --format json`,
//! and every kind of bad request refused with its status and reason.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde_json::Value;

use crate::auth::create_token;
use crate::helpers::{
    causeway, http_request_with_headers, multipart, request_with_token, scratch_dir, write_file,
    Response, Server,
};

/// The truth: y = 2·t + 3·z + ε, with z a confounder (z → t, z → y).
const TRUE_EFFECT: f64 = 2.0;
const EDGES: &str = "z->t, z->y, t->y";

/// `n` rows of the confounded data, seeded.
fn confounded_csv(n: usize, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut csv = String::from("z,t,y\n");
    for _ in 0..n {
        let z: f64 = rng.sample(StandardNormal);
        let t = 0.8 * z + rng.sample::<f64, _>(StandardNormal);
        let y = TRUE_EFFECT * t + 3.0 * z + rng.sample::<f64, _>(StandardNormal);
        csv.push_str(&format!("{z:.6},{t:.6},{y:.6}\n"));
    }
    csv
}

/// Posts the form `parts` with `token` (none: no `Authorization` header).
fn post_estimate(
    server: &Server,
    token: Option<&str>,
    parts: &[(&str, Option<&str>, &str)],
) -> Response {
    let (content_type, body) = multipart(parts);
    request_with_token(
        server,
        "POST",
        "/api/v1/estimate",
        token,
        Some((&content_type, &body)),
    )
}

/// Asserts a refusal: the status, the error code and words of the message.
#[track_caller]
fn assert_refused(response: &Response, status: u16, code: &str, words: &str) {
    assert_eq!(response.status, status, "{}", response.body);
    let error = &response.json()["error"];
    assert_eq!(error["code"], code, "{}", response.body);
    let message = error["message"].as_str().unwrap();
    assert!(message.contains(words), "`{words}` not in {message:?}");
}

/// The upload directory is empty again: every request removed its files.
#[track_caller]
fn assert_uploads_removed(data_dir: &str) {
    let uploads = std::path::Path::new(data_dir).join("uploads");
    let left: Vec<_> = std::fs::read_dir(&uploads)
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "uploads left behind: {left:?}");
}

#[test]
fn the_api_recovers_a_known_effect_and_answers_as_the_cli_does() {
    let dir = scratch_dir("web_estimate_truth");
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let analyst = create_token(&data_dir, "analyst");
    let server = Server::start(&["--data-dir", &data_dir]);
    let csv = confounded_csv(2000, 11);

    for (method, nuisance) in [("ols", "linear"), ("dml", "linear"), ("aipw", "linear")] {
        let response = post_estimate(
            &server,
            Some(&analyst),
            &[
                ("data", Some("confounded.csv"), &csv),
                ("edges", None, EDGES),
                ("treatment", None, "t"),
                ("outcome", None, "y"),
                ("method", None, method),
                ("nuisance", None, nuisance),
            ],
        );
        if method == "aipw" {
            // AIPW needs a binary treatment: the estimators' refusal, as a 422.
            assert_refused(&response, 422, "invalid_data", "binary");
            continue;
        }
        assert_eq!(response.status, 200, "{method}: {}", response.body);
        let report = response.json();
        assert_eq!(report["method"], method);
        assert_eq!(report["identification"], "backdoor adjustment");
        assert_eq!(report["adjustment_set"], serde_json::json!(["z"]));
        assert_eq!(report["n"], 2000);
        let (estimate, low, high) = (
            report["estimate"].as_f64().unwrap(),
            report["ci_low"].as_f64().unwrap(),
            report["ci_high"].as_f64().unwrap(),
        );
        assert!(
            low <= TRUE_EFFECT && TRUE_EFFECT <= high,
            "{method}: [{low}, {high}] misses {TRUE_EFFECT}"
        );
        assert!(
            (estimate - TRUE_EFFECT).abs() < 0.1,
            "{method}: estimate {estimate}"
        );
    }

    // The same request as `causeway estimate --format json` gives the same JSON,
    // refutations included.
    let parts = [
        ("data", Some("confounded.csv"), csv.as_str()),
        ("dag", Some("confounded.dag"), EDGES),
        ("treatment", None, "t"),
        ("outcome", None, "y"),
        ("method", None, "ols"),
        ("refute", None, "on"),
        ("bootstrap", None, "20"),
        ("seed", None, "3"),
    ];
    let response = post_estimate(&server, Some(&analyst), &parts);
    assert_eq!(response.status, 200, "{}", response.body);
    let from_api = response.json();
    let csv_path = write_file(&dir, "confounded.csv", &csv);
    let cli = causeway(&[
        "estimate",
        "--data",
        &csv_path,
        "--edges",
        EDGES,
        "--treatment",
        "t",
        "--outcome",
        "y",
        "--method",
        "ols",
        "--refute",
        "--bootstrap",
        "20",
        "--seed",
        "3",
        "--format",
        "json",
    ]);
    assert_eq!(cli.code, 0, "{}", cli.stderr);
    let from_cli: Value = serde_json::from_str(&cli.stdout).unwrap();
    assert_eq!(from_api, from_cli);
    let refuters: Vec<&str> = from_api["refutations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["refuter"].as_str().unwrap())
        .collect();
    assert_eq!(
        refuters,
        [
            "placebo_treatment",
            "random_common_cause",
            "data_subset",
            "bootstrap",
            "e_value"
        ]
    );
    assert_uploads_removed(&data_dir);
}

#[test]
fn bad_estimate_requests_are_refused_with_a_reason() {
    let dir = scratch_dir("web_estimate_refusals");
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let analyst = create_token(&data_dir, "analyst");
    let viewer = create_token(&data_dir, "viewer");
    let server = Server::start(&["--data-dir", &data_dir]);
    let csv = confounded_csv(300, 5);
    let form = |edges: &'static str, treatment: &'static str| {
        vec![
            ("data", Some("confounded.csv"), csv.clone()),
            ("edges", None, edges.to_string()),
            ("treatment", None, treatment.to_string()),
            ("outcome", None, "y".to_string()),
            ("method", None, "ols".to_string()),
        ]
    };
    let post = |token: Option<&str>, parts: &[(&str, Option<&str>, String)]| {
        let parts: Vec<(&str, Option<&str>, &str)> = parts
            .iter()
            .map(|(name, file, content)| (*name, *file, content.as_str()))
            .collect();
        post_estimate(&server, token, &parts)
    };

    // Data and graph that do not allow the estimate: 422 with the estimators' words.
    assert_refused(
        &post(Some(&analyst), &form(EDGES, "tt")),
        422,
        "unknown_variable",
        "did you mean `t`?",
    );
    assert_refused(
        &post(Some(&analyst), &form("z->t, t->y, y->z", "t")),
        422,
        "invalid_model",
        "cycle",
    );
    let mut latent = form(EDGES, "t");
    latent.push(("latent", None, "z".into()));
    assert_refused(
        &post(Some(&analyst), &latent),
        422,
        "not_identifiable",
        "not identifiable",
    );
    let mut folds = form(EDGES, "t");
    folds[4].2 = "dml".into();
    folds.push(("folds", None, "1".into()));
    assert_refused(
        &post(Some(&analyst), &folds),
        422,
        "invalid_input",
        "at least 2 folds",
    );
    let mut missing = form(EDGES, "t");
    missing[0].2 = "z,t,y\n1,2,3\n2,,4\n3,1,5\n".into();
    assert_refused(
        &post(Some(&analyst), &missing),
        422,
        "invalid_data",
        "missing value",
    );

    // A malformed form: 400, naming the field.
    let mut no_data = form(EDGES, "t");
    no_data.remove(0);
    assert_refused(
        &post(Some(&analyst), &no_data),
        400,
        "invalid_request",
        "field `data`",
    );
    let mut misspelt = form(EDGES, "t");
    misspelt.push(("treatmnet", None, "t".into()));
    assert_refused(
        &post(Some(&analyst), &misspelt),
        400,
        "invalid_request",
        "unknown field `treatmnet`",
    );
    let mut did = form(EDGES, "t");
    did[4].2 = "did".into();
    assert_refused(
        &post(Some(&analyst), &did),
        400,
        "invalid_request",
        "`time=COLUMN`",
    );
    let mut method = form(EDGES, "t");
    method[4].2 = "magic".into();
    assert_refused(
        &post(Some(&analyst), &method),
        400,
        "invalid_request",
        "field `method` cannot be `magic`; send one of ols, ipw",
    );
    assert_refused(
        &post(Some(&analyst), &form("z->t, z->", "t")),
        400,
        "invalid_graph",
        "",
    );
    let not_a_form = http_request_with_headers(
        &server.address,
        "POST",
        "/api/v1/estimate",
        &[("Authorization", &format!("Bearer {analyst}"))],
        Some(("application/json", "{}")),
    );
    assert_refused(&not_a_form, 400, "invalid_request", "multipart/form-data");

    // Estimating takes an analyst's token.
    assert_refused(
        &post(Some(&viewer), &form(EDGES, "t")),
        403,
        "forbidden",
        "analyst",
    );
    assert_refused(&post(None, &form(EDGES, "t")), 401, "unauthorized", "token");
    assert_uploads_removed(&data_dir);
}

/// Writes `request` as it is and reads the answer to the end. The server may answer
/// and close before it has read everything, so a failed write is not an error.
fn raw_exchange(address: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    // A server that waited for more would hang the test: fail instead.
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn an_upload_over_the_limit_is_refused_with_413() {
    let dir = scratch_dir("web_estimate_limit");
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    // 0.01 MiB: 10,485 bytes.
    let (server, _stdout) = Server::spawn_with_env(
        &["--data-dir", &data_dir, "serve", "--addr", "127.0.0.1:0"],
        &[("CAUSEWAY_MAX_UPLOAD_MB", "0.01")],
    );
    let parts = |csv: &str| {
        multipart(&[
            ("data", Some("data.csv"), csv),
            ("edges", None, EDGES),
            ("treatment", None, "t"),
            ("outcome", None, "y"),
            ("method", None, "ols"),
        ])
    };
    let head = |framing: &str, content_type: &str| {
        format!(
            "POST /api/v1/estimate HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n{framing}\r\nConnection: close\r\n\r\n",
            server.address
        )
    };

    // Declared too long: refused from the Content-Length, before the body is read.
    let (content_type, _) = parts("");
    let declared = raw_exchange(
        &server.address,
        format!("{}--", head("Content-Length: 50000000", &content_type)).as_bytes(),
    );
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");
    assert!(declared.contains("too_large"), "{declared}");

    // Streamed without a length: refused once the parts pass the limit. The CSV is
    // a little over it, so that the server has read everything sent when it answers.
    let csv = confounded_csv(400, 1);
    assert!((10_485..14_000).contains(&csv.len()), "{}", csv.len());
    let (content_type, body) = parts(&csv);
    let mut request = head("Transfer-Encoding: chunked", &content_type);
    request.push_str(&format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()));
    let streamed = raw_exchange(&server.address, request.as_bytes());
    assert!(streamed.starts_with("HTTP/1.1 413"), "{streamed}");
    assert!(streamed.contains("CAUSEWAY_MAX_UPLOAD_MB"), "{streamed}");

    // Under the limit, the same server estimates.
    let small = confounded_csv(100, 1);
    let (content_type, body) = parts(&small);
    let response = crate::helpers::http_request(
        &server.address,
        "POST",
        "/api/v1/estimate",
        Some((&content_type, &body)),
    );
    assert_eq!(response.status, 200, "{}", response.body);
    assert_uploads_removed(&data_dir);
}
