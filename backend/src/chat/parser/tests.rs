//! The parser's table of phrasings (`backend/tests/data/parser_cases.toml`) and its
//! property tests.
//!
//! The table is a TOML data file rather than Rust code so that a product manager
//! can read and extend it without knowing Rust: one `[[case]]` per phrasing, with
//! comments, UTF-8 Chinese as written, and the expected interventions in the same
//! `--do` syntax the CLI takes (parsed by `Intervention::parse`, so the table has no
//! second notation). It is compiled in with `include_str!`, so the test needs no
//! path at run time.

use proptest::prelude::*;
use serde::Deserialize;

use super::*;
use crate::chat::query::tests::retail_model;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    q: String,
    #[serde(default)]
    after: Vec<String>,
    #[serde(default, rename = "do")]
    interventions: Vec<String>,
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default)]
    clarify: bool,
    #[serde(default)]
    suggest: Vec<String>,
    #[serde(default)]
    says: Option<String>,
}

/// Compares intervention values with a tolerance: the table writes 0.85, the
/// parser computes 1 − 15/100.
fn same(a: &Intervention, b: &Intervention) -> bool {
    a.variable == b.variable
        && a.op == b.op
        && a.label == b.label
        && a.only_where == b.only_where
        && (a.label.is_some() || (a.value - b.value).abs() < 1e-9)
}

/// What is wrong with the parser's answer to `case`, if anything.
fn check(parser: &Parser<'_>, case: &Case) -> Option<String> {
    let mut conversation = Conversation::new();
    for earlier in &case.after {
        let parsed = parser.parse(earlier, &conversation);
        if !matches!(parsed, Parsed::Query(_)) {
            return Some(format!("context question {earlier:?} gave {parsed:?}"));
        }
        conversation.record(&parsed);
    }
    let parsed = parser.parse(&case.q, &conversation);
    if case.clarify {
        let Parsed::Clarify {
            message,
            suggestions,
        } = &parsed
        else {
            return Some(format!("expected a clarifying reply, got {parsed:?}"));
        };
        if message.trim().is_empty() {
            return Some("empty clarifying message".into());
        }
        if let Some(missing) = case.suggest.iter().find(|s| !suggestions.contains(s)) {
            return Some(format!(
                "suggestions {suggestions:?} lack `{missing}` ({message})"
            ));
        }
        if let Some(says) = &case.says {
            if !message.contains(says.as_str()) {
                return Some(format!("message {message:?} does not say {says:?}"));
            }
        }
        return None;
    }
    let expected: Vec<Intervention> = match case
        .interventions
        .iter()
        .map(|d| Intervention::parse(d))
        .collect::<Result<_, _>>()
    {
        Ok(list) => list,
        Err(e) => return Some(format!("bad `do` in the table: {e}")),
    };
    let Parsed::Query(query) = &parsed else {
        return Some(format!("expected a query, got {parsed:?}"));
    };
    let matches = query.interventions.len() == expected.len()
        && query
            .interventions
            .iter()
            .zip(&expected)
            .all(|(a, b)| same(a, b));
    if !matches || query.targets != case.targets {
        return Some(format!(
            "got {} (targets {:?}), expected {:?} (targets {:?})",
            query.describe(),
            query.targets,
            case.interventions,
            case.targets
        ));
    }
    None
}

#[test]
fn table_of_phrasings() {
    let table: Table = toml::from_str(include_str!("../../../tests/data/parser_cases.toml"))
        .expect("parser_cases.toml is valid");
    let model = retail_model();
    let parser = Parser::new(&model);
    let failures: Vec<String> = table
        .case
        .iter()
        .filter_map(|case| check(&parser, case).map(|why| format!("{:?}: {why}", case.q)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} phrasings failed:\n{}",
        failures.len(),
        table.case.len(),
        failures.join("\n")
    );
    assert!(table.case.len() >= 80, "only {} cases", table.case.len());
    let chinese = table
        .case
        .iter()
        .filter(|c| c.q.chars().any(is_cjk))
        .count();
    assert!(chinese >= 25, "only {chinese} Chinese cases");
}

#[test]
fn a_long_question_is_refused_in_its_language() {
    let model = retail_model();
    let parser = Parser::new(&model);
    let long = "cut TV by 10% ".repeat(800);
    let Parsed::Clarify { message, .. } = parser.parse(&long, &Conversation::new()) else {
        panic!("a 11,200-character question was parsed");
    };
    assert!(message.contains("11200"), "{message}");
    let long = "電視".repeat(5000);
    let Parsed::Clarify { message, .. } = parser.parse(&long, &Conversation::new()) else {
        panic!("a 10,000-character question was parsed");
    };
    assert!(message.contains("10000 個字"), "{message}");
}

#[test]
fn the_context_keeps_the_model_and_unit() {
    let model = retail_model();
    let parser = Parser::new(&model);
    let mut conversation = Conversation::new();
    conversation.last = Some(WhatIfQuery {
        model: Some("retail@1".into()),
        unit: Some(7),
        ..WhatIfQuery::new(vec![Intervention::new("tv_spend", Op::Scale, 0.9)])
    });
    let Parsed::Query(query) = parser.parse("and if by 20%?", &conversation) else {
        panic!("follow-up not parsed");
    };
    assert_eq!(query.model.as_deref(), Some("retail@1"));
    assert_eq!(query.unit, Some(7));
    assert_eq!(
        query.interventions,
        vec![Intervention::new("tv_spend", Op::Scale, 0.8)]
    );
}

