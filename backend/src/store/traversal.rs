//! Traversals of one model graph held in memory, and the checks a document passes
//! before any store accepts it.
//!
//! The embedded store answers traversals with these functions; the Neo4j store
//! answers them with Cypher, and the conformance tests hold both to the same
//! answers.

use std::collections::{BTreeSet, HashMap, VecDeque};

use causeway_estimators::error::closest_name;
use causeway_estimators::graph::CausalGraph;
use causeway_estimators::model::{ModelDocument, Role};

use super::{StoreError, MAX_DEPTH};

/// Checks that a document can be stored: a name, unique variable names, edges
/// between known variables, no edge twice, and no directed cycle.
pub fn validate(model: &ModelDocument) -> Result<(), StoreError> {
    super::validate_name(&model.name)?;
    let mut names = BTreeSet::new();
    for variable in &model.variables {
        if variable.name.trim().is_empty() {
            return Err(StoreError::InvalidModel(
                "a variable has an empty name".into(),
            ));
        }
        if !names.insert(variable.name.as_str()) {
            return Err(StoreError::InvalidModel(format!(
                "variable `{}` appears twice",
                variable.name
            )));
        }
    }
    let mut edges = BTreeSet::new();
    for edge in &model.edges {
        for end in [&edge.source, &edge.target] {
            if !names.contains(end.as_str()) {
                return Err(StoreError::InvalidModel(format!(
                    "edge {} -> {} names `{end}`, which is not a variable of the model",
                    edge.source, edge.target
                )));
            }
        }
        if !edges.insert((edge.source.as_str(), edge.target.as_str())) {
            return Err(StoreError::InvalidModel(format!(
                "edge {} -> {} appears twice",
                edge.source, edge.target
            )));
        }
    }
    let pairs: Vec<(String, String)> = model
        .edges
        .iter()
        .map(|e| (e.source.clone(), e.target.clone()))
        .collect();
    CausalGraph::from_edges(&pairs, &[])
        .map(|_| ())
        .map_err(|e| StoreError::InvalidModel(e.to_string()))
}

/// Adjacency of a model, by variable name.
struct Adjacency<'a> {
    children: HashMap<&'a str, Vec<&'a str>>,
    parents: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> Adjacency<'a> {
    fn new(model: &'a ModelDocument) -> Self {
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
        for edge in &model.edges {
            children.entry(&edge.source).or_default().push(&edge.target);
            parents.entry(&edge.target).or_default().push(&edge.source);
        }
        Adjacency { children, parents }
    }
}

/// An [`StoreError::UnknownVariable`] unless `name` is a variable of `model`.
pub fn require_variable(model: &ModelDocument, name: &str) -> Result<(), StoreError> {
    if model.variables.iter().any(|v| v.name == name) {
        return Ok(());
    }
    Err(StoreError::UnknownVariable {
        model: model.model_id.clone(),
        name: name.to_string(),
        suggestion: closest_name(name, model.variables.iter().map(|v| v.name.as_str()))
            .map(str::to_string),
    })
}

/// Breadth-first search from `starts` along `next`, up to `max_depth` edges; the
/// starting variables themselves are not included. Breadth-first order reaches each
/// variable first by a shortest path, so one visit per variable is enough.
fn reachable<'a>(
    starts: &[&'a str],
    next: &HashMap<&'a str, Vec<&'a str>>,
    max_depth: usize,
) -> BTreeSet<&'a str> {
    let max_depth = max_depth.min(MAX_DEPTH);
    let mut visited: BTreeSet<&str> = starts.iter().copied().collect();
    let mut found = BTreeSet::new();
    let mut queue: VecDeque<(&str, usize)> = starts.iter().map(|s| (*s, 0)).collect();
    while let Some((node, depth)) = queue.pop_front() {
        if depth == max_depth {
            continue;
        }
        for &child in next.get(node).map(Vec::as_slice).unwrap_or_default() {
            if visited.insert(child) {
                found.insert(child);
                queue.push_back((child, depth + 1));
            }
        }
    }
    found
}

/// Variables reachable from `variable` within `max_depth` edges, sorted.
pub fn descendants(
    model: &ModelDocument,
    variable: &str,
    max_depth: usize,
) -> Result<Vec<String>, StoreError> {
    require_variable(model, variable)?;
    let adjacency = Adjacency::new(model);
    Ok(reachable(&[variable], &adjacency.children, max_depth)
        .into_iter()
        .map(str::to_string)
        .collect())
}

/// Variables from which `variable` is reachable within `max_depth` edges, sorted.
pub fn ancestors(
    model: &ModelDocument,
    variable: &str,
    max_depth: usize,
) -> Result<Vec<String>, StoreError> {
    require_variable(model, variable)?;
    let adjacency = Adjacency::new(model);
    Ok(reachable(&[variable], &adjacency.parents, max_depth)
        .into_iter()
        .map(str::to_string)
        .collect())
}

