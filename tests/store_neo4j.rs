//! The Neo4j store against a real Neo4j: the conformance suite, plus what only a
//! server can get wrong — a transaction that fails late or is abandoned midway must
//! leave nothing behind, and the graph must have the documented shape.
//!
//! The server is `CAUSEWAY_NEO4J_URI` (user and password from
//! `CAUSEWAY_NEO4J_USER` / `CAUSEWAY_NEO4J_PASSWORD`; `graph_schema/neo4j-dev start`
//! gives one that accepts any credentials). Without it these tests say
//! "skipped: CAUSEWAY_NEO4J_URI not set" and return — unless `CAUSEWAY_REQUIRE_NEO4J=1`,
//! which makes them fail, so CI cannot pass without having run them. Every test works
//! under its own model-name prefix, so tests share one server without colliding.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use causeway::store::neo4j::{ConnectOptions, Neo4jStore};
use causeway::store::{ModelRef, ModelStore, StoreError};
use causeway_estimators::model::ModelDocument;

use crate::store_conformance::{model, retail};

/// The server's URI, user and password, or `None` when the tests are to be skipped.
fn server() -> Option<(String, String, String)> {
    let uri = crate::helpers::test_neo4j_uri()?;
    let user = std::env::var("CAUSEWAY_NEO4J_USER").unwrap_or_else(|_| "neo4j".into());
    let password = std::env::var("CAUSEWAY_NEO4J_PASSWORD").unwrap_or_else(|_| "neo4j".into());
    Some((uri, user, password))
}

/// A model-name prefix no other test (in this process or another) uses.
fn unique_prefix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "t{}_{nanos}_{}_",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

async fn connect() -> Option<(Neo4jStore, String)> {
    let (uri, user, password) = server()?;
    let store = Neo4jStore::connect(&uri, &user, &password)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Some((store, unique_prefix()))
}

async fn make() -> Option<(Arc<dyn ModelStore>, String)> {
    let (store, prefix) = connect().await?;
    Some((Arc::new(store), prefix))
}

/// A raw driver session for looking at (and tampering with) the graph behind the
/// store's back.
fn raw_graph() -> neo4rs::Graph {
    let (uri, user, password) = server().expect("only called once a server is known");
    neo4rs::Graph::new(uri, user, password).expect("a valid Neo4j config")
}

async fn count(graph: &neo4rs::Graph, q: neo4rs::Query) -> i64 {
    let mut rows = graph.execute(q).await.unwrap();
    let row = rows.next().await.unwrap().expect("a count row");
    row.get::<i64>("n").unwrap()
}

/// Nodes of any kind that belong to the model version `id`, and counter nodes of `name`.
async fn traces(graph: &neo4rs::Graph, name: &str, id: &str) -> (i64, i64) {
    let nodes = count(
        graph,
        neo4rs::query("MATCH (n) WHERE n.id = $id OR n.model_id = $id RETURN count(n) AS n")
            .param("id", id),
    )
    .await;
    let counters = count(
        graph,
        neo4rs::query("MATCH (c:ModelCounter {name: $name}) RETURN count(c) AS n")
            .param("name", name),
    )
    .await;
    (nodes, counters)
}

/// The conformance suite, one test per check, each skipped (or failed, under
/// `CAUSEWAY_REQUIRE_NEO4J=1`) without a server. `conformance_tests!` cannot skip,
/// so the checks are listed here; keep the list in step with it.
macro_rules! neo4j_conformance {
    ($($check:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $check() {
            let Some((store, prefix)) = make().await else { return };
            crate::store_conformance::$check(store, &prefix).await;
        }
    )*};
}

neo4j_conformance!(
    round_trip_keeps_every_attribute,
    versions_count_up_and_are_never_reused,
    concurrent_saves_get_distinct_gap_free_versions,
    traversals_have_known_answers,
    unknown_names_are_clear_errors,
    an_invalid_model_leaves_nothing,
    mechanisms_are_kept_alongside_their_document,
);

