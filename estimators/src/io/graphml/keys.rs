//! The GraphML keys of a model document, declared once.
//!
//! [`MODEL_KEYS`] is the single source of truth for the `<key>` elements: the writer
//! emits exactly these declarations and takes the order of `<data>` elements from
//! them, and `graph_schema/model-keys.graphml` (the contract a person reads before
//! opening a model in yEd, Gephi or networkx) is generated from them by
//! [`model_keys_schema`]. A test compares that file with the generated text, so the
//! two cannot drift apart.
//!
//! Key ids are `d0`, `d1`, … as networkx names them, and types are the ones networkx
//! writes (`long` for integers, `double` for floats), so a file round-trips through
//! `networkx.write_graphml` without the tool inventing new keys.

use std::fmt::Write as _;

use super::escape;

/// What a key describes: the model as a whole, a variable or a direct cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyDomain {
    /// The `<graph>` element: the model version.
    Graph,
    /// A `<node>`: one variable.
    Node,
    /// An `<edge>`: one direct cause.
    Edge,
}

impl KeyDomain {
    /// The value of the key's `for` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyDomain::Graph => "graph",
            KeyDomain::Node => "node",
            KeyDomain::Edge => "edge",
        }
    }
}

/// A key's `attr.type`, as networkx writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// Text, including the JSON-encoded lists and maps.
    String,
    /// A 64-bit float.
    Double,
    /// A whole number (networkx writes Python ints as `long`).
    Long,
}

impl KeyType {
    /// The value of the key's `attr.type` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::String => "string",
            KeyType::Double => "double",
            KeyType::Long => "long",
        }
    }
}

/// One `<key>` of the model document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelKey {
    /// The key's `id`, which `<data key="…">` refers to.
    pub id: &'static str,
    /// The element it describes (`for`).
    pub domain: KeyDomain,
    /// The attribute name (`attr.name`), the field of the model document.
    pub name: &'static str,
    /// The value type (`attr.type`).
    pub attr_type: KeyType,
    /// What the value means, and what a missing value means.
    pub meaning: &'static str,
    /// How the value is written as text.
    pub encoding: &'static str,
}

const TEXT: &str = "text";
const NUMBER: &str =
    "decimal number, the shortest text that reads back to the same 64-bit float; finite only";
const WHOLE: &str = "whole number, 0 or more";
const JSON_LIST: &str = "JSON array of strings, UTF-8 unescaped, e.g. [\"TV ads\",\"電視廣告\"]";
const JSON_MAP: &str =
    "JSON object from name to number, keys sorted, e.g. {\"intercept\":1.5,\"tv_spend\":0.3}";

