//! Causal graphs: a DAG over named variables, each observed (a data column) or latent.
//!
//! A [`CausalGraph`] is what every later stage reads: identification asks it for
//! ancestors, descendants and d-separation; the structural model is fitted node by node
//! in its topological order. It is built once, from an edge list, DOT or GraphML, and
//! never mutated afterwards, so every graph that exists is acyclic.
//!
//! Nodes are kept as indices with adjacency vectors in both directions; names are
//! resolved only at the public surface. Every listing comes out in a fixed order
//! (insertion order of nodes and edges), so command-line output is stable from run to
//! run and from machine to machine.

mod dsep;
mod parse;

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Result};

pub use dsep::{OpenPath, PathStep};
pub(crate) use parse::parse_bool;

#[cfg(test)]
pub(crate) use dsep::tests::random_dag;

/// A directed acyclic graph over named variables, some of them unobserved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CausalGraph {
    names: Vec<String>,
    observed: Vec<bool>,
    index: HashMap<String, usize>,
    children: Vec<Vec<usize>>,
    parents: Vec<Vec<usize>>,
}

impl CausalGraph {
    /// Builds a graph from directed edges `(cause, effect)`.
    ///
    /// Nodes are created on first mention, in that order. `latent` names the nodes
    /// that are unobserved; a latent name that no edge mentions becomes an isolated
    /// latent node. Repeated edges count once.
    ///
    /// # Errors
    /// [`Error::Cyclic`] naming one cycle (first node repeated last) when the edges
    /// contain a directed cycle or a self-loop.
    pub fn from_edges(edges: &[(String, String)], latent: &[String]) -> Result<Self> {
        let mut builder = GraphBuilder::default();
        for (from, to) in edges {
            let a = builder.node(from);
            let b = builder.node(to);
            builder.edge(a, b);
        }
        for name in latent {
            let i = builder.node(name);
            builder.set_observed(i, false);
        }
        builder.build()
    }

    /// Parses an edge list such as `"a -> b, b -> c; c -> d"`.
    ///
    /// Statements are separated by commas, semicolons or newlines; whitespace is free;
    /// `#` starts a comment that runs to the end of the line. A statement is a chain
    /// of names joined by `->`, `<-` or `<->` (`a -> b <- c`). `a <-> b` declares a
    /// latent common cause of `a` and `b`: a latent node `U_a_b` with an edge to each.
    /// Names are letters, digits, `_` and `.`; any other name is written in double
    /// quotes (`"store sales" -> revenue`).
    ///
    /// # Errors
    /// [`Error::Parse`] with file `<edges>`, the line of the offending token and a
    /// message naming it; [`Error::Cyclic`] for a cycle.
    ///
    /// ```
    /// use causeway_estimators::graph::CausalGraph;
    ///
    /// let graph = CausalGraph::parse_edge_list("tv -> visits -> sales; tv <-> sales")?;
    /// assert_eq!(graph.latent_names(), ["U_tv_sales"]);
    /// assert_eq!(graph.parents("sales")?, ["visits", "U_tv_sales"]);
    /// let error = CausalGraph::parse_edge_list("tv -> -> sales").unwrap_err();
    /// assert_eq!(error.to_string(), "<edges>:1: expected a variable name after `->`, found `->`");
    /// # Ok::<(), causeway_estimators::Error>(())
    /// ```
    pub fn parse_edge_list(text: &str) -> Result<Self> {
        parse::edge_list(text, "<edges>")
    }

    /// Parses a Graphviz DOT `digraph`.
    ///
    /// Supports node and edge statements, edge chains, subgraphs and `{a b}` groups
    /// on either side of `->`, quoted names, and comments (`//`, `/* */`, `#`). A node
    /// with the attribute `latent=true` (or `observed=false`/`no`) is latent. Other
    /// attributes and the `graph`/`node`/`edge` default statements are ignored.
    ///
    /// # Errors
    /// [`Error::Parse`] with `file` and the line in the text, also for an undirected
    /// `graph` or a `--` edge; [`Error::Cyclic`] for a cycle.
    pub fn parse_dot(text: &str, file: &str) -> Result<Self> {
        parse::dot(text, file)
    }

