//! Unit tests of the Slack bot's pure parts (signatures, message text, Block Kit
//! layout) and of its HTTP client against a scripted local server. The handlers
//! themselves are exercised end to end, with the binary as a process, in
//! `tests/slack.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};
use serde_json::{json, Value};

use super::*;
use crate::web::chat::{AnswerView, NarrativeView, PathView, RowView};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const NOW: u64 = 1_531_420_618;

/// The worked example of Slack's "Verifying requests from Slack" page: its secret,
/// timestamp, body and signature (checked against Python's `hmac` as well).
const SLACK_EXAMPLE_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
const SLACK_EXAMPLE_SIGNATURE: &str =
    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

fn headers(timestamp: Option<&str>, signature: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(timestamp) = timestamp {
        headers.insert(
            "X-Slack-Request-Timestamp",
            HeaderValue::from_str(timestamp).unwrap(),
        );
    }
    if let Some(signature) = signature {
        headers.insert(
            "X-Slack-Signature",
            HeaderValue::from_str(signature).unwrap(),
        );
    }
    headers
}

#[test]
fn signing_matches_slacks_worked_example() {
    let secret = Secret::new(SECRET);
    assert_eq!(
        sign(&secret, &NOW.to_string(), SLACK_EXAMPLE_BODY.as_bytes()),
        SLACK_EXAMPLE_SIGNATURE
    );
    let headers = headers(Some(&NOW.to_string()), Some(SLACK_EXAMPLE_SIGNATURE));
    assert_eq!(
        verify(&secret, &headers, SLACK_EXAMPLE_BODY.as_bytes(), NOW),
        Ok(())
    );
}

/// A name, the request's headers and body, and what verification must say.
type Case<'a> = (&'a str, HeaderMap, &'a [u8], Result<(), VerifyError>);

#[test]
fn only_a_request_signed_with_the_secret_within_five_minutes_is_accepted() {
    let secret = Secret::new(SECRET);
    let body = b"token=x&text=cut+tv+ads+by+10%25&response_url=https%3A%2F%2Fhooks.slack.com%2Fx";
    let signed_at = |timestamp: u64| sign(&secret, &timestamp.to_string(), body);
    let now = NOW.to_string();
    let valid = signed_at(NOW);
    let by_other_secret = sign(&Secret::new("another secret"), &now, body);
    let stale = NOW - MAX_AGE_SECS - 1;
    let future = NOW + MAX_AGE_SECS + 1;
    let edge = NOW - MAX_AGE_SECS;
    let mut altered = body.to_vec();
    altered[body.len() - 1] = b'y';
    // The last character of the hex digest changed: same length, wrong value.
    let mut flipped = valid.clone();
    let last = if flipped.ends_with('0') { "1" } else { "0" };
    flipped.replace_range(flipped.len() - 1.., last);

    let cases: Vec<Case> = vec![
        ("valid", headers(Some(&now), Some(&valid)), body, Ok(())),
        (
            "valid, five minutes old to the second",
            headers(Some(&edge.to_string()), Some(&signed_at(edge))),
            body,
            Ok(()),
        ),
        (
            "signed with another secret",
            headers(Some(&now), Some(&by_other_secret)),
            body,
            Err(VerifyError::BadSignature),
        ),
        (
            "one hex digit changed",
            headers(Some(&now), Some(&flipped)),
            body,
            Err(VerifyError::BadSignature),
        ),
        (
            "digest without the v0= prefix",
            headers(Some(&now), Some(&valid[3..])),
            body,
            Err(VerifyError::BadSignature),
        ),
        (
            "signature not hex",
            headers(Some(&now), Some("v0=zz")),
            body,
            Err(VerifyError::BadSignature),
        ),
        (
            "a sign where a hex digit belongs",
            headers(Some(&now), Some(&format!("v0=+{}", &valid[4..]))),
            body,
            Err(VerifyError::BadSignature),
        ),
        (
            "signature cut short",
            headers(Some(&now), Some(&valid[..valid.len() - 2])),
            body,
            Err(VerifyError::BadSignature),
        ),
        (
            "body altered after signing",
            headers(Some(&now), Some(&valid)),
            &altered,
            Err(VerifyError::BadSignature),
        ),
        (
            "timestamp changed after signing",
            headers(Some(&(NOW - 1).to_string()), Some(&valid)),
            body,
            Err(VerifyError::BadSignature),
        ),
        (
            "stale: signed over five minutes ago",
            headers(Some(&stale.to_string()), Some(&signed_at(stale))),
            body,
            Err(VerifyError::Stale),
        ),
        (
            "far future",
            headers(Some(&future.to_string()), Some(&signed_at(future))),
            body,
            Err(VerifyError::Stale),
        ),
        (
            "timestamp not a number",
            headers(Some("yesterday"), Some(&valid)),
            body,
            Err(VerifyError::BadTimestamp),
        ),
        (
            "negative timestamp",
            headers(Some("-5"), Some(&valid)),
            body,
            Err(VerifyError::BadTimestamp),
        ),
        (
            "no timestamp header",
            headers(None, Some(&valid)),
            body,
            Err(VerifyError::MissingTimestamp),
        ),
        (
            "no signature header",
            headers(Some(&now), None),
            body,
            Err(VerifyError::MissingSignature),
        ),
        (
            "no headers at all",
            headers(None, None),
            body,
            Err(VerifyError::MissingTimestamp),
        ),
    ];
    for (name, headers, body, expected) in cases {
        assert_eq!(verify(&secret, &headers, body, NOW), expected, "{name}");
    }
}

