//! Where model graphs live: the [`ModelStore`] trait and its implementations.
//!
//! Two implementations pass the same conformance tests: [`embedded::EmbeddedStore`]
//! (a transactional file on local disk, the default, so a fresh checkout runs with
//! no server) and a Neo4j store for teams. Callers hold an `Arc<dyn ModelStore>` and
//! never know which one they have.
//!
//! Versions of a name are 1, 2, 3, … with no gaps or duplicates, even under
//! concurrent saves: each store assigns the next version inside the same
//! transaction that writes the model, so a save is all there or not at all.

pub mod embedded;
pub mod neo4j;
pub mod traversal;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use causeway_estimators::model::ModelDocument;
use causeway_estimators::scm::document::mechanisms_reference;
use serde::Serialize;

use crate::config::Settings;

/// Opens the store the settings name: Neo4j when configured, otherwise the
/// embedded store in the data directory.
pub async fn open(settings: &Settings) -> Result<Arc<dyn ModelStore>, StoreError> {
    match &settings.neo4j {
        Some(neo4j) => Ok(Arc::new(
            neo4j::Neo4jStore::connect(&neo4j.uri, &neo4j.user, neo4j.password.expose()).await?,
        )),
        None => Ok(Arc::new(embedded::EmbeddedStore::open(&settings.data_dir)?)),
    }
}

/// Traversals never go deeper than this many edges, whatever the caller asks: the
/// chat's questions are about short causal chains, and a bound keeps a query on a
/// large graph from running away.
pub const MAX_DEPTH: usize = 20;

/// A reference to one model version: `name`, `name@latest` or `name@3`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModelRef {
    /// The model's name.
    pub name: String,
    /// A version, or `None` for the latest.
    pub version: Option<u32>,
}

impl ModelRef {
    /// Parses `name`, `name@latest` or `name@N` (N ≥ 1).
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let text = text.trim();
        let (name, version) = match text.rsplit_once('@') {
            None => (text, None),
            Some((name, "latest")) => (name, None),
            Some((name, number)) => match number.parse::<u32>() {
                Ok(v) if v >= 1 => (name, Some(v)),
                _ => {
                    return Err(StoreError::InvalidReference(format!(
                        "`{text}`: the version after `@` must be a number from 1 up, or `latest`"
                    )))
                }
            },
        };
        validate_name(name)?;
        Ok(ModelRef {
            name: name.to_string(),
            version,
        })
    }
}

impl fmt::Display for ModelRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "{}@{v}", self.name),
            None => write!(f, "{}@latest", self.name),
        }
    }
}

/// Model names are what people type in chat and on the command line: letters,
/// digits, `_`, `-` and `.`, starting with a letter or digit, at most 100 characters.
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.chars().count() <= 100
        && name.chars().next().is_some_and(char::is_alphanumeric)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidReference(format!(
            "`{name}` is not a model name: use letters, digits, `_`, `-` and `.`, starting with a letter or digit"
        )))
    }
}

/// One model name with its versions, for listings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ModelSummary {
    /// The model's name.
    pub name: String,
    /// Its versions, ascending.
    pub versions: Vec<u32>,
    /// When the latest version was created.
    pub latest_created_at: String,
}

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The reference or name is malformed.
    #[error("{0}")]
    InvalidReference(String),
    /// No such model or version.
    #[error("no model `{reference}`{}", known_hint(.known))]
    NotFound {
        reference: String,
        known: Vec<String>,
    },
    /// No such variable in the model.
    #[error("model `{model}` has no variable `{name}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownVariable {
        model: String,
        name: String,
        suggestion: Option<String>,
    },
    /// The document cannot be stored as it is (not a DAG, duplicate names, …).
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The embedded store's file is held by another process (one process at a time
    /// may open it).
    #[error("{0}")]
    InUse(String),
    /// The store could not be reached or failed; the cause is kept for the logs.
    #[error("the model store failed: {0}")]
    Backend(String),
}

