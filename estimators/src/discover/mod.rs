//! Causal discovery: from data (and what the analyst knows) to a causal graph.
//!
//! Observational data determine a causal DAG only up to its Markov equivalence class,
//! which a CPDAG represents: directed edges that every DAG of the class shares, and
//! undirected edges that the data cannot orient. [`discover`] finds it with the
//! PC-stable algorithm ([`pc`]) and conditional-independence tests ([`ci_test`]):
//! Fisher's z on continuous data, the G-test on discrete data.
//!
//! Two kinds of human input shape the search ([`knowledge`]):
//!
//! - **Background knowledge** is always enforced: required edges are present and
//!   oriented, forbidden directions never appear, and no variable causes one in an
//!   earlier tier. Contradictory knowledge is refused before any test is run.
//! - **Priors** (believed edges with a confidence) guide the search and orient what
//!   the data leave undirected, but never keep an edge that a test removes.
//!
//! Every output edge says what decided it ([`Decision`]), and every missing edge
//! carries its explanation (`x ⫫ y | {z}, p = 0.43`), so an analyst can see which
//! parts of the graph come from the data and which from people, and orient the rest.

pub mod ci_test;
pub mod knowledge;
pub mod pc;

use std::fmt::{self, Write as _};

use serde::{Serialize, Serializer};

use crate::data::{ColumnType, Dataset};
use crate::error::{Error, Result};
use crate::graph::CausalGraph;
use crate::io::graphml::escape_xml;
use crate::progress::{Progress, Silent};

pub use ci_test::{CiKey, CiTest, FisherZ, GTest, Memo};
pub use knowledge::{Knowledge, Prior, ResolvedKnowledge};

use pc::{IndexedPrior, Pdag, Skeleton};

/// One of Meek's orientation rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MeekRule {
    /// Away from an arrow whose tail is not adjacent (no new collider).
    R1,
    /// Along a directed path (no cycle).
    R2,
    /// Into the tip of a kite of two non-adjacent parents.
    R3,
    /// Along a directed chain around an adjacency (needed with knowledge).
    R4,
}

/// What decided an edge's presence or its orientation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Presence: the conditional-independence tests did not remove it.
    Data,
    /// Presence or orientation: background knowledge (required, forbidden, tiers).
    Knowledge,
    /// Orientation: a prior, where the data left the edge undirected.
    Prior,
    /// Orientation: an unshielded collider found from the separating sets.
    Collider,
    /// Orientation: one of Meek's rules, propagating other orientations.
    Meek(MeekRule),
}

impl Decision {
    /// The stable name used in JSON and GraphML (`data`, `meek-r1`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Data => "data",
            Decision::Knowledge => "knowledge",
            Decision::Prior => "prior",
            Decision::Collider => "collider",
            Decision::Meek(MeekRule::R1) => "meek-r1",
            Decision::Meek(MeekRule::R2) => "meek-r2",
            Decision::Meek(MeekRule::R3) => "meek-r3",
            Decision::Meek(MeekRule::R4) => "meek-r4",
        }
    }

    /// The decision in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Decision::Data => "the data",
            Decision::Knowledge => "the knowledge",
            Decision::Prior => "a stronger prior",
            Decision::Collider => "a collider in the data",
            Decision::Meek(_) => "Meek's rules",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Decision {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An edge of the discovered graph.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CpdagEdge {
    /// The cause when `oriented`; otherwise the endpoint earlier in the data.
    pub source: String,
    /// The effect when `oriented`; otherwise the other endpoint.
    pub target: String,
    /// Whether the direction is decided (`source -> target`) or open (`source -- target`).
    pub oriented: bool,
    /// Why the two variables are adjacent: `data` or `knowledge`.
    pub adjacency: Decision,
    /// Why it points this way; `None` when undirected.
    pub orientation: Option<Decision>,
    /// The largest p-value among the tests this edge survived: how close the data
    /// came to removing it. `None` for a required edge, which is never tested.
    pub p_value: Option<f64>,
}

/// A pair of variables that are not adjacent, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RemovedEdge {
    /// One variable (earlier in the data).
    pub x: String,
    /// The other variable.
    pub y: String,
    /// The set given which the test found them independent (empty for knowledge).
    pub separating_set: Vec<String>,
    /// The p-value of that test; `None` when the knowledge removed the edge.
    pub p_value: Option<f64>,
    /// `data` (a test) or `knowledge` (forbidden both ways).
    pub decided_by: Decision,
    /// The reason in one line: `x ⫫ y | {z}, p = 0.43`.
    pub explanation: String,
}

