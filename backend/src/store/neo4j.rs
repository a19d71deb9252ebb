//! The Neo4j model store, for teams that share one server.
//!
//! The graph follows DESIGN.md ("Neo4j schema"):
//!
//! ```text
//! (:Model {id, name, version, created_at, dataset_sha256, n_rows, method, assumptions,
//!          mechanisms, created_by})
//!   -[:HAS_VARIABLE]->(:Variable {model_id, name, ordinal, label, aliases, role, kind,
//!                                 unit, mean, std, min, max, mechanism, parameters})
//! (:Variable)-[:CAUSES {ordinal, effect, ci_low, ci_high, p_value, method}]->(:Variable)
//! (:Model)-[:PREVIOUS_VERSION]->(:Model)          newer → the previous existing version
//! (:ModelCounter {name, last})                    the last version ever assigned to a name
//! (:Model)-[:HAS_MECHANISMS]->(:Mechanisms {model_id, text})   a fitted model's mechanisms
//! ```
//!
//! Lists are string lists, a mechanism's `parameters` a JSON object in a string, and an
//! absent optional is an absent property. `ordinal` keeps the document's order of
//! variables and edges, so [`Neo4jStore::get`] returns exactly the document that was
//! saved.
//!
//! Why it is built this way:
//!
//! - **One transaction per version.** A save bumps the name's counter, creates the
//!   model, its variables and edges and the `PREVIOUS_VERSION` link in one explicit
//!   transaction, and commits; any error rolls it back, so a version is all there or not
//!   at all. The transaction runs on a spawned task, so a caller that gives up midway
//!   (a dropped future) cannot leave it open, holding locks on a pooled connection.
//! - **A counter node for gap-free versions.** `MERGE` on `ModelCounter.name`, backed
//!   by a unique constraint, plus `SET c.last = coalesce(c.last, 0) + 1`, takes the
//!   counter's write lock before reading it; concurrent saves of one name queue on that
//!   lock, so versions are 1, 2, 3, … without gaps or duplicates, and a deleted version's
//!   number is never handed out again (as in the embedded store).
//! - **Fixed Cypher.** Every statement is constant text with parameters; no user value
//!   is ever formatted into a query. The one exception is the bound of a
//!   variable-length pattern (`*1..N`), which Cypher cannot take as a parameter: it is
//!   an integer clamped to [`MAX_DEPTH`] by this module.
//! - **Rust decides the order.** Results are sorted here, by the same byte order as the
//!   embedded store, rather than by Cypher's `ORDER BY` (Java string order differs
//!   from Rust's for some non-ASCII text), so both stores give identical answers.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use causeway_estimators::error::closest_name;
use causeway_estimators::model::{CausalEdge, ModelDocument, Role, Variable, VariableKind};
use neo4rs::{query, BoltType, ConfigBuilder, Graph, Query, Txn};
use serde::Deserialize;

use super::{
    check_mechanisms, traversal, ModelRef, ModelStore, ModelSummary, StoreError, MAX_DEPTH,
};

/// The schema, applied at every connect: `graph_schema/schema.cypher`, the one
/// source of truth (the dev launcher applies the same file). Every statement is
/// idempotent.
const SCHEMA: &str = include_str!("../../../graph_schema/schema.cypher");

/// The statements of a Cypher script: `//` comment lines dropped, split on `;`.
fn statements(script: &str) -> Vec<String> {
    let code: Vec<&str> = script
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect();
    code.join("\n")
        .split(';')
        .map(|statement| statement.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|statement| !statement.is_empty())
        .collect()
}

/// Takes the name's counter lock and returns the next version.
const NEXT_VERSION: &str = "\
MERGE (c:ModelCounter {name: $name})
SET c.last = coalesce(c.last, 0) + 1
RETURN c.last AS version";

const CREATE_MODEL: &str = "\
CREATE (:Model {id: $id, name: $name, version: $version, created_at: $created_at,
                dataset_sha256: $dataset_sha256, n_rows: $n_rows, method: $method,
                assumptions: $assumptions, mechanisms: $mechanisms, created_by: $created_by})";

/// The serialised mechanisms of a fitted model, in a node of their own so that
/// listing and traversing models never loads them.
const CREATE_MECHANISMS: &str = "\
MATCH (m:Model {id: $id})
CREATE (m)-[:HAS_MECHANISMS]->(:Mechanisms {model_id: $id, text: $text})";

const GET_MECHANISMS: &str = "\
MATCH (:Model {id: $id})-[:HAS_MECHANISMS]->(x:Mechanisms)
RETURN x.text AS text";

