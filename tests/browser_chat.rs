//! The web chat of `causeway demo` in a real headless Chromium: the mission's
//! question in English and in Traditional Chinese, a follow-up, and the answers'
//! numbers checked against `POST /api/v1/whatif` for the same question.

use serde_json::json;

use crate::browser::{Browser, Element};
use crate::helpers::{scratch_dir, Server};

/// `causeway demo` on a free port with a fresh store.
fn demo_server(test: &str) -> Server {
    let dir = scratch_dir(test);
    let data_dir = dir.join("store").to_string_lossy().into_owned();
    let (server, _stdout) =
        Server::spawn(&["--data-dir", &data_dir, "demo", "--addr", "127.0.0.1:0"]);
    server
}

/// Types `question` into the chat box, submits it and waits for answer number
/// `turn` (counted from 1) to be appended; returns that turn's element.
fn ask(browser: &Browser, question: &str, turn: usize) -> Element {
    let input = browser.find("#question");
    browser.type_into(&input, question);
    browser.click(&browser.find("#ask button[type=submit]"));
    browser.wait_for(&format!("turn {turn} after {question:?}"), |b| {
        let turns = b.find_all("#conversation section.turn");
        (turns.len() >= turn).then(|| turns[turn - 1].clone())
    })
}

/// One row of the effects table of the latest answer: its cells' texts.
fn effect_row(browser: &Browser, turn: usize, target: &str) -> Vec<String> {
    let selector =
        format!("#conversation section.turn:nth-of-type({turn}) tr[data-target={target}] td");
    browser
        .find_all(&selector)
        .iter()
        .map(|cell| browser.text(cell))
        .collect()
}

/// The API's answer for the same question, as the page should show it.
fn api_answer(server: &Server, question: &str) -> serde_json::Value {
    let response = server.post(
        "/api/v1/whatif",
        "application/json",
        &json!({ "question": question, "model": "retail" }).to_string(),
    );
    assert_eq!(response.status, 200, "{}", response.body);
    response.json()
}

fn store_sales_effect(answer: &serde_json::Value) -> &serde_json::Value {
    answer["effects"]
        .as_array()
        .and_then(|effects| effects.iter().find(|e| e["target"] == "store_sales"))
        .unwrap_or_else(|| panic!("no store_sales effect in {answer}"))
}