/// The result of discovery: a CPDAG, with what decided each edge and why each
/// missing edge is missing.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cpdag {
    /// The variables, in data order.
    pub variables: Vec<String>,
    /// Rows the tests used.
    pub n_rows: usize,
    /// The conditional-independence test (`fisher-z`, `g-test`).
    pub test: String,
    /// The significance level: a test with p > alpha removes an edge.
    pub alpha: f64,
    /// Distinct conditional-independence tests computed.
    pub ci_tests: usize,
    /// The edges, in data order of their endpoints.
    pub edges: Vec<CpdagEdge>,
    /// The non-adjacent pairs, in data order.
    pub removed: Vec<RemovedEdge>,
    /// Conflicts the search resolved and priors it did not apply, one line each.
    pub notes: Vec<String>,
}

/// Which conditional-independence test to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TestKind {
    /// The G-test when every column is binary or categorical, else Fisher's z.
    #[default]
    Auto,
    /// Fisher's z (partial correlation); binary columns are read as 0/1 numbers.
    FisherZ,
    /// The G-test; every column must be binary or categorical.
    GTest,
}

/// Settings of [`discover`].
///
/// | field | default | range |
/// |---|---|---|
/// | `alpha` | 0.05 | (0, 1): larger keeps more edges |
/// | `max_depth` | `None` (no limit) | largest conditioning set tried |
/// | `test` | [`TestKind::Auto`] | |
#[derive(Clone, Debug, PartialEq)]
pub struct PcParams {
    /// Significance level of each test.
    pub alpha: f64,
    /// Largest conditioning set; `None` tests until no pair has enough neighbours.
    pub max_depth: Option<usize>,
    /// The conditional-independence test.
    pub test: TestKind,
}

impl Default for PcParams {
    fn default() -> Self {
        PcParams {
            alpha: 0.05,
            max_depth: None,
            test: TestKind::Auto,
        }
    }
}

impl PcParams {
    /// Checks the ranges in the table above.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an alpha outside (0, 1).
    pub fn check(&self) -> Result<()> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(Error::invalid_input(format!(
                "alpha must be between 0 and 1 (exclusive), not {}",
                self.alpha
            )));
        }
        Ok(())
    }
}

/// Discovers a CPDAG over every column of `data`.
///
/// ```
/// use causeway_estimators::data::Dataset;
/// use causeway_estimators::discover::{discover, Knowledge, PcParams};
///
/// // x → z ← y: a collider, which the data orient on their own.
/// let (mut x, mut y, mut z) = (vec![], vec![], vec![]);
/// for i in 0..400 {
///     let a = ((i * 37) % 101) as f64 / 101.0 - 0.5;
///     let b = ((i * 53) % 97) as f64 / 97.0 - 0.5;
///     x.push(a);
///     y.push(b);
///     z.push(a + b + 0.1 * (((i * 71) % 89) as f64 / 89.0 - 0.5));
/// }
/// let data = Dataset::from_columns("demo", vec![("x".into(), x), ("y".into(), y), ("z".into(), z)])?;
/// let cpdag = discover(&data, &Knowledge::default(), &[], &PcParams::default())?;
/// let arrows: Vec<String> = cpdag.edges.iter().map(|e| format!("{}->{}", e.source, e.target)).collect();
/// assert_eq!(arrows, ["x->z", "y->z"]);
/// assert!(cpdag.removed[0].explanation.starts_with("x ⫫ y | {}"));
/// # Ok::<(), causeway_estimators::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] for bad settings; [`Error::InvalidData`] for fewer than
/// two columns, too few rows (at least variables + 2), a constant column, perfectly
/// collinear columns (named), or a column the test cannot use; the errors of
/// [`Knowledge::resolve`] for unknown names and contradictory knowledge;
/// [`Error::UnknownVariable`] for a prior naming an unknown variable.
pub fn discover(
    data: &Dataset,
    knowledge: &Knowledge,
    priors: &[Prior],
    params: &PcParams,
) -> Result<Cpdag> {
    discover_with_progress(data, knowledge, priors, params, &Silent)
}

