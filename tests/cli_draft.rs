//! `causeway draft` as a process, against a local server that speaks the
//! chat-completions protocol and replays recorded replies from `tests/data/draft/`:
//! a good reply becomes a priors file that `causeway discover --priors` accepts; an
//! invented quote and a name that matches no column are reported and left out; a
//! malformed reply, a server error, a timeout, a reply with nothing usable and a
//! missing LLM configuration exit with code 2 and one line.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use serde_json::Value;

use crate::helpers::{causeway, causeway_command, scratch_dir, write_file, Run};

const DOC: &str = include_str!("data/draft/retail_handbook.txt");
const GOOD: &str = include_str!("data/draft/good.json");
const INVENTED_QUOTE: &str = include_str!("data/draft/invented_quote.json");
const UNMATCHED: &str = include_str!("data/draft/unmatched.json");
const MALFORMED: &str = include_str!("data/draft/malformed_arguments.json");
const SERVER_ERROR: &str = include_str!("data/draft/server_error.json");

const LLM_ENV: [&str; 4] = [
    "CAUSEWAY_LLM_BASE_URL",
    "CAUSEWAY_LLM_API_KEY",
    "CAUSEWAY_LLM_MODEL",
    "CAUSEWAY_LLM_TIMEOUT_SECS",
];

/// A chat-completions endpoint on 127.0.0.1:0 that answers every request with one
/// recorded reply, after `delay`, and keeps the request bodies it was sent. Its
/// thread lives as long as the test process; each test starts its own.
struct FakeLlm {
    address: String,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl FakeLlm {
    fn start(status: u16, body: &'static str, delay: Duration) -> FakeLlm {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let address = listener.local_addr().expect("bound").to_string();
        let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
        let kept = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                answer(stream, status, body, delay, &kept);
            }
        });
        FakeLlm { address, requests }
    }

    fn replying(body: &'static str) -> FakeLlm {
        FakeLlm::start(200, body, Duration::ZERO)
    }

    /// The settings that point `causeway` at this server.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "CAUSEWAY_LLM_BASE_URL",
                format!("http://{}/v1", self.address),
            ),
            ("CAUSEWAY_LLM_API_KEY", "test-key".into()),
            ("CAUSEWAY_LLM_MODEL", "recorded-model".into()),
        ]
    }

    fn requests(&self) -> Vec<Value> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