#[test]
fn refusals_never_show_the_secret() {
    let secret = Secret::new(SECRET);
    let settings = SlackSettings {
        signing_secret: secret.clone(),
        bot_token: Some(Secret::new("xoxb-very-secret")),
        api_url: SlackSettings::DEFAULT_API_URL.into(),
    };
    let printed = format!("{settings:?}");
    assert!(!printed.contains(SECRET) && !printed.contains("xoxb-very-secret"));
    for error in [
        VerifyError::MissingTimestamp,
        VerifyError::MissingSignature,
        VerifyError::BadTimestamp,
        VerifyError::Stale,
        VerifyError::BadSignature,
    ] {
        assert!(!error.to_string().contains(SECRET), "{error}");
        assert!(!format!("{error:?}").contains(SECRET), "{error:?}");
    }
}

#[test]
fn clean_text_keeps_what_the_person_typed() {
    for (slack, typed) in [
        (
            "<@U123> if we cut TV ads by 10%, what happens to sales?",
            "if we cut TV ads by 10%, what happens to sales?",
        ),
        ("<@U123|causeway>   and if by 20%?", "and if by 20%?"),
        ("hi <@U1> <@U2>  there", "hi there"),
        ("<!here> raise prices by 5%", "raise prices by 5%"),
        ("<!subteam^S1|@analysts> cut tv", "cut tv"),
        ("see <#C123|marketing> now", "see #marketing now"),
        ("see <#C123> now", "see #C123 now"),
        (
            "read <https://example.com/a|the plan> first",
            "read the plan first",
        ),
        ("read <https://example.com/a>", "read https://example.com/a"),
        ("tv &amp; radio &lt; 5 &gt; 3", "tv & radio < 5 > 3"),
        // `&amp;lt;` is a typed "&lt;", not a "<".
        ("a &amp;lt; b", "a &lt; b"),
        ("unclosed <tag stays", "unclosed <tag stays"),
        (
            "<@U123> 如果把電視廣告減少10%，門市銷售會怎樣？",
            "如果把電視廣告減少10%，門市銷售會怎樣？",
        ),
        ("  \n ", ""),
        ("<@U123>", ""),
    ] {
        assert_eq!(clean_text(slack), typed, "{slack:?}");
    }
}

#[test]
fn a_bracketed_first_word_names_the_model() {
    assert_eq!(
        split_model("[factory] raise the safety factor by 5%"),
        (Some("factory".into()), "raise the safety factor by 5%")
    );
    assert_eq!(
        split_model(" [retail@3]cut tv ads"),
        (Some("retail@3".into()), "cut tv ads")
    );
    assert_eq!(split_model("cut tv ads [a]"), (None, "cut tv ads [a]"));
    assert_eq!(split_model("[two words] cut"), (None, "[two words] cut"));
    assert_eq!(split_model("[] cut"), (None, "[] cut"));
}

fn row(name: &str, label: &str, change: &str, paths: &[(&str, &str)]) -> RowView {
    RowView {
        name: name.into(),
        label: label.into(),
        baseline: "1,200".into(),
        after: "1,180".into(),
        change: change.into(),
        change_pct: "−1.7%".into(),
        interval: "−24.1 to −16.3".into(),
        direction: "down",
        paths: paths
            .iter()
            .map(|(text, share)| PathView {
                text: (*text).into(),
                share: (*share).into(),
            })
            .collect(),
    }
}

