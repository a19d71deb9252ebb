//! The Slack bot against `causeway serve` as a process, on the retail model fitted
//! by `causeway fit`. Requests are signed by the test with its own HMAC (not the
//! server's code), and a local [`Receiver`] plays Slack's side: it is both the
//! slash commands' `response_url` and the Web API (`slack_api_url` points at it).
//! Every answer is checked against `POST /api/v1/whatif` for the same question.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use causeway_estimators::format::number;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::{form, http_request_with_headers, scratch_dir, write_file, Response, Server};
use crate::web_chat::fit_retail;

const SECRET: &str = "e2e-signing-secret-8f742231b10e";
const TOKEN: &str = "xoxb-e2e-bot-token";
const ENGLISH: &str = "If we cut TV ads by 10%, what happens to store sales?";
const CHINESE: &str = "如果把電視廣告減少10%，門市銷售會怎樣？";
/// How long an answer may take to arrive: fitting the bootstrap on a loaded debug
/// build is slow, but Slack's `response_url` stays valid for half an hour.
const ANSWER_WAIT: Duration = Duration::from_secs(120);

/// One request that reached the receiver.
#[derive(Debug)]
struct Caught {
    path: String,
    /// Header names in lower case.
    headers: Vec<(String, String)>,
    body: Value,
}

impl Caught {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A local stand-in for Slack: records every request and answers `{"ok": true}`.
struct Receiver {
    /// `127.0.0.1:PORT`.
    address: String,
    caught: mpsc::Receiver<Caught>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let address = listener.local_addr().unwrap().to_string();
        let (sender, caught) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if let Some(request) = read_request(&mut stream) {
                    let reply = r#"{"ok":true}"#;
                    let _ = stream.write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                            reply.len()
                        )
                        .as_bytes(),
                    );
                    if sender.send(request).is_err() {
                        return;
                    }
                }
            }
        });
        Receiver { address, caught }
    }

    /// The next request, waiting at most `wait`.
    fn next(&self, wait: Duration) -> Option<Caught> {
        self.caught.recv_timeout(wait).ok()
    }
}

/// Reads one HTTP/1.1 request with a `Content-Length` body.
fn read_request(stream: &mut TcpStream) -> Option<Caught> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..n]);
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end, length);
        }
    };
    while bytes.len() < head_end + 4 + length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&bytes[..head_end]).into_owned();
    let mut lines = head.lines();
    let path = lines.next()?.split_whitespace().nth(1)?.to_string();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = &bytes[head_end + 4..head_end + 4 + length];
    let body = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("Slack was sent non-JSON ({e}): {body:?}"));
    Some(Caught {
        path,
        headers,
        body,
    })
}

/// Fits the retail model and serves it with Slack configured (in a config file)
/// against `receiver`.
fn slack_server(test: &str, receiver: &Receiver) -> Server {
    let dir = scratch_dir(test);
    let data_dir = fit_retail(&dir);
    let config = write_file(
        &dir,
        "causeway.toml",
        &format!(
            "slack_signing_secret = \"{SECRET}\"\nslack_bot_token = \"{TOKEN}\"\nslack_api_url = \"http://{}/api\"\n",
            receiver.address
        ),
    );
    Server::start(&["--config", &config, "--data-dir", &data_dir])
}

fn now() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

/// Slack's v0 signature of `body` at `timestamp` with `secret`.
fn signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v0={digest}")
}

/// Posts `body` to `path` with the given Slack headers (`None`: left out).
fn post_slack(
    server: &Server,
    path: &str,
    content_type: &str,
    body: &str,
    timestamp: Option<&str>,
    signature: Option<&str>,
) -> Response {
    let mut headers = Vec::new();
    if let Some(timestamp) = timestamp {
        headers.push(("X-Slack-Request-Timestamp", timestamp));
    }
    if let Some(signature) = signature {
        headers.push(("X-Slack-Signature", signature));
    }
    http_request_with_headers(
        &server.address,
        "POST",
        path,
        &headers,
        Some((content_type, body)),
    )
}

