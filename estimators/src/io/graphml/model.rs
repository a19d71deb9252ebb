//! Model documents as GraphML: [`write_model`] and [`read_model`].
//!
//! The writer is the canonical form: every key of [`MODEL_KEYS`] declared in table
//! order, graph `<data>` before the nodes, variables and edges in the document's
//! order, each element's `<data>` in table order, numbers in their shortest exact
//! form. It refuses anything its reader would refuse (non-finite numbers, characters
//! XML cannot hold, duplicate names or edges, unknown endpoints, cycles), so whatever
//! it writes reads back to an equal document and writes again to the same bytes.
//!
//! The reader is lenient where other tools differ and strict where meaning is at
//! stake. It finds keys by `attr.name`, not by id, and does not care where graph
//! `<data>` sits, so networkx output (ids `d0, d1, …`, graph data after the edges,
//! `long` for ints) reads the same; attributes it does not know (yEd graphics, a
//! user's extras) are skipped. A value that does not parse as its field's type, an
//! unknown role or kind, a field given twice, a missing graph `name`, a duplicate
//! edge and a cycle are errors.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::str::FromStr;

use super::keys::{key_element, keys_for, KeyDomain, GRAPHML_START, MODEL_KEYS, XML_DECLARATION};
use super::{escape, first_non_xml_char, format_f64, parse_error, Data, GraphmlDocument, Key};
use crate::error::{Error, Result};
use crate::graph::CausalGraph;
use crate::model::{CausalEdge, ModelDocument, Role, Variable, VariableKind};

/// Writes `doc` as a GraphML model document (see `graph_schema/model-keys.graphml`).
///
/// The output is deterministic: the same document always gives the same bytes, and
/// [`read_model`] gives back an equal document. Optional values that are `None`, and
/// empty lists, maps and texts whose absence reads back the same, get no `<data>`.
///
/// # Errors
/// [`Error::InvalidInput`] naming the variable or edge and the field for a NaN or
/// infinite number, or a character XML 1.0 cannot hold (control characters other
/// than tab, newline and carriage return); naming the variable or edge for a
/// duplicate variable name, a duplicate edge or an edge to an unknown variable;
/// [`Error::Cyclic`] when the edges form a cycle.
///
/// ```
/// use causeway_estimators::io::graphml::{read_model, write_model};
/// use causeway_estimators::model::{CausalEdge, ModelDocument, Role, Variable, VariableKind};
///
/// let mut tv = Variable::new("tv_spend", Role::Lever, VariableKind::Continuous);
/// tv.aliases = vec!["TV ads".into(), "電視廣告".into()];
/// let doc = ModelDocument {
///     model_id: "retail@1".into(),
///     name: "retail".into(),
///     version: 1,
///     created_at: "2024-05-01T00:00:00Z".into(),
///     dataset_sha256: String::new(),
///     n_rows: 500,
///     method: "scm-linear".into(),
///     assumptions: vec![],
///     mechanisms: None,
///     variables: vec![tv, Variable::new("sales", Role::Kpi, VariableKind::Continuous)],
///     edges: vec![CausalEdge { effect: Some(0.3), ..CausalEdge::new("tv_spend", "sales") }],
///     created_by: Some("ana".into()),
/// };
/// let text = write_model(&doc)?;
/// assert!(text.contains(r#"<data key="d10">["TV ads","電視廣告"]</data>"#));
/// assert_eq!(read_model(&text, "retail.graphml")?, doc);
/// # Ok::<(), causeway_estimators::Error>(())
/// ```
pub fn write_model(doc: &ModelDocument) -> Result<String> {
    check_structure(doc)?;
    let mut out = String::new();
    out.push_str(XML_DECLARATION);
    out.push('\n');
    out.push_str(GRAPHML_START);
    out.push('\n');
    for key in MODEL_KEYS {
        let _ = writeln!(out, "  {}", key_element(key));
    }
    out.push_str("  <graph edgedefault=\"directed\">\n");
    let graph_data = data_elements(KeyDomain::Graph, "    ", &|name| graph_value(doc, name))
        .map_err(|m| write_error(doc, "the model", &m))?;
    out.push_str(&graph_data);
    for variable in &doc.variables {
        let what = format!("variable `{}`", variable.name);
        let id = attribute(&variable.name)
            .map_err(|m| write_error(doc, &what, &format!("the name {m}")))?;
        let data = data_elements(KeyDomain::Node, "      ", &|name| {
            node_value(variable, name)
        })
        .map_err(|m| write_error(doc, &what, &m))?;
        element(&mut out, &format!("node id=\"{id}\""), "node", &data);
    }
    for edge in &doc.edges {
        let what = format!("edge `{}` -> `{}`", edge.source, edge.target);
        // The endpoints are variable names, already checked above.
        let (source, target) = (escape(&edge.source, true), escape(&edge.target, true));
        let data = data_elements(KeyDomain::Edge, "      ", &|name| edge_value(edge, name))
            .map_err(|m| write_error(doc, &what, &m))?;
        element(
            &mut out,
            &format!("edge source=\"{source}\" target=\"{target}\""),
            "edge",
            &data,
        );
    }
    out.push_str("  </graph>\n</graphml>\n");
    Ok(out)
}

