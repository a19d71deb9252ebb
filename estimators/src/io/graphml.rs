//! GraphML: causal graphs and model documents.
//!
//! GraphML is the contract format of Causeway's model documents, and what networkx,
//! yEd, Gephi and Neo4j APOC exchange. Reading happens in two steps: the XML is first
//! read into a [`GraphmlDocument`] that keeps every declared key, every node and edge
//! with its `<data>` values and the line each came from; only then is that turned into
//! a [`CausalGraph`] ([`read_graph`]) or a [`ModelDocument`](crate::model::ModelDocument)
//! ([`read_model`]). The first step is format-level and knows nothing of causality;
//! the second is where causal meaning (latent nodes, directedness, roles, effects) is
//! checked.
//!
//! Model documents are also written here ([`write_model`]), with the keys declared
//! once in [`MODEL_KEYS`]; write → read → write gives the same bytes.
//!
//! quick-xml reports byte offsets; every error is turned into a line number so a
//! person can find the problem in an editor.

mod keys;
mod model;

pub use keys::{model_keys_schema, KeyDomain, KeyType, ModelKey, MODEL_KEYS};
pub use model::{read_model, write_model};

use std::collections::HashMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::error::{Error, Result};
use crate::graph::{parse_bool, CausalGraph, GraphBuilder};

/// Reads a GraphML document (as networkx `write_graphml` writes it) into a causal
/// graph. Node ids become variable names, in document order.
///
/// A node is latent when it has a `<data>` value for a key whose `attr.name` is
/// `latent` and the value is true, or `observed` and the value is false; a key's
/// `<default>` applies to nodes without a value.
///
/// # Errors
/// [`Error::Parse`] with `file` and the line for malformed XML, a document that is not
/// GraphML, an undirected graph or edge, a duplicate node id, an edge to an unknown
/// node, `<data>` naming an undeclared key, or a latent flag that is not a boolean;
/// [`Error::Cyclic`] for a cycle.
pub fn read_graph(text: &str, file: &str) -> Result<CausalGraph> {
    GraphmlDocument::read(text, file)?.to_causal_graph(file)
}

/// A `<key>` declaration.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Key {
    pub(crate) id: String,
    /// The `for` domain: `node`, `edge`, `graph` or `all`.
    pub(crate) domain: String,
    pub(crate) name: String,
    pub(crate) attr_type: String,
    /// The `<default>` text, exactly as written.
    pub(crate) default: Option<String>,
    pub(crate) line: usize,
}

/// One `<data key="…">value</data>`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Data {
    pub(crate) key: String,
    /// The text exactly as written, entities resolved but not trimmed: a label or
    /// unit may begin or end with a space, and networkx does not trim either.
    pub(crate) value: String,
    pub(crate) line: usize,
}

/// A `<node>` with its data.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    pub(crate) id: String,
    pub(crate) line: usize,
    pub(crate) data: Vec<Data>,
}

/// An `<edge>` with its data.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Edge {
    pub(crate) source: String,
    pub(crate) target: String,
    pub(crate) line: usize,
    pub(crate) data: Vec<Data>,
}

/// The content of a GraphML file that holds one graph, at the level of GraphML itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct GraphmlDocument {
    pub(crate) keys: Vec<Key>,
    /// The line of the `<graph>` element.
    pub(crate) graph_line: usize,
    pub(crate) graph_data: Vec<Data>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) edges: Vec<Edge>,
}

/// Byte offset to 1-based line number.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Self {
        Lines(text.match_indices('\n').map(|(i, _)| i).collect())
    }

    fn line(&self, offset: u64) -> usize {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        self.0.partition_point(|&newline| newline < offset) + 1
    }
}

/// Where `<data>` text is being collected.
#[derive(Clone, Copy, PartialEq)]
enum Owner {
    Graph,
    Node,
    Edge,
}

struct DocumentReader<'a> {
    file: &'a str,
    document: GraphmlDocument,
    /// Local names of the open elements, outermost first.
    open: Vec<String>,
    key_index: HashMap<String, usize>,
    node_ids: HashMap<String, usize>,
    seen_graph: bool,
    undirected_default: bool,
    /// The `<data>` being read and whose it is.
    data: Option<(Owner, Data)>,
    /// The `<key>` whose `<default>` is being read.
    default_text: Option<String>,
}