fn view(rows: Vec<RowView>) -> AnswerView {
    AnswerView {
        id: "abc".into(),
        headline: "Cutting TV advertising by 10% lowers store sales by 20 (1.7%).".into(),
        kind: "interventional",
        kind_sentence: String::new(),
        model_id: "retail@1".into(),
        model_link: "/api/v1/models/retail@1".into(),
        translator: "offline".into(),
        note: None,
        rows,
        path_method: String::new(),
        svg: String::new(),
        unaffected: vec!["returns".into()],
        warnings: vec!["tv_spend × 0.9 stays inside the observed range".into()],
        assumptions: vec!["no unobserved common cause".into()],
        narrative: None,
    }
}

#[test]
fn a_checked_narrative_is_shown_with_its_check() {
    let mut view = view(Vec::new());
    view.narrative = Some(NarrativeView {
        text: "Cutting TV ads lowers store sales by 20 <mostly through visits>.".into(),
        summary: "checked against the model: 2 claims, 1 kept, 0 corrected, 1 removed".into(),
        changes: vec!["removed “Visits raise TV.”: reversed".into()],
    });
    let message = answer_message(&view, "https://causeway.example.com/answers/abc");
    let texts = section_texts(&message);
    assert_eq!(
        texts[1],
        "Cutting TV ads lowers store sales by 20 &lt;mostly through visits&gt;."
    );
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(
        blocks[3]["elements"][0]["text"],
        "checked against the model: 2 claims, 1 kept, 0 corrected, 1 removed"
    );
    // An answer whose narrative lost every sentence shows none.
    view.narrative.as_mut().unwrap().text.clear();
    let message = answer_message(&view, "https://causeway.example.com/answers/abc");
    assert!(!section_texts(&message)
        .iter()
        .any(|t| t.contains("Cutting TV ads")));
}