/// Checks that a document and the mechanisms saved with it belong together: the
/// document names exactly these mechanisms (by the SHA-256 of their text), or it
/// names none and none are given.
pub fn check_mechanisms(model: &ModelDocument, mechanisms: Option<&str>) -> Result<(), StoreError> {
    match (&model.mechanisms, mechanisms) {
        (None, None) => Ok(()),
        (Some(reference), Some(text)) if *reference == mechanisms_reference(text) => Ok(()),
        (Some(reference), Some(_)) => Err(StoreError::InvalidModel(format!(
            "the mechanisms given do not match the document's reference {reference}"
        ))),
        (Some(reference), None) => Err(StoreError::InvalidModel(format!(
            "the document refers to mechanisms ({reference}) that were not given; save it with them, or remove the reference"
        ))),
        (None, Some(_)) => Err(StoreError::InvalidModel(
            "mechanisms were given for a document that does not refer to them".into(),
        )),
    }
}

fn known_hint(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!(" (stored: {})", known.join(", "))
    }
}

/// Stored model graphs, versioned by name, with the traversals the chat needs.
#[async_trait]
pub trait ModelStore: Send + Sync {
    /// Saves `model` as the next version of `model.name` with, when it was fitted
    /// here, its serialised mechanisms (named by the document's `mechanisms`
    /// reference, see [`check_mechanisms`]). Returns the stored document with its
    /// `version` and `model_id` filled in. All of it or none.
    async fn save_with_mechanisms(
        &self,
        model: ModelDocument,
        mechanisms: Option<Arc<str>>,
    ) -> Result<ModelDocument, StoreError>;

    /// Saves a document on its own (one whose parameters are all there is).
    async fn save(&self, model: ModelDocument) -> Result<ModelDocument, StoreError> {
        self.save_with_mechanisms(model, None).await
    }

    /// The serialised mechanisms stored with one version, if any.
    async fn mechanisms(&self, reference: &ModelRef) -> Result<Option<Arc<str>>, StoreError>;

    /// Every model name with its versions, sorted by name.
    async fn list(&self) -> Result<Vec<ModelSummary>, StoreError>;

    /// One version (the latest when the reference has none).
    async fn get(&self, reference: &ModelRef) -> Result<ModelDocument, StoreError>;

    /// Deletes one version; other versions keep their numbers.
    async fn delete(&self, name: &str, version: u32) -> Result<(), StoreError>;

    /// Variables reachable from `variable` along causal edges, within `max_depth`
    /// edges, sorted.
    async fn descendants(
        &self,
        reference: &ModelRef,
        variable: &str,
        max_depth: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// Variables from which `variable` is reachable, within `max_depth` edges, sorted.
    async fn ancestors(
        &self,
        reference: &ModelRef,
        variable: &str,
        max_depth: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// Every directed path from `from` to `to` of at most `max_depth` edges, shortest
    /// first, then in lexicographic order of their names.
    async fn paths(
        &self,
        reference: &ModelRef,
        from: &str,
        to: &str,
        max_depth: usize,
    ) -> Result<Vec<Vec<String>>, StoreError>;

    /// The KPIs reachable from any of `levers` within `max_depth` edges, sorted.
    async fn downstream_kpis(
        &self,
        reference: &ModelRef,
        levers: &[String],
        max_depth: usize,
    ) -> Result<Vec<String>, StoreError>;

    /// Whether the store can be reached now (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        assert_eq!(
            ModelRef::parse("retail@3").unwrap(),
            ModelRef {
                name: "retail".into(),
                version: Some(3)
            }
        );
        assert_eq!(ModelRef::parse("retail@latest").unwrap().version, None);
        assert_eq!(ModelRef::parse("retail").unwrap().version, None);
        assert!(ModelRef::parse("retail@0").is_err());
        assert!(ModelRef::parse("retail@x").is_err());
        assert!(ModelRef::parse("@3").is_err());
        assert!(ModelRef::parse("no spaces").is_err());
        assert_eq!(ModelRef::parse("零售.v2@2").unwrap().name, "零售.v2");
    }
}
