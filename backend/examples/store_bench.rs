//! Store benchmark: save a 1,000-variable, 3,000-edge model and run the
//! downstream-KPI traversal on it, on the configured store (embedded by default;
//! Neo4j when `CAUSEWAY_NEO4J_URI` is set). Prints medians.
//!
//! ```text
//! cargo run --release -p causeway --example store_bench
//! CAUSEWAY_NEO4J_URI=bolt://127.0.0.1:17687 cargo run --release -p causeway --example store_bench
//! ```

use std::time::{Duration, Instant};

use causeway::config::{Overrides, Settings};
use causeway::store::{self, ModelRef};
use causeway_estimators::model::{CausalEdge, ModelDocument, Role, Variable, VariableKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const VARIABLES: usize = 1_000;
const EDGES: usize = 3_000;
const SAVES: usize = 11;
const TRAVERSALS: usize = 51;

/// A random DAG: edges only go from lower to higher index, so it is acyclic; the
/// first 50 variables are levers and every tenth of the others a KPI.
fn big_model(name: &str) -> ModelDocument {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let variables: Vec<Variable> = (0..VARIABLES)
        .map(|i| {
            let role = if i < 50 {
                Role::Lever
            } else if i % 10 == 9 {
                Role::Kpi
            } else {
                Role::Mediator
            };
            let mut v = Variable::new(&format!("v{i:04}"), role, VariableKind::Continuous);
            v.mean = Some(rng.gen());
            v.std = Some(rng.gen());
            v
        })
        .collect();
    let mut pairs = std::collections::BTreeSet::new();
    while pairs.len() < EDGES {
        let a = rng.gen_range(0..VARIABLES - 1);
        // Mostly short hops, so chains run from levers to KPIs within a few edges.
        let b = (a + rng.gen_range(1..=20)).min(VARIABLES - 1);
        pairs.insert((a, b));
    }
    let edges = pairs
        .into_iter()
        .map(|(a, b)| {
            let mut e = CausalEdge::new(&variables[a].name, &variables[b].name);
            e.effect = Some(rng.gen());
            e
        })
        .collect();
    ModelDocument {
        model_id: String::new(),
        name: name.to_string(),
        version: 0,
        created_at: "2026-12-03T00:00:00Z".into(),
        dataset_sha256: String::new(),
        n_rows: 100_000,
        method: "benchmark".into(),
        assumptions: vec![],
        mechanisms: None,
        variables,
        edges,
        created_by: None,
    }
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data_dir = tempfile::tempdir()?;
    let settings = Settings::load(
        None,
        std::env::vars(),
        &Overrides {
            addr: None,
            data_dir: Some(data_dir.path().to_path_buf()),
        },
    )?;
    let which = if settings.neo4j.is_some() {
        "neo4j"
    } else {
        "embedded"
    };
    let store = store::open(&settings).await?;
    let name = format!("bench_{}", std::process::id());
    let model = big_model(&name);

    let mut saves = Vec::new();
    for _ in 0..SAVES {
        let start = Instant::now();
        store.save(model.clone()).await?;
        saves.push(start.elapsed());
    }
    let reference = ModelRef::parse(&name)?;
    let levers: Vec<String> = vec!["v0000".into(), "v0010".into(), "v0020".into()];
    let mut traversals = Vec::new();
    let mut found = 0;
    for _ in 0..TRAVERSALS {
        let start = Instant::now();
        found = store.downstream_kpis(&reference, &levers, 10).await?.len();
        traversals.push(start.elapsed());
    }
    println!(
        "{which}: save {VARIABLES} variables + {EDGES} edges: median {:.1} ms over {SAVES}; downstream KPIs of 3 levers (depth 10, {found} found): median {:.2} ms over {TRAVERSALS}",
        median(saves).as_secs_f64() * 1e3,
        median(traversals).as_secs_f64() * 1e3
    );
    for version in 1..=SAVES as u32 {
        store.delete(&name, version).await?;
    }
    Ok(())
}