/// Links the new version to the highest existing lower version of its name, if any.
const LINK_PREVIOUS: &str = "\
MATCH (m:Model {id: $id})
MATCH (p:Model {name: $name})
WHERE p.version < $version
WITH m, p ORDER BY p.version DESC LIMIT 1
CREATE (m)-[:PREVIOUS_VERSION]->(p)";

const CREATE_VARIABLES: &str = "\
MATCH (m:Model {id: $id})
UNWIND $variables AS row
CREATE (m)-[:HAS_VARIABLE]->(:Variable {
    model_id: $id, name: row.name, ordinal: row.ordinal, label: row.label,
    aliases: row.aliases, role: row.role, kind: row.kind, unit: row.unit,
    mean: row.mean, std: row.std, min: row.min, max: row.max,
    mechanism: row.mechanism, parameters: row.parameters})
RETURN count(*) AS created";

const CREATE_EDGES: &str = "\
UNWIND $edges AS row
MATCH (s:Variable {model_id: $id, name: row.source})
MATCH (t:Variable {model_id: $id, name: row.target})
CREATE (s)-[:CAUSES {ordinal: row.ordinal, effect: row.effect, ci_low: row.ci_low,
                     ci_high: row.ci_high, p_value: row.p_value, method: row.method}]->(t)
RETURN count(*) AS created";

const VERSIONS: &str = "MATCH (m:Model {name: $name}) RETURN m.version AS version";

const LIST: &str = "\
MATCH (m:Model)
RETURN m.name AS name, m.version AS version, m.created_at AS created_at";

/// One model with its variables and edges, in one read.
const GET: &str = "\
MATCH (m:Model {id: $id})
OPTIONAL MATCH (m)-[:HAS_VARIABLE]->(v:Variable)
WITH m, collect(v {.*}) AS variables
OPTIONAL MATCH (m)-[:HAS_VARIABLE]->(s:Variable)-[c:CAUSES]->(t:Variable)
RETURN m {.*} AS model, variables,
       collect(c {.*, source: s.name, target: t.name}) AS edges";

const VARIABLE_NAMES: &str = "MATCH (v:Variable {model_id: $id}) RETURN v.name AS name";

/// Which of `$names` are not variables of model `$id`.
const MISSING_VARIABLES: &str = "\
UNWIND $names AS name
OPTIONAL MATCH (v:Variable {model_id: $id, name: name})
WITH name, v WHERE v IS NULL
RETURN name";

/// Deletes one version; `deleted` is 0 when there was none. It first takes the
/// name's counter lock, as a save does, so that a concurrent save of the next
/// version commits its PREVIOUS_VERSION link before this delete relinks around
/// the deleted version (without the lock it could remove that new link).
const DELETE: &str = "\
OPTIONAL MATCH (c:ModelCounter {name: $name})
SET c.last = c.last
WITH c
MATCH (m:Model {id: $id})
OPTIONAL MATCH (m)-[:HAS_VARIABLE]->(v:Variable)
WITH m, collect(v) AS variables
OPTIONAL MATCH (m)-[:HAS_MECHANISMS]->(x:Mechanisms)
WITH m, variables, collect(x) AS mechanisms
OPTIONAL MATCH (newer:Model)-[:PREVIOUS_VERSION]->(m)
OPTIONAL MATCH (m)-[:PREVIOUS_VERSION]->(older:Model)
FOREACH (_ IN CASE WHEN newer IS NULL OR older IS NULL THEN [] ELSE [1] END |
    CREATE (newer)-[:PREVIOUS_VERSION]->(older))
FOREACH (v IN variables | DETACH DELETE v)
FOREACH (x IN mechanisms | DETACH DELETE x)
DETACH DELETE m
RETURN count(*) AS deleted";

/// How [`Neo4jStore::connect_with`] waits for a server that is still starting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Attempts before giving up (at least one is made).
    pub attempts: u32,
    /// The pause between attempts.
    pub delay: Duration,
}

impl Default for ConnectOptions {
    /// 30 attempts a second apart: long enough for a Neo4j started alongside.
    fn default() -> Self {
        ConnectOptions {
            attempts: 30,
            delay: Duration::from_secs(1),
        }
    }
}

/// A model store on a Neo4j server (5.x; Bolt 4.4).
#[derive(Clone)]
pub struct Neo4jStore {
    graph: Graph,
    uri: String,
}