/// Reads a GraphML model document, as [`write_model`] or networkx writes it.
///
/// Keys are matched by `attr.name` on graph, node and edge; a key's `<default>`
/// applies to elements without a value. Node ids are variable names. What a missing
/// value means is listed per key in `graph_schema/model-keys.graphml`: only the
/// graph's `name` is required; a variable's `role` defaults to `context`, its `kind`
/// to `continuous`, its `label` to its name; lists, maps and optional values to
/// empty or `None`.
///
/// # Errors
/// [`Error::Parse`] with `file` and the line for malformed XML, `<data>` naming an
/// undeclared key, a duplicate node id, an edge to an unknown node, a duplicate
/// edge, an undirected edge, a value of the wrong type (`mean` that is not a finite
/// number, `aliases` that is not a JSON array of strings, …), an unknown role or
/// kind, a field given twice on one element, or a missing graph `name`;
/// [`Error::Cyclic`] for a cycle.
pub fn read_model(text: &str, file: &str) -> Result<ModelDocument> {
    let document = GraphmlDocument::read(text, file)?;
    let keys: HashMap<&str, &Key> = document.keys.iter().map(|k| (k.id.as_str(), k)).collect();

    let graph = Values::collect(
        file,
        "the graph".into(),
        &document,
        &keys,
        "graph",
        &document.graph_data,
    )?;
    let name = graph.text("name").ok_or_else(|| {
        parse_error(
            file,
            document.graph_line,
            "the graph has no `name` (a graph <data> for a key with attr.name=\"name\")",
        )
    })?;
    let version = graph.whole("version", u32::MAX)?.unwrap_or(0);
    let mut model = ModelDocument {
        model_id: graph
            .text("model_id")
            .unwrap_or_else(|| format!("{name}@{version}")),
        name,
        version,
        created_at: graph.text("created_at").unwrap_or_default(),
        dataset_sha256: graph.text("dataset_sha256").unwrap_or_default(),
        n_rows: graph.whole("n_rows", u64::MAX)?.unwrap_or(0),
        method: graph.text("method").unwrap_or_default(),
        assumptions: graph.strings("assumptions")?,
        mechanisms: graph.text("mechanisms"),
        variables: Vec::with_capacity(document.nodes.len()),
        edges: Vec::with_capacity(document.edges.len()),
        created_by: graph.text("created_by"),
    };

    for node in &document.nodes {
        let values = Values::collect(
            file,
            format!("node `{}`", node.id),
            &document,
            &keys,
            "node",
            &node.data,
        )?;
        model.variables.push(Variable {
            name: node.id.clone(),
            label: values.text("label").unwrap_or_else(|| node.id.clone()),
            aliases: values.strings("aliases")?,
            role: values.parsed::<Role>("role")?.unwrap_or(Role::Context),
            kind: values
                .parsed::<VariableKind>("kind")?
                .unwrap_or(VariableKind::Continuous),
            unit: values.text("unit"),
            mean: values.number("mean")?,
            std: values.number("std")?,
            min: values.number("min")?,
            max: values.number("max")?,
            mechanism: values.text("mechanism"),
            parameters: values.numbers("parameters")?,
        });
    }

    let mut first_line: HashMap<(&str, &str), usize> = HashMap::new();
    for edge in &document.edges {
        if let Some(first) = first_line.insert((&edge.source, &edge.target), edge.line) {
            return Err(parse_error(
                file,
                edge.line,
                format!(
                    "edge {} -> {} is given twice (first on line {first})",
                    edge.source, edge.target
                ),
            ));
        }
        let values = Values::collect(
            file,
            format!("edge {} -> {}", edge.source, edge.target),
            &document,
            &keys,
            "edge",
            &edge.data,
        )?;
        model.edges.push(CausalEdge {
            source: edge.source.clone(),
            target: edge.target.clone(),
            effect: values.number("effect")?,
            ci_low: values.number("ci_low")?,
            ci_high: values.number("ci_high")?,
            p_value: values.number("p_value")?,
            method: values.text("method"),
        });
    }
    // The graph reader's checks, so that "edge to an unknown node" and "cycle" mean
    // the same here as for a plain causal graph.
    document.to_causal_graph(file)?;
    Ok(model)
}