/// [`discover`], reporting the skeleton search to `progress` — one stage per
/// conditioning depth ("testing pairs given 0 variables", "… given 1 variable", …),
/// 0 before its first pair, then one step per pair tested — and stopping between
/// pairs when it cancels. The graph is the same as without it.
///
/// # Errors
/// As [`discover`], and [`Error::Cancelled`] from `progress`.
pub fn discover_with_progress(
    data: &Dataset,
    knowledge: &Knowledge,
    priors: &[Prior],
    params: &PcParams,
    progress: &dyn Progress,
) -> Result<Cpdag> {
    params.check()?;
    let names = data.column_names();
    if names.len() < 2 {
        return Err(Error::invalid_data(format!(
            "{}: discovery needs at least two columns, found {}",
            data.source(),
            names.len()
        )));
    }
    if data.n_rows() < names.len() + 2 {
        return Err(Error::invalid_data(format!(
            "{}: {} rows are too few for {} variables; discovery needs at least {} rows (variables + 2), and many more for reliable tests",
            data.source(),
            data.n_rows(),
            names.len(),
            names.len() + 2
        )));
    }
    // Name problems before data problems: a typo is the quicker fix.
    let resolved = knowledge.resolve(&names)?;
    let indexed = index_priors(priors, &names)?;
    let discrete = data
        .columns()
        .iter()
        .all(|c| c.kind != ColumnType::Continuous);
    let use_g = match params.test {
        TestKind::Auto => discrete,
        TestKind::FisherZ => false,
        TestKind::GTest => true,
    };
    if use_g {
        let test = Memo::new(GTest::from_dataset(data, &names)?);
        run_pc(
            &names,
            &test,
            data.n_rows(),
            &resolved,
            &indexed,
            params,
            progress,
        )
    } else {
        let test = Memo::new(FisherZ::from_dataset(data, &names)?);
        run_pc(
            &names,
            &test,
            data.n_rows(),
            &resolved,
            &indexed,
            params,
            progress,
        )
    }
}

/// PC-stable with any [`CiTest`] over the named variables (the test answers by
/// index into `variables`); [`discover`] calls it with a test built from data.
///
/// # Errors
/// As [`discover`] for settings, knowledge and priors.
pub fn discover_with_test<T: CiTest>(
    variables: &[String],
    test: T,
    n_rows: usize,
    knowledge: &Knowledge,
    priors: &[Prior],
    params: &PcParams,
) -> Result<Cpdag> {
    params.check()?;
    let resolved = knowledge.resolve(variables)?;
    let indexed = index_priors(priors, variables)?;
    let test = Memo::new(test);
    run_pc(
        variables, &test, n_rows, &resolved, &indexed, params, &Silent,
    )
}

fn index_priors(priors: &[Prior], names: &[String]) -> Result<Vec<IndexedPrior>> {
    let index = |name: &str| {
        names
            .iter()
            .position(|v| v == name)
            .ok_or_else(|| Error::unknown_variable(name, names.iter().map(String::as_str)))
    };
    priors
        .iter()
        .map(|p| {
            if !(0.0..=1.0).contains(&p.confidence) {
                return Err(Error::invalid_input(format!(
                    "the confidence of the prior {} -> {} must be between 0 and 1, not {}",
                    p.source, p.target, p.confidence
                )));
            }
            Ok(IndexedPrior {
                source: index(&p.source)?,
                target: index(&p.target)?,
                confidence: p.confidence,
            })
        })
        .collect()
}

fn run_pc<T: CiTest>(
    names: &[String],
    test: &Memo<T>,
    n_rows: usize,
    knowledge: &ResolvedKnowledge,
    priors: &[IndexedPrior],
    params: &PcParams,
    progress: &dyn Progress,
) -> Result<Cpdag> {
    let n = names.len();
    let mut weight = vec![0.0; n * n];
    for p in priors {
        for (a, b) in [(p.source, p.target), (p.target, p.source)] {
            weight[a * n + b] = f64::max(weight[a * n + b], p.confidence);
        }
    }
    let skeleton = pc::skeleton(
        test,
        n,
        knowledge,
        &weight,
        params.alpha,
        params.max_depth,
        progress,
    )?;
    let mut g = Pdag::new(n, skeleton.adjacent.clone());
    pc::orient_by_knowledge(&mut g, knowledge);
    let mut notes = pc::orient_colliders(&mut g, &skeleton, knowledge, names);
    pc::meek(&mut g, knowledge);
    let removed = removed_edges(&skeleton, names);
    let explain = |a: usize, b: usize| {
        removed
            .iter()
            .find(|r| (r.x == names[a] && r.y == names[b]) || (r.x == names[b] && r.y == names[a]))
            .map_or_else(String::new, |r| r.explanation.clone())
    };
    notes.extend(pc::apply_priors(&mut g, priors, knowledge, names, &explain));
    Ok(Cpdag {
        variables: names.to_vec(),
        n_rows,
        test: test.name().to_string(),
        alpha: params.alpha,
        ci_tests: test.distinct_tests(),
        edges: edges_of(&g, &skeleton, knowledge, names),
        removed,
        notes,
    })
}

