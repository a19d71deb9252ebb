//! The language-model translator against a local server that speaks the
//! chat-completions protocol and replays canned responses from
//! `backend/tests/data/llm/`: a good reply, an invented variable, target or
//! operation, malformed arguments, a body that is not JSON, an API error, and a
//! server slower than the timeout.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};

use super::*;
use crate::chat::query::tests::retail_model;
use crate::config::Secret;

const QUESTION: &str = "If we cut TV ads by 10%, what happens to store sales?";

/// What the fake server answers, and what it was asked.
#[derive(Clone)]
pub(in crate::chat) struct Replay {
    status: StatusCode,
    body: &'static str,
    delay: Duration,
    /// Each request's headers and JSON body, in order.
    pub(in crate::chat) requests: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
}

async fn completions(
    State(replay): State<Replay>,
    headers: HeaderMap,
    Json(request): Json<Value>,
) -> (StatusCode, [(&'static str, &'static str); 1], &'static str) {
    if let Ok(mut requests) = replay.requests.lock() {
        requests.push((headers, request));
    }
    tokio::time::sleep(replay.delay).await;
    (
        replay.status,
        [("content-type", "application/json")],
        replay.body,
    )
}

/// Starts the fake server on 127.0.0.1:0 and a translator pointed at it (also
/// used by the narrative's tests).
pub(in crate::chat) async fn start(
    status: StatusCode,
    body: &'static str,
    delay: Duration,
    timeout: Duration,
) -> (LlmTranslator, Replay) {
    let replay = Replay {
        status,
        body,
        delay,
        requests: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/chat/completions", post(completions))
        .with_state(replay.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let translator = LlmTranslator::new(&LlmSettings {
        base_url: format!("http://{addr}/v1"),
        api_key: Secret::new("test-key"),
        model: "recorded-model".into(),
        timeout,
    })
    .unwrap();
    (translator, replay)
}

async fn ask(body: &'static str) -> (Translation, Replay) {
    let (translator, replay) =
        start(StatusCode::OK, body, Duration::ZERO, Duration::from_secs(5)).await;
    let translation = translator
        .translate(QUESTION, &retail_model(), &Conversation::new())
        .await;
    (translation, replay)
}

fn offline_answer() -> Parsed {
    OfflineTranslator
        .translate_now(QUESTION, &retail_model(), &Conversation::new())
        .parsed
}

#[tokio::test]
async fn a_good_reply_becomes_the_query() {
    let (translation, replay) = ask(include_str!("../../../tests/data/llm/good.json")).await;
    let expected = WhatIfQuery {
        targets: Some(vec!["sales".into()]),
        ..WhatIfQuery::new(vec![Intervention::new("tv_spend", Op::Scale, 0.9)])
    };
    assert_eq!(translation.parsed, Parsed::Query(expected));
    assert_eq!(translation.translator, TranslatorKind::Llm);
    assert_eq!(translation.note, None);
    let json = serde_json::to_value(&translation).unwrap();
    assert_eq!(json["translator"], "llm");

    // The request: the configured model and key, the question, and a function
    // whose schema enumerates exactly the model's variables and the three ops.
    let requests = replay.requests.lock().unwrap();
    let (headers, request) = &requests[0];
    assert_eq!(headers["authorization"], "Bearer test-key");
    assert_eq!(request["model"], "recorded-model");
    assert_eq!(request["messages"][1]["content"], QUESTION);
    assert_eq!(request["tool_choice"]["function"]["name"], FUNCTION);
    let parameters = &request["tools"][0]["function"]["parameters"];
    let item = &parameters["properties"]["interventions"]["items"]["properties"];
    let model = retail_model();
    let names: Vec<&str> = model.variables.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(item["variable"]["enum"], json!(names));
    assert_eq!(item["op"]["enum"], json!(["set", "scale", "shift"]));
    assert_eq!(
        parameters["properties"]["targets"]["items"]["enum"],
        json!(names)
    );
    let system = request["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("電視廣告"),
        "aliases are given to the model"
    );
}

#[tokio::test]
async fn an_invented_variable_is_refused_not_guessed() {
    let (translation, _) = ask(include_str!(
        "../../../tests/data/llm/invented_variable.json"
    ))
    .await;
    assert_eq!(translation.translator, TranslatorKind::Llm);
    let Parsed::Clarify {
        message,
        suggestions,
    } = translation.parsed
    else {
        panic!(
            "an invented variable was accepted: {:?}",
            translation.parsed
        );
    };
    assert!(message.contains("radio_spend"), "{message}");
    assert!(
        suggestions.contains(&"search_spend".to_string())
            || suggestions.contains(&"tv_spend".to_string()),
        "{suggestions:?}"
    );
}

#[tokio::test]
async fn an_invented_target_or_operation_is_refused() {
    for body in [
        include_str!("../../../tests/data/llm/invented_target.json"),
        include_str!("../../../tests/data/llm/invented_op.json"),
    ] {
        let (translation, _) = ask(body).await;
        assert_eq!(translation.translator, TranslatorKind::Llm);
        let Parsed::Clarify { message, .. } = &translation.parsed else {
            panic!("accepted: {:?}", translation.parsed);
        };
        assert!(
            message.contains("profit") || message.contains("multiply"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn the_models_own_clarifying_question_is_passed_on() {
    let (translation, _) = ask(include_str!("../../../tests/data/llm/clarify.json")).await;
    assert_eq!(translation.translator, TranslatorKind::Llm);
    let Parsed::Clarify {
        message,
        suggestions,
    } = translation.parsed
    else {
        panic!("expected a clarifying reply");
    };
    assert!(message.contains("TV or search"), "{message}");
    assert!(suggestions.contains(&"tv_spend".to_string()));
}

#[tokio::test]
async fn json_in_the_content_is_read_too() {
    let (translation, _) = ask(include_str!("../../../tests/data/llm/content_only.json")).await;
    assert_eq!(
        translation.parsed,
        Parsed::Query(WhatIfQuery::new(vec![Intervention::new(
            "search_spend",
            Op::Shift,
            -500.0
        )]))
    );
}

#[tokio::test]
async fn malformed_arguments_fall_back_to_the_offline_parser() {
    let (translation, _) = ask(include_str!(
        "../../../tests/data/llm/malformed_arguments.json"
    ))
    .await;
    assert_eq!(translation.translator, TranslatorKind::Offline);
    assert_eq!(translation.parsed, offline_answer());
    let note = translation.note.unwrap();
    assert!(note.contains("malformed JSON"), "{note}");
    assert!(note.contains("offline parser"), "{note}");
}

#[tokio::test]
async fn a_body_that_is_not_json_falls_back() {
    let (translation, _) = ask(include_str!("../../../tests/data/llm/not_json.txt")).await;
    assert_eq!(translation.translator, TranslatorKind::Offline);
    assert_eq!(translation.parsed, offline_answer());
    assert!(translation.note.is_some());
}

#[tokio::test]
async fn an_http_error_falls_back() {
    let (translator, _) = start(
        StatusCode::INTERNAL_SERVER_ERROR,
        include_str!("../../../tests/data/llm/server_error.json"),
        Duration::ZERO,
        Duration::from_secs(5),
    )
    .await;
    let translation = translator
        .translate(QUESTION, &retail_model(), &Conversation::new())
        .await;
    assert_eq!(translation.translator, TranslatorKind::Offline);
    assert_eq!(translation.parsed, offline_answer());
    let note = translation.note.unwrap();
    assert!(note.contains("error"), "{note}");
}

#[tokio::test]
async fn a_timeout_falls_back_in_time() {
    let (translator, _) = start(
        StatusCode::OK,
        include_str!("../../../tests/data/llm/good.json"),
        Duration::from_secs(5),
        Duration::from_millis(300),
    )
    .await;
    let started = Instant::now();
    let translation = translator
        .translate(QUESTION, &retail_model(), &Conversation::new())
        .await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
    assert_eq!(translation.translator, TranslatorKind::Offline);
    assert_eq!(translation.parsed, offline_answer());
    let note = translation.note.unwrap();
    assert!(note.contains("did not answer within 0.3 s"), "{note}");
}

#[tokio::test]
async fn an_unreachable_endpoint_falls_back() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let translator = LlmTranslator::new(&LlmSettings {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        api_key: Secret::default(),
        model: "m".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let translation = translator
        .translate(QUESTION, &retail_model(), &Conversation::new())
        .await;
    assert_eq!(translation.translator, TranslatorKind::Offline);
    assert!(translation.note.is_some());
}

#[tokio::test]
async fn a_follow_up_sends_the_last_query() {
    let (translator, replay) = start(
        StatusCode::OK,
        include_str!("../../../tests/data/llm/good.json"),
        Duration::ZERO,
        Duration::from_secs(5),
    )
    .await;
    let mut conversation = Conversation::new();
    conversation.last = Some(WhatIfQuery::new(vec![Intervention::new(
        "price",
        Op::Set,
        12.0,
    )]));
    let _ = translator
        .translate("and if 14?", &retail_model(), &conversation)
        .await;
    let requests = replay.requests.lock().unwrap();
    let system = requests[0].1["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains(r#""variable":"price""#), "{system}");
}

#[test]
fn bad_settings_are_refused() {
    for (base_url, key) in [("ftp://x", "k"), ("http://x/v1", "bad\nkey")] {
        let result = LlmTranslator::new(&LlmSettings {
            base_url: base_url.into(),
            api_key: Secret::new(key),
            model: "m".into(),
            timeout: Duration::from_secs(1),
        });
        assert!(result.is_err(), "{base_url} {key:?}");
    }
}