/// A field's value before it becomes text.
enum Value<'a> {
    Text(&'a str),
    Number(f64),
    Whole(u64),
    Strings(&'a [String]),
    Numbers(&'a BTreeMap<String, f64>),
}

fn graph_value<'a>(doc: &'a ModelDocument, name: &str) -> Option<Value<'a>> {
    let non_empty = |text: &'a String| (!text.is_empty()).then_some(Value::Text(text));
    match name {
        // Always written, even when empty: a missing model_id or name does not read
        // back as an empty one.
        "model_id" => Some(Value::Text(&doc.model_id)),
        "name" => Some(Value::Text(&doc.name)),
        "version" => Some(Value::Whole(u64::from(doc.version))),
        "created_at" => non_empty(&doc.created_at),
        "dataset_sha256" => non_empty(&doc.dataset_sha256),
        "n_rows" => Some(Value::Whole(doc.n_rows)),
        "method" => non_empty(&doc.method),
        "assumptions" => (!doc.assumptions.is_empty()).then_some(Value::Strings(&doc.assumptions)),
        "mechanisms" => doc.mechanisms.as_deref().map(Value::Text),
        "created_by" => doc.created_by.as_deref().map(Value::Text),
        _ => None,
    }
}

fn node_value<'a>(variable: &'a Variable, name: &str) -> Option<Value<'a>> {
    match name {
        "label" => Some(Value::Text(&variable.label)),
        "aliases" => (!variable.aliases.is_empty()).then_some(Value::Strings(&variable.aliases)),
        "role" => Some(Value::Text(variable.role.name())),
        "kind" => Some(Value::Text(variable.kind.name())),
        "unit" => variable.unit.as_deref().map(Value::Text),
        "mean" => variable.mean.map(Value::Number),
        "std" => variable.std.map(Value::Number),
        "min" => variable.min.map(Value::Number),
        "max" => variable.max.map(Value::Number),
        "mechanism" => variable.mechanism.as_deref().map(Value::Text),
        "parameters" => {
            (!variable.parameters.is_empty()).then_some(Value::Numbers(&variable.parameters))
        }
        _ => None,
    }
}

fn edge_value<'a>(edge: &'a CausalEdge, name: &str) -> Option<Value<'a>> {
    match name {
        "effect" => edge.effect.map(Value::Number),
        "ci_low" => edge.ci_low.map(Value::Number),
        "ci_high" => edge.ci_high.map(Value::Number),
        "p_value" => edge.p_value.map(Value::Number),
        "method" => edge.method.as_deref().map(Value::Text),
        _ => None,
    }
}

/// The `<data>` lines of one element, in table order; the error names the field.
fn data_elements<'a>(
    domain: KeyDomain,
    indent: &str,
    value: &dyn Fn(&str) -> Option<Value<'a>>,
) -> std::result::Result<String, String> {
    let mut out = String::new();
    for key in keys_for(domain) {
        let Some(value) = value(key.name) else {
            continue;
        };
        let text = match value {
            Value::Text(text) => text.to_string(),
            Value::Number(x) => finite(x).map_err(|m| format!("`{}` {m}", key.name))?,
            Value::Whole(n) => n.to_string(),
            Value::Strings(items) => json_text(items),
            Value::Numbers(map) => {
                for (name, &x) in map {
                    finite(x).map_err(|m| format!("`{}` entry `{name}` {m}", key.name))?;
                }
                json_text(map)
            }
        };
        let text = checked(&text, false).map_err(|m| format!("`{}` {m}", key.name))?;
        let _ = writeln!(out, "{indent}<data key=\"{}\">{text}</data>", key.id);
    }
    Ok(out)
}

/// `<tag …/>` without data, or `<tag …>` data `</tag>`.
fn element(out: &mut String, open: &str, tag: &str, data: &str) {
    if data.is_empty() {
        let _ = writeln!(out, "    <{open}/>");
    } else {
        let _ = write!(out, "    <{open}>\n{data}    </{tag}>\n");
    }
}

fn finite(x: f64) -> std::result::Result<String, String> {
    if x.is_finite() {
        Ok(format_f64(x))
    } else {
        Err(format!("is {x}; model documents hold finite numbers only"))
    }
}

/// `text` escaped, or why XML cannot hold it.
fn checked(text: &str, attribute: bool) -> std::result::Result<String, String> {
    match first_non_xml_char(text) {
        Some(c) => Err(format!(
            "contains U+{:04X}, a character XML 1.0 cannot hold",
            u32::from(c)
        )),
        None => Ok(escape(text, attribute)),
    }
}

fn attribute(text: &str) -> std::result::Result<String, String> {
    checked(text, true)
}

fn write_error(doc: &ModelDocument, what: &str, message: &str) -> Error {
    Error::invalid_input(format!(
        "cannot write model `{}` as GraphML: {what}: {message}",
        doc.name
    ))
}

/// What the reader would refuse about the graph itself: duplicate names or edges,
/// unknown endpoints, cycles.
fn check_structure(doc: &ModelDocument) -> Result<()> {
    let mut names = HashSet::new();
    for variable in &doc.variables {
        if !names.insert(variable.name.as_str()) {
            return Err(write_error(
                doc,
                &format!("variable `{}`", variable.name),
                "the name is used twice",
            ));
        }
    }
    let mut edges = HashSet::new();
    for edge in &doc.edges {
        let what = format!("edge `{}` -> `{}`", edge.source, edge.target);
        for end in [&edge.source, &edge.target] {
            if !names.contains(end.as_str()) {
                return Err(write_error(
                    doc,
                    &what,
                    &Error::unknown_variable(end, doc.variables.iter().map(|v| v.name.as_str()))
                        .to_string(),
                ));
            }
        }
        if !edges.insert((&edge.source, &edge.target)) {
            return Err(write_error(doc, &what, "the edge is given twice"));
        }
    }
    let pairs: Vec<(String, String)> = doc
        .edges
        .iter()
        .map(|e| (e.source.clone(), e.target.clone()))
        .collect();
    CausalGraph::from_edges(&pairs, &[])?;
    Ok(())
}

