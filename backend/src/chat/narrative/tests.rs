//! The consistency check, table-driven: supported, reversed, unsupported and
//! wrong-sign claims in English and Chinese, action words that turn a direction
//! around, and numbers that are not the answer's.

use std::time::Duration;

use axum::http::StatusCode;
use causeway_estimators::scm::{AnswerKind, Intervention, Op, PathShare, TargetEffect};

use super::*;
use crate::chat::llm::tests::{start, Replay};
use crate::chat::query::tests::retail_model;
use crate::chat::{Translator, WhatIfQuery};

/// The chat's retail model with linear effects on its edges: TV and search raise
/// visits, visits raise sales, price lowers sales and raises margin, sales raise
/// returns; promotions and stockouts have no linear summary.
fn model() -> ModelDocument {
    let mut document = retail_model();
    for edge in &mut document.edges {
        edge.effect = match (edge.source.as_str(), edge.target.as_str()) {
            ("tv_spend", "store_visits") => Some(0.5),
            ("tv_spend", "sales") => Some(0.5),
            ("search_spend", "store_visits") => Some(0.8),
            ("store_visits", "sales") => Some(3.0),
            ("price", "sales") => Some(-4.0),
            ("price", "margin") => Some(2.0),
            ("sales", "returns") => Some(0.1),
            _ => None,
        };
    }
    document
}

/// An answer to "cut TV by 10%" with a change of −20.0 in sales, interval
/// −21.3 to −18.7, baseline 1,200.
fn answer() -> WhatIfAnswer {
    WhatIfAnswer {
        model: "retail@1".into(),
        kind: AnswerKind::Interventional,
        translator: Some("llm".into()),
        query: WhatIfQuery::new(vec![Intervention::new("tv_spend", Op::Scale, 0.9)]),
        effects: vec![TargetEffect {
            target: "sales".into(),
            baseline: 1200.0,
            intervened: 1180.0,
            change: -20.0,
            change_pct: Some(-1.667),
            ci_low: Some(-21.3),
            ci_high: Some(-18.7),
            paths: vec![
                PathShare {
                    nodes: vec!["tv_spend".into(), "store_visits".into(), "sales".into()],
                    share: Some(0.75),
                },
                PathShare {
                    nodes: vec!["tv_spend".into(), "sales".into()],
                    share: Some(0.25),
                },
            ],
            path_method: "exact".into(),
        }],
        unaffected: vec!["returns".into()],
        warnings: Vec::new(),
        assumptions: Vec::new(),
        narrative: None,
    }
}

/// A claim as expected: cause, effect, verdict, action.
type Expected = (&'static str, &'static str, Verdict, Action);

#[test]
fn each_claim_gets_the_models_verdict() {
    use Action::*;
    use Verdict::*;
    // (sentence, [(cause, effect, verdict, action)], the text shown)
    let cases: &[(&str, &[Expected], &str)] = &[
        (
            "TV advertising raises store visits.",
            &[("tv_spend", "store_visits", Supported, Kept)],
            "TV advertising raises store visits.",
        ),
        (
            "Cutting TV ads by 10% lowers store sales by 20.",
            &[("tv_spend", "sales", Supported, Kept)],
            "Cutting TV ads by 10% lowers store sales by 20.",
        ),
        (
            "Cutting TV ads by 10% raises store sales.",
            &[("tv_spend", "sales", WrongSign, Corrected)],
            "Cutting TV ads by 10% lowers store sales.",
        ),
        (
            "Store visits increase TV advertising.",
            &[("store_visits", "tv_spend", Reversed, Removed)],
            "",
        ),
        (
            "TV ads drive returns up.",
            &[("tv_spend", "returns", Supported, Kept)],
            "TV ads drive returns up.",
        ),
        (
            "TV ads affect the gross margin.",
            &[("tv_spend", "margin", Unsupported, Removed)],
            "",
        ),
        (
            "Raising the price increases store sales.",
            &[("price", "sales", WrongSign, Corrected)],
            "Raising the price decreases store sales.",
        ),
        (
            "Price lowers store sales and raises gross margin.",
            &[
                ("price", "sales", Supported, Kept),
                ("price", "margin", Supported, Kept),
            ],
            "Price lowers store sales and raises gross margin.",
        ),
        (
            "TV and search ads raise store visits, which raise store sales.",
            &[
                ("tv_spend", "store_visits", Supported, Kept),
                ("search_spend", "store_visits", Supported, Kept),
                ("store_visits", "sales", Supported, Kept),
            ],
            "TV and search ads raise store visits, which raise store sales.",
        ),
        (
            "Price raises gross margin but raises returns.",
            &[
                ("price", "margin", Supported, Kept),
                ("price", "returns", WrongSign, Corrected),
            ],
            "Price raises gross margin but lowers returns.",
        ),
        (
            "Promotions raise returns.",
            &[("promo", "returns", Supported, Kept)],
            "Promotions raise returns.",
        ),
        (
            "減少電視廣告會降低門市銷售。",
            &[("tv_spend", "sales", Supported, Kept)],
            "減少電視廣告會降低門市銷售。",
        ),
        (
            "把電視廣告減少10%會使門市銷售上升。",
            &[("tv_spend", "sales", WrongSign, Corrected)],
            "把電視廣告減少10%會使門市銷售下降。",
        ),
        (
            "退貨提高電視廣告。",
            &[("returns", "tv_spend", Reversed, Removed)],
            "",
        ),
        (
            "Store sales are the company's main KPI.",
            &[],
            "Store sales are the company's main KPI.",
        ),
    ];
    let document = model();
    for (sentence, expected, shown) in cases {
        let checked = check(sentence, &document, &answer());
        let found: Vec<(&str, &str, Verdict, Action)> = checked
            .claims
            .iter()
            .map(|c| (c.cause.as_str(), c.effect.as_str(), c.verdict, c.action))
            .collect();
        assert_eq!(&found, expected, "{sentence}: {:#?}", checked.claims);
        assert_eq!(checked.text, *shown, "{sentence}");
    }
}

