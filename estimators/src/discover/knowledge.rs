//! What the analyst already knows, and what they believe: background knowledge
//! (always enforced) and priors (weighed against the data).
//!
//! [`Knowledge`] is hard: a required edge is in the output and points the way it was
//! required; a forbidden direction never appears; a variable in a later tier never
//! causes one in an earlier tier. It is given by name, and [`Knowledge::resolve`]
//! turns it into index form, refusing unknown names (with the nearest name
//! suggested) and contradictions (required and forbidden, required against the
//! tiers, required edges in a cycle) before any test is run.
//!
//! A [`Prior`] is soft: a belief that `source` causes `target`, with a confidence in
//! [0, 1]. Priors never keep an edge that a test removes, and never add one; they
//! order the search and orient what the data leave undirected (see the
//! [module on the PC algorithm](super::pc)).

use std::path::Path;

use crate::error::{Error, Result};
use crate::graph::CausalGraph;

/// Background knowledge by variable name, as the user states it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Knowledge {
    /// Edges `(cause, effect)` that must be in the graph, in this direction.
    pub required: Vec<(String, String)>,
    /// Directions `(cause, effect)` that must not be in the graph. Forbidding both
    /// directions removes the adjacency.
    pub forbidden: Vec<(String, String)>,
    /// Tiers, earliest first: no variable causes a variable of an earlier tier.
    /// Variables in no tier are unconstrained; edges within a tier are allowed.
    pub tiers: Vec<Vec<String>>,
}

impl Knowledge {
    /// Whether no knowledge is given.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.forbidden.is_empty() && self.tiers.is_empty()
    }

    /// Parses one directed edge `a->b` (spaces allowed; names may be double-quoted).
    ///
    /// ```
    /// use causeway_estimators::discover::Knowledge;
    ///
    /// assert_eq!(Knowledge::parse_edge(" tv -> \"store sales\"")?, ("tv".into(), "store sales".into()));
    /// assert!(Knowledge::parse_edge("tv - sales").is_err());
    /// # Ok::<(), causeway_estimators::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the text is not two names joined by `->`.
    pub fn parse_edge(text: &str) -> Result<(String, String)> {
        let bad = || {
            Error::invalid_input(format!(
                "`{}` is not an edge; write it as cause->effect, e.g. tv->sales",
                text.trim()
            ))
        };
        let (source, target) = text.split_once("->").ok_or_else(bad)?;
        let (source, target) = (unquote(source), unquote(target));
        if source.is_empty() || target.is_empty() || target.contains("->") {
            return Err(bad());
        }
        Ok((source, target))
    }

    /// Parses tiers written as `"a, b | c, d | e"`: `|` separates tiers, earliest
    /// first, and `,` the variables of one tier.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for an empty tier or an empty name.
    pub fn parse_tiers(text: &str) -> Result<Vec<Vec<String>>> {
        text.split('|')
            .enumerate()
            .map(|(i, tier)| {
                let names: Vec<String> = tier.split(',').map(unquote).collect();
                if names.iter().any(String::is_empty) {
                    return Err(Error::invalid_input(format!(
                        "tier {} of `{}` has an empty name; write tiers as \"a,b | c,d | e\"",
                        i + 1,
                        text.trim()
                    )));
                }
                Ok(names)
            })
            .collect()
    }

    /// Checks the knowledge against the variables and turns it into index form.
    ///
    /// # Errors
    /// [`Error::UnknownVariable`] (with a suggestion) for a name that is not a
    /// variable; [`Error::InvalidInput`] for an edge from a variable to itself, a
    /// variable in two tiers, an edge both required and forbidden, a required edge
    /// that points from a later tier to an earlier one; [`Error::Cyclic`] when the
    /// required edges form a cycle.
    pub fn resolve(&self, variables: &[String]) -> Result<ResolvedKnowledge> {
        let n = variables.len();
        let index = |name: &str| {
            variables
                .iter()
                .position(|v| v == name)
                .ok_or_else(|| Error::unknown_variable(name, variables.iter().map(String::as_str)))
        };
        let mut resolved = ResolvedKnowledge {
            n,
            required: vec![false; n * n],
            forbidden: vec![false; n * n],
            tier: vec![None; n],
        };
        for (t, tier) in self.tiers.iter().enumerate() {
            for name in tier {
                let v = index(name)?;
                if let Some(earlier) = resolved.tier[v] {
                    if earlier != t {
                        return Err(Error::invalid_input(format!(
                            "`{name}` is in tier {} and in tier {}; a variable belongs to one tier",
                            earlier + 1,
                            t + 1
                        )));
                    }
                }
                resolved.tier[v] = Some(t);
            }
        }
        for (list, forbidden) in [(&self.forbidden, true), (&self.required, false)] {
            for (a, b) in list {
                let (i, j) = (index(a)?, index(b)?);
                if i == j {
                    return Err(Error::invalid_input(format!(
                        "`{a} -> {b}` is an edge from a variable to itself"
                    )));
                }
                if forbidden {
                    resolved.forbidden[i * n + j] = true;
                    continue;
                }
                if resolved.forbidden[i * n + j] {
                    return Err(Error::invalid_input(format!(
                        "`{a} -> {b}` is both required and forbidden"
                    )));
                }
                if let (Some(ti), Some(tj)) = (resolved.tier[i], resolved.tier[j]) {
                    if ti > tj {
                        return Err(Error::invalid_input(format!(
                            "the required edge `{a} -> {b}` goes from tier {} back to tier {}, which the tiers forbid",
                            ti + 1,
                            tj + 1
                        )));
                    }
                }
                resolved.required[i * n + j] = true;
            }
        }
        // A cycle of required edges can never be a DAG; the graph module names it.
        CausalGraph::from_edges(&self.required, &[])?;
        Ok(resolved)
    }
}

