use std::sync::OnceLock;

use causeway_estimators::model::ModelDocument;
use causeway_estimators::scm::{Intervention, Op, WhatIfOptions};

use super::*;
use crate::chat::parser::Parser;
use crate::chat::WhatIfQuery;
use crate::chat::{Conversation, Parsed};
use crate::engine::{answer, LoadedModel, WhatIfAnswer};
use crate::store::embedded::EmbeddedStore;

const SEED: u64 = DEFAULT_SEED;

/// Each scenario fitted once for all the tests here.
fn fitted() -> &'static [(DemoScenario, LoadedModel)] {
    static FITTED: OnceLock<Vec<(DemoScenario, LoadedModel)>> = OnceLock::new();
    FITTED.get_or_init(|| {
        scenarios(SEED)
            .into_iter()
            .map(|scenario| {
                let (model, document, _) = fit(&scenario, SEED).expect("the scenario fits");
                (scenario, LoadedModel { document, model })
            })
            .collect()
    })
}

fn scenario(name: &str) -> &'static (DemoScenario, LoadedModel) {
    fitted()
        .iter()
        .find(|(s, _)| s.name == name)
        .expect("a demo scenario")
}

fn options() -> WhatIfOptions {
    WhatIfOptions {
        bootstrap: 100,
        ..WhatIfOptions::default()
    }
}

fn ask(loaded: &LoadedModel, interventions: Vec<Intervention>, target: &str) -> WhatIfAnswer {
    let query = WhatIfQuery {
        model: None,
        interventions,
        targets: Some(vec![target.to_string()]),
        unit: None,
    };
    answer(loaded, query, &options(), None).expect("the question answers")
}

fn parse(document: &ModelDocument, question: &str) -> Parsed {
    Parser::new(document).parse(question, &Conversation::new())
}

#[test]
fn scenarios_are_seeded_and_realistically_sized() {
    let first = scenarios(SEED);
    let again = scenarios(SEED);
    let other = scenarios(SEED + 1);
    assert_eq!(
        first.iter().map(|s| s.name).collect::<Vec<_>>(),
        ["retail", "factory", "onboarding"]
    );
    for ((a, b), c) in first.iter().zip(&again).zip(&other) {
        assert_eq!(a.csv, b.csv, "{}: same seed, same data", a.name);
        assert_ne!(a.csv, c.csv, "{}: another seed, other data", a.name);
        assert!(
            (2_000..=10_000).contains(&a.data.n_rows()),
            "{}: {} rows",
            a.name,
            a.data.n_rows()
        );
        for variable in a.graph.node_names() {
            let note = a
                .notes
                .get(variable)
                .unwrap_or_else(|| panic!("{}: `{variable}` has a label and aliases", a.name));
            assert!(
                note.aliases.iter().any(|x| !x.is_ascii()),
                "{}: `{variable}` has a Chinese alias",
                a.name
            );
        }
        assert!(a.questions.iter().any(|q| q.is_ascii()));
        assert!(a.questions.iter().any(|q| !q.is_ascii()));
    }
}

#[test]
fn every_scenario_recovers_its_true_effects() {
    for (scenario, loaded) in fitted() {
        for truth in &scenario.truths {
            let answer = ask(loaded, vec![truth.intervention.clone()], &truth.target);
            let effect = &answer.effects[0];
            let (low, high) = (effect.ci_low.unwrap(), effect.ci_high.unwrap());
            // A forest approximates the curve; allow it a tenth of the effect beyond
            // its interval.
            let slack = 0.1 * truth.change.abs();
            assert!(
                low - slack <= truth.change && truth.change <= high + slack,
                "{}: {} on {}: true {:.4}, answered {:.4} [{low:.4}, {high:.4}]",
                scenario.name,
                truth.intervention.describe(),
                truth.target,
                truth.change,
                effect.change
            );
        }
    }
}