/// A clarifying reply never leaves the conversation without its context.
#[test]
fn a_clarifying_reply_keeps_the_context() {
    let model = retail_model();
    let parser = Parser::new(&model);
    let mut conversation = Conversation::new();
    let first = parser.parse("cut TV by 10%", &conversation);
    conversation.record(&first);
    let refused = parser.parse("cut radio by 10%", &conversation);
    conversation.record(&refused);
    assert!(matches!(refused, Parsed::Clarify { .. }));
    let Parsed::Query(query) = parser.parse("and if by 20%?", &conversation) else {
        panic!("context lost");
    };
    assert_eq!(query.interventions[0].variable, "tv_spend");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text at all: a query that validates, or a clarifying reply with a
    /// message — never a panic.
    #[test]
    fn never_panics_on_any_text(chars in proptest::collection::vec(any::<char>(), 0..300)) {
        let text: String = chars.into_iter().collect();
        let model = retail_model();
        let parser = Parser::new(&model);
        check_total(&parser, &text);
    }

    /// Text made of the parser's own pieces, where the interesting paths are.
    #[test]
    fn never_panics_on_question_like_text(
        words in proptest::collection::vec(
            prop_oneof![
                Just("cut"), Just("raise"), Just("set"), Just("to"), Just("by"), Just("and"),
                Just("tv"), Just("search"), Just("price"), Just("promo"), Just("region"),
                Just("sales"), Just("returns"), Just("what happens to"), Just("which kpis"),
                Just("if"), Just("10%"), Just("-5"), Just("$2k"), Just("1,000"), Just("half"),
                Just("把"), Just("減少"), Just("增加"), Just("一成"), Just("百分之"), Just("萬"),
                Just("電視廣告"), Just("會怎樣"), Just("呢"), Just("，"), Just("?"), Just("😀"),
                Just("ＴＶ"), Just("１０％"), Just("."), Just("1e308"), Just("99999999999999999999"),
            ],
            0..14,
        ),
        follow_up in any::<bool>(),
    ) {
        let model = retail_model();
        let parser = Parser::new(&model);
        let text = words.join(" ");
        check_total(&parser, &text);
        let glued = words.concat();
        check_total(&parser, &glued);
        if follow_up {
            let mut conversation = Conversation::new();
            conversation.last = Some(WhatIfQuery::new(vec![
                Intervention::new("tv_spend", Op::Scale, 0.9),
                Intervention::new("promo", Op::Set, 1.0),
            ]));
            let parsed = parser.parse(&text, &conversation);
            assert_total(&model, &parsed);
        }
    }
}

fn check_total(parser: &Parser<'_>, text: &str) {
    let parsed = parser.parse(text, &Conversation::new());
    assert_total(parser.model, &parsed);
}

fn assert_total(model: &ModelDocument, parsed: &Parsed) {
    match parsed {
        Parsed::Query(query) => {
            assert_eq!(query.validate(model), Ok(()), "{query:?}");
            for i in &query.interventions {
                assert!(i.label.is_some() || i.value.is_finite(), "{i:?}");
            }
        }
        Parsed::Clarify { message, .. } => assert!(!message.is_empty()),
    }
}

#[test]
fn odd_inputs_get_a_reply() {
    let model = retail_model();
    let parser = Parser::new(&model);
    for text in [
        "",
        " ",
        "😀😀😀",
        "\u{0}\u{1}",
        "%%%",
        "$",
        "-",
        "百分之",
        "一成",
        "cut by",
        "set to",
        "1e400%",
        "cut tv by 1e400",
        "cut tv by 99999999999999999999999999999999999%",
        "把把把把",
        "ＴＶ",
        "tv_spend*=0.9",
    ] {
        let parsed = parser.parse(text, &Conversation::new());
        assert_total(&model, &parsed);
    }
}

/// An alias the model gives to two variables is asked about, not resolved.
#[test]
fn a_shared_alias_is_asked_about() {
    let mut model = retail_model();
    for variable in &mut model.variables {
        if variable.name == "tv_spend" || variable.name == "search_spend" {
            variable.aliases.push("ads".into());
        }
    }
    let parser = Parser::new(&model);
    let Parsed::Clarify { suggestions, .. } = parser.parse("cut ads by 10%", &Conversation::new())
    else {
        panic!("a shared alias was resolved");
    };
    assert_eq!(suggestions, ["tv_spend", "search_spend"]);
}

/// A model without variables gets a reply, not a panic.
#[test]
fn an_empty_model_gets_a_reply() {
    let mut model = retail_model();
    model.variables.clear();
    let parser = Parser::new(&model);
    for text in ["cut TV by 10%", "what happens to sales?", "and if by 20%?"] {
        assert!(matches!(
            parser.parse(text, &Conversation::new()),
            Parsed::Clarify { .. }
        ));
    }
}