impl fmt::Debug for Neo4jStore {
    /// Shows the URI only: the credentials never print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Neo4jStore")
            .field("uri", &self.uri)
            .finish_non_exhaustive()
    }
}

fn backend(context: &str, error: impl fmt::Display) -> StoreError {
    StoreError::Backend(format!("{context}: {error}"))
}

/// Whether an error is worth retrying the whole transaction for (a deadlock the server
/// detected, a lock that timed out, …): Neo4j marks those `Neo.TransientError.*`.
fn is_transient(error: &neo4rs::Error) -> bool {
    matches!(error, neo4rs::Error::Neo4j(e) if e.kind() == neo4rs::Neo4jErrorKind::Transient)
}

/// Whether an error means the server could not be reached (yet), as opposed to a
/// server that answered with a refusal.
fn is_unreachable(error: &neo4rs::Error) -> bool {
    matches!(
        error,
        neo4rs::Error::IOError { .. }
            | neo4rs::Error::ConnectionError
            | neo4rs::Error::ConnectionTimedOut
            | neo4rs::Error::ServerUnavailableError(_)
    ) || is_transient(error)
}

/// The bound of a variable-length pattern: the only text ever formatted into Cypher,
/// and always an integer from 1 to [`MAX_DEPTH`]. `None` for a depth of 0, which
/// reaches nothing.
fn depth_bound(max_depth: usize) -> Option<usize> {
    match max_depth.min(MAX_DEPTH) {
        0 => None,
        depth => Some(depth),
    }
}

impl Neo4jStore {
    /// Connects to `uri` (`bolt://host:7687`), waiting for the server with the default
    /// [`ConnectOptions`], and applies the schema.
    pub async fn connect(uri: &str, user: &str, password: &str) -> Result<Self, StoreError> {
        Self::connect_with(uri, user, password, ConnectOptions::default()).await
    }

    /// Connects to `uri`, retrying as `options` says while the server cannot be reached,
    /// and applies the schema (idempotently).
    pub async fn connect_with(
        uri: &str,
        user: &str,
        password: &str,
        options: ConnectOptions,
    ) -> Result<Self, StoreError> {
        let config = ConfigBuilder::default()
            .uri(uri)
            .user(user)
            .password(password)
            .build()
            .map_err(|e| backend(&format!("invalid Neo4j settings for {uri}"), e))?;
        // The driver connects lazily; `RETURN 1` is what proves the server answers.
        let graph = Graph::connect(config).map_err(|e| backend(&format!("cannot use {uri}"), e))?;
        let store = Neo4jStore {
            graph,
            uri: uri.to_string(),
        };
        let attempts = options.attempts.max(1);
        let mut attempt = 1;
        loop {
            match store.ping_raw().await {
                Ok(()) => break,
                // A server that is still starting refuses connections; one that
                // answers with an error (wrong password, say) will not change its mind.
                Err(e) if attempt < attempts && is_unreachable(&e) => {
                    attempt += 1;
                    tokio::time::sleep(options.delay).await;
                }
                Err(e) if is_unreachable(&e) => {
                    return Err(StoreError::Backend(format!(
                        "cannot reach Neo4j at {uri} after {attempts} attempt(s): {e}; \
                         is it running? (docker compose up neo4j)"
                    )))
                }
                Err(e) => return Err(backend(&format!("Neo4j at {uri} refused us"), e)),
            }
        }
        for statement in statements(SCHEMA) {
            match store.graph.run(query(&statement)).await {
                Ok(_) => {}
                // `IF NOT EXISTS` is checked before the rule is created, so two stores
                // starting at once against a fresh database can both try to create
                // it; the loser is told an equivalent rule exists, which is the goal.
                Err(neo4rs::Error::Neo4j(e))
                    if e.code() == "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists" => {}
                Err(e) => return Err(backend("cannot apply the Neo4j schema", e)),
            }
        }
        Ok(store)
    }

    /// `RETURN 1`, with the driver's error kept whole.
    async fn ping_raw(&self) -> Result<(), neo4rs::Error> {
        let mut stream = self.graph.execute_read(query("RETURN 1 AS one")).await?;
        while stream.next().await?.is_some() {}
        Ok(())
    }

    /// The server this store talks to.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Saves without [`traversal::validate`], so that tests can send a document the
    /// database itself refuses (a duplicate variable name) and check that the failed
    /// transaction leaves nothing. Not for other use.
    #[doc(hidden)]
    pub async fn save_unchecked(
        &self,
        model: ModelDocument,
        mechanisms: Option<Arc<str>>,
    ) -> Result<ModelDocument, StoreError> {
        let graph = self.graph.clone();
        // A task of its own: the transaction ends in a commit or a rollback even if the
        // caller's future is dropped.
        tokio::spawn(async move { save_retrying(&graph, model, mechanisms).await })
            .await
            .map_err(|e| backend("save task", e))?
    }