/// The mrkdwn texts of a message's sections, in order (fields joined by `|`).
fn section_texts(message: &Value) -> Vec<String> {
    message["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "section")
        .map(|b| match b["fields"].as_array() {
            Some(fields) => fields
                .iter()
                .map(|f| f["text"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join("|"),
            None => b["text"]["text"].as_str().unwrap().to_string(),
        })
        .collect()
}

#[test]
fn an_answer_is_laid_out_as_block_kit() {
    let view = view(vec![row(
        "store_sales",
        "store sales",
        "−20.02",
        &[
            (
                "TV advertising → store visits → store sales",
                "75% of the change",
            ),
            ("TV advertising → store sales", "25% of the change"),
        ],
    )]);
    let message = answer_message(&view, "https://causeway.example.com/answers/abc");
    assert_eq!(message["text"], view.headline.as_str());
    let blocks = message["blocks"].as_array().unwrap();
    assert_eq!(blocks[1]["type"], "context");
    assert_eq!(
        blocks[1]["elements"][0]["text"],
        "interventional answer · model `retail@1` · read by the offline parser"
    );
    for block in blocks {
        let kind = block["type"].as_str().unwrap();
        assert!(kind == "section" || kind == "context", "{block}");
        if block.get("text").is_some() {
            assert_eq!(block["text"]["type"], "mrkdwn", "{block}");
        }
    }
    assert_eq!(
        section_texts(&message),
        [
            "*Cutting TV advertising by 10% lowers store sales by 20 (1.7%).*",
            "*store sales*\n−20.02 (−1.7%)\n95% CI −24.1 to −16.3\n1,200 → 1,180",
            "*Unaffected* (no causal path reaches them): returns",
            "*Main path*\n• store sales: TV advertising → store visits → store sales (75% of the change)",
            "*Warnings*\n:warning: tv_spend × 0.9 stays inside the observed range",
            "<https://causeway.example.com/answers/abc|Full answer: every path, the picture and the assumptions>",
        ]
    );
}

#[test]
fn block_kit_limits_hold_for_many_kpis_and_markup_in_names() {
    let rows: Vec<RowView> = (0..45)
        .map(|i| row(&format!("k{i}"), &format!("KPI <{i}> & co"), "+1", &[]))
        .collect();
    let mut view = view(rows);
    view.unaffected.clear();
    view.warnings.clear();
    view.headline = "x".repeat(5_000);
    let message = answer_message(&view, "http://127.0.0.1:1/answers/abc");
    let blocks = message["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50);
    let field_sections: Vec<&Value> = blocks.iter().filter(|b| b["fields"].is_array()).collect();
    assert_eq!(field_sections.len(), MAX_FIELD_SECTIONS);
    for section in &field_sections {
        assert!(section["fields"].as_array().unwrap().len() <= 10);
    }
    assert_eq!(
        field_sections[0]["fields"][0]["text"]
            .as_str()
            .unwrap()
            .lines()
            .next(),
        Some("*KPI &lt;0&gt; &amp; co*")
    );
    let texts = section_texts(&message);
    assert!(texts.iter().all(|t| t.chars().count() <= 3000));
    assert!(texts.contains(&"…and 5 more KPIs on the full answer page.".to_string()));
    // No paths, no warnings, nothing unaffected: no empty sections for them.
    assert!(!texts.iter().any(|t| t.starts_with("*Main path*")
        || t.starts_with("*Warnings*")
        || t.starts_with("*Unaffected*")));
    assert_eq!(message["text"].as_str().unwrap().chars().count(), 3000);
}

#[test]
fn ephemeral_messages_are_for_the_asker_only() {
    assert_eq!(
        ephemeral("Which KPI?"),
        json!({"response_type": "ephemeral", "text": "Which KPI?"})
    );
}

/// Reads one HTTP request (head and `Content-Length` body) from `stream`.
async fn read_request(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                return request;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return request,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A local HTTP server that answers each request with the next of `replies`
/// (status, extra header lines, body) and, once they run out, reads requests but
/// never answers; it counts the requests it read.
async fn scripted_server(
    replies: Vec<(u16, &'static str, &'static str)>,
) -> (String, Arc<AtomicUsize>) {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        let mut replies = replies.into_iter();
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            read_request(&mut stream).await;
            seen.fetch_add(1, Ordering::SeqCst);
            match replies.next() {
                Some((status, header, body)) => {
                    let response = format!(
                        "HTTP/1.1 {status} X\r\n{header}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                }
                // Out of replies: hold the connection open and say nothing.
                None => {
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        drop(stream);
                    });
                }
            }
        }
    });
    (url, count)
}

fn quick_client(timeout: Duration) -> SlackClient {
    SlackClient::new(
        timeout,
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(10),
            max_retry_after: Duration::from_millis(50),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_retried_until_success() {
    let (url, count) = scripted_server(vec![
        (503, "", "busy"),
        (429, "Retry-After: 1\r\n", ""),
        (200, "Content-Type: application/json\r\n", r#"{"ok":true}"#),
    ])
    .await;
    let started = Instant::now();
    let reply = quick_client(Duration::from_secs(5))
        .post(&url, None, &json!({"text": "hi"}))
        .await
        .unwrap();
    assert_eq!(reply, json!({"ok": true}));
    assert_eq!(count.load(Ordering::SeqCst), 3);
    // The 429's Retry-After of a second was cut to the policy's 50 ms.
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_client_error_is_not_retried_and_a_plain_ok_is_a_string() {
    let (url, count) = scripted_server(vec![(404, "", "no_service"), (200, "", "ok")]).await;
    let client = quick_client(Duration::from_secs(5));
    let error = client.post(&url, None, &json!({})).await.unwrap_err();
    assert!(
        matches!(&error, SendError::Status { status: 404, body } if body == "no_service"),
        "{error}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 1);
    // response_url answers a bare `ok`, not JSON.
    let reply = client.post(&url, None, &json!({})).await.unwrap();
    assert_eq!(reply, Value::String("ok".into()));
}

#[tokio::test]
async fn a_silent_server_is_given_up_on_after_the_timeout_of_each_try() {
    let (url, count) = scripted_server(vec![]).await;
    let started = Instant::now();
    let error = quick_client(Duration::from_millis(200))
        .post(&url, Some(&Secret::new("xoxb-1")), &json!({}))
        .await
        .unwrap_err();
    assert!(matches!(error, SendError::Transport(_)), "{error}");
    assert!(!error.to_string().contains("xoxb-1"));
    assert_eq!(count.load(Ordering::SeqCst), 3);
    // Three tries of 200 ms and two short waits, well under Slack's patience.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