#[test]
fn the_demo_chat_answers_in_english_and_chinese_in_place_with_follow_ups() {
    let server = demo_server("browser-chat");
    let browser = Browser::start("browser-chat");
    browser.goto(&format!("http://{}/", server.address));

    // The page: the model picker holds the three demo models, retail chosen.
    let options: Vec<String> = browser
        .find_all("#model-select option")
        .iter()
        .map(|o| browser.text(o))
        .collect();
    assert_eq!(options.len(), 3, "{options:?}");
    assert!(
        options.iter().any(|o| o.starts_with("retail")),
        "{options:?}"
    );
    // Answers are appended in place by the page's script, without a reload: a
    // marker set on the window survives every question below.
    browser.execute("window.__causewayMarker = 'kept'; return null;");

    // The mission's question, in English.
    let question = "If we cut TV ads by 10%, what happens to store sales?";
    let turn = ask(&browser, question, 1);
    let headline =
        browser.text(&browser.find("#conversation section.turn:nth-of-type(1) .headline"));
    assert!(
        headline.to_lowercase().contains("store sales"),
        "headline: {headline}"
    );
    assert_eq!(
        browser
            .attribute(
                &browser.find("#conversation section.turn:nth-of-type(1) .answer"),
                "data-kind"
            )
            .as_deref(),
        Some("interventional")
    );
    let row = effect_row(&browser, 1, "store_sales");
    assert_eq!(row.len(), 6, "effects row: {row:?}");
    // KPI, now, after, change, change %, interval — and the numbers are the API's.
    let api = api_answer(&server, question);
    let effect = store_sales_effect(&api);
    assert!(effect["change"].as_f64().unwrap() < 0.0, "{effect}");
    assert!(
        row[3].starts_with('−') || row[3].starts_with('-'),
        "a cut lowers sales: {row:?}"
    );
    let engine_change = effect["change"].as_f64().unwrap();
    assert!(
        (number_in(&row[3]) - engine_change).abs() <= display_step(&row[3]),
        "the page's change is the engine's: {row:?} vs {effect}"
    );
    let interval = &row[5];
    let (low, high) = interval_in(interval);
    assert!(
        low <= number_in(&row[3]) && number_in(&row[3]) <= high,
        "{interval}"
    );
    assert!(
        high < 0.0,
        "the interval of a 10% TV cut excludes zero: {interval}"
    );
    // The causal paths: drawn (SVG) and listed, through TV advertising.
    assert!(!browser
        .find_all("#conversation section.turn:nth-of-type(1) .paths-box svg")
        .is_empty());
    let paths = browser.text(&browser.find("#conversation section.turn:nth-of-type(1) ul.paths"));
    assert!(paths.contains("TV"), "paths: {paths}");
    drop(turn);

    // A follow-up in the same conversation: twice the cut, about twice the change.
    ask(&browser, "and if by 20%?", 2);
    let follow_up = effect_row(&browser, 2, "store_sales");
    assert_eq!(follow_up.len(), 6, "{follow_up:?}");
    let ratio = number_in(&follow_up[3]) / number_in(&row[3]);
    assert!(
        (1.8..2.2).contains(&ratio),
        "20% vs 10%: {follow_up:?} vs {row:?}"
    );

    // The same question in Traditional Chinese gives the same KPI and direction.
    let chinese = "如果把電視廣告減少10%，門市銷售會怎樣？";
    ask(&browser, chinese, 3);
    let zh_row = effect_row(&browser, 3, "store_sales");
    assert_eq!(zh_row.len(), 6, "{zh_row:?}");
    assert_eq!(zh_row[3], row[3], "the Chinese question is the English one");
    let zh_api = api_answer(&server, chinese);
    assert_eq!(store_sales_effect(&zh_api)["change"], effect["change"]);

    // Every KPI: those TV can move, and returns, which no causal path from TV
    // reaches, listed as unable to move.
    ask(&browser, "如果把電視廣告減少10%，哪些KPI會受影響？", 4);
    assert_eq!(effect_row(&browser, 4, "store_sales").len(), 6);
    let unaffected =
        browser.text(&browser.find("#conversation section.turn:nth-of-type(4) .unaffected"));
    assert!(
        unaffected.to_lowercase().contains("returns"),
        "unaffected: {unaffected}"
    );

    // A question it cannot map gets a clarifying reply, not a guess.
    let clarify = ask(&browser, "what if we double the moon budget?", 5);
    assert_eq!(
        browser.attribute(&clarify, "class").as_deref(),
        Some("turn clarify"),
        "{}",
        browser.text(&clarify)
    );

    assert_eq!(
        browser.execute("return window.__causewayMarker || null;"),
        json!("kept"),
        "the page reloaded instead of appending answers in place"
    );
}

/// The first number in a cell (`−12.34`, `-1,234`, `+0.5`), signs of either kind.
fn number_in(text: &str) -> f64 {
    numbers_in(text)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no number in {text:?}"))
}

/// The two ends of an interval cell such as `[−14.2, −9.8]`.
fn interval_in(text: &str) -> (f64, f64) {
    match numbers_in(text)[..] {
        [low, high, ..] => (low, high),
        _ => panic!("not an interval: {text:?}"),
    }
}

fn numbers_in(text: &str) -> Vec<f64> {
    let normalised = text.replace('−', "-").replace(',', "");
    let mut numbers = Vec::new();
    let mut current = String::new();
    for c in normalised.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() || c == '.' || (c == '-' && current.is_empty()) {
            current.push(c);
        } else {
            if let Ok(value) = current.parse::<f64>() {
                numbers.push(value);
            }
            current.clear();
            if c == '-' {
                current.push(c);
            }
        }
    }
    numbers
}

/// The rounding step of a printed number: 0.01 for `−20.12`, 1 for `−1,234`.
fn display_step(shown: &str) -> f64 {
    let first = shown.replace('−', "-").replace(',', "");
    let decimals = first
        .split_whitespace()
        .next()
        .and_then(|n| n.split_once('.'))
        .map_or(0, |(_, f)| {
            f.chars().take_while(char::is_ascii_digit).count()
        });
    10f64.powi(-(decimals as i32))
}