    /// Rows of a read-only query, each turned into a `T` by `row`.
    async fn read<T>(
        &self,
        q: Query,
        mut row: impl FnMut(&neo4rs::Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stream = self
            .graph
            .execute_read(q)
            .await
            .map_err(|e| backend("Neo4j query", e))?;
        let mut out = Vec::new();
        while let Some(r) = stream.next().await.map_err(|e| backend("Neo4j read", e))? {
            out.push(row(&r)?);
        }
        Ok(out)
    }

    /// The stored versions of `name`, ascending.
    async fn versions(&self, name: &str) -> Result<Vec<u32>, StoreError> {
        let mut versions = self
            .read(query(VERSIONS).param("name", name), |r| {
                r.get::<u32>("version")
                    .map_err(|e| backend("Neo4j version", e))
            })
            .await?;
        versions.sort_unstable();
        Ok(versions)
    }

    fn not_found(reference: String, name: &str, versions: &[u32]) -> StoreError {
        StoreError::NotFound {
            reference,
            known: versions.iter().map(|v| format!("{name}@{v}")).collect(),
        }
    }

    /// The id (`name@version`) of the version `reference` names.
    async fn resolve(&self, reference: &ModelRef) -> Result<String, StoreError> {
        let versions = self.versions(&reference.name).await?;
        let version = match reference.version {
            Some(v) if versions.contains(&v) => Some(v),
            Some(_) => None,
            None => versions.last().copied(),
        };
        match version {
            Some(v) => Ok(format!("{}@{v}", reference.name)),
            None => Err(Self::not_found(
                reference.to_string(),
                &reference.name,
                &versions,
            )),
        }
    }

    /// Resolves `reference` and checks that each of `variables` is in the model, with
    /// a suggestion for the first one that is not.
    async fn resolve_with(
        &self,
        reference: &ModelRef,
        variables: &[&str],
    ) -> Result<String, StoreError> {
        let id = self.resolve(reference).await?;
        // Ask only about the names wanted; the model's full list of names (which
        // can be thousands) is fetched only to suggest one after a miss.
        let missing: Vec<String> = self
            .read(
                query(MISSING_VARIABLES).param("id", id.as_str()).param(
                    "names",
                    variables.iter().map(|v| v.to_string()).collect::<Vec<_>>(),
                ),
                |r| {
                    r.get::<String>("name")
                        .map_err(|e| backend("Neo4j variable name", e))
                },
            )
            .await?;
        if let Some(wanted) = variables.iter().find(|v| missing.iter().any(|m| m == *v)) {
            let names: BTreeSet<String> = self
                .read(query(VARIABLE_NAMES).param("id", id.as_str()), |r| {
                    r.get::<String>("name")
                        .map_err(|e| backend("Neo4j variable name", e))
                })
                .await?
                .into_iter()
                .collect();
            return Err(StoreError::UnknownVariable {
                model: id,
                name: wanted.to_string(),
                suggestion: closest_name(wanted, names.iter().map(String::as_str))
                    .map(str::to_string),
            });
        }
        Ok(id)
    }

    /// Distinct variable names from a traversal, sorted.
    async fn names(&self, q: Query) -> Result<Vec<String>, StoreError> {
        let names: BTreeSet<String> = self
            .read(q, |r| {
                r.get::<String>("name")
                    .map_err(|e| backend("Neo4j variable name", e))
            })
            .await?
            .into_iter()
            .collect();
        Ok(names.into_iter().collect())
    }
}

/// [`save_once`], again while the server reports a transient failure (a detected
/// deadlock, say): each try is a whole transaction, rolled back before the next.
async fn save_retrying(
    graph: &Graph,
    model: ModelDocument,
    mechanisms: Option<Arc<str>>,
) -> Result<ModelDocument, StoreError> {
    const TRIES: u32 = 5;
    let mut tries = 1;
    loop {
        match save_once(graph, model.clone(), mechanisms.clone()).await {
            Err(SaveError::Neo4j(e)) if is_transient(&e) && tries < TRIES => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50 * u64::from(tries))).await;
            }
            Err(SaveError::Neo4j(e)) => return Err(backend("saving to Neo4j failed", e)),
            Err(SaveError::Store(e)) => return Err(e),
            Ok(saved) => return Ok(saved),
        }
    }
}