#[test]
fn a_ten_percent_tv_cut_lowers_store_sales_by_a_few_percent() {
    let (_, loaded) = scenario("retail");
    let answer = ask(
        loaded,
        vec![Intervention::new("tv_spend", Op::Scale, 0.9)],
        "store_sales",
    );
    let pct = answer.effects[0].change_pct.unwrap();
    assert!((-6.0..=-1.5).contains(&pct), "{pct}%");
}

#[test]
fn both_mission_questions_map_to_the_tv_cut_on_store_sales() {
    let (_, loaded) = scenario("retail");
    for question in [MISSION_QUESTION_EN, MISSION_QUESTION_ZH] {
        match parse(&loaded.document, question) {
            Parsed::Query(query) => {
                assert_eq!(
                    query.interventions,
                    vec![Intervention::new("tv_spend", Op::Scale, 0.9)],
                    "{question}"
                );
                assert_eq!(
                    query.targets.as_deref(),
                    Some(&["store_sales".to_string()][..]),
                    "{question}"
                );
            }
            other => panic!("{question}: {other:?}"),
        }
    }
}

#[test]
fn every_example_question_parses_and_answers() {
    for (scenario, loaded) in fitted() {
        for question in &scenario.questions {
            let query = match parse(&loaded.document, question) {
                Parsed::Query(query) => query,
                other => panic!("{}: {question}: {other:?}", scenario.name),
            };
            let answered = WhatIfQuery {
                model: None,
                interventions: query.interventions,
                targets: query.targets,
                unit: query.unit,
            };
            let options = WhatIfOptions {
                bootstrap: 20,
                ..WhatIfOptions::default()
            };
            let result = answer(loaded, answered, &options, Some("offline"))
                .unwrap_or_else(|e| panic!("{}: {question}: {e}", scenario.name));
            assert!(
                !result.effects.is_empty() || !result.unaffected.is_empty(),
                "{}: {question}: an empty answer",
                scenario.name
            );
        }
    }
}

#[test]
fn returns_are_unaffected_by_tv() {
    let (_, loaded) = scenario("retail");
    let query = WhatIfQuery {
        model: None,
        interventions: vec![Intervention::new("tv_spend", Op::Scale, 0.9)],
        targets: None,
        unit: None,
    };
    let result = answer(loaded, query, &options(), None).unwrap();
    assert_eq!(result.unaffected, ["returns"]);
    let moved: Vec<&str> = result.effects.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(moved, ["store_sales", "online_sales"]);
}

#[test]
fn the_factory_fits_a_forest_where_yield_peaks() {
    let (_, loaded) = scenario("factory");
    let mechanism = |name: &str| {
        loaded
            .document
            .variables
            .iter()
            .find(|v| v.name == name)
            .and_then(|v| v.mechanism.clone())
            .unwrap()
    };
    assert_eq!(mechanism("defect_rate"), "forest-additive");
    assert_eq!(mechanism("energy_cost"), "linear-gaussian");
    // Past the optimum, hotter is worse; below it, better.
    let hotter = ask(
        loaded,
        vec![Intervention::new("oven_temp", Op::Set, 200.0)],
        "yield",
    );
    let optimal = ask(
        loaded,
        vec![Intervention::new("oven_temp", Op::Set, 185.0)],
        "yield",
    );
    assert!(optimal.effects[0].change > hotter.effects[0].change + 1.0);
}