fn edges_of(
    g: &Pdag,
    skeleton: &Skeleton,
    knowledge: &ResolvedKnowledge,
    names: &[String],
) -> Vec<CpdagEdge> {
    let n = g.n;
    let mut edges = Vec::new();
    for a in 0..n {
        for b in (a + 1)..n {
            if !g.adjacent(a, b) {
                continue;
            }
            let (source, target, orientation) = match (g.orientation(a, b), g.orientation(b, a)) {
                (Some(why), _) => (a, b, Some(why)),
                (None, Some(why)) => (b, a, Some(why)),
                (None, None) => (a, b, None),
            };
            let p = skeleton.max_p[a * n + b];
            edges.push(CpdagEdge {
                source: names[source].clone(),
                target: names[target].clone(),
                oriented: orientation.is_some(),
                adjacency: if knowledge.requires_adjacency(a, b) {
                    Decision::Knowledge
                } else {
                    Decision::Data
                },
                orientation,
                p_value: (!p.is_nan()).then_some(p),
            });
        }
    }
    edges
}

fn removed_edges(skeleton: &Skeleton, names: &[String]) -> Vec<RemovedEdge> {
    let n = skeleton.n;
    let mut removed = Vec::new();
    for x in 0..n {
        for y in (x + 1)..n {
            if let Some(sep) = &skeleton.separation[x * n + y] {
                let given: Vec<String> = sep.given.iter().map(|&v| names[v].clone()).collect();
                removed.push(RemovedEdge {
                    explanation: format!(
                        "{} ⫫ {} | {{{}}}, p = {}",
                        names[x],
                        names[y],
                        given.join(", "),
                        format_p(sep.p_value)
                    ),
                    x: names[x].clone(),
                    y: names[y].clone(),
                    separating_set: given,
                    p_value: Some(sep.p_value),
                    decided_by: Decision::Data,
                });
            } else if skeleton.by_knowledge.contains(&(x, y)) {
                removed.push(RemovedEdge {
                    explanation: format!(
                        "{} and {} cannot be adjacent: the knowledge rules out both directions",
                        names[x], names[y]
                    ),
                    x: names[x].clone(),
                    y: names[y].clone(),
                    separating_set: Vec::new(),
                    p_value: None,
                    decided_by: Decision::Knowledge,
                });
            }
        }
    }
    removed
}

/// A p-value for people: two significant digits, scientific below 0.001.
pub fn format_p(p: f64) -> String {
    if p >= 0.001 {
        format!("{p:.2}")
    } else {
        format!("{p:.1e}")
    }
}

/// The CPDAG of a known DAG (its Markov equivalence class): the skeleton, the
/// unshielded colliders, and Meek's rules. It is what PC finds with perfect tests,
/// so tests and benchmarks compare against it.
pub fn cpdag_of_dag(graph: &CausalGraph) -> Cpdag {
    let names: Vec<String> = graph.node_names().map(str::to_string).collect();
    let n = names.len();
    let mut adjacent = vec![false; n * n];
    let index = |name: &str| names.iter().position(|v| v == name).unwrap_or(0);
    let edges: Vec<(usize, usize)> = graph
        .edges()
        .into_iter()
        .map(|(a, b)| (index(a), index(b)))
        .collect();
    for &(a, b) in &edges {
        adjacent[a * n + b] = true;
        adjacent[b * n + a] = true;
    }
    let mut g = Pdag::new(n, adjacent);
    for &(x, z) in &edges {
        for &(y, z2) in &edges {
            if z == z2 && x < y && !g.adjacent(x, y) {
                g.orient(x, z, Decision::Collider);
                g.orient(y, z, Decision::Collider);
            }
        }
    }
    let knowledge = ResolvedKnowledge::none(n);
    pc::meek(&mut g, &knowledge);
    let skeleton = Skeleton {
        n,
        adjacent: Vec::new(),
        separation: vec![None; n * n],
        by_knowledge: Vec::new(),
        max_p: vec![f64::NAN; n * n],
    };
    Cpdag {
        variables: names.clone(),
        n_rows: 0,
        test: "oracle".into(),
        alpha: 0.0,
        ci_tests: 0,
        edges: edges_of(&g, &skeleton, &knowledge, &names),
        removed: Vec::new(),
        notes: Vec::new(),
    }
}