/// Trims a name and strips one pair of surrounding double quotes.
fn unquote(text: &str) -> String {
    let text = text.trim();
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
        .to_string()
}

/// [`Knowledge`] checked against the variables, by index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedKnowledge {
    n: usize,
    required: Vec<bool>,
    forbidden: Vec<bool>,
    tier: Vec<Option<usize>>,
}

impl ResolvedKnowledge {
    /// No knowledge about `n` variables.
    pub fn none(n: usize) -> Self {
        ResolvedKnowledge {
            n,
            required: vec![false; n * n],
            forbidden: vec![false; n * n],
            tier: vec![None; n],
        }
    }

    /// Whether `a -> b` is required.
    pub fn is_required(&self, a: usize, b: usize) -> bool {
        self.required[a * self.n + b]
    }

    /// Whether `a` and `b` must be adjacent (an edge is required either way).
    pub fn requires_adjacency(&self, a: usize, b: usize) -> bool {
        self.is_required(a, b) || self.is_required(b, a)
    }

    /// Whether the knowledge lets `a` cause `b` directly: the direction is not
    /// forbidden, does not go back in the tiers, and does not reverse a required edge.
    pub fn allows(&self, a: usize, b: usize) -> bool {
        !self.forbidden[a * self.n + b] && !self.is_required(b, a) && !self.against_tiers(a, b)
    }

    /// Whether `a -> b` points from a later tier to an earlier one.
    fn against_tiers(&self, a: usize, b: usize) -> bool {
        matches!((self.tier[a], self.tier[b]), (Some(ta), Some(tb)) if ta > tb)
    }

    /// Why the knowledge refuses `a -> b`, for messages (`None` when it allows it).
    pub fn refusal(&self, a: usize, b: usize, names: &[String]) -> Option<String> {
        if self.forbidden[a * self.n + b] {
            Some("it is forbidden".into())
        } else if self.is_required(b, a) {
            Some(format!("`{} -> {}` is required", names[b], names[a]))
        } else if self.against_tiers(a, b) {
            Some(format!(
                "tier {} cannot cause tier {}",
                self.tier[a].map_or(0, |t| t + 1),
                self.tier[b].map_or(0, |t| t + 1)
            ))
        } else {
            None
        }
    }
}

/// A belief that `source` causes `target`, held with `confidence` in [0, 1].
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Prior {
    /// The believed cause.
    pub source: String,
    /// The believed effect.
    pub target: String,
    /// How sure the analyst is, from 0 (a guess) to 1 (near certain).
    pub confidence: f64,
}