/// Why one save transaction failed: the driver's error is kept whole so that
/// [`save_retrying`] can tell transient failures apart.
enum SaveError {
    Neo4j(neo4rs::Error),
    Store(StoreError),
}

impl From<neo4rs::Error> for SaveError {
    fn from(e: neo4rs::Error) -> Self {
        SaveError::Neo4j(e)
    }
}

/// One save transaction: commit, or roll back and report why.
async fn save_once(
    graph: &Graph,
    model: ModelDocument,
    mechanisms: Option<Arc<str>>,
) -> Result<ModelDocument, SaveError> {
    let mut txn = graph.start_txn().await?;
    match write_version(&mut txn, model, mechanisms).await {
        Ok(saved) => {
            txn.commit().await?;
            Ok(saved)
        }
        Err(e) => {
            // The original error is the one worth reporting; a failed rollback only
            // means the connection is gone, and the server rolls back on its own then.
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

/// The first row's integer column `key` of a query run in `txn`, reading the stream to
/// its end so the connection is ready for the next statement.
async fn single_integer(txn: &mut Txn, q: Query, key: &str) -> Result<i64, SaveError> {
    let mut stream = txn.execute(q).await?;
    let mut value = None;
    while let Some(row) = stream.next(txn.handle()).await? {
        if value.is_none() {
            value = Some(row.get::<i64>(key).map_err(neo4rs::Error::from)?);
        }
    }
    value.ok_or_else(|| {
        SaveError::Store(StoreError::Backend(format!(
            "Neo4j returned no `{key}` while saving"
        )))
    })
}

/// Writes the next version of `model` inside `txn` (which the caller commits).
async fn write_version(
    txn: &mut Txn,
    mut model: ModelDocument,
    mechanisms: Option<Arc<str>>,
) -> Result<ModelDocument, SaveError> {
    let invalid = |message: String| SaveError::Store(StoreError::InvalidModel(message));
    let n_rows = i64::try_from(model.n_rows)
        .map_err(|_| invalid(format!("n_rows {} is too large to store", model.n_rows)))?;
    let variables = model
        .variables
        .iter()
        .enumerate()
        .map(|(i, v)| variable_row(i, v))
        .collect::<Result<Vec<BoltType>, StoreError>>()
        .map_err(SaveError::Store)?;
    let edges: Vec<BoltType> = model
        .edges
        .iter()
        .enumerate()
        .map(|(i, e)| edge_row(i, e))
        .collect();

    let version = single_integer(
        txn,
        query(NEXT_VERSION).param("name", model.name.as_str()),
        "version",
    )
    .await?;
    let version = u32::try_from(version).map_err(|_| {
        SaveError::Store(StoreError::Backend(format!(
            "the version counter of `{}` is out of range: {version}",
            model.name
        )))
    })?;
    model.version = version;
    model.model_id = format!("{}@{version}", model.name);
    let id = model.model_id.as_str();

    txn.run(
        query(CREATE_MODEL)
            .param("id", id)
            .param("name", model.name.as_str())
            .param("version", i64::from(version))
            .param("created_at", model.created_at.as_str())
            .param("dataset_sha256", model.dataset_sha256.as_str())
            .param("n_rows", n_rows)
            .param("method", model.method.as_str())
            .param("assumptions", model.assumptions.clone())
            .param("mechanisms", model.mechanisms.clone())
            .param("created_by", model.created_by.clone()),
    )
    .await?;
    if let Some(text) = mechanisms {
        txn.run(
            query(CREATE_MECHANISMS)
                .param("id", id)
                .param("text", text.to_string()),
        )
        .await?;
    }
    txn.run(
        query(LINK_PREVIOUS)
            .param("id", id)
            .param("name", model.name.as_str())
            .param("version", i64::from(version)),
    )
    .await?;
    let created = single_integer(
        txn,
        query(CREATE_VARIABLES)
            .param("id", id)
            .param("variables", variables),
        "created",
    )
    .await?;
    // The MATCHes of CREATE_EDGES skip an edge whose ends are missing rather than
    // fail; counting makes such a write an error instead of a silently partial model.
    let expected_edges = model.edges.len();
    let edges_created = single_integer(
        txn,
        query(CREATE_EDGES).param("id", id).param("edges", edges),
        "created",
    )
    .await?;
    if usize::try_from(created).ok() != Some(model.variables.len())
        || usize::try_from(edges_created).ok() != Some(expected_edges)
    {
        return Err(SaveError::Store(StoreError::Backend(format!(
            "Neo4j wrote {created} of {} variables and {edges_created} of {expected_edges} edges",
            model.variables.len()
        ))));
    }
    Ok(model)
}

/// One variable as the map `CREATE_VARIABLES` unwinds; `None` becomes null, which
/// Neo4j does not store, so an absent optional is an absent property.
fn variable_row(ordinal: usize, v: &Variable) -> Result<BoltType, StoreError> {
    let parameters = serde_json::to_string(&v.parameters)
        .map_err(|e| StoreError::InvalidModel(format!("parameters of `{}`: {e}", v.name)))?;
    let row: HashMap<&str, BoltType> = HashMap::from([
        ("ordinal", ordinal_value(ordinal)),
        ("name", v.name.as_str().into()),
        ("label", v.label.as_str().into()),
        ("aliases", v.aliases.clone().into()),
        ("role", v.role.name().into()),
        ("kind", v.kind.name().into()),
        ("unit", v.unit.clone().into()),
        ("mean", v.mean.into()),
        ("std", v.std.into()),
        ("min", v.min.into()),
        ("max", v.max.into()),
        ("mechanism", v.mechanism.clone().into()),
        ("parameters", parameters.into()),
    ]);
    Ok(row.into())
}

/// One edge as the map `CREATE_EDGES` unwinds.
fn edge_row(ordinal: usize, e: &CausalEdge) -> BoltType {
    let row: HashMap<&str, BoltType> = HashMap::from([
        ("ordinal", ordinal_value(ordinal)),
        ("source", e.source.as_str().into()),
        ("target", e.target.as_str().into()),
        ("effect", e.effect.into()),
        ("ci_low", e.ci_low.into()),
        ("ci_high", e.ci_high.into()),
        ("p_value", e.p_value.into()),
        ("method", e.method.clone().into()),
    ]);
    row.into()
}

fn ordinal_value(ordinal: usize) -> BoltType {
    // A document has far fewer than 2^63 variables; saturate rather than panic.
    i64::try_from(ordinal).unwrap_or(i64::MAX).into()
}

/// A `Model` node's properties, as `m {.*}` returns them.
#[derive(Deserialize)]
struct ModelRow {
    id: String,
    name: String,
    version: u32,
    created_at: String,
    dataset_sha256: String,
    n_rows: u64,
    method: String,
    #[serde(default)]
    assumptions: Vec<String>,
    #[serde(default)]
    mechanisms: Option<String>,
    #[serde(default)]
    created_by: Option<String>,
}

/// A `Variable` node's properties.
#[derive(Deserialize)]
struct VariableRow {
    ordinal: i64,
    name: String,
    label: String,
    #[serde(default)]
    aliases: Vec<String>,
    role: String,
    kind: String,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    mean: Option<f64>,
    #[serde(default)]
    std: Option<f64>,
    #[serde(default)]
    min: Option<f64>,
    #[serde(default)]
    max: Option<f64>,
    #[serde(default)]
    mechanism: Option<String>,
    parameters: String,
}

/// A `CAUSES` relationship's properties with its ends' names.
#[derive(Deserialize)]
struct EdgeRow {
    ordinal: i64,
    source: String,
    target: String,
    #[serde(default)]
    effect: Option<f64>,
    #[serde(default)]
    ci_low: Option<f64>,
    #[serde(default)]
    ci_high: Option<f64>,
    #[serde(default)]
    p_value: Option<f64>,
    #[serde(default)]
    method: Option<String>,
}

fn document_from(
    model: ModelRow,
    mut variables: Vec<VariableRow>,
    mut edges: Vec<EdgeRow>,
) -> Result<ModelDocument, StoreError> {
    let corrupt =
        |what: String| StoreError::Backend(format!("model `{}` is corrupt: {what}", model.id));
    variables.sort_by_key(|v| v.ordinal);
    edges.sort_by_key(|e| e.ordinal);
    let variables = variables
        .into_iter()
        .map(|v| {
            let role: Role = v.role.parse().map_err(|e| corrupt(format!("{e}")))?;
            let kind: VariableKind = v.kind.parse().map_err(|e| corrupt(format!("{e}")))?;
            let parameters: BTreeMap<String, f64> = serde_json::from_str(&v.parameters)
                .map_err(|e| corrupt(format!("parameters of `{}`: {e}", v.name)))?;
            Ok(Variable {
                name: v.name,
                label: v.label,
                aliases: v.aliases,
                role,
                kind,
                unit: v.unit,
                mean: v.mean,
                std: v.std,
                min: v.min,
                max: v.max,
                mechanism: v.mechanism,
                parameters,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let edges = edges
        .into_iter()
        .map(|e| CausalEdge {
            source: e.source,
            target: e.target,
            effect: e.effect,
            ci_low: e.ci_low,
            ci_high: e.ci_high,
            p_value: e.p_value,
            method: e.method,
        })
        .collect();
    Ok(ModelDocument {
        model_id: model.id,
        name: model.name,
        version: model.version,
        created_at: model.created_at,
        dataset_sha256: model.dataset_sha256,
        n_rows: model.n_rows,
        method: model.method,
        assumptions: model.assumptions,
        mechanisms: model.mechanisms,
        variables,
        edges,
        created_by: model.created_by,
    })
}

#[async_trait]
impl ModelStore for Neo4jStore {
    async fn save_with_mechanisms(
        &self,
        model: ModelDocument,
        mechanisms: Option<Arc<str>>,
    ) -> Result<ModelDocument, StoreError> {
        traversal::validate(&model)?;
        check_mechanisms(&model, mechanisms.as_deref())?;
        self.save_unchecked(model, mechanisms).await
    }

    async fn mechanisms(&self, reference: &ModelRef) -> Result<Option<Arc<str>>, StoreError> {
        let id = self.resolve(reference).await?;
        let texts = self
            .read(query(GET_MECHANISMS).param("id", id.as_str()), |r| {
                r.get::<String>("text")
                    .map_err(|e| backend(&format!("reading the mechanisms of `{id}`"), e))
            })
            .await?;
        Ok(texts.into_iter().next().map(Arc::from))
    }

    async fn list(&self) -> Result<Vec<ModelSummary>, StoreError> {
        let mut rows = self
            .read(query(LIST), |r| {
                let field = |e| backend("Neo4j model listing", e);
                Ok((
                    r.get::<String>("name").map_err(field)?,
                    r.get::<u32>("version").map_err(field)?,
                    r.get::<String>("created_at").map_err(field)?,
                ))
            })
            .await?;
        rows.sort_by(|a, b| (a.0.as_str(), a.1).cmp(&(b.0.as_str(), b.1)));
        let mut summaries: Vec<ModelSummary> = Vec::new();
        for (name, version, created_at) in rows {
            match summaries.last_mut() {
                Some(summary) if summary.name == name => {
                    summary.versions.push(version);
                    summary.latest_created_at = created_at;
                }
                _ => summaries.push(ModelSummary {
                    name,
                    versions: vec![version],
                    latest_created_at: created_at,
                }),
            }
        }
        Ok(summaries)
    }

    async fn get(&self, reference: &ModelRef) -> Result<ModelDocument, StoreError> {
        let id = self.resolve(reference).await?;
        let documents = self
            .read(query(GET).param("id", id.as_str()), |r| {
                let field = |e| backend(&format!("reading model `{id}` from Neo4j"), e);
                document_from(
                    r.get::<ModelRow>("model").map_err(field)?,
                    r.get::<Vec<VariableRow>>("variables").map_err(field)?,
                    r.get::<Vec<EdgeRow>>("edges").map_err(field)?,
                )
            })
            .await?;
        match documents.into_iter().next() {
            Some(document) => Ok(document),
            // Deleted between resolving and reading.
            None => {
                let versions = self.versions(&reference.name).await?;
                Err(Self::not_found(
                    reference.to_string(),
                    &reference.name,
                    &versions,
                ))
            }
        }
    }

    async fn delete(&self, name: &str, version: u32) -> Result<(), StoreError> {
        let id = format!("{name}@{version}");
        let mut txn = self
            .graph
            .start_txn()
            .await
            .map_err(|e| backend("Neo4j begin", e))?;
        let deleted = match single_integer(
            &mut txn,
            query(DELETE).param("id", id.as_str()).param("name", name),
            "deleted",
        )
        .await
        {
            Ok(n) => n,
            Err(e) => {
                let _ = txn.rollback().await;
                return Err(match e {
                    SaveError::Neo4j(e) => backend("deleting from Neo4j failed", e),
                    SaveError::Store(e) => e,
                });
            }
        };
        txn.commit().await.map_err(|e| backend("Neo4j commit", e))?;
        if deleted == 0 {
            let versions = self.versions(name).await?;
            return Err(Self::not_found(id, name, &versions));
        }
        Ok(())
    }

    async fn descendants(
        &self,
        reference: &ModelRef,
        variable: &str,
        max_depth: usize,
    ) -> Result<Vec<String>, StoreError> {
        let id = self.resolve_with(reference, &[variable]).await?;
        let Some(depth) = depth_bound(max_depth) else {
            return Ok(Vec::new());
        };
        let cypher = format!(
            "MATCH (:Variable {{model_id: $id, name: $name}})-[:CAUSES*1..{depth}]->(d:Variable) \
             RETURN DISTINCT d.name AS name"
        );
        self.names(query(&cypher).param("id", id).param("name", variable))
            .await
    }

    async fn ancestors(
        &self,
        reference: &ModelRef,
        variable: &str,
        max_depth: usize,
    ) -> Result<Vec<String>, StoreError> {
        let id = self.resolve_with(reference, &[variable]).await?;
        let Some(depth) = depth_bound(max_depth) else {
            return Ok(Vec::new());
        };
        let cypher = format!(
            "MATCH (a:Variable)-[:CAUSES*1..{depth}]->(:Variable {{model_id: $id, name: $name}}) \
             RETURN DISTINCT a.name AS name"
        );
        self.names(query(&cypher).param("id", id).param("name", variable))
            .await
    }

    async fn paths(
        &self,
        reference: &ModelRef,
        from: &str,
        to: &str,
        max_depth: usize,
    ) -> Result<Vec<Vec<String>>, StoreError> {
        let id = self.resolve_with(reference, &[from, to]).await?;
        let Some(depth) = depth_bound(max_depth) else {
            return Ok(Vec::new());
        };
        let cypher = format!(
            "MATCH p = (:Variable {{model_id: $id, name: $from}})-[:CAUSES*1..{depth}]->\
             (:Variable {{model_id: $id, name: $to}}) \
             RETURN [n IN nodes(p) | n.name] AS names"
        );
        let mut paths = self
            .read(
                query(&cypher)
                    .param("id", id)
                    .param("from", from)
                    .param("to", to),
                |r| {
                    r.get::<Vec<String>>("names")
                        .map_err(|e| backend("Neo4j path", e))
                },
            )
            .await?;
        traversal::sort_paths(&mut paths);
        Ok(paths)
    }

    async fn downstream_kpis(
        &self,
        reference: &ModelRef,
        levers: &[String],
        max_depth: usize,
    ) -> Result<Vec<String>, StoreError> {
        let wanted: Vec<&str> = levers.iter().map(String::as_str).collect();
        let id = self.resolve_with(reference, &wanted).await?;
        let Some(depth) = depth_bound(max_depth) else {
            return Ok(Vec::new());
        };
        // Levers are starting points, never answers, even when one lever is downstream
        // of another (as in the in-memory traversal).
        let cypher = format!(
            "MATCH (l:Variable {{model_id: $id}}) WHERE l.name IN $levers \
             MATCH (l)-[:CAUSES*1..{depth}]->(k:Variable {{role: $kpi}}) \
             WHERE NOT k.name IN $levers \
             RETURN DISTINCT k.name AS name"
        );
        self.names(
            query(&cypher)
                .param("id", id)
                .param("levers", levers.to_vec())
                .param("kpi", Role::Kpi.name()),
        )
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.ping_raw()
            .await
            .map_err(|e| backend(&format!("Neo4j at {}", self.uri), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_file_gives_five_statements() {
        let schema = statements(SCHEMA);
        assert_eq!(schema.len(), 5, "{schema:?}");
        assert!(schema
            .iter()
            .all(|s| s.starts_with("CREATE ") && s.contains("IF NOT EXISTS")));
        assert!(schema[3].contains("ModelCounter"));
        assert!(schema[4].contains("Mechanisms"));
    }

    #[test]
    fn the_depth_bound_is_clamped_and_zero_reaches_nothing() {
        assert_eq!(depth_bound(0), None);
        assert_eq!(depth_bound(3), Some(3));
        assert_eq!(depth_bound(usize::MAX), Some(MAX_DEPTH));
    }

    #[test]
    fn absent_optionals_are_null_in_the_written_rows() {
        let v = Variable::new("tv_spend", Role::Lever, VariableKind::Continuous);
        let BoltType::Map(map) = variable_row(0, &v).unwrap() else {
            panic!("a variable row is a map");
        };
        assert!(matches!(map.get::<Option<f64>>("mean"), Ok(None)));
        assert!(matches!(
            map.get::<String>("parameters").as_deref(),
            Ok("{}")
        ));
    }
}