/// Posts `body` to `path`, signed now with the right secret.
fn post_signed(server: &Server, path: &str, content_type: &str, body: &str) -> Response {
    let timestamp = now();
    let signature = signature(SECRET, &timestamp, body);
    post_slack(
        server,
        path,
        content_type,
        body,
        Some(&timestamp),
        Some(&signature),
    )
}

/// A `/whatif` slash-command body, answered at `response_path` on `receiver`.
fn slash_command(receiver: &Receiver, user: &str, text: &str, response_path: &str) -> String {
    let response_url = format!("http://{}{response_path}", receiver.address);
    form(&[
        ("token", "legacy-verification-token"),
        ("team_id", "T0001"),
        ("team_domain", "example"),
        ("channel_id", "C0001"),
        ("channel_name", "marketing"),
        ("user_id", user),
        ("user_name", "pm"),
        ("command", "/whatif"),
        ("text", text),
        ("response_url", &response_url),
        ("trigger_id", "1.2.3"),
    ])
}

/// The answer `POST /api/v1/whatif` gives to `question`.
fn api_answer(server: &Server, question: &str) -> Value {
    let response = server.post(
        "/api/v1/whatif",
        "application/json",
        &json!({ "question": question }).to_string(),
    );
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

/// A number as the answer shows a change: `−` or `+`, then the magnitude.
fn signed(value: f64) -> String {
    let sign = if value < 0.0 {
        "−"
    } else if value > 0.0 {
        "+"
    } else {
        ""
    };
    format!("{sign}{}", number(value.abs()))
}

/// The Block Kit field the answer must show for the store-sales effect of the API's
/// `answer`: its change, percent change, interval, baseline and value after.
fn expected_sales_field(answer: &Value) -> String {
    let effect = answer["effects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["target"] == "store_sales")
        .unwrap_or_else(|| panic!("no store_sales effect in {answer}"));
    let value = |key: &str| {
        effect[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {effect}"))
    };
    let percent = value("change_pct");
    let percent_sign = if percent < 0.0 { "−" } else { "+" };
    format!(
        "*store sales*\n{} ({percent_sign}{:.1}%)\n95% CI {} to {}\n{} → {}",
        signed(value("change")),
        percent.abs(),
        signed(value("ci_low")),
        signed(value("ci_high")),
        number(value("baseline")),
        number(value("intervened")),
    )
}

/// The texts of a Block Kit message's KPI fields.
fn fields(message: &Value) -> Vec<String> {
    message["blocks"]
        .as_array()
        .unwrap_or_else(|| panic!("no blocks in {message}"))
        .iter()
        .filter_map(|b| b["fields"].as_array())
        .flatten()
        .map(|f| f["text"].as_str().unwrap().to_string())
        .collect()
}

/// The path of the answer page the message links to, checked to be on `server`.
fn answer_link(server: &Server, message: &Value) -> String {
    let text = message.to_string();
    let prefix = format!("<http://{}/answers/", server.address);
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no link to {prefix} in {text}"));
    let rest = &text[start + prefix.len()..];
    let id = &rest[..rest.find('|').expect("a link label")];
    format!("/answers/{id}")
}

#[test]
fn a_signed_slash_command_is_acknowledged_at_once_and_answered_with_the_api_numbers() {
    let receiver = Receiver::start();
    let server = slack_server("slack_command", &receiver);

    for (user, question) in [("U0001", ENGLISH), ("U0002", CHINESE)] {
        let path = format!("/commands/{user}");
        let body = slash_command(&receiver, user, question, &path);
        let started = Instant::now();
        let ack = post_signed(
            &server,
            "/slack/commands",
            "application/x-www-form-urlencoded",
            &body,
        );
        // Slack gives up after three seconds; the answer comes later.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(ack.status, 200, "{}", ack.body);
        let ack = ack.json();
        assert_eq!(ack["response_type"], "ephemeral", "{ack}");
        assert!(
            ack["text"].as_str().unwrap().starts_with("Working on it"),
            "{ack}"
        );

        let caught = receiver
            .next(ANSWER_WAIT)
            .unwrap_or_else(|| panic!("no answer arrived for {question}"));
        assert_eq!(caught.path, path);
        assert_eq!(
            caught.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        // The bot token is for the Web API only, never sent to a response_url.
        assert_eq!(caught.header("authorization"), None);
        let message = caught.body;
        assert_eq!(message["response_type"], "in_channel", "{message}");

        let expected = api_answer(&server, question);
        assert_eq!(
            fields(&message),
            [expected_sales_field(&expected)],
            "{message}"
        );
        let text = message.to_string();
        // KPIs asked about that no path reaches are listed, as the API lists them.
        let unaffected = expected["unaffected"].as_array().unwrap();
        assert_eq!(
            text.contains("*Unaffected*"),
            !unaffected.is_empty(),
            "{text}"
        );
        assert!(text.contains("*Main path*"), "{text}");
        assert!(text.contains("model `retail@1`"), "{text}");

        // The link leads to the full answer, with the same numbers.
        let (status, page) = server.get(&answer_link(&server, &message));
        assert_eq!(status, 200, "{page}");
        let change = signed(expected["effects"][0]["change"].as_f64().unwrap());
        assert!(page.contains(&change), "{change} not in {page}");
    }
    assert!(receiver.next(Duration::from_secs(1)).is_none());
}

#[test]
fn requests_not_signed_by_slack_get_401_and_nothing_is_posted() {
    let receiver = Receiver::start();
    let server = slack_server("slack_refused", &receiver);
    let form = "application/x-www-form-urlencoded";
    let now = now();
    let stale = (now.parse::<u64>().unwrap() - 6 * 60).to_string();
    let future = (now.parse::<u64>().unwrap() + 6 * 60).to_string();

    let body = |name: &str| slash_command(&receiver, "U0001", ENGLISH, &format!("/refused/{name}"));
    let wrong = body("wrong-secret");
    let stale_body = body("stale");
    let future_body = body("future");
    let unsigned = body("unsigned");
    let no_timestamp = body("no-timestamp");
    let signed_original = body("original");
    let altered = signed_original.replace("cut", "raise");
    let cases: Vec<(&str, String, Option<String>, Option<String>)> = vec![
        (
            "wrong secret",
            wrong.clone(),
            Some(now.clone()),
            Some(signature("not the secret", &now, &wrong)),
        ),
        (
            "stale timestamp",
            stale_body.clone(),
            Some(stale.clone()),
            Some(signature(SECRET, &stale, &stale_body)),
        ),
        (
            "far-future timestamp",
            future_body.clone(),
            Some(future.clone()),
            Some(signature(SECRET, &future, &future_body)),
        ),
        ("no headers", unsigned, None, None),
        (
            "no timestamp",
            no_timestamp.clone(),
            None,
            Some(signature(SECRET, &now, &no_timestamp)),
        ),
        (
            "body altered after signing",
            altered,
            Some(now.clone()),
            Some(signature(SECRET, &now, &signed_original)),
        ),
    ];
    for (name, body, timestamp, signature) in &cases {
        let response = post_slack(
            &server,
            "/slack/commands",
            form,
            body,
            timestamp.as_deref(),
            signature.as_deref(),
        );
        assert_eq!(response.status, 401, "{name}: {}", response.body);
        assert_eq!(response.json()["error"]["code"], "bad_signature", "{name}");
    }
    // The events endpoint refuses the same way, the handshake included.
    let mention = json!({"type": "event_callback", "team_id": "T0001", "event": {
        "type": "app_mention", "user": "U0001", "channel": "C0001", "ts": "1.1",
        "text": format!("<@UBOT> {ENGLISH}")}})
    .to_string();
    let handshake = json!({"type": "url_verification", "challenge": "c"}).to_string();
    for body in [&mention, &handshake] {
        let response = post_slack(
            &server,
            "/slack/events",
            "application/json",
            body,
            Some(&now),
            Some(&signature("not the secret", &now, body)),
        );
        assert_eq!(response.status, 401, "{}", response.body);
        assert!(!response.body.contains("\"c\""), "{}", response.body);
    }

    // A signed request is answered, so the receiver works; it is the only request
    // the receiver ever sees.
    let good = slash_command(&receiver, "U0001", ENGLISH, "/accepted");
    let ack = post_signed(&server, "/slack/commands", form, &good);
    assert_eq!(ack.status, 200, "{}", ack.body);
    let caught = receiver
        .next(ANSWER_WAIT)
        .expect("the signed command is answered");
    assert_eq!(caught.path, "/accepted", "a refused request was answered");
    assert!(receiver.next(Duration::from_secs(2)).is_none());
}

#[test]
fn a_mention_after_the_url_verification_handshake_is_answered_in_its_thread() {
    let receiver = Receiver::start();
    let server = slack_server("slack_mention", &receiver);
    let events = |body: &Value| {
        post_signed(
            &server,
            "/slack/events",
            "application/json",
            &body.to_string(),
        )
    };

    let handshake = events(&json!({
        "token": "legacy", "type": "url_verification",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    }));
    assert_eq!(handshake.status, 200, "{}", handshake.body);
    assert_eq!(
        handshake.json(),
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );

    let mention = json!({
        "token": "legacy", "team_id": "T0001", "api_app_id": "A0001",
        "type": "event_callback", "event_id": "Ev0001", "event_time": 1_700_000_000,
        "event": {
            "type": "app_mention", "user": "U0001", "channel": "C0001",
            "ts": "1700000000.000100", "event_ts": "1700000000.000100",
            "text": format!("<@U0BOT> {ENGLISH}")
        }
    });
    let started = Instant::now();
    let ack = events(&mention);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(ack.status, 200, "{}", ack.body);
    // Slack redelivers what it thinks was missed; the first delivery is answered
    // already, so a retry is acknowledged and not answered twice.
    let timestamp = now();
    let body = mention.to_string();
    let retry = http_request_with_headers(
        &server.address,
        "POST",
        "/slack/events",
        &[
            ("X-Slack-Request-Timestamp", &timestamp),
            ("X-Slack-Signature", &signature(SECRET, &timestamp, &body)),
            ("X-Slack-Retry-Num", "1"),
            ("X-Slack-Retry-Reason", "http_timeout"),
        ],
        Some(("application/json", &body)),
    );
    assert_eq!(retry.status, 200, "{}", retry.body);

    let caught = receiver.next(ANSWER_WAIT).expect("the mention is answered");
    assert_eq!(caught.path, "/api/chat.postMessage");
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(caught.header("authorization"), Some(bearer.as_str()));
    let message = caught.body;
    assert_eq!(message["channel"], "C0001", "{message}");
    assert_eq!(message["thread_ts"], "1700000000.000100", "{message}");
    let expected = api_answer(&server, ENGLISH);
    assert_eq!(
        fields(&message),
        [expected_sales_field(&expected)],
        "{message}"
    );

    // A question the parser cannot map is asked back, to its author only.
    let unclear = json!({
        "type": "event_callback", "team_id": "T0001",
        "event": {"type": "app_mention", "user": "U0002", "channel": "C0001",
                  "ts": "1700000001.000200",
                  "text": "<@U0BOT> What if we cut radio ads by 10%?"}
    });
    assert_eq!(events(&unclear).status, 200);
    let caught = receiver
        .next(ANSWER_WAIT)
        .expect("the clarification is posted");
    assert_eq!(caught.path, "/api/chat.postEphemeral");
    assert_eq!(caught.header("authorization"), Some(bearer.as_str()));
    assert_eq!(caught.body["user"], "U0002", "{}", caught.body);
    assert_eq!(caught.body["channel"], "C0001", "{}", caught.body);
    assert!(
        caught.body["text"].as_str().unwrap().contains("`tv_spend`"),
        "{}",
        caught.body
    );
    // Nothing else: the retried delivery was not answered.
    assert!(receiver.next(Duration::from_secs(1)).is_none());
}