/// Every key of a model document, in the order the writer declares them and writes
/// their `<data>`: graph keys, then node keys, then edge keys, then the keys added
/// since (so that no earlier key's id ever changes).
#[rustfmt::skip]
pub const MODEL_KEYS: &[ModelKey] = &[
    key("d0", KeyDomain::Graph, "model_id", KeyType::String, TEXT,
        "Unique id of this model version, name@version. Absent: name@version is assumed."),
    key("d1", KeyDomain::Graph, "name", KeyType::String, TEXT,
        "The model's name, shared by all its versions (retail). Required."),
    key("d2", KeyDomain::Graph, "version", KeyType::Long, WHOLE,
        "Version number per name; 0 before a store assigns one. Absent: 0."),
    key("d3", KeyDomain::Graph, "created_at", KeyType::String, TEXT,
        "When the model was fitted, RFC 3339 in UTC. Absent: empty."),
    key("d4", KeyDomain::Graph, "dataset_sha256", KeyType::String, TEXT,
        "SHA-256 of the data set the model was fitted on, hex. Absent: empty."),
    key("d5", KeyDomain::Graph, "n_rows", KeyType::Long, WHOLE,
        "Rows of that data set. Absent: 0."),
    key("d6", KeyDomain::Graph, "method", KeyType::String, TEXT,
        "How the model was fitted (scm-linear, dml, ...). Absent: empty."),
    key("d7", KeyDomain::Graph, "assumptions", KeyType::String, JSON_LIST,
        "The assumptions the model rests on, in plain words. Absent: none."),
    key("d8", KeyDomain::Graph, "mechanisms", KeyType::String, TEXT,
        "Reference to the fitted mechanisms stored alongside the document (forests, \
         classifiers, the kept population): sha256: and the hex digest of their \
         serialised form. Absent: the document's parameters are all there is."),
    key("d9", KeyDomain::Node, "label", KeyType::String, TEXT,
        "A label for people (TV advertising spend); Gephi shows it. Absent: the node id."),
    key("d10", KeyDomain::Node, "aliases", KeyType::String, JSON_LIST,
        "Other names people use for the variable, in any language. Absent: none."),
    key("d11", KeyDomain::Node, "role", KeyType::String, TEXT,
        "lever, kpi, confounder, mediator or context. Absent: context."),
    key("d12", KeyDomain::Node, "kind", KeyType::String, TEXT,
        "continuous, binary or categorical. Absent: continuous."),
    key("d13", KeyDomain::Node, "unit", KeyType::String, TEXT,
        "Unit of the values (USD, units). Absent: no unit."),
    key("d14", KeyDomain::Node, "mean", KeyType::Double, NUMBER,
        "Mean over the data the model was fitted on. Absent: unknown."),
    key("d15", KeyDomain::Node, "std", KeyType::Double, NUMBER,
        "Standard deviation over that data. Absent: unknown."),
    key("d16", KeyDomain::Node, "min", KeyType::Double, NUMBER,
        "Smallest observed value. Absent: unknown."),
    key("d17", KeyDomain::Node, "max", KeyType::Double, NUMBER,
        "Largest observed value. Absent: unknown."),
    key("d18", KeyDomain::Node, "mechanism", KeyType::String, TEXT,
        "The mechanism that generates the variable (empirical, linear-gaussian, ...). \
         Absent: not fitted."),
    key("d19", KeyDomain::Node, "parameters", KeyType::String, JSON_MAP,
        "The mechanism's parameters by name (intercept, one coefficient per parent, \
         noise scale, ...). Absent: none."),
    key("d20", KeyDomain::Edge, "effect", KeyType::Double, NUMBER,
        "Estimated direct effect of one unit of the source on the target. Absent: not estimated."),
    key("d21", KeyDomain::Edge, "ci_low", KeyType::Double, NUMBER,
        "Lower end of the effect's 95% interval. Absent: unknown."),
    key("d22", KeyDomain::Edge, "ci_high", KeyType::Double, NUMBER,
        "Upper end of the effect's 95% interval. Absent: unknown."),
    key("d23", KeyDomain::Edge, "p_value", KeyType::Double, NUMBER,
        "p-value for no direct effect. Absent: unknown."),
    key("d24", KeyDomain::Edge, "method", KeyType::String, TEXT,
        "How the effect was estimated. Absent: unknown."),
    key("d25", KeyDomain::Graph, "created_by", KeyType::String, TEXT,
        "Who saved this version: the label or id of the token that saved it, or the \
         CLI's --author. Absent: not recorded."),
];

const fn key(
    id: &'static str,
    domain: KeyDomain,
    name: &'static str,
    attr_type: KeyType,
    encoding: &'static str,
    meaning: &'static str,
) -> ModelKey {
    ModelKey {
        id,
        domain,
        name,
        attr_type,
        meaning,
        encoding,
    }
}

/// The keys of `domain`, in declaration order.
pub(crate) fn keys_for(domain: KeyDomain) -> impl Iterator<Item = &'static ModelKey> {
    MODEL_KEYS.iter().filter(move |k| k.domain == domain)
}

/// The `<graphml …>` start tag every model document and the schema file use.
pub(crate) const GRAPHML_START: &str = "<graphml xmlns=\"http://graphml.graphdrawing.org/xmlns\" \
    xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
    xsi:schemaLocation=\"http://graphml.graphdrawing.org/xmlns \
    http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd\">";

/// The XML declaration every model document and the schema file start with.
pub(crate) const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// One `<key …/>` line as the writer emits it (without indentation).
pub(crate) fn key_element(key: &ModelKey) -> String {
    format!(
        "<key id=\"{}\" for=\"{}\" attr.name=\"{}\" attr.type=\"{}\"/>",
        key.id,
        key.domain.as_str(),
        key.name,
        key.attr_type.as_str()
    )
}

