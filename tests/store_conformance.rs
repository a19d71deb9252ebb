//! The conformance suite every `ModelStore` passes: exact round trips, gap-free
//! versions under concurrent saves, traversals with known answers and depth bounds,
//! and clear errors for unknown names. `conformance_tests!` instantiates it for one
//! store; each test gets a fresh store (or, for a shared server, fresh model names).

use std::collections::BTreeMap;
use std::sync::Arc;

use causeway::store::{ModelRef, ModelStore, StoreError};
use causeway_estimators::model::{CausalEdge, ModelDocument, Role, Variable, VariableKind};

/// A model called `name` with the given edges; variables named in `kpis` are KPIs,
/// those in `levers` levers, the rest context.
pub fn model(name: &str, edges: &[(&str, &str)], levers: &[&str], kpis: &[&str]) -> ModelDocument {
    let mut names: Vec<&str> = Vec::new();
    for (a, b) in edges {
        for n in [*a, *b] {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    ModelDocument {
        model_id: String::new(),
        name: name.to_string(),
        version: 0,
        created_at: "2026-12-03T12:00:00Z".into(),
        dataset_sha256: "ab".repeat(32),
        n_rows: 1_000,
        method: "scm-linear".into(),
        assumptions: vec!["no unobserved common cause of tv_spend and sales".into()],
        mechanisms: None,
        variables: names
            .iter()
            .map(|n| {
                let role = if kpis.contains(n) {
                    Role::Kpi
                } else if levers.contains(n) {
                    Role::Lever
                } else {
                    Role::Context
                };
                Variable::new(n, role, VariableKind::Continuous)
            })
            .collect(),
        edges: edges.iter().map(|(a, b)| CausalEdge::new(a, b)).collect(),
        created_by: Some("pm-team".into()),
    }
}

/// The retail model with every attribute set, including text that needs escaping.
pub fn retail(name: &str) -> ModelDocument {
    let mut m = model(
        name,
        &[
            ("tv_spend", "store_visits"),
            ("store_visits", "sales"),
            ("tv_spend", "sales"),
            ("price", "sales"),
            ("sales", "returns"),
        ],
        &["tv_spend", "price"],
        &["sales", "returns"],
    );
    let tv = &mut m.variables[0];
    tv.label = "TV advertising spend".into();
    tv.aliases = vec![
        "TV ads".into(),
        "電視廣告".into(),
        "quote \" & <tag>".into(),
    ];
    tv.unit = Some("USD".into());
    tv.mean = Some(1200.5);
    tv.std = Some(0.1 + 0.2);
    tv.min = Some(-0.0);
    tv.max = Some(1e300);
    tv.mechanism = Some("empirical".into());
    let sales = m.variables.iter_mut().find(|v| v.name == "sales").unwrap();
    sales.mechanism = Some("linear-gaussian".into());
    sales.parameters = BTreeMap::from([
        ("intercept".to_string(), 3.25),
        ("tv_spend".to_string(), 0.031_415_926_535_897_93),
        ("noise_std".to_string(), 12.0),
    ]);
    let edge = &mut m.edges[2];
    edge.effect = Some(0.0314);
    edge.ci_low = Some(0.02);
    edge.ci_high = Some(0.04);
    edge.p_value = Some(1.5e-12);
    edge.method = Some("ols".into());
    m
}

fn reference(text: &str) -> ModelRef {
    ModelRef::parse(text).unwrap()
}

pub async fn round_trip_keeps_every_attribute(store: Arc<dyn ModelStore>, prefix: &str) {
    let name = format!("{prefix}retail");
    let saved = store.save(retail(&name)).await.unwrap();
    assert_eq!(saved.version, 1);
    assert_eq!(saved.model_id, format!("{name}@1"));
    let read = store.get(&reference(&name)).await.unwrap();
    assert_eq!(read, saved);
    let mut expected = retail(&name);
    expected.version = 1;
    expected.model_id = format!("{name}@1");
    assert_eq!(read, expected);
}

pub async fn versions_count_up_and_are_never_reused(store: Arc<dyn ModelStore>, prefix: &str) {
    let name = format!("{prefix}versions");
    for expected in 1..=3 {
        assert_eq!(store.save(retail(&name)).await.unwrap().version, expected);
    }
    assert_eq!(store.get(&reference(&name)).await.unwrap().version, 3);
    assert_eq!(
        store
            .get(&reference(&format!("{name}@latest")))
            .await
            .unwrap()
            .version,
        3
    );
    assert_eq!(
        store
            .get(&reference(&format!("{name}@2")))
            .await
            .unwrap()
            .version,
        2
    );
    store.delete(&name, 3).await.unwrap();
    assert_eq!(store.get(&reference(&name)).await.unwrap().version, 2);
    assert_eq!(store.save(retail(&name)).await.unwrap().version, 4);
    let listed = store.list().await.unwrap();
    let summary = listed.iter().find(|s| s.name == name).unwrap();
    assert_eq!(summary.versions, [1, 2, 4]);
    let missing = store
        .get(&reference(&format!("{name}@3")))
        .await
        .unwrap_err();
    assert!(matches!(missing, StoreError::NotFound { .. }), "{missing}");
    assert!(
        missing.to_string().contains(&format!("{name}@4")),
        "{missing}"
    );
    let err = store.delete(&name, 3).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

pub async fn concurrent_saves_get_distinct_gap_free_versions(
    store: Arc<dyn ModelStore>,
    prefix: &str,
) {
    let name = format!("{prefix}concurrent");
    let saves: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            let model = retail(&name);
            tokio::spawn(async move { store.save(model).await.map(|m| m.version) })
        })
        .collect();
    let mut versions = Vec::new();
    for save in saves {
        versions.push(save.await.unwrap().unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=20).collect::<Vec<u32>>());
}

pub async fn traversals_have_known_answers(store: Arc<dyn ModelStore>, prefix: &str) {
    let name = format!("{prefix}shapes");
    // A diamond a→{b,c}→d with a shortcut a→d, a chain d→e→f→g, and a
    // disconnected part x→y.
    let m = model(
        &name,
        &[
            ("a", "b"),
            ("a", "c"),
            ("b", "d"),
            ("c", "d"),
            ("a", "d"),
            ("d", "e"),
            ("e", "f"),
            ("f", "g"),
            ("x", "y"),
        ],
        &["a", "x"],
        &["d", "g", "y"],
    );
    store.save(m).await.unwrap();
    let r = reference(&name);
    assert_eq!(
        store.descendants(&r, "a", 10).await.unwrap(),
        ["b", "c", "d", "e", "f", "g"]
    );
    assert_eq!(
        store.descendants(&r, "a", 2).await.unwrap(),
        ["b", "c", "d", "e"]
    );
    assert_eq!(
        store.ancestors(&r, "e", 10).await.unwrap(),
        ["a", "b", "c", "d"]
    );
    assert_eq!(store.ancestors(&r, "e", 1).await.unwrap(), ["d"]);
    assert!(store.ancestors(&r, "a", 10).await.unwrap().is_empty());
    assert_eq!(
        store.paths(&r, "a", "e", 10).await.unwrap(),
        [
            vec!["a", "d", "e"],
            vec!["a", "b", "d", "e"],
            vec!["a", "c", "d", "e"]
        ]
    );
    assert_eq!(
        store.paths(&r, "a", "e", 2).await.unwrap(),
        [vec!["a", "d", "e"]]
    );
    assert!(store.paths(&r, "a", "y", 10).await.unwrap().is_empty());
    assert_eq!(
        store.downstream_kpis(&r, &["a".into()], 10).await.unwrap(),
        ["d", "g"]
    );
    assert_eq!(
        store.downstream_kpis(&r, &["a".into()], 3).await.unwrap(),
        ["d"]
    );
    assert_eq!(
        store
            .downstream_kpis(&r, &["a".into(), "x".into()], 10)
            .await
            .unwrap(),
        ["d", "g", "y"]
    );
}

pub async fn unknown_names_are_clear_errors(store: Arc<dyn ModelStore>, prefix: &str) {
    let name = format!("{prefix}errors");
    store.save(retail(&name)).await.unwrap();
    let err = store
        .descendants(&reference(&name), "tv_spnd", 3)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("model `{name}@1` has no variable `tv_spnd`; did you mean `tv_spend`?")
    );
    let err = store
        .get(&reference(&format!("{prefix}no_such_model")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let err = store
        .paths(&reference(&format!("{name}@9")), "a", "b", 3)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

pub async fn an_invalid_model_leaves_nothing(store: Arc<dyn ModelStore>, prefix: &str) {
    let name = format!("{prefix}cyclic");
    let err = store
        .save(model(&name, &[("a", "b"), ("b", "a")], &[], &[]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidModel(_)), "{err}");
    assert!(store.list().await.unwrap().iter().all(|s| s.name != name));
    // The name is still free: the first valid save is version 1.
    assert_eq!(store.save(retail(&name)).await.unwrap().version, 1);
}

pub async fn mechanisms_are_kept_alongside_their_document(
    store: Arc<dyn ModelStore>,
    prefix: &str,
) {
    use causeway_estimators::scm::document::mechanisms_reference;
    let name = format!("{prefix}fitted");
    let text: Arc<str> = Arc::from(r#"{"stand-in":"serialised mechanisms, 電視"}"#);
    let mut doc = retail(&name);
    doc.mechanisms = Some(mechanisms_reference(&text));
    let saved = store
        .save_with_mechanisms(doc.clone(), Some(text.clone()))
        .await
        .unwrap();
    let latest = reference(&name);
    assert_eq!(store.get(&latest).await.unwrap().mechanisms, doc.mechanisms);
    assert_eq!(
        store.mechanisms(&latest).await.unwrap().as_deref(),
        Some(&*text)
    );
    // A version saved without mechanisms has none; the older one keeps its own.
    store.save(retail(&name)).await.unwrap();
    assert_eq!(store.mechanisms(&latest).await.unwrap(), None);
    let first = reference(&format!("{name}@{}", saved.version));
    assert_eq!(
        store.mechanisms(&first).await.unwrap().as_deref(),
        Some(&*text)
    );

    // Mechanisms that do not match the document's reference, or a reference without
    // mechanisms, are refused and leave nothing.
    let wrong = store
        .save_with_mechanisms(doc.clone(), Some(Arc::from("other")))
        .await
        .unwrap_err();
    assert!(matches!(wrong, StoreError::InvalidModel(_)), "{wrong}");
    let missing = store.save(doc).await.unwrap_err();
    assert!(matches!(missing, StoreError::InvalidModel(_)), "{missing}");
    assert_eq!(store.get(&latest).await.unwrap().version, saved.version + 1);

    // Deleting a version deletes its mechanisms.
    store.delete(&name, saved.version).await.unwrap();
    assert!(store.mechanisms(&first).await.is_err());
}

/// One `#[tokio::test]` per conformance check, for the store `$make` builds
/// (an async expression giving `(Arc<dyn ModelStore>, prefix, guard)`).
#[macro_export]
macro_rules! conformance_tests {
    ($make:path) => {
        $crate::conformance_tests!(@one $make, round_trip_keeps_every_attribute);
        $crate::conformance_tests!(@one $make, versions_count_up_and_are_never_reused);
        $crate::conformance_tests!(@one $make, concurrent_saves_get_distinct_gap_free_versions);
        $crate::conformance_tests!(@one $make, traversals_have_known_answers);
        $crate::conformance_tests!(@one $make, unknown_names_are_clear_errors);
        $crate::conformance_tests!(@one $make, an_invalid_model_leaves_nothing);
        $crate::conformance_tests!(@one $make, mechanisms_are_kept_alongside_their_document);
    };
    (@one $make:path, $check:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            let (store, prefix, _guard) = $make().await;
            $crate::store_conformance::$check(store, &prefix).await;
        }
    };
}

mod embedded {
    use std::sync::Arc;

    use causeway::store::embedded::EmbeddedStore;
    use causeway::store::ModelStore;

    async fn make() -> (Arc<dyn ModelStore>, String, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        (Arc::new(store), String::new(), dir)
    }

    crate::conformance_tests!(make);

    #[tokio::test]
    async fn a_store_reopened_after_closing_keeps_its_models() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store
                .save(crate::store_conformance::retail("kept"))
                .await
                .unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let read = store
            .get(&causeway::store::ModelRef::parse("kept").unwrap())
            .await
            .unwrap();
        assert_eq!(read.version, 1);
    }
}