/// Every directed path from `from` to `to` with at most `max_depth` edges, shortest
/// first, ties in lexicographic order.
pub fn paths(
    model: &ModelDocument,
    from: &str,
    to: &str,
    max_depth: usize,
) -> Result<Vec<Vec<String>>, StoreError> {
    require_variable(model, from)?;
    require_variable(model, to)?;
    let adjacency = Adjacency::new(model);
    let max_depth = max_depth.min(MAX_DEPTH);
    let mut found = Vec::new();
    let mut stack: Vec<Vec<&str>> = vec![vec![from]];
    while let Some(path) = stack.pop() {
        let last = path[path.len() - 1];
        if last == to && path.len() > 1 {
            found.push(path.iter().map(|s| s.to_string()).collect::<Vec<String>>());
            continue;
        }
        if path.len() > max_depth {
            continue;
        }
        for &child in adjacency
            .children
            .get(last)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let mut longer = path.clone();
            longer.push(child);
            stack.push(longer);
        }
    }
    sort_paths(&mut found);
    Ok(found)
}

/// The order every store returns paths in: shortest first, then lexicographic.
pub fn sort_paths(paths: &mut [Vec<String>]) {
    paths.sort_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
}

/// The KPIs reachable from any lever within `max_depth` edges, sorted.
pub fn downstream_kpis(
    model: &ModelDocument,
    levers: &[String],
    max_depth: usize,
) -> Result<Vec<String>, StoreError> {
    for lever in levers {
        require_variable(model, lever)?;
    }
    let adjacency = Adjacency::new(model);
    let starts: Vec<&str> = levers.iter().map(String::as_str).collect();
    let kpis: BTreeSet<&str> = model
        .variables
        .iter()
        .filter(|v| v.role == Role::Kpi)
        .map(|v| v.name.as_str())
        .collect();
    Ok(reachable(&starts, &adjacency.children, max_depth)
        .into_iter()
        .filter(|name| kpis.contains(name))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeway_estimators::model::{CausalEdge, Variable, VariableKind};

    fn model(edges: &[(&str, &str)], kpis: &[&str]) -> ModelDocument {
        let mut names: Vec<&str> = edges.iter().flat_map(|(a, b)| [*a, *b]).collect();
        names.sort_unstable();
        names.dedup();
        ModelDocument {
            model_id: "m@1".into(),
            name: "m".into(),
            version: 1,
            created_at: String::new(),
            dataset_sha256: String::new(),
            n_rows: 0,
            method: String::new(),
            assumptions: vec![],
            mechanisms: None,
            variables: names
                .iter()
                .map(|n| {
                    let role = if kpis.contains(n) {
                        Role::Kpi
                    } else {
                        Role::Context
                    };
                    Variable::new(n, role, VariableKind::Continuous)
                })
                .collect(),
            edges: edges.iter().map(|(a, b)| CausalEdge::new(a, b)).collect(),
            created_by: None,
        }
    }

    #[test]
    fn a_diamond_has_two_paths_and_depth_bounds_cut_them() {
        let m = model(
            &[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("a", "d")],
            &["d"],
        );
        let all = paths(&m, "a", "d", 5).unwrap();
        assert_eq!(
            all,
            [vec!["a", "d"], vec!["a", "b", "d"], vec!["a", "c", "d"]]
        );
        assert_eq!(paths(&m, "a", "d", 1).unwrap(), [vec!["a", "d"]]);
        assert_eq!(descendants(&m, "a", 1).unwrap(), ["b", "c", "d"]);
        assert_eq!(ancestors(&m, "d", 1).unwrap(), ["a", "b", "c"]);
        assert!(paths(&m, "d", "a", 5).unwrap().is_empty());
    }

    #[test]
    fn a_long_chain_respects_depth() {
        let edges: Vec<(String, String)> = (0..30)
            .map(|i| (format!("v{i:02}"), format!("v{:02}", i + 1)))
            .collect();
        let borrowed: Vec<(&str, &str)> = edges
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let m = model(&borrowed, &["v30"]);
        assert_eq!(descendants(&m, "v00", 3).unwrap(), ["v01", "v02", "v03"]);
        assert!(downstream_kpis(&m, &["v00".into()], 10).unwrap().is_empty());
        assert_eq!(downstream_kpis(&m, &["v25".into()], 10).unwrap(), ["v30"]);
        // The hard bound applies whatever the caller asks.
        assert_eq!(descendants(&m, "v00", 1000).unwrap().len(), MAX_DEPTH);
    }

    #[test]
    fn unknown_variables_are_named_with_a_suggestion() {
        let m = model(&[("tv_spend", "sales")], &["sales"]);
        let err = descendants(&m, "tv_spnd", 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "model `m@1` has no variable `tv_spnd`; did you mean `tv_spend`?"
        );
    }

    #[test]
    fn invalid_documents_are_refused() {
        let cyclic = model(&[("a", "b"), ("b", "a")], &[]);
        assert!(validate(&cyclic).unwrap_err().to_string().contains("cycle"));
        let mut dangling = model(&[("a", "b")], &[]);
        dangling.edges.push(CausalEdge::new("a", "zz"));
        assert!(validate(&dangling)
            .unwrap_err()
            .to_string()
            .contains("`zz`"));
    }
}