/// The text of `graph_schema/model-keys.graphml`: a valid, empty GraphML document
/// that declares every key of [`MODEL_KEYS`], each with a comment and a `<desc>` on
/// its meaning and encoding.
pub fn model_keys_schema() -> String {
    let mut out = String::new();
    out.push_str(XML_DECLARATION);
    out.push_str(
        "\n<!--\n  Causeway model document: the GraphML keys.\n\
         \n\
         \x20 A fitted causal model is one GraphML graph (edgedefault=\"directed\", a DAG):\n\
         \x20 the graph holds the model version, each node is a variable (the node id is\n\
         \x20 the variable's name) and each edge a direct cause with its estimated effect.\n\
         \x20 Every model document declares exactly the keys below, in this order, with\n\
         \x20 these ids; networkx, yEd, Gephi and Neo4j APOC read them as attributes.\n\
         \n\
         \x20 Encodings:\n\
         \x20 - string keys hold plain text, except aliases and assumptions (a JSON array\n\
         \x20   of strings) and parameters (a JSON object from name to number, keys\n\
         \x20   sorted). JSON keeps lists and maps readable in any tool and is decoded\n\
         \x20   with one call (json.loads in Python).\n\
         \x20 - double keys hold the shortest decimal text that reads back to the same\n\
         \x20   64-bit float (1.5, 1e-7, -0.0); NaN and infinities are never written.\n\
         \x20 - long keys hold whole numbers.\n\
         \x20 - An element without a <data> for a key takes the value that the key's\n\
         \x20   \"Absent\" note gives; the writer leaves a value out only when it is that\n\
         \x20   one (None, an empty list, map or text).\n\
         \n\
         \x20 Causeway's reader finds keys by attr.name, not by id, and skips keys it\n\
         \x20 does not know, so files that networkx or yEd rewrite (other ids, graph\n\
         \x20 data after the edges, extra attributes) read the same.\n\
         \n\
         \x20 Generated from MODEL_KEYS in estimators/src/io/graphml/keys.rs; a test\n\
         \x20 fails when they differ. Regenerate with\n\
         \x20 CAUSEWAY_BLESS=1 cargo test -p causeway-estimators model_keys_schema\n\
         -->\n",
    );
    out.push_str(GRAPHML_START);
    out.push('\n');
    for key in MODEL_KEYS {
        let element = key_element(key);
        let open = element.trim_end_matches("/>");
        let desc = format!("{} Encoding: {}.", key.meaning, key.encoding);
        let _ = writeln!(
            out,
            "  {open}>\n    <desc>{}</desc>\n  </key>",
            escape(&desc, false)
        );
    }
    out.push_str("  <graph edgedefault=\"directed\"/>\n</graphml>\n");
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::PathBuf;

    use super::*;
    use crate::io::graphml::GraphmlDocument;

    #[test]
    fn ids_and_names_are_unique() {
        let ids: HashSet<_> = MODEL_KEYS.iter().map(|k| k.id).collect();
        assert_eq!(ids.len(), MODEL_KEYS.len());
        let names: HashSet<_> = MODEL_KEYS.iter().map(|k| (k.domain, k.name)).collect();
        assert_eq!(names.len(), MODEL_KEYS.len());
        for (i, key) in MODEL_KEYS.iter().enumerate() {
            assert_eq!(key.id, format!("d{i}"), "ids follow networkx: d0, d1, …");
        }
    }

    /// `graph_schema/model-keys.graphml` is what the code declares; set
    /// `CAUSEWAY_BLESS=1` to rewrite it after changing [`MODEL_KEYS`].
    #[test]
    fn model_keys_schema_file_matches_the_code() {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../graph_schema/model-keys.graphml");
        let expected = model_keys_schema();
        if std::env::var_os("CAUSEWAY_BLESS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        assert!(
            committed == expected,
            "{} differs from MODEL_KEYS; regenerate it with \
             CAUSEWAY_BLESS=1 cargo test -p causeway-estimators model_keys_schema",
            path.display()
        );
    }

    #[test]
    fn schema_file_is_graphml_declaring_every_key() {
        let document = GraphmlDocument::read(&model_keys_schema(), "model-keys.graphml").unwrap();
        let declared: Vec<_> = document
            .keys
            .iter()
            .map(|k| {
                (
                    k.id.as_str(),
                    k.domain.as_str(),
                    k.name.as_str(),
                    k.attr_type.as_str(),
                )
            })
            .collect();
        let expected: Vec<_> = MODEL_KEYS
            .iter()
            .map(|k| (k.id, k.domain.as_str(), k.name, k.attr_type.as_str()))
            .collect();
        assert_eq!(declared, expected);
    }
}