impl Cpdag {
    /// Graphviz DOT: oriented edges as arrows, undirected ones with `dir=none`, each
    /// labelled with what decided it.
    pub fn to_dot(&self) -> String {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut out = String::from("digraph cpdag {\n");
        for v in &self.variables {
            let _ = writeln!(out, "  {};", quote(v));
        }
        for e in &self.edges {
            let decided = e.orientation.unwrap_or(e.adjacency);
            let dir = if e.oriented { "" } else { ", dir=none" };
            let _ = writeln!(
                out,
                "  {} -> {} [label={}{dir}];",
                quote(&e.source),
                quote(&e.target),
                quote(decided.as_str())
            );
        }
        out.push_str("}\n");
        out
    }

    /// GraphML that networkx, yEd and Gephi read. A CPDAG is not a model document
    /// (its edges are not all direct causes with a known direction, and a model's
    /// reader rightly refuses undirected edges), so it gets its own small set of keys:
    /// on each edge `oriented` (false: the direction is open, and `source`/`target`
    /// are only data order), `adjacency`, `orientation` and `p_value`; on the graph
    /// `test`, `alpha` and `n_rows`. Undirected edges are written as directed
    /// elements with `oriented` false — networkx refuses `directed="false"` edges in
    /// a directed graph — and [`crate::graph::CausalGraph::load`] refuses them until
    /// the analyst orients them (sets `oriented` to true or removes it).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a variable name with characters XML cannot hold.
    pub fn to_graphml(&self) -> Result<String> {
        let esc = |text: &str| {
            escape_xml(text).ok_or_else(|| {
                Error::invalid_input(format!(
                    "`{text}` has a character that XML cannot hold; rename the column"
                ))
            })
        };
        let mut out = String::from(
            "<?xml version='1.0' encoding='utf-8'?>\n\
             <graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">\n",
        );
        for (id, domain, name, kind) in [
            ("g0", "graph", "test", "string"),
            ("g1", "graph", "alpha", "double"),
            ("g2", "graph", "n_rows", "long"),
            ("e0", "edge", "oriented", "boolean"),
            ("e1", "edge", "adjacency", "string"),
            ("e2", "edge", "orientation", "string"),
            ("e3", "edge", "p_value", "double"),
        ] {
            let _ = writeln!(
                out,
                "  <key id=\"{id}\" for=\"{domain}\" attr.name=\"{name}\" attr.type=\"{kind}\" />"
            );
        }
        out.push_str("  <graph edgedefault=\"directed\">\n");
        let _ = writeln!(out, "    <data key=\"g0\">{}</data>", esc(&self.test)?);
        let _ = writeln!(out, "    <data key=\"g1\">{:?}</data>", self.alpha);
        let _ = writeln!(out, "    <data key=\"g2\">{}</data>", self.n_rows);
        for v in &self.variables {
            let _ = writeln!(out, "    <node id=\"{}\" />", esc(v)?);
        }
        for e in &self.edges {
            let _ = writeln!(
                out,
                "    <edge source=\"{}\" target=\"{}\">",
                esc(&e.source)?,
                esc(&e.target)?
            );
            let _ = writeln!(out, "      <data key=\"e0\">{}</data>", e.oriented);
            let _ = writeln!(out, "      <data key=\"e1\">{}</data>", e.adjacency);
            if let Some(o) = e.orientation {
                let _ = writeln!(out, "      <data key=\"e2\">{o}</data>");
            }
            if let Some(p) = e.p_value {
                let _ = writeln!(out, "      <data key=\"e3\">{p:?}</data>");
            }
            out.push_str("    </edge>\n");
        }
        out.push_str("  </graph>\n</graphml>\n");
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