#[test]
fn the_difference_in_differences_and_the_structural_model_agree() {
    let (scenario, loaded) = scenario("onboarding");
    let did = did_estimate(&scenario.data).unwrap();
    assert!(
        did.ci_low < 3.1 && 3.1 < did.ci_high,
        "the true effect is 3.1 pp: {did:?}"
    );
    let assumption = loaded
        .document
        .assumptions
        .iter()
        .find(|a| a.starts_with("difference-in-differences"))
        .expect("the DiD estimate is among the assumptions");
    assert!(assumption.contains(&format!("{:+.1} pp", did.estimate)));
    assert!(assumption.contains("pre-trend test p = "));

    // The structural model's effect per switched unit: setting the flag to 1
    // moves the untreated share of units.
    let answer = ask(
        loaded,
        vec![Intervention::new("new_onboarding", Op::Set, 1.0)],
        "retention_30d",
    );
    let effect = &answer.effects[0];
    let untreated = 1.0 - loaded.model.node("new_onboarding").unwrap().support.mean;
    let per_unit = effect.change / untreated;
    let (low, high) = (
        effect.ci_low.unwrap() / untreated,
        effect.ci_high.unwrap() / untreated,
    );
    assert!(
        low <= did.ci_high && did.ci_low <= high,
        "intervals overlap: SCM {per_unit:.2} [{low:.2}, {high:.2}], DiD {:.2} [{:.2}, {:.2}]",
        did.estimate,
        did.ci_low,
        did.ci_high
    );
    assert!(
        (did.ci_low..=did.ci_high).contains(&per_unit) && (low..=high).contains(&did.estimate),
        "each estimate lies in the other's interval: SCM {per_unit:.2} [{low:.2}, {high:.2}], DiD {:.2} [{:.2}, {:.2}]",
        did.estimate,
        did.ci_low,
        did.ci_high
    );
}

#[tokio::test]
async fn installing_twice_adds_no_versions() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let first = install(&store, SEED).await.unwrap();
    assert_eq!(
        first
            .iter()
            .map(|d| d.model_id.as_str())
            .collect::<Vec<_>>(),
        ["retail@1", "factory@1", "onboarding@1"]
    );
    let tv = first[0]
        .variables
        .iter()
        .find(|v| v.name == "tv_spend")
        .unwrap();
    assert!(tv.aliases.contains(&"電視廣告".to_string()));
    let second = install(&store, SEED).await.unwrap();
    assert_eq!(first, second);
    for summary in store.list().await.unwrap() {
        assert_eq!(summary.versions, [1], "{}", summary.name);
    }
}

#[tokio::test]
async fn a_repeated_question_is_answered_from_the_cache_with_the_same_numbers() {
    use crate::chat::OfflineTranslator;
    use crate::planner::Planner;

    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ModelStore> = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
    install(store.as_ref(), SEED).await.unwrap();
    let mut planner = Planner::new(
        Arc::clone(&store),
        Arc::new(OfflineTranslator),
        Some(DEFAULT_MODEL.into()),
    );
    planner.options.bootstrap = 50;

    let mut conversation = Conversation::new();
    let asked = planner
        .ask(None, MISSION_QUESTION_EN, &mut conversation)
        .await
        .unwrap();
    let crate::planner::Reply::Answer { answer: first, .. } = asked else {
        panic!("the mission question answers");
    };
    assert_eq!(planner.answers.len(), 1);

    // The same query, typed: the cached numbers, without a translator.
    let typed = planner.answer(first.query.clone()).await.unwrap();
    assert_eq!(planner.answers.len(), 1, "served from the cache");
    assert_eq!(typed.effects, first.effects);
    assert_eq!(typed.translator, None);
    assert_eq!(first.translator.as_deref(), Some("offline"));
    // Computed afresh, the engine gives the same numbers (the cache changes speed only).
    let loaded = planner.model(None).await.unwrap();
    let fresh = answer(&loaded, first.query.clone(), &planner.options, None).unwrap();
    assert_eq!(fresh.effects, first.effects);

    // Another query, or other options, is another entry.
    let mut other = first.query.clone();
    other.interventions[0].value = 0.8;
    let other = planner.answer(other).await.unwrap();
    assert_ne!(other.effects[0].change, first.effects[0].change);
    planner.options.bootstrap = 60;
    planner.answer(first.query.clone()).await.unwrap();
    assert_eq!(planner.answers.len(), 3);
}