impl GraphmlDocument {
    /// Reads the GraphML structure of `text`; see [`read_graph`] for what is refused.
    pub(crate) fn read(text: &str, file: &str) -> Result<Self> {
        let lines = Lines::new(text);
        let mut reader = Reader::from_str(text);
        let mut state = DocumentReader {
            file,
            document: GraphmlDocument::default(),
            open: Vec::new(),
            key_index: HashMap::new(),
            node_ids: HashMap::new(),
            seen_graph: false,
            undirected_default: false,
            data: None,
            default_text: None,
        };
        loop {
            // Whitespace is not trimmed, so the position before an event is the `<`
            // of a tag: the line a person sees the element start on.
            let start = reader.buffer_position();
            let event = reader.read_event().map_err(|e| {
                parse_error(
                    file,
                    lines.line(reader.error_position()),
                    format!("malformed XML: {e}"),
                )
            })?;
            let line = lines.line(start + u64::from(leading_whitespace(text, start)));
            match event {
                Event::Start(element) => {
                    state.start(&element, line)?;
                    state.open.push(local_name(&element));
                }
                Event::Empty(element) => {
                    state.start(&element, line)?;
                    state.open.push(local_name(&element));
                    state.end()?;
                }
                Event::End(_) => state.end()?,
                Event::Text(text) => {
                    let text = text
                        .unescape()
                        .map_err(|e| parse_error(file, line, format!("malformed XML text: {e}")))?;
                    state.text(&text);
                }
                Event::CData(cdata) => {
                    let text = String::from_utf8_lossy(&cdata).into_owned();
                    state.text(&text);
                }
                Event::Eof => break,
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
            }
        }
        let end_line = lines.line(text.len() as u64);
        if let Some(open) = state.open.last() {
            return Err(parse_error(
                file,
                end_line,
                format!("the document ends inside <{open}>"),
            ));
        }
        if !state.seen_graph {
            return Err(parse_error(
                file,
                end_line,
                "no <graph> element in the document",
            ));
        }
        Ok(state.document)
    }

    /// The causal graph this document describes.
    pub(crate) fn to_causal_graph(&self, file: &str) -> Result<CausalGraph> {
        let key_role: HashMap<&str, (&Key, bool)> = self
            .keys
            .iter()
            .filter(|k| matches!(k.domain.as_str(), "node" | "all"))
            .filter_map(|k| match k.name.to_ascii_lowercase().as_str() {
                "latent" => Some((k.id.as_str(), (k, true))),
                "observed" => Some((k.id.as_str(), (k, false))),
                _ => None,
            })
            .collect();
        let mut builder = GraphBuilder::default();
        for node in &self.nodes {
            let i = builder.node(&node.id);
            let mut observed = true;
            // Defaults first, so that a node's own value overrides them.
            for (key, means_latent) in key_role.values() {
                if let Some(default) = &key.default {
                    if let Some(flag) = parse_bool(default) {
                        observed = flag != *means_latent;
                    }
                }
            }
            for data in &node.data {
                if let Some((key, means_latent)) = key_role.get(data.key.as_str()) {
                    let flag = parse_bool(&data.value).ok_or_else(|| {
                        parse_error(
                            file,
                            data.line,
                            format!(
                                "`{}` of node `{}` must be true or false, not `{}`",
                                key.name, node.id, data.value
                            ),
                        )
                    })?;
                    observed = flag != *means_latent;
                }
            }
            builder.set_observed(i, observed);
        }
        let index: HashMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        let oriented_keys: Vec<&str> = self
            .keys
            .iter()
            .filter(|k| matches!(k.domain.as_str(), "edge" | "all") && k.name == "oriented")
            .map(|k| k.id.as_str())
            .collect();
        for edge in &self.edges {
            let endpoint = |id: &str| {
                index.get(id).copied().ok_or_else(|| {
                    parse_error(
                        file,
                        edge.line,
                        format!(
                            "edge {} -> {} refers to unknown node `{id}`",
                            edge.source, edge.target
                        ),
                    )
                })
            };
            let (from, to) = (endpoint(&edge.source)?, endpoint(&edge.target)?);
            // A discovered CPDAG marks the edges whose direction the data left open;
            // reading one as a cause would invent a direction nobody decided.
            let unoriented = edge.data.iter().find(|d| {
                oriented_keys.contains(&d.key.as_str()) && parse_bool(&d.value) == Some(false)
            });
            if let Some(data) = unoriented {
                return Err(parse_error(
                    file,
                    data.line,
                    format!(
                        "edge {} -- {} is not oriented (`oriented` is false, as discovery writes an edge whose direction the data left open); decide its direction and set `oriented` to true",
                        edge.source, edge.target
                    ),
                ));
            }
            builder.edge(from, to);
        }
        builder.build()
    }
}