    /// Reads a graph file, choosing the format by extension as [`CausalGraph::parse_named`].
    ///
    /// # Errors
    /// [`Error::Io`] with the path when the file cannot be read; otherwise the errors
    /// of the format's parser, naming the path as the file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_named(&text, &path.display().to_string())
    }

    /// Parses the text of a graph file named `file`, choosing the format by its
    /// extension: `.graphml`/`.xml` are GraphML, `.dot`/`.gv` are DOT, anything
    /// else is an edge list. Errors name `file`.
    ///
    /// # Errors
    /// The errors of the format's parser.
    pub fn parse_named(text: &str, file: &str) -> Result<Self> {
        let extension = Path::new(file)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        match extension.as_str() {
            "graphml" | "xml" => crate::io::graphml::read_graph(text, file),
            "dot" | "gv" => parse::dot(text, file),
            _ => parse::edge_list(text, file),
        }
    }

    /// Number of nodes, observed and latent.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// All node names, in insertion order.
    pub fn node_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.names.iter().map(String::as_str)
    }

    /// The observed node names, in insertion order.
    pub fn observed_names(&self) -> Vec<&str> {
        self.names_where(|i| self.observed[i])
    }

    /// The latent node names, in insertion order.
    pub fn latent_names(&self) -> Vec<&str> {
        self.names_where(|i| !self.observed[i])
    }

    /// Whether `name` is a node of the graph.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Whether `name` is an observed node; `false` for latent and unknown names.
    pub fn is_observed(&self, name: &str) -> bool {
        self.index.get(name).is_some_and(|&i| self.observed[i])
    }

    /// Every edge `(cause, effect)`, grouped by cause in node order.
    pub fn edges(&self) -> Vec<(&str, &str)> {
        let mut edges = Vec::new();
        for (from, children) in self.children.iter().enumerate() {
            for &to in children {
                edges.push((self.names[from].as_str(), self.names[to].as_str()));
            }
        }
        edges
    }

    /// The direct causes of `name`.
    ///
    /// # Errors
    /// [`Error::UnknownVariable`] when `name` is not a node.
    pub fn parents(&self, name: &str) -> Result<Vec<&str>> {
        let i = self.require(name)?;
        Ok(self.names_of(&self.parents[i]))
    }

    /// The direct effects of `name`.
    ///
    /// # Errors
    /// [`Error::UnknownVariable`] when `name` is not a node.
    pub fn children(&self, name: &str) -> Result<Vec<&str>> {
        let i = self.require(name)?;
        Ok(self.names_of(&self.children[i]))
    }

    /// Every node with a directed path to `name`, excluding `name`, in node order.
    ///
    /// # Errors
    /// [`Error::UnknownVariable`] when `name` is not a node.
    pub fn ancestors(&self, name: &str) -> Result<Vec<&str>> {
        let i = self.require(name)?;
        let mut set = self.ancestor_set(&[i]);
        set[i] = false;
        Ok(self.names_where(|j| set[j]))
    }

    /// Every node reachable from `name` by a directed path, excluding `name`, in node
    /// order.
    ///
    /// # Errors
    /// [`Error::UnknownVariable`] when `name` is not a node.
    pub fn descendants(&self, name: &str) -> Result<Vec<&str>> {
        let i = self.require(name)?;
        let mut set = self.descendant_set(&[i]);
        set[i] = false;
        Ok(self.names_where(|j| set[j]))
    }

    /// Checks that every observed node is one of the data's `columns`.
    ///
    /// # Errors
    /// [`Error::UnknownVariable`] for the first observed node (in node order) that is
    /// not a column, suggesting the nearest column name. Latent nodes need no column.
    pub fn check_columns(&self, columns: &[String]) -> Result<()> {
        for (i, name) in self.names.iter().enumerate() {
            if self.observed[i] && !columns.iter().any(|c| c == name) {
                return Err(Error::unknown_variable(
                    name,
                    columns.iter().map(String::as_str),
                ));
            }
        }
        Ok(())
    }

    /// All nodes, causes before effects; among nodes free to go next, the one added
    /// first goes first, so the order is stable.
    pub fn topological_order(&self) -> Vec<&str> {
        self.topological_indices()
            .into_iter()
            .map(|i| self.names[i].as_str())
            .collect()
    }

    // ---- crate-internal index API, shared by d-separation and identification ----

    /// The index of `name`, or an unknown-variable error suggesting a node name.
    pub(crate) fn require(&self, name: &str) -> Result<usize> {
        self.index
            .get(name)
            .copied()
            .ok_or_else(|| Error::unknown_variable(name, self.node_names()))
    }

    pub(crate) fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    pub(crate) fn observed_at(&self, i: usize) -> bool {
        self.observed[i]
    }

    pub(crate) fn children_of(&self, i: usize) -> &[usize] {
        &self.children[i]
    }

    pub(crate) fn parents_of(&self, i: usize) -> &[usize] {
        &self.parents[i]
    }

    /// Membership vector of `start` and all its ancestors.
    pub(crate) fn ancestor_set(&self, start: &[usize]) -> Vec<bool> {
        self.closure(start, &self.parents)
    }

    /// Membership vector of `start` and all its descendants.
    pub(crate) fn descendant_set(&self, start: &[usize]) -> Vec<bool> {
        self.closure(start, &self.children)
    }

    /// The same graph without the edges leaving the nodes in `cut`: the graph in
    /// which backdoor paths out of `cut` are the only paths left.
    pub(crate) fn without_edges_out_of(&self, cut: &[usize]) -> CausalGraph {
        let mut graph = self.clone();
        for &c in cut {
            for child in std::mem::take(&mut graph.children[c]) {
                graph.parents[child].retain(|&p| p != c);
            }
        }
        graph
    }

    fn closure(&self, start: &[usize], next: &[Vec<usize>]) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        let mut stack: Vec<usize> = start.to_vec();
        while let Some(i) = stack.pop() {
            if !std::mem::replace(&mut seen[i], true) {
                stack.extend(next[i].iter().copied().filter(|&j| !seen[j]));
            }
        }
        seen
    }

    fn topological_indices(&self) -> Vec<usize> {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut indegree: Vec<usize> = self.parents.iter().map(Vec::len).collect();
        let mut ready: BinaryHeap<Reverse<usize>> = (0..self.len())
            .filter(|&i| indegree[i] == 0)
            .map(Reverse)
            .collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(Reverse(i)) = ready.pop() {
            order.push(i);
            for &c in &self.children[i] {
                indegree[c] -= 1;
                if indegree[c] == 0 {
                    ready.push(Reverse(c));
                }
            }
        }
        order
    }

    fn names_of(&self, indices: &[usize]) -> Vec<&str> {
        indices.iter().map(|&i| self.names[i].as_str()).collect()
    }

    fn names_where(&self, keep: impl Fn(usize) -> bool) -> Vec<&str> {
        (0..self.len())
            .filter(|&i| keep(i))
            .map(|i| self.names[i].as_str())
            .collect()
    }
}