/// The values of one element by attribute name, with the line each came from.
struct Values<'a> {
    file: &'a str,
    /// The element, for messages (node `sales`).
    what: String,
    by_name: HashMap<&'a str, (&'a str, usize)>,
}

impl<'a> Values<'a> {
    /// Applies the defaults of `domain`'s keys, then the element's own `<data>`.
    fn collect(
        file: &'a str,
        what: String,
        document: &'a GraphmlDocument,
        keys: &HashMap<&str, &'a Key>,
        domain: &str,
        data: &'a [Data],
    ) -> Result<Self> {
        let mut by_name = HashMap::new();
        for key in &document.keys {
            let applies = key.domain == domain || key.domain == "all";
            if let (Some(default), true) = (&key.default, applies) {
                by_name.insert(key.name.as_str(), (default.as_str(), key.line));
            }
        }
        let mut given: HashMap<&str, usize> = HashMap::new();
        for d in data {
            // GraphmlDocument::read has checked that every <data> names a declared key.
            let Some(key) = keys.get(d.key.as_str()) else {
                continue;
            };
            if let Some(first) = given.insert(key.name.as_str(), d.line) {
                return Err(parse_error(
                    file,
                    d.line,
                    format!(
                        "{what}: `{}` is given twice (first on line {first})",
                        key.name
                    ),
                ));
            }
            by_name.insert(key.name.as_str(), (d.value.as_str(), d.line));
        }
        Ok(Values {
            file,
            what,
            by_name,
        })
    }

    fn error(&self, line: usize, message: impl std::fmt::Display) -> Error {
        parse_error(self.file, line, format!("{}: {message}", self.what))
    }

    fn text(&self, name: &str) -> Option<String> {
        self.by_name.get(name).map(|(value, _)| value.to_string())
    }

    fn number(&self, name: &str) -> Result<Option<f64>> {
        let Some(&(value, line)) = self.by_name.get(name) else {
            return Ok(None);
        };
        match value.trim().parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(self.error(
                line,
                format!("`{name}` must be a finite number, not `{value}`"),
            )),
        }
    }

    /// A whole number from 0 to `T`'s largest value.
    fn whole<T: TryFrom<u64> + Into<u64> + Copy>(&self, name: &str, max: T) -> Result<Option<T>> {
        let Some(&(value, line)) = self.by_name.get(name) else {
            return Ok(None);
        };
        let n = value.trim().parse::<u64>().ok();
        n.and_then(|n| T::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| {
                self.error(
                    line,
                    format!(
                        "`{name}` must be a whole number from 0 to {}, not `{value}`",
                        max.into()
                    ),
                )
            })
    }

    fn parsed<T: FromStr<Err = Error>>(&self, name: &str) -> Result<Option<T>> {
        let Some(&(value, line)) = self.by_name.get(name) else {
            return Ok(None);
        };
        value.parse().map(Some).map_err(|e| match e {
            Error::InvalidInput { message } => self.error(line, message),
            other => self.error(line, other),
        })
    }

    fn strings(&self, name: &str) -> Result<Vec<String>> {
        let Some(&(value, line)) = self.by_name.get(name) else {
            return Ok(Vec::new());
        };
        serde_json::from_str::<Vec<String>>(value).map_err(|m| {
            self.error(
                line,
                format!("`{name}` must be a JSON array of strings such as [\"a\",\"b\"]: {m}"),
            )
        })
    }

    fn numbers(&self, name: &str) -> Result<BTreeMap<String, f64>> {
        let Some(&(value, line)) = self.by_name.get(name) else {
            return Ok(BTreeMap::new());
        };
        serde_json::from_str::<BTreeMap<String, f64>>(value).map_err(|m| {
            self.error(
                line,
                format!("`{name}` must be a JSON object of numbers such as {{\"a\":1.5}}: {m}"),
            )
        })
    }
}