fn parse_error(file: &str, line: usize, message: impl Into<String>) -> Error {
    Error::Parse {
        file: file.to_string(),
        line,
        column: None,
        message: message.into(),
    }
}

/// `text` escaped for XML character data, or for a double-quoted attribute value
/// when `attribute` is true.
///
/// Besides the five markup characters, carriage returns are written as `&#13;` (an
/// XML parser would turn a literal one into a newline) and, in attributes, tabs and
/// newlines as `&#9;` and `&#10;` (a parser would turn literal ones into spaces), so
/// every reader gets back exactly the text that was written.
fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` escaped for a double-quoted XML attribute or for character data, or
/// `None` when it holds a character that XML 1.0 cannot hold at all.
pub fn escape_xml(text: &str) -> Option<String> {
    first_non_xml_char(text)
        .is_none()
        .then(|| escape(text, true))
}

/// The first character of `text` that XML 1.0 cannot hold at all, not even as a
/// character reference (control characters other than tab, newline and carriage
/// return, and U+FFFE, U+FFFF).
fn first_non_xml_char(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
    })
}

/// A finite `f64` as the shortest decimal text that parses back to the same bits
/// (Rust's `Debug` form: `1.5`, `1e-7`, `-0.0`, `1e300`). `Display` would also
/// round-trip but spells 1e300 with 300 zeros; Python's `float()` and every JSON
/// reader accept this form.
fn format_f64(value: f64) -> String {
    format!("{value:?}")
}

/// Number of whitespace bytes from `offset`, so a text event's line is that of its
/// first visible character.
fn leading_whitespace(text: &str, offset: u64) -> u32 {
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let rest = text.get(offset..).unwrap_or("");
    let n = rest.len() - rest.trim_start().len();
    u32::try_from(n).unwrap_or(0)
}

fn local_name(element: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(element.local_name().as_ref()).into_owned()
}

impl DocumentReader<'_> {
    fn error(&self, line: usize, message: impl Into<String>) -> Error {
        parse_error(self.file, line, message)
    }

    fn parent(&self) -> Option<&str> {
        self.open.last().map(String::as_str)
    }

    /// The attributes of `element` by local name, unescaped.
    fn attributes(&self, element: &BytesStart<'_>, line: usize) -> Result<HashMap<String, String>> {
        let mut map = HashMap::new();
        for attribute in element.attributes() {
            let attribute =
                attribute.map_err(|e| self.error(line, format!("malformed XML attribute: {e}")))?;
            let value = attribute
                .unescape_value()
                .map_err(|e| self.error(line, format!("malformed XML attribute: {e}")))?;
            let name = String::from_utf8_lossy(attribute.key.local_name().as_ref()).into_owned();
            // `attr.name` and `attr.type` keep their prefix-like dot: local_name
            // splits only on `:`, so they arrive intact.
            map.insert(name, value.into_owned());
        }
        Ok(map)
    }

    fn required(
        &self,
        attributes: &HashMap<String, String>,
        name: &str,
        element: &str,
        line: usize,
    ) -> Result<String> {
        attributes
            .get(name)
            .cloned()
            .ok_or_else(|| self.error(line, format!("<{element}> needs the attribute `{name}`")))
    }

    fn start(&mut self, element: &BytesStart<'_>, line: usize) -> Result<()> {
        let name = local_name(element);
        let parent = self.parent().map(str::to_string);
        if parent.is_none() {
            if name != "graphml" {
                return Err(self.error(
                    line,
                    format!("not a GraphML document: expected <graphml>, found <{name}>"),
                ));
            }
            return Ok(());
        }
        // Inside <data>, anything goes (yEd nests its own XML there); it is not ours.
        if self.data.is_some() {
            return Ok(());
        }
        let attributes = self.attributes(element, line)?;
        match (parent.as_deref(), name.as_str()) {
            (Some("graphml"), "key") => {
                let id = self.required(&attributes, "id", "key", line)?;
                if self.key_index.contains_key(&id) {
                    return Err(self.error(line, format!("key `{id}` is declared twice")));
                }
                self.key_index.insert(id.clone(), self.document.keys.len());
                self.document.keys.push(Key {
                    id,
                    domain: attributes
                        .get("for")
                        .cloned()
                        .unwrap_or_else(|| "all".into()),
                    name: attributes.get("attr.name").cloned().unwrap_or_default(),
                    attr_type: attributes
                        .get("attr.type")
                        .cloned()
                        .unwrap_or_else(|| "string".into()),
                    default: None,
                    line,
                });
            }
            (Some("key"), "default") => self.default_text = Some(String::new()),
            (Some("graphml"), "graph") => {
                if self.seen_graph {
                    return Err(self.error(line, "a document may hold only one <graph>"));
                }
                self.seen_graph = true;
                self.document.graph_line = line;
                match attributes.get("edgedefault").map(String::as_str) {
                    Some("undirected") => self.undirected_default = true,
                    Some("directed") | None => {}
                    Some(other) => {
                        return Err(self.error(
                            line,
                            format!(
                                "edgedefault must be `directed` or `undirected`, not `{other}`"
                            ),
                        ))
                    }
                }
            }
            (Some("graph"), "node") => {
                let id = self.required(&attributes, "id", "node", line)?;
                if let Some(&first) = self.node_ids.get(&id) {
                    return Err(self.error(
                        line,
                        format!(
                            "node id `{id}` is used twice (first on line {})",
                            self.document.nodes[first].line
                        ),
                    ));
                }
                self.node_ids.insert(id.clone(), self.document.nodes.len());
                self.document.nodes.push(Node {
                    id,
                    line,
                    data: Vec::new(),
                });
            }
            (Some("graph"), "edge") => {
                let source = self.required(&attributes, "source", "edge", line)?;
                let target = self.required(&attributes, "target", "edge", line)?;
                let directed = match attributes.get("directed").map(String::as_str) {
                    Some("true") => true,
                    Some("false") => false,
                    None => !self.undirected_default,
                    Some(other) => {
                        return Err(self.error(
                            line,
                            format!("`directed` must be true or false, not `{other}`"),
                        ))
                    }
                };
                if !directed {
                    return Err(self.error(
                        line,
                        format!(
                            "edge {source} -- {target} is undirected; a causal graph needs \
                             directed edges (edgedefault=\"directed\")"
                        ),
                    ));
                }
                self.document.edges.push(Edge {
                    source,
                    target,
                    line,
                    data: Vec::new(),
                });
            }
            (Some(owner @ ("graph" | "node" | "edge")), "data") => {
                let key = self.required(&attributes, "key", "data", line)?;
                if !self.key_index.contains_key(&key) {
                    return Err(self.error(
                        line,
                        format!("<data> refers to key `{key}`, which no <key> declares"),
                    ));
                }
                let owner = match owner {
                    "graph" => Owner::Graph,
                    "node" => Owner::Node,
                    _ => Owner::Edge,
                };
                self.data = Some((
                    owner,
                    Data {
                        key,
                        value: String::new(),
                        line,
                    },
                ));
            }
            (Some("node"), "graph") => {
                return Err(self.error(line, "nested graphs inside a node are not supported"))
            }
            (_, "hyperedge") => {
                return Err(self.error(line, "hyperedges cannot be part of a causal graph"))
            }
            // <desc>, <port>, <locator> and foreign elements carry nothing causal.
            _ => {}
        }
        Ok(())
    }

    fn text(&mut self, text: &str) {
        if let Some((_, data)) = &mut self.data {
            if self.open.last().is_some_and(|e| e == "data") {
                data.value.push_str(text);
            }
        } else if let Some(default) = &mut self.default_text {
            default.push_str(text);
        }
    }

    fn end(&mut self) -> Result<()> {
        let Some(name) = self.open.pop() else {
            return Ok(());
        };
        let closes_data = name == "data" && !self.open.iter().any(|e| e == "data");
        if closes_data {
            if let Some((owner, data)) = self.data.take() {
                let document = &mut self.document;
                match owner {
                    Owner::Graph => document.graph_data.push(data),
                    Owner::Node => {
                        if let Some(node) = document.nodes.last_mut() {
                            node.data.push(data);
                        }
                    }
                    Owner::Edge => {
                        if let Some(edge) = document.edges.last_mut() {
                            edge.data.push(data);
                        }
                    }
                }
            }
        } else if name == "default" && self.open.last().is_some_and(|e| e == "key") {
            if let (Some(text), Some(key)) =
                (self.default_text.take(), self.document.keys.last_mut())
            {
                key.default = Some(text);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What networkx `write_graphml` produces for a graph with a `latent` attribute.
    const NETWORKX: &str = r#"<?xml version='1.0' encoding='utf-8'?>
<graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">
  <key id="d1" for="edge" attr.name="weight" attr.type="double" />
  <key id="d0" for="node" attr.name="latent" attr.type="boolean" />
  <graph edgedefault="directed">
    <node id="U">
      <data key="d0">True</data>
    </node>
    <node id="treat">
      <data key="d0">False</data>
    </node>
    <node id="re78" />
    <node id="age &amp; sex" />
    <edge source="U" target="treat">
      <data key="d1">1.0</data>
    </edge>
    <edge source="U" target="re78" />
    <edge source="treat" target="re78" />
    <edge source="age &amp; sex" target="re78" />
  </graph>
</graphml>
"#;

    fn parse_failure(text: &str) -> (usize, String) {
        match read_graph(text, "m.graphml") {
            Err(Error::Parse {
                line,
                message,
                file,
                ..
            }) => {
                assert_eq!(file, "m.graphml");
                (line, message)
            }
            Err(other) => panic!("expected a parse error, got {other}"),
            Ok(g) => panic!("expected a parse error, got {:?}", g.edges()),
        }
    }

    #[test]
    fn reads_networkx_output() {
        let g = read_graph(NETWORKX, "m.graphml").unwrap();
        assert_eq!(
            g.node_names().collect::<Vec<_>>(),
            ["U", "treat", "re78", "age & sex"]
        );
        assert_eq!(g.latent_names(), ["U"]);
        assert_eq!(
            g.edges(),
            [
                ("U", "treat"),
                ("U", "re78"),
                ("treat", "re78"),
                ("age & sex", "re78")
            ]
        );
        let document = GraphmlDocument::read(NETWORKX, "m.graphml").unwrap();
        assert_eq!(document.edges[0].data[0].value, "1.0");
        assert_eq!(document.keys[1].attr_type, "boolean");
    }

    #[test]
    fn observed_key_and_defaults_mark_latent_nodes() {
        let text = r#"<graphml>
  <key id="o" for="node" attr.name="observed" attr.type="boolean"><default>true</default></key>
  <graph edgedefault="directed">
    <node id="u"><data key="o">false</data></node>
    <node id="t"/><node id="y"/>
    <edge source="u" target="t"/><edge source="u" target="y"/><edge source="t" target="y"/>
  </graph>
</graphml>"#;
        let g = read_graph(text, "m.graphml").unwrap();
        assert_eq!(g.latent_names(), ["u"]);
        let text = text.replace("<default>true</default>", "<default>false</default>");
        let g = read_graph(&text, "m.graphml").unwrap();
        assert_eq!(g.observed_names(), Vec::<&str>::new());
    }

    #[test]
    fn yed_style_nested_data_is_ignored() {
        let text = r#"<graphml xmlns:y="http://www.yworks.com/xml/graphml">
  <key id="d6" for="node" yfiles.type="nodegraphics"/>
  <graph edgedefault="directed">
    <node id="n0"><data key="d6"><y:ShapeNode><y:NodeLabel>a</y:NodeLabel></y:ShapeNode></data></node>
    <node id="n1"/>
    <edge source="n0" target="n1"/>
  </graph>
</graphml>"#;
        assert_eq!(
            read_graph(text, "m.graphml").unwrap().edges(),
            [("n0", "n1")]
        );
    }

    #[test]
    fn errors_carry_the_line() {
        let head = "<graphml>\n<key id=\"l\" for=\"node\" attr.name=\"latent\"/>\n";
        let cases = [
            (
                format!("{head}<graph edgedefault=\"directed\">\n<node id=\"a\">\n</graph>\n</graphml>"),
                5,
                "malformed XML",
            ),
            (
                format!("{head}<graph edgedefault=\"directed\">\n<node id=\"a\"/>\n<edge source=\"a\" target=\"b\"/>\n</graph></graphml>"),
                5,
                "unknown node `b`",
            ),
            (
                format!("{head}<graph edgedefault=\"directed\">\n<node id=\"a\"/>\n\n<node id=\"a\"/>\n</graph></graphml>"),
                6,
                "node id `a` is used twice (first on line 4)",
            ),
            (
                format!("{head}<graph edgedefault=\"directed\">\n<node id=\"a\">\n  <data key=\"d9\">1</data></node>\n</graph></graphml>"),
                5,
                "key `d9`, which no <key> declares",
            ),
            (
                format!("{head}\n<graph edgedefault=\"undirected\">\n<node id=\"a\"/><node id=\"b\"/>\n<edge source=\"a\" target=\"b\"/>\n</graph></graphml>"),
                6,
                "undirected",
            ),
            (
                format!("{head}<graph edgedefault=\"directed\">\n<node id=\"a\"/><node id=\"b\"/>\n<edge source=\"a\" target=\"b\" directed=\"false\"/>\n</graph></graphml>"),
                5,
                "undirected",
            ),
            (
                format!("{head}<graph edgedefault=\"directed\">\n<node id=\"a\">\n<data key=\"l\">perhaps</data></node>\n</graph></graphml>"),
                5,
                "must be true or false",
            ),
            (
                format!("{head}<graph edgedefault=\"directed\">\n<node id=\"a\"/>\n"),
                5,
                "ends inside <graph>",
            ),
            ("<html>\n</html>".to_string(), 1, "not a GraphML document"),
            (format!("{head}</graphml>"), 3, "no <graph>"),
            (
                format!("{head}<graph>\n<node/>\n</graph></graphml>"),
                4,
                "<node> needs the attribute `id`",
            ),
            (
                format!("{head}<graph>\n<node id=\"a &bogus;\"/>\n</graph></graphml>"),
                4,
                "malformed XML attribute",
            ),
        ];
        for (text, line, message) in cases {
            let (got_line, got) = parse_failure(&text);
            assert_eq!(got_line, line, "{text}\n{got}");
            assert!(got.contains(message), "{text}\n{got}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Truncated or corrupted documents give errors, never panics.
        #[test]
        fn reader_never_panics(cut in 0usize..800, at in 0usize..800, junk in "[<>/=\"&a-z ]{0,4}") {
            let mut text: String = NETWORKX.chars().take(cut).collect();
            let at = text.char_indices().map(|(i, _)| i).nth(at).unwrap_or(text.len());
            text.insert_str(at, &junk);
            let _ = read_graph(&text, "m.graphml");
        }
    }

    #[test]
    fn cycles_are_refused() {
        let text = r#"<graphml><graph edgedefault="directed"><node id="a"/><node id="b"/>
            <edge source="a" target="b"/><edge source="b" target="a"/></graph></graphml>"#;
        assert!(matches!(
            read_graph(text, "m.graphml"),
            Err(Error::Cyclic { .. })
        ));
    }
}