/// Reads one HTTP/1.1 request (head, then the body by its Content-Length) and
/// writes the reply; a request elsewhere than the completions path gets a 404.
fn answer(
    mut stream: TcpStream,
    status: u16,
    body: &str,
    delay: Duration,
    requests: &Mutex<Vec<Value>>,
) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut request_body = received.split_off(head_end + 4);
    while request_body.len() < length {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => request_body.extend_from_slice(&buffer[..read]),
        }
    }
    let (status, body) = if head.starts_with("post /v1/chat/completions ") {
        if let Ok(request) = serde_json::from_slice(&request_body) {
            requests.lock().expect("not poisoned").push(request);
        }
        (status, body)
    } else {
        (404, r#"{"error": {"message": "not found"}}"#)
    };
    std::thread::sleep(delay);
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Internal Server Error",
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Runs `causeway draft` with `args`, with no LLM settings but those of `llm`.
fn draft(args: &[&str], llm: Option<&FakeLlm>) -> Run {
    let mut all = vec!["draft"];
    all.extend_from_slice(args);
    let mut command = causeway_command(&all, &[]);
    for name in LLM_ENV {
        command.env_remove(name);
    }
    if let Some(llm) = llm {
        command.envs(llm.env());
    }
    command.output().expect("causeway runs").into()
}

/// tv_spend → store_visits → sales ← price: the collider at sales is the data's to
/// orient, tv_spend — store_visits is not.
fn retail_csv(n: usize, seed: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut normal = || -> f64 { rng.sample(StandardNormal) };
    let mut csv = String::from("tv_spend,store_visits,price,sales\n");
    for _ in 0..n {
        let (tv, price) = (normal(), normal());
        let visits = 0.8 * tv + normal();
        let sales = 0.7 * visits - 0.6 * price + normal();
        csv.push_str(&format!("{tv:.6},{visits:.6},{price:.6},{sales:.6}\n"));
    }
    csv
}

fn edge_list(report: &Value, key: &str) -> Vec<String> {
    report[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` in {report}"))
        .iter()
        .map(|e| {
            format!(
                "{}->{}",
                e["source"].as_str().unwrap(),
                e["target"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn draft_writes_priors_that_discover_accepts() {
    let dir = scratch_dir("draft_good");
    let doc = write_file(&dir, "handbook.txt", DOC);
    let data = write_file(&dir, "data.csv", &retail_csv(2_000, 7));
    let priors = dir.join("priors.csv").to_string_lossy().into_owned();
    let llm = FakeLlm::replying(GOOD);
    let run = draft(
        &["--doc", &doc, "--variables", &data, "--output", &priors],
        Some(&llm),
    );
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "", "the priors go to --output");
    let written = std::fs::read_to_string(&priors).expect("priors written");
    assert_eq!(
        written,
        "source,target,confidence,quote\n\
         tv_spend,store_visits,0.9,Our TV advertising brings shoppers into the stores\n\
         store_visits,sales,0.8,more store visits mean higher sales\n\
         price,sales,0.85,A higher shelf price lowers sales.\n"
    );
    assert!(
        run.stderr
            .contains("priors for `causeway discover --priors`")
            && run.stderr.contains("not a model"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("TV spend -> tv_spend (ignoring case and separators)"),
        "{}",
        run.stderr
    );

    // The request: the configured model and key, the forced function, the
    // document as the user message and the data's columns in the instructions.
    let requests = llm.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request["model"], "recorded-model");
    assert_eq!(request["tool_choice"]["function"]["name"], "causal_draft");
    assert_eq!(request["messages"][1]["content"], DOC);
    let system = request["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("Columns: tv_spend, store_visits, price, sales"),
        "{system}"
    );

    // discover reads the file as it is and lets the prior orient the edge the
    // data leave undirected.
    let discovered = causeway(&[
        "discover", "--data", &data, "--priors", &priors, "--format", "json",
    ]);
    assert_eq!(discovered.code, 0, "stderr: {}", discovered.stderr);
    let cpdag: Value = serde_json::from_str(&discovered.stdout).expect("JSON");
    let tv = cpdag["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "tv_spend" && e["target"] == "store_visits")
        .unwrap_or_else(|| panic!("no tv_spend -> store_visits in {cpdag}"));
    assert_eq!(tv["oriented"], true);
    assert_eq!(tv["orientation"], "prior");
}

#[test]
fn draft_without_variables_prints_snake_case_priors_on_stdout() {
    let dir = scratch_dir("draft_stdout");
    let doc = write_file(&dir, "handbook.txt", DOC);
    let llm = FakeLlm::replying(GOOD);
    let run = draft(&["--doc", &doc], Some(&llm));
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines[0], "source,target,confidence,quote");
    assert!(
        lines[1].starts_with("tv_spend,store_visits,0.9,"),
        "{lines:?}"
    );
    assert!(lines[3].starts_with("price,sales,0.85,"), "{lines:?}");
    let system = llm.requests()[0]["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!system.contains("Columns:"), "{system}");
}

#[test]
fn draft_rejects_an_invented_quote() {
    let dir = scratch_dir("draft_invented_quote");
    let doc = write_file(&dir, "handbook.txt", DOC);
    let llm = FakeLlm::replying(INVENTED_QUOTE);
    let run = draft(&["--doc", &doc, "--format", "json"], Some(&llm));
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON on stdout");
    assert_eq!(report["kind"], "priors for `causeway discover --priors`");
    assert_eq!(edge_list(&report, "accepted"), ["tv_spend->store_visits"]);
    assert_eq!(edge_list(&report, "rejected"), ["TV spend->Sales"]);
    let rejected = &report["rejected"][0];
    assert_eq!(rejected["reason"], "quote-not-in-document");
    assert_eq!(
        rejected["quote"],
        "TV advertising doubles sales within a week"
    );
    assert!(
        rejected["message"]
            .as_str()
            .unwrap()
            .contains("does not occur in the document"),
        "{rejected}"
    );
    let csv = report["priors_csv"].as_str().unwrap();
    assert!(!csv.contains("sales"), "{csv}");
}

#[test]
fn draft_reports_a_variable_no_column_matches() {
    let dir = scratch_dir("draft_unmatched");
    let doc = write_file(&dir, "handbook.txt", DOC);
    // A header alone is enough to name the variables.
    let data = write_file(&dir, "columns.csv", "tv_spend,store_visits,price,sales\n");
    let priors = dir.join("priors.csv").to_string_lossy().into_owned();
    let llm = FakeLlm::replying(UNMATCHED);
    let args = ["--doc", &doc, "--variables", &data, "--output", &priors];
    let run = draft(&args, Some(&llm));
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert!(
        run.stderr
            .contains("competitor price -> Sales: `competitor price` matches no column"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Not among the columns of ")
            && run.stderr.contains(": competitor price"),
        "{}",
        run.stderr
    );
    let written = std::fs::read_to_string(&priors).expect("priors written");
    assert_eq!(
        written,
        "source,target,confidence,quote\nprice,sales,0.85,A higher shelf price lowers sales.\n"
    );

    let mut json_args = args.to_vec();
    json_args.extend(["--format", "json"]);
    let report: Value = serde_json::from_str(&draft(&json_args, Some(&llm)).stdout).unwrap();
    assert_eq!(
        report["unmatched_variables"],
        serde_json::json!(["competitor price"])
    );
    assert_eq!(report["rejected"][0]["reason"], "unmatched-variable");
    assert_eq!(report["output"], priors.as_str());
}

/// Runs `draft` on the handbook and checks for exit code 2 with one line of
/// standard error holding `expected`.
fn assert_fails(dir: &str, args: &[&str], llm: Option<&FakeLlm>, expected: &str) {
    let dir = scratch_dir(dir);
    let doc = write_file(&dir, "handbook.txt", DOC);
    let mut all = vec!["--doc", doc.as_str()];
    all.extend_from_slice(args);
    let run = draft(&all, llm);
    assert_eq!(run.code, 2, "stdout: {} stderr: {}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "", "nothing is written on failure");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains(expected), "{}", run.stderr);
}

#[test]
fn draft_refuses_a_malformed_reply() {
    let llm = FakeLlm::replying(MALFORMED);
    assert_fails("draft_malformed", &[], Some(&llm), "malformed JSON");
}

#[test]
fn draft_fails_on_a_server_error() {
    let llm = FakeLlm::start(500, SERVER_ERROR, Duration::ZERO);
    assert_fails(
        "draft_server_error",
        &[],
        Some(&llm),
        "answered with an error (500 Internal Server Error: The server is overloaded.)",
    );
}

#[test]
fn draft_fails_when_the_model_is_slower_than_the_timeout() {
    let llm = FakeLlm::start(200, GOOD, Duration::from_secs(5));
    assert_fails(
        "draft_timeout",
        &["--timeout", "0.3"],
        Some(&llm),
        "did not answer within 0.3 s",
    );
}

#[test]
fn draft_without_an_llm_names_the_settings() {
    assert_fails(
        "draft_no_llm",
        &[],
        None,
        "no language model is configured: set CAUSEWAY_LLM_BASE_URL and CAUSEWAY_LLM_MODEL",
    );
}

#[test]
fn draft_fails_when_no_edge_is_usable() {
    // The good reply against another document: none of its quotes occur there.
    let dir = scratch_dir("draft_nothing_usable");
    let doc = write_file(
        &dir,
        "other.txt",
        "Machine maintenance: oil the bearings weekly.\n",
    );
    let llm = FakeLlm::replying(GOOD);
    let run = draft(&["--doc", &doc], Some(&llm));
    assert_eq!(run.code, 2, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .contains("none of the 3 edges the language model proposed is usable (3 with a quote not in the document)"),
        "{}",
        run.stderr
    );
}

#[test]
fn draft_refuses_bad_documents() {
    let dir = scratch_dir("draft_bad_docs");
    let empty = write_file(&dir, "empty.txt", " \n\n");
    let large = write_file(&dir, "large.txt", &"word ".repeat(40_001));
    let missing = dir.join("missing.txt").to_string_lossy().into_owned();
    for (doc, expected) in [
        (empty.as_str(), "the document is empty"),
        (large.as_str(), "longer than 200000 characters"),
        (missing.as_str(), "cannot read"),
    ] {
        // No LLM is needed to refuse them: the document is read first.
        let run = draft(&["--doc", doc], None);
        assert_eq!(run.code, 2, "{doc}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(run.stderr.contains(expected), "{doc}: {}", run.stderr);
    }
}