/// The JSON text of a list- or map-valued attribute: compact, non-ASCII text left
/// readable, numbers in their shortest exact form (`["TV ads","電視廣告"]`,
/// `{"intercept":1.5}`). Python reads it with `json.loads`.
fn json_text<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Serialising strings and finite numbers cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Written by networkx 3.6.1; the script is in `estimators/tests/fixtures/README.md`.
    const NETWORKX_RETAIL: &str = include_str!("../../../tests/fixtures/retail-networkx.graphml");

    fn small_model() -> ModelDocument {
        let mut tv = Variable::new("tv_spend", Role::Lever, VariableKind::Continuous);
        tv.label = "TV \"ads\" & <spend>".into();
        tv.aliases = vec!["TV ads".into(), "電視廣告".into()];
        tv.unit = Some("USD".into());
        tv.mean = Some(5000.0);
        tv.min = Some(-0.0);
        tv.max = Some(1e300);
        let mut sales = Variable::new("sales", Role::Kpi, VariableKind::Continuous);
        sales.mechanism = Some("linear-gaussian".into());
        sales.parameters = [("intercept".to_string(), 1.5), ("tv_spend".into(), 0.3)]
            .into_iter()
            .collect();
        ModelDocument {
            model_id: "retail@1".into(),
            name: "retail".into(),
            version: 1,
            created_at: "2024-05-01T00:00:00Z".into(),
            dataset_sha256: String::new(),
            n_rows: 500,
            method: "scm-linear".into(),
            assumptions: vec!["no unobserved confounding".into()],
            mechanisms: None,
            variables: vec![tv, sales],
            edges: vec![CausalEdge {
                effect: Some(0.3),
                p_value: Some(1e-7),
                ..CausalEdge::new("tv_spend", "sales")
            }],
            created_by: Some("Ana & <the analysts>".into()),
        }
    }

    #[test]
    fn writes_the_canonical_form() {
        let text = write_model(&small_model()).unwrap();
        let body = text.split("  <graph").nth(1).unwrap();
        assert_eq!(
            body,
            r#" edgedefault="directed">
    <data key="d0">retail@1</data>
    <data key="d1">retail</data>
    <data key="d2">1</data>
    <data key="d3">2024-05-01T00:00:00Z</data>
    <data key="d5">500</data>
    <data key="d6">scm-linear</data>
    <data key="d7">["no unobserved confounding"]</data>
    <data key="d25">Ana &amp; &lt;the analysts&gt;</data>
    <node id="tv_spend">
      <data key="d9">TV "ads" &amp; &lt;spend&gt;</data>
      <data key="d10">["TV ads","電視廣告"]</data>
      <data key="d11">lever</data>
      <data key="d12">continuous</data>
      <data key="d13">USD</data>
      <data key="d14">5000.0</data>
      <data key="d16">-0.0</data>
      <data key="d17">1e300</data>
    </node>
    <node id="sales">
      <data key="d9">sales</data>
      <data key="d11">kpi</data>
      <data key="d12">continuous</data>
      <data key="d18">linear-gaussian</data>
      <data key="d19">{"intercept":1.5,"tv_spend":0.3}</data>
    </node>
    <edge source="tv_spend" target="sales">
      <data key="d20">0.3</data>
      <data key="d23">1e-7</data>
    </edge>
  </graph>
</graphml>
"#
        );
        let head: Vec<&str> = text.lines().take(3).collect();
        assert_eq!(head[0], r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        assert!(head[1].starts_with(r#"<graphml xmlns="http://graphml.graphdrawing.org/xmlns""#));
        assert_eq!(
            head[2],
            r#"  <key id="d0" for="graph" attr.name="model_id" attr.type="string"/>"#
        );
        assert_eq!(text.matches("<key ").count(), MODEL_KEYS.len());
    }

    #[test]
    fn reads_what_networkx_writes() {
        let doc = read_model(NETWORKX_RETAIL, "retail-networkx.graphml").unwrap();
        assert_eq!(
            (
                doc.model_id.as_str(),
                doc.name.as_str(),
                doc.version,
                doc.n_rows
            ),
            ("retail@3", "retail", 3, 1200)
        );
        assert_eq!(doc.created_at, "2024-05-01T12:00:00Z");
        assert_eq!(doc.dataset_sha256, "9f86d081884c7d65");
        assert_eq!(doc.method, "scm-linear");
        assert_eq!(doc.assumptions.len(), 2);
        let names: Vec<&str> = doc.variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(
            names,
            ["tv_spend", "price", "store_visits", "sales", "returns"]
        );

        let tv = &doc.variables[0];
        assert_eq!(tv.label, "TV advertising spend");
        assert_eq!(tv.aliases, ["TV ads", "電視廣告"]);
        assert_eq!((tv.role, tv.kind), (Role::Lever, VariableKind::Continuous));
        assert_eq!(tv.unit.as_deref(), Some("USD"));
        assert_eq!(
            (tv.mean, tv.std, tv.min, tv.max),
            (Some(5000.0), Some(1250.5), Some(0.0), Some(10000.0))
        );
        assert_eq!(tv.mechanism.as_deref(), Some("empirical"));
        assert!(tv.parameters.is_empty());
        assert_eq!(doc.variables[1].label, "Price (USD & tax)");
        assert_eq!(doc.variables[2].role, Role::Mediator);
        let sales = &doc.variables[3];
        assert_eq!(sales.aliases, ["銷售額", "revenue"]);
        assert_eq!(sales.parameters["price"], -12.5);
        assert_eq!(sales.parameters["store_visits"], 1.2);
        assert_eq!(sales.parameters.len(), 4);
        let returns = &doc.variables[4];
        assert_eq!(
            (returns.role, returns.kind),
            (Role::Kpi, VariableKind::Binary)
        );
        assert!(returns.aliases.is_empty() && returns.unit.is_none() && returns.mean.is_none());

        let edges: Vec<(&str, &str)> = doc
            .edges
            .iter()
            .map(|e| (e.source.as_str(), e.target.as_str()))
            .collect();
        assert_eq!(
            edges,
            [
                ("tv_spend", "store_visits"),
                ("tv_spend", "sales"),
                ("price", "sales"),
                ("store_visits", "sales"),
                ("sales", "returns")
            ]
        );
        let first = &doc.edges[0];
        assert_eq!(
            (first.effect, first.ci_low, first.ci_high, first.p_value),
            (Some(0.144), Some(0.12), Some(0.168), Some(1e-6))
        );
        assert_eq!(first.method.as_deref(), Some("ols"));
        let last = &doc.edges[4];
        assert_eq!(
            (last.effect, last.ci_low, last.method.as_deref()),
            (Some(0.002), None, Some("logit"))
        );

        // Our canonical form of it is stable.
        let text = write_model(&doc).unwrap();
        assert_eq!(read_model(&text, "again.graphml").unwrap(), doc);
        assert_eq!(
            write_model(&read_model(&text, "again.graphml").unwrap()).unwrap(),
            text
        );
    }

    #[test]
    fn every_key_is_written_by_a_full_document() {
        let mut doc = small_model();
        doc.dataset_sha256 = "abc".into();
        doc.mechanisms = Some("sha256:0123".into());
        let v = &mut doc.variables[0];
        v.std = Some(1.0);
        v.mechanism = Some("empirical".into());
        v.parameters.insert("scale".into(), 2.0);
        let e = &mut doc.edges[0];
        e.ci_low = Some(0.1);
        e.ci_high = Some(0.5);
        e.method = Some("ols".into());
        let text = write_model(&doc).unwrap();
        for key in MODEL_KEYS {
            assert!(
                text.contains(&format!("<data key=\"{}\">", key.id)),
                "no value written for {} `{}`",
                key.domain.as_str(),
                key.name
            );
        }
        assert_eq!(read_model(&text, "m.graphml").unwrap(), doc);
    }

    #[test]
    fn missing_values_take_their_defaults() {
        let text = r#"<graphml>
  <key id="n" for="graph" attr.name="name" attr.type="string"/>
  <key id="u" for="node" attr.name="unit" attr.type="string"><default>USD</default></key>
  <key id="x" for="node" attr.name="yfiles" attr.type="string"/>
  <graph edgedefault="directed">
    <node id="a"><data key="x">ignored</data></node>
    <node id="b"><data key="u"> EUR </data></node>
    <edge source="a" target="b"/>
    <data key="n">m</data>
  </graph>
</graphml>"#;
        let doc = read_model(text, "m.graphml").unwrap();
        assert_eq!(
            (doc.model_id.as_str(), doc.version, doc.n_rows),
            ("m@0", 0, 0)
        );
        let a = &doc.variables[0];
        assert_eq!(
            (a.label.as_str(), a.role, a.kind),
            ("a", Role::Context, VariableKind::Continuous)
        );
        assert_eq!(a.unit.as_deref(), Some("USD"));
        // Text is kept exactly, spaces included.
        assert_eq!(doc.variables[1].unit.as_deref(), Some(" EUR "));
        assert_eq!(doc.edges, [CausalEdge::new("a", "b")]);
    }

    #[test]
    fn read_errors_carry_the_line() {
        let head = "<graphml>\n\
            <key id=\"n\" for=\"graph\" attr.name=\"name\"/>\n\
            <key id=\"m\" for=\"node\" attr.name=\"mean\" attr.type=\"double\"/>\n\
            <key id=\"r\" for=\"node\" attr.name=\"role\"/>\n\
            <key id=\"k\" for=\"node\" attr.name=\"kind\"/>\n\
            <key id=\"a\" for=\"node\" attr.name=\"aliases\"/>\n\
            <key id=\"p\" for=\"node\" attr.name=\"parameters\"/>\n\
            <key id=\"v\" for=\"graph\" attr.name=\"version\" attr.type=\"long\"/>\n\
            <key id=\"e\" for=\"edge\" attr.name=\"effect\" attr.type=\"double\"/>\n\
            <graph edgedefault=\"directed\">\n<data key=\"n\">m</data>\n";
        // The head has 11 lines; the first line after it is 12.
        let cases = [
            ("<node id=\"x\">\n</graph></graphml>", 13, "malformed XML"),
            ("<node id=\"x\"><data key=\"zz\">1</data></node>\n</graph></graphml>", 12, "key `zz`, which no <key> declares"),
            ("<node id=\"x\"/>\n<node id=\"x\"/>\n</graph></graphml>", 13, "node id `x` is used twice (first on line 12)"),
            ("<node id=\"x\"/>\n<edge source=\"x\" target=\"y\"/>\n</graph></graphml>", 13, "unknown node `y`"),
            ("<node id=\"x\">\n<data key=\"m\">abc</data></node>\n</graph></graphml>", 13, "node `x`: `mean` must be a finite number, not `abc`"),
            ("<node id=\"x\"><data key=\"m\">NaN</data></node>\n</graph></graphml>", 12, "finite number"),
            ("<node id=\"x\"><data key=\"m\">1</data>\n<data key=\"m\">2</data></node>\n</graph></graphml>", 13, "`mean` is given twice (first on line 12)"),
            ("<node id=\"x\"><data key=\"r\">boss</data></node>\n</graph></graphml>", 12, "unknown role `boss`; use one of lever, kpi"),
            ("<node id=\"x\"><data key=\"k\">ordinal</data></node>\n</graph></graphml>", 12, "unknown variable kind `ordinal`"),
            ("<node id=\"x\"><data key=\"a\">TV ads</data></node>\n</graph></graphml>", 12, "`aliases` must be a JSON array of strings"),
            ("<node id=\"x\"><data key=\"p\">{\"a\":\"b\"}</data></node>\n</graph></graphml>", 12, "`parameters` must be a JSON object of numbers"),
            ("<data key=\"v\">3.0</data>\n</graph></graphml>", 12, "`version` must be a whole number from 0 to 4294967295, not `3.0`"),
            ("<data key=\"v\">4294967296</data>\n</graph></graphml>", 12, "from 0 to 4294967295"),
            ("<node id=\"x\"/><node id=\"y\"/>\n<edge source=\"x\" target=\"y\"/>\n<edge source=\"x\" target=\"y\"><data key=\"e\">1</data></edge>\n</graph></graphml>", 14, "edge x -> y is given twice (first on line 13)"),
            ("<node id=\"x\"/><node id=\"y\"/>\n<edge source=\"x\" target=\"y\"><data key=\"e\">0x1</data></edge>\n</graph></graphml>", 13, "edge x -> y: `effect` must be a finite number"),
        ];
        for (tail, line, message) in cases {
            let text = format!("{head}{tail}");
            match read_model(&text, "m.graphml") {
                Err(Error::Parse {
                    file,
                    line: got,
                    message: got_message,
                    ..
                }) => {
                    assert_eq!(file, "m.graphml");
                    assert_eq!(got, line, "{tail}: {got_message}");
                    assert!(got_message.contains(message), "{tail}: {got_message}");
                }
                other => panic!("{tail}: expected a parse error, got {other:?}"),
            }
        }
        let nameless =
            "<graphml>\n\n<graph edgedefault=\"directed\">\n<node id=\"x\"/></graph></graphml>";
        match read_model(nameless, "m.graphml") {
            Err(Error::Parse { line, message, .. }) => {
                assert_eq!(line, 3);
                assert!(message.contains("no `name`"), "{message}");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
        let cyclic = format!(
            "{head}<node id=\"x\"/><node id=\"y\"/>\n<edge source=\"x\" target=\"y\"/>\n\
             <edge source=\"y\" target=\"x\"/>\n</graph></graphml>"
        );
        assert!(matches!(
            read_model(&cyclic, "m.graphml"),
            Err(Error::Cyclic { cycle }) if cycle == ["x", "y", "x"]
        ));
    }

    #[test]
    fn write_refuses_what_cannot_be_read_back() {
        type Change = fn(&mut ModelDocument);
        let cases: [(Change, &str); 8] = [
            (
                |d| d.variables[0].mean = Some(f64::NAN),
                "variable `tv_spend`: `mean` is NaN",
            ),
            (
                |d| {
                    d.variables[1]
                        .parameters
                        .insert("slope".into(), f64::INFINITY);
                },
                "variable `sales`: `parameters` entry `slope` is inf",
            ),
            (
                |d| d.edges[0].ci_high = Some(f64::NEG_INFINITY),
                "edge `tv_spend` -> `sales`: `ci_high` is -inf",
            ),
            (
                |d| d.variables[0].label = "bell\u{7}".into(),
                "`label` contains U+0007",
            ),
            (
                |d| d.variables[1].name = "tv_spend".into(),
                "variable `tv_spend`: the name is used twice",
            ),
            (
                |d| d.edges[0].target = "sale".into(),
                "unknown variable `sale`; did you mean `sales`?",
            ),
            (
                |d| d.edges.push(d.edges[0].clone()),
                "the edge is given twice",
            ),
            (
                |d| {
                    let v = Variable::new("a\u{0}", Role::Context, VariableKind::Binary);
                    d.variables.push(v);
                },
                "the name contains U+0000",
            ),
        ];
        for (change, message) in cases {
            let mut doc = small_model();
            change(&mut doc);
            let error = write_model(&doc).unwrap_err().to_string();
            assert!(error.contains(message), "{error}");
            assert!(error.contains("cannot write model `retail`"), "{error}");
        }
        let mut doc = small_model();
        doc.edges.push(CausalEdge::new("sales", "tv_spend"));
        assert!(matches!(write_model(&doc), Err(Error::Cyclic { .. })));
    }

    #[test]
    fn awkward_text_survives_escaping() {
        let mut doc = small_model();
        let name = " a&b <c> \"d\" 'e'\t\r\n電視 ";
        doc.variables[0].name = name.into();
        doc.variables[0].label = name.into();
        doc.variables[0].unit = Some(String::new());
        doc.edges[0].source = name.into();
        let text = write_model(&doc).unwrap();
        assert!(
            text.contains("<node id=\" a&amp;b &lt;c&gt; &quot;d&quot; 'e'&#9;&#13;&#10;電視 \">")
        );
        assert!(text.contains("<data key=\"d13\"></data>"));
        assert_eq!(read_model(&text, "m.graphml").unwrap(), doc);
    }

    fn text() -> impl Strategy<Value = String> {
        // Markup characters, whitespace that XML parsers normalise, Traditional
        // Chinese, an astral-plane character.
        "[a-zA-Z0-9_ &<>\"'\t\r\n電視廣告銷售額價格é😀-]{0,10}"
    }

    fn float() -> impl Strategy<Value = f64> {
        use proptest::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
        prop_oneof![
            4 => POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO,
            1 => prop::sample::select(vec![
                -0.0, 0.0, 5e-324, f64::MIN_POSITIVE, f64::MAX, f64::MIN, 1e-7, 1e16, 0.1, -2.5,
            ]),
        ]
    }

    prop_compose! {
        fn variable(name: String)(
            label in text(),
            aliases in prop::collection::vec(text(), 0..3),
            role in prop::sample::select(Role::ALL.to_vec()),
            kind in prop::sample::select(VariableKind::ALL.to_vec()),
            unit in prop::option::of(text()),
            stats in prop::array::uniform4(prop::option::of(float())),
            mechanism in prop::option::of(text()),
            parameters in prop::collection::btree_map(text(), float(), 0..3),
        ) -> Variable {
            let [mean, std, min, max] = stats;
            Variable { name: name.clone(), label, aliases, role, kind, unit, mean, std, min, max, mechanism, parameters }
        }
    }

    fn document() -> impl Strategy<Value = ModelDocument> {
        let names = prop::collection::btree_set("[a-z_&<>\"' 電視廣告😀]{1,6}", 0..6);
        let graph = (
            text(),
            text(),
            any::<u32>(),
            text(),
            text(),
            any::<u64>(),
            text(),
            prop::collection::vec(text(), 0..3),
        );
        (names, graph).prop_flat_map(|(names, graph)| {
            let names: Vec<String> = names.into_iter().collect();
            let n = names.len();
            let variables: Vec<_> = names.iter().map(|name| variable(name.clone())).collect();
            // Edges only from an earlier to a later variable: a DAG, no repeats.
            let pairs: Vec<(usize, usize)> = (0..n)
                .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
                .collect();
            let edges = prop::sample::subsequence(pairs.clone(), 0..=pairs.len()).prop_flat_map(
                move |chosen| {
                    chosen
                        .into_iter()
                        .map(|(i, j)| {
                            let (source, target) = (names[i].clone(), names[j].clone());
                            (
                                prop::array::uniform4(prop::option::of(float())),
                                prop::option::of(text()),
                            )
                                .prop_map(
                                    move |([effect, ci_low, ci_high, p_value], method)| {
                                        CausalEdge {
                                            source: source.clone(),
                                            target: target.clone(),
                                            effect,
                                            ci_low,
                                            ci_high,
                                            p_value,
                                            method,
                                        }
                                    },
                                )
                        })
                        .collect::<Vec<_>>()
                },
            );
            (Just(graph), variables, edges).prop_map(|(graph, variables, edges)| {
                let (
                    model_id,
                    name,
                    version,
                    created_at,
                    dataset_sha256,
                    n_rows,
                    method,
                    assumptions,
                ) = graph;
                ModelDocument {
                    model_id,
                    name,
                    version,
                    created_at,
                    dataset_sha256,
                    n_rows,
                    method,
                    assumptions,
                    mechanisms: None,
                    variables,
                    edges,
                    created_by: None,
                }
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// write → read gives the same document and write → read → write the same bytes.
        #[test]
        fn write_read_write_is_byte_stable(doc in document()) {
            let text = write_model(&doc).unwrap();
            let back = read_model(&text, "m.graphml").unwrap();
            prop_assert_eq!(&back, &doc);
            prop_assert_eq!(write_model(&back).unwrap(), text);
        }

        /// Truncated or corrupted model documents give errors, never panics.
        #[test]
        fn reader_never_panics(cut in 0usize..3000, at in 0usize..3000, junk in "[<>/=\"&a-z0-9\\[\\]{}:, ]{0,4}") {
            let mut text: String = NETWORKX_RETAIL.chars().take(cut).collect();
            let at = text.char_indices().map(|(i, _)| i).nth(at).unwrap_or(text.len());
            text.insert_str(at, &junk);
            if let Ok(doc) = read_model(&text, "m.graphml") {
                let _ = write_model(&doc);
            }
        }
    }
}