#[test]
fn a_narrative_keeps_its_good_sentences_and_says_what_it_changed() {
    let narrative = "Cutting TV ads by 10% lowers store sales by 20.0 (95% CI 18.7 to 21.3). \
        Most of it, 75%, runs through store visits. Store visits raise TV advertising. \
        Returns do not move. Sales fall by 35 next quarter.";
    let checked = check(narrative, &model(), &answer());
    assert_eq!(
        checked.text,
        "Cutting TV ads by 10% lowers store sales by 20.0 (95% CI 18.7 to 21.3). \
         Most of it, 75%, runs through store visits. Returns do not move."
    );
    let removed: Vec<Verdict> = checked
        .claims
        .iter()
        .filter(|c| c.action == Action::Removed)
        .map(|c| c.verdict)
        .collect();
    assert_eq!(removed, [Verdict::Reversed, Verdict::UnknownNumber]);
    assert!(checked.claims.iter().any(|c| c.note.contains("35")));
    assert_eq!(
        checked.summary(),
        "checked against the model: 3 claims, 1 kept, 0 corrected, 2 removed"
    );
}

#[test]
fn numbers_must_be_the_answers_to_the_precision_written() {
    let known = answer_numbers(&answer());
    for (sentence, unknown) in [
        ("sales fall by 20", Vec::<&str>::new()),
        ("sales fall by 20.0, from 1,200 to 1,180", vec![]),
        ("a 1.7% drop, between 18.7 and 21.3", vec![]),
        ("a 1.5% drop", vec!["1.5"]),
        ("sales fall by 19.61", vec!["19.61"]),
        ("retention_30d and 2 paths", vec![]),
        ("sales fall by 45 units", vec!["45"]),
        ("TV ads down 10%", vec![]),
    ] {
        assert_eq!(unknown_numbers(sentence, &known), unknown, "{sentence}");
    }
}

#[test]
fn sentences_split_on_english_and_chinese_marks_but_not_decimals() {
    assert_eq!(
        sentences("Sales fall by 20.5 units. Visits fall too! 門市銷售下降。退貨不變"),
        [
            "Sales fall by 20.5 units.",
            "Visits fall too!",
            "門市銷售下降。",
            "退貨不變"
        ]
    );
}

/// The chat's recorded-reply server (see the translator's tests), answering `body`.
async fn recorded_server(body: &'static str) -> (LlmTranslator, Replay) {
    start(StatusCode::OK, body, Duration::ZERO, Duration::from_secs(5)).await
}

#[tokio::test]
async fn a_recorded_narrative_is_written_from_the_answer_and_checked() {
    let (llm, replay) =
        recorded_server(include_str!("../../../tests/data/llm/narrative.json")).await;
    let document = model();
    let question = "If we cut TV ads by 10%, what happens to store sales?";
    let text = write(&llm, question, &answer(), &document).await.unwrap();
    let checked = check(&text, &document, &answer());
    assert_eq!(
        checked.text,
        "Cutting TV ads by 10% lowers store sales by 20.0 (95% CI 18.7 to 21.3) across the population. \
         Cutting TV ads also lowers store sales in the long run."
    );
    let verdicts: Vec<(Verdict, Action)> = checked
        .claims
        .iter()
        .map(|c| (c.verdict, c.action))
        .collect();
    assert_eq!(
        verdicts,
        [
            (Verdict::Supported, Action::Kept),
            (Verdict::Reversed, Action::Removed),
            (Verdict::WrongSign, Action::Corrected),
            (Verdict::UnknownNumber, Action::Removed),
        ]
    );
    // The model was given the answer's numbers and labels, and no tools.
    let request = replay.requests.lock().unwrap()[0].1.clone();
    assert!(request.get("tools").is_none(), "{request}");
    let facts = request["messages"][1]["content"].as_str().unwrap();
    assert!(facts.contains("\"change\":-20.0"), "{facts}");
    assert!(facts.contains("TV advertising"), "{facts}");
}

#[tokio::test]
async fn an_empty_or_failed_narrative_is_no_narrative() {
    let empty = r#"{"id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "  "}, "finish_reason": "stop"}]}"#;
    let (llm, _) = recorded_server(empty).await;
    let error = write(&llm, "q", &answer(), &model()).await.unwrap_err();
    assert!(error.contains("empty"), "{error}");
    let (llm, _) = recorded_server("not json").await;
    assert!(llm.narrate("q", &answer(), &model()).await.is_none());
}