impl Prior {
    /// Reads priors from a CSV file; see [`Prior::parse_csv`] for the format.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read, and the errors of
    /// [`Prior::parse_csv`] naming the path.
    pub fn read_csv(path: &Path) -> Result<Vec<Prior>> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_csv(&text, &path.display().to_string())
    }

    /// Parses priors from CSV text with the header `source,target,confidence`
    /// (columns in any order, other columns ignored), one believed edge a row.
    ///
    /// ```
    /// use causeway_estimators::discover::Prior;
    ///
    /// let priors = Prior::parse_csv("source,target,confidence\ntv,sales,0.9\n", "priors.csv")?;
    /// assert_eq!(priors[0].confidence, 0.9);
    /// let error = Prior::parse_csv("source,target,confidence\ntv,sales,1.5\n", "priors.csv");
    /// assert_eq!(
    ///     error.unwrap_err().to_string(),
    ///     "priors.csv:2: column `confidence`: `1.5` is not a confidence between 0 and 1"
    /// );
    /// # Ok::<(), causeway_estimators::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Parse`] with the file and line for a missing column, an empty name,
    /// a confidence that is not a number in [0, 1], or a prior from a variable to
    /// itself.
    pub fn parse_csv(text: &str, file: &str) -> Result<Vec<Prior>> {
        let error = |line: usize, column: Option<&str>, message: String| Error::Parse {
            file: file.to_string(),
            line,
            column: column.map(str::to_string),
            message,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header = reader
            .headers()
            .map_err(|e| error(1, None, e.to_string()))?
            .clone();
        let column = |name: &str| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                error(
                    1,
                    None,
                    format!("the header has no `{name}` column; expected source,target,confidence"),
                )
            })
        };
        let (s, t, c) = (column("source")?, column("target")?, column("confidence")?);
        let mut priors = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                error(
                    e.position().map_or(0, |p| p.line() as usize),
                    None,
                    e.to_string(),
                )
            })?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            let field = |i: usize, name: &str| {
                record
                    .get(i)
                    .filter(|v| !v.is_empty())
                    .map(unquote)
                    .ok_or_else(|| error(line, Some(name), "the value is missing".into()))
            };
            let (source, target) = (field(s, "source")?, field(t, "target")?);
            let text = field(c, "confidence")?;
            let confidence = text
                .parse::<f64>()
                .ok()
                .filter(|v| (0.0..=1.0).contains(v))
                .ok_or_else(|| {
                    error(
                        line,
                        Some("confidence"),
                        format!("`{text}` is not a confidence between 0 and 1"),
                    )
                })?;
            if source == target {
                return Err(error(
                    line,
                    None,
                    format!("`{source} -> {target}` is an edge from a variable to itself"),
                ));
            }
            priors.push(Prior {
                source,
                target,
                confidence,
            });
        }
        Ok(priors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn edge(a: &str, b: &str) -> (String, String) {
        (a.into(), b.into())
    }

    #[test]
    fn tiers_and_forbidden_directions_limit_what_is_allowed() {
        let vars = names(&["age", "income", "spend", "churn"]);
        let knowledge = Knowledge {
            required: vec![edge("income", "spend")],
            forbidden: vec![edge("spend", "churn")],
            tiers: Knowledge::parse_tiers("age | income, spend | churn").unwrap(),
        };
        let k = knowledge.resolve(&vars).unwrap();
        assert!(
            k.allows(0, 1) && !k.allows(1, 0),
            "age is in the first tier"
        );
        assert!(!k.allows(2, 1), "income -> spend is required");
        assert!(!k.allows(2, 3) && !k.allows(3, 2), "forbidden, and tiers");
        assert!(k.requires_adjacency(2, 1));
        assert_eq!(
            k.refusal(3, 0, &vars).unwrap(),
            "tier 3 cannot cause tier 1"
        );
    }

    #[test]
    fn contradictions_and_unknown_names_are_refused() {
        let vars = names(&["a", "b", "c"]);
        let resolve = |k: Knowledge| k.resolve(&vars).unwrap_err().to_string();
        assert_eq!(
            resolve(Knowledge {
                required: vec![edge("a", "b")],
                forbidden: vec![edge("a", "b")],
                ..Knowledge::default()
            }),
            "invalid input: `a -> b` is both required and forbidden"
        );
        assert_eq!(
            resolve(Knowledge {
                required: vec![edge("c", "a")],
                tiers: vec![names(&["a"]), names(&["c"])],
                ..Knowledge::default()
            }),
            "invalid input: the required edge `c -> a` goes from tier 2 back to tier 1, which the tiers forbid"
        );
        assert_eq!(
            resolve(Knowledge {
                required: vec![edge("a", "b"), edge("b", "a")],
                ..Knowledge::default()
            }),
            "the causal graph has a cycle: a -> b -> a"
        );
        assert_eq!(
            resolve(Knowledge {
                forbidden: vec![edge("a", "bb")],
                ..Knowledge::default()
            }),
            "unknown variable `bb`; did you mean `b`?"
        );
    }

    #[test]
    fn edges_and_tiers_parse() {
        assert_eq!(Knowledge::parse_edge("a->b").unwrap(), edge("a", "b"));
        assert!(Knowledge::parse_edge("a->b->c").is_err());
        assert!(Knowledge::parse_edge("->b").is_err());
        assert_eq!(
            Knowledge::parse_tiers("a,b | c").unwrap(),
            vec![names(&["a", "b"]), names(&["c"])]
        );
        assert!(Knowledge::parse_tiers("a,,b").is_err());
    }

    #[test]
    fn priors_csv_errors_name_the_line() {
        let error = Prior::parse_csv("source,target\na,b\n", "p.csv").unwrap_err();
        assert_eq!(
            error.to_string(),
            "p.csv:1: the header has no `confidence` column; expected source,target,confidence"
        );
        let error =
            Prior::parse_csv("source,target,confidence\na,b,0.5\na,a,0.5\n", "p.csv").unwrap_err();
        assert_eq!(
            error.to_string(),
            "p.csv:3: `a -> a` is an edge from a variable to itself"
        );
    }
}