/// A chain of `n` variables, `v0000 → v0001 → …`.
fn chain(name: &str, n: usize) -> ModelDocument {
    let names: Vec<String> = (0..n).map(|i| format!("v{i:04}")).collect();
    let edges: Vec<(&str, &str)> = names
        .windows(2)
        .map(|w| (w[0].as_str(), w[1].as_str()))
        .collect();
    model(name, &edges, &["v0000"], &[names[n - 1].as_str()])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_fails_late_leaves_nothing() {
    let Some((store, prefix)) = connect().await else {
        return;
    };
    let name = format!("{prefix}late_failure");
    // 500 variables go in before the duplicate at the end breaks the unique
    // constraint on (model_id, name): the counter, the model and most variables are
    // written by then, inside the transaction.
    let mut doomed = chain(&name, 500);
    let duplicate = doomed.variables[0].clone();
    doomed.variables.push(duplicate);
    let err = store.save_unchecked(doomed, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err}");
    assert!(err.to_string().contains("Constraint"), "{err}");

    let graph = raw_graph();
    assert_eq!(traces(&graph, &name, &format!("{name}@1")).await, (0, 0));
    let missing = store.get(&ModelRef::parse(&name).unwrap()).await;
    assert!(matches!(missing, Err(StoreError::NotFound { .. })));
    assert_eq!(store.save(chain(&name, 500)).await.unwrap().version, 1);
    assert_eq!(
        store
            .descendants(&ModelRef::parse(&name).unwrap(), "v0000", 100)
            .await
            .unwrap()
            .len(),
        causeway::store::MAX_DEPTH
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_transaction_leaves_nothing_and_blocks_no_one() {
    let Some((store, prefix)) = connect().await else {
        return;
    };
    let name = format!("{prefix}abandoned");
    let id = format!("{name}@1");
    // A writer that dies midway: it holds the counter's lock and has written a model
    // when its connection goes away without a commit.
    {
        let graph = raw_graph();
        let mut txn = graph.start_txn().await.unwrap();
        txn.run(
            neo4rs::query(
                "MERGE (c:ModelCounter {name: $name}) SET c.last = coalesce(c.last, 0) + 1",
            )
            .param("name", name.as_str()),
        )
        .await
        .unwrap();
        txn.run(
            neo4rs::query(
                "CREATE (m:Model {id: $id, name: $name, version: 1})
                 -[:HAS_VARIABLE]->(:Variable {model_id: $id, name: 'x'})",
            )
            .param("id", id.as_str())
            .param("name", name.as_str()),
        )
        .await
        .unwrap();
        // Dropping the transaction returns its connection to the pool, and dropping
        // the graph closes the pool's connections: the server rolls back.
        drop(txn);
        drop(graph);
    }
    let saved = tokio::time::timeout(Duration::from_secs(30), store.save(retail(&name)))
        .await
        .expect("the abandoned transaction's lock is released")
        .unwrap();
    assert_eq!(saved.version, 1);
    let read = store.get(&ModelRef::parse(&id).unwrap()).await.unwrap();
    assert_eq!(read, saved);
    assert_eq!(traces(&raw_graph(), &name, &id).await, (1 + 5, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_save_whose_caller_gives_up_still_ends_cleanly() {
    let Some((store, prefix)) = connect().await else {
        return;
    };
    let name = format!("{prefix}cancelled");
    // The caller drops the save future almost at once; the transaction runs on a task
    // of its own and either commits or rolls back, so versions stay gap-free and the
    // next save does not wait forever on a leaked lock.
    let _ = tokio::time::timeout(Duration::from_millis(5), store.save(chain(&name, 300))).await;
    let next = tokio::time::timeout(Duration::from_secs(30), store.save(retail(&name)))
        .await
        .expect("no lock is leaked")
        .unwrap();
    let listed = store.list().await.unwrap();
    let versions = listed
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.versions.clone())
        .unwrap();
    assert_eq!(versions, (1..=next.version).collect::<Vec<u32>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_has_the_documented_shape() {
    let Some((store, prefix)) = connect().await else {
        return;
    };
    let name = format!("{prefix}shape");
    for _ in 0..3 {
        store.save(retail(&name)).await.unwrap();
    }
    let graph = raw_graph();
    let links = |newer: u32, older: u32| {
        neo4rs::query(
            "MATCH (:Model {id: $newer})-[r:PREVIOUS_VERSION]->(:Model {id: $older})
             RETURN count(r) AS n",
        )
        .param("newer", format!("{name}@{newer}"))
        .param("older", format!("{name}@{older}"))
    };
    assert_eq!(count(&graph, links(2, 1)).await, 1);
    assert_eq!(count(&graph, links(3, 2)).await, 1);
    // Deleting the middle version links its neighbours to each other.
    store.delete(&name, 2).await.unwrap();
    assert_eq!(count(&graph, links(3, 1)).await, 1);
    assert_eq!(traces(&graph, &name, &format!("{name}@2")).await, (0, 1));

    let id = format!("{name}@3");
    let variable = |variable: &str, property: &str| {
        neo4rs::query(
            "MATCH (:Model {id: $id})-[:HAS_VARIABLE]->(v:Variable {model_id: $id, name: $v})
             WHERE v[$p] IS NOT NULL RETURN count(v) AS n",
        )
        .param("id", id.as_str())
        .param("v", variable)
        .param("p", property)
    };
    // Absent optionals are absent properties; set ones are there.
    assert_eq!(count(&graph, variable("price", "mean")).await, 0);
    assert_eq!(count(&graph, variable("tv_spend", "mean")).await, 1);
    let typed = neo4rs::query(
        "MATCH (v:Variable {model_id: $id, name: 'tv_spend'})
         WHERE v.aliases[1] = '電視廣告' AND v.parameters = '{}' AND v.role = 'lever'
         MATCH (:Variable {model_id: $id, name: 'tv_spend'})-[c:CAUSES]->
               (:Variable {model_id: $id, name: 'sales'})
         WHERE c.effect = 0.0314 AND c.method = 'ols'
         RETURN count(*) AS n",
    )
    .param("id", id.as_str());
    assert_eq!(count(&graph, typed).await, 1);
}

#[tokio::test]
async fn an_unreachable_server_is_a_clear_error() {
    // Needs no server: port 1 on the loopback refuses connections.
    let options = ConnectOptions {
        attempts: 2,
        delay: Duration::from_millis(10),
    };
    let err = Neo4jStore::connect_with("bolt://127.0.0.1:1", "neo4j", "secret", options)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("cannot reach Neo4j at bolt://127.0.0.1:1 after 2 attempt(s)"),
        "{message}"
    );
    assert!(
        message.contains("is it running? (docker compose up neo4j)"),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
}