/// Collects nodes and edges from any source format, then checks acyclicity once.
///
/// The parsers share it so that node order, duplicate-edge handling and the cycle
/// message are the same whatever the file format.
#[derive(Default)]
pub(crate) struct GraphBuilder {
    names: Vec<String>,
    observed: Vec<bool>,
    index: HashMap<String, usize>,
    children: Vec<Vec<usize>>,
}

impl GraphBuilder {
    /// The index of `name`, creating an observed node on first mention.
    pub(crate) fn node(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len();
        self.names.push(name.to_string());
        self.observed.push(true);
        self.children.push(Vec::new());
        self.index.insert(name.to_string(), i);
        i
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    pub(crate) fn set_observed(&mut self, i: usize, observed: bool) {
        self.observed[i] = observed;
    }

    pub(crate) fn edge(&mut self, from: usize, to: usize) {
        if !self.children[from].contains(&to) {
            self.children[from].push(to);
        }
    }

    /// The finished graph, or the first cycle found by a depth-first search that
    /// starts from nodes in insertion order.
    pub(crate) fn build(self) -> Result<CausalGraph> {
        if let Some(cycle) = find_cycle(&self.children) {
            return Err(Error::Cyclic {
                cycle: cycle.into_iter().map(|i| self.names[i].clone()).collect(),
            });
        }
        let mut parents = vec![Vec::new(); self.names.len()];
        for (from, children) in self.children.iter().enumerate() {
            for &to in children {
                parents[to].push(from);
            }
        }
        Ok(CausalGraph {
            names: self.names,
            observed: self.observed,
            index: self.index,
            children: self.children,
            parents,
        })
    }
}

/// A directed cycle as node indices, first node repeated last, if there is one.
fn find_cycle(children: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let n = children.len();
    let mut mark = vec![Mark::New; n];
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        // Iterative so that a long chain in a user's file cannot overflow the stack.
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::OnStack;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&child) = children[node].get(*next) {
                *next += 1;
                match mark[child] {
                    Mark::New => {
                        mark[child] = Mark::OnStack;
                        stack.push((child, 0));
                    }
                    Mark::OnStack => {
                        let start = stack.iter().position(|&(v, _)| v == child)?;
                        let mut cycle: Vec<usize> =
                            stack[start..].iter().map(|&(v, _)| v).collect();
                        cycle.push(child);
                        return Some(cycle);
                    }
                    Mark::Done => {}
                }
            } else {
                mark[node] = Mark::Done;
                stack.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn builds_nodes_in_first_mention_order() {
        let g = CausalGraph::from_edges(
            &edges(&[("z", "t"), ("z", "y"), ("t", "y"), ("t", "y")]),
            &["u".into()],
        )
        .unwrap();
        assert_eq!(g.node_names().collect::<Vec<_>>(), ["z", "t", "y", "u"]);
        assert_eq!(g.edges(), [("z", "t"), ("z", "y"), ("t", "y")]);
        assert_eq!(g.observed_names(), ["z", "t", "y"]);
        assert_eq!(g.latent_names(), ["u"]);
        assert!(g.contains("u") && !g.is_observed("u") && !g.is_observed("nope"));
        assert_eq!(g.parents("y").unwrap(), ["z", "t"]);
        assert_eq!(g.children("z").unwrap(), ["t", "y"]);
    }

    #[test]
    fn ancestors_and_descendants_exclude_the_node() {
        let g =
            CausalGraph::from_edges(&edges(&[("a", "b"), ("b", "c"), ("x", "c")]), &[]).unwrap();
        assert_eq!(g.ancestors("c").unwrap(), ["a", "b", "x"]);
        assert_eq!(g.descendants("a").unwrap(), ["b", "c"]);
        assert!(g.ancestors("a").unwrap().is_empty());
        let err = g.descendants("bb").unwrap_err().to_string();
        assert!(err.contains("unknown variable `bb`"), "{err}");
    }

    #[test]
    fn cycle_message_names_the_cycle() {
        let err = CausalGraph::from_edges(
            &edges(&[("s", "a"), ("a", "b"), ("b", "c"), ("c", "a")]),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the causal graph has a cycle: a -> b -> c -> a"
        );
        let err = CausalGraph::from_edges(&edges(&[("a", "a")]), &[]).unwrap_err();
        assert!(matches!(err, Error::Cyclic { ref cycle } if cycle == &["a", "a"]));
    }

    #[test]
    fn topological_order_is_stable() {
        let g = CausalGraph::from_edges(
            &edges(&[("c", "d"), ("b", "d"), ("a", "c"), ("a", "b")]),
            &[],
        )
        .unwrap();
        assert_eq!(g.topological_order(), ["a", "c", "b", "d"]);
    }

    #[test]
    fn check_columns_suggests_the_nearest_column() {
        let g = CausalGraph::from_edges(&edges(&[("U", "treat"), ("U", "re78")]), &["U".into()])
            .unwrap();
        let columns: Vec<String> = ["tret", "re78", "age"].map(String::from).to_vec();
        match g.check_columns(&columns).unwrap_err() {
            Error::UnknownVariable { name, suggestion } => {
                assert_eq!(name, "treat");
                assert_eq!(suggestion.as_deref(), Some("tret"));
            }
            other => panic!("unexpected {other}"),
        }
        let columns: Vec<String> = ["treat", "re78"].map(String::from).to_vec();
        g.check_columns(&columns).unwrap();
    }

    #[test]
    fn load_reports_missing_file_with_its_path() {
        let path = Path::new("/definitely/not/here.dot");
        let err = CausalGraph::load(path).unwrap_err();
        assert!(matches!(err, Error::Io { ref path, .. } if path.ends_with("here.dot")));
        assert!(err.to_string().contains("/definitely/not/here.dot"));
    }

    #[test]
    fn load_chooses_the_format_by_extension() {
        let dir = std::env::temp_dir().join(format!("causeway-graph-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dot = dir.join("g.gv");
        std::fs::write(&dot, "digraph { u [latent=true]; u -> t; u -> y; t -> y }").unwrap();
        let g = CausalGraph::load(&dot).unwrap();
        assert_eq!(g.observed_names(), ["t", "y"]);
        let list = dir.join("g.txt");
        std::fs::write(&list, "t -> y\nt -> ").unwrap();
        match CausalGraph::load(&list).unwrap_err() {
            Error::Parse { file, line, .. } => {
                assert_eq!(file, list.display().to_string());
                assert_eq!(line, 2);
            }
            other => panic!("unexpected {other}"),
        }
        let graphml = dir.join("g.graphml");
        std::fs::write(
            &graphml,
            r#"<graphml><graph edgedefault="directed"><node id="a"/><node id="b"/><edge source="a" target="b"/></graph></graphml>"#,
        )
        .unwrap();
        assert_eq!(CausalGraph::load(&graphml).unwrap().edges(), [("a", "b")]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
