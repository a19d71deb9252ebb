//! The embedded model store: one `redb` file on local disk, no server.
//!
//! `redb` gives ACID transactions with copy-on-write pages, so a save either
//! commits whole or leaves the file as it was, even if the process dies midway; and
//! it allows one writer at a time, so reading the last version number and writing
//! the next one in the same write transaction makes version numbers gap-free and
//! unique under concurrent saves. Documents are stored as JSON of
//! [`ModelDocument`] (exact for every f64); traversals load the document and walk it
//! in memory ([`super::traversal`]), which for graphs of thousands of variables is a
//! matter of microseconds. A fitted model's mechanisms are kept in a table of their
//! own, written in the same transaction as the document. The blocking file work
//! runs on Tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use causeway_estimators::model::ModelDocument;
use redb::{Database, ReadableTable, TableDefinition};

use super::{check_mechanisms, traversal, ModelRef, ModelStore, ModelSummary, StoreError};

/// (name, version) → the document as JSON.
const MODELS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("models");
/// name → the last version number ever assigned (never reused after a delete).
const LAST_VERSION: TableDefinition<&str, u32> = TableDefinition::new("last_version");
/// `(name, version)` → the serialised mechanisms saved with that version, if any.
const MECHANISMS: TableDefinition<(&str, u32), &str> = TableDefinition::new("mechanisms");

/// A model store in one file under a data directory.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: PathBuf,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("path", &self.path)
            .finish()
    }
}

fn backend(context: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{context}: {error}"))
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `data_dir/models.redb`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| backend(&format!("cannot create {}", data_dir.display()), e))?;
        let path = data_dir.join("models.redb");
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse(format!(
                "the model store {} is open in another Causeway process (a running `causeway serve` or `demo`?); \
                 stop it, ask it over its HTTP API, or use another --data-dir",
                path.display()
            )),
            other => backend(&format!("cannot open {}", path.display()), other),
        })?;
        // Create the tables once so that readers never meet a missing table.
        let txn = db.begin_write().map_err(|e| backend("begin", e))?;
        txn.open_table(MODELS)
            .map_err(|e| backend("open table", e))?;
        txn.open_table(LAST_VERSION)
            .map_err(|e| backend("open table", e))?;
        txn.open_table(MECHANISMS)
            .map_err(|e| backend("open table", e))?;
        txn.commit().map_err(|e| backend("commit", e))?;
        Ok(EmbeddedStore {
            db: Arc::new(db),
            path,
        })
    }

    /// The file the store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs blocking store work on Tokio's blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(|e| backend("store task", e))?
    }

    fn read_document(db: &Database, reference: &ModelRef) -> Result<ModelDocument, StoreError> {
        let txn = db.begin_read().map_err(|e| backend("begin read", e))?;
        let table = txn
            .open_table(MODELS)
            .map_err(|e| backend("open table", e))?;
        let name = reference.name.as_str();
        let entry = match reference.version {
            Some(v) => table.get((name, v)).map_err(|e| backend("read", e))?,
            None => table
                .range((name, 0)..=(name, u32::MAX))
                .map_err(|e| backend("read", e))?
                .next_back()
                .transpose()
                .map_err(|e| backend("read", e))?
                .map(|(_, value)| value),
        };
        match entry {
            Some(bytes) => serde_json::from_slice(bytes.value())
                .map_err(|e| backend(&format!("model `{reference}` is corrupt"), e)),
            None => Err(StoreError::NotFound {
                reference: reference.to_string(),
                known: versions_of(&table, name)?
                    .into_iter()
                    .map(|v| format!("{name}@{v}"))
                    .collect(),
            }),
        }
    }

    async fn document(&self, reference: &ModelRef) -> Result<ModelDocument, StoreError> {
        let reference = reference.clone();
        self.blocking(move |db| Self::read_document(db, &reference))
            .await
    }
}

fn versions_of(
    table: &impl ReadableTable<(&'static str, u32), &'static [u8]>,
    name: &str,
) -> Result<Vec<u32>, StoreError> {
    let mut versions = Vec::new();
    for entry in table
        .range((name, 0)..=(name, u32::MAX))
        .map_err(|e| backend("read", e))?
    {
        let (key, _) = entry.map_err(|e| backend("read", e))?;
        versions.push(key.value().1);
    }
    Ok(versions)
}

#[async_trait]
impl ModelStore for EmbeddedStore {
    async fn save_with_mechanisms(
        &self,
        mut model: ModelDocument,
        mechanisms: Option<Arc<str>>,
    ) -> Result<ModelDocument, StoreError> {
        traversal::validate(&model)?;
        check_mechanisms(&model, mechanisms.as_deref())?;
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(|e| backend("begin write", e))?;
            {
                let mut last = txn
                    .open_table(LAST_VERSION)
                    .map_err(|e| backend("open table", e))?;
                let version = last
                    .get(model.name.as_str())
                    .map_err(|e| backend("read", e))?
                    .map_or(0, |v| v.value())
                    + 1;
                model.version = version;
                model.model_id = format!("{}@{version}", model.name);
                let bytes = serde_json::to_vec(&model).map_err(|e| backend("encode", e))?;
                last.insert(model.name.as_str(), version)
                    .map_err(|e| backend("write", e))?;
                let mut models = txn
                    .open_table(MODELS)
                    .map_err(|e| backend("open table", e))?;
                models
                    .insert((model.name.as_str(), version), bytes.as_slice())
                    .map_err(|e| backend("write", e))?;
                if let Some(text) = &mechanisms {
                    let mut table = txn
                        .open_table(MECHANISMS)
                        .map_err(|e| backend("open table", e))?;
                    table
                        .insert((model.name.as_str(), version), &**text)
                        .map_err(|e| backend("write", e))?;
                }
            }
            txn.commit().map_err(|e| backend("commit", e))?;
            Ok(model)
        })
        .await
    }

    async fn list(&self) -> Result<Vec<ModelSummary>, StoreError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(|e| backend("begin read", e))?;
            let table = txn
                .open_table(MODELS)
                .map_err(|e| backend("open table", e))?;
            let mut summaries: Vec<ModelSummary> = Vec::new();
            for entry in table.iter().map_err(|e| backend("read", e))? {
                let (key, value) = entry.map_err(|e| backend("read", e))?;
                let (name, version) = key.value();
                let document: ModelDocument = serde_json::from_slice(value.value())
                    .map_err(|e| backend(&format!("model `{name}@{version}` is corrupt"), e))?;
                match summaries.last_mut() {
                    Some(summary) if summary.name == name => {
                        summary.versions.push(version);
                        summary.latest_created_at = document.created_at;
                    }
                    _ => summaries.push(ModelSummary {
                        name: name.to_string(),
                        versions: vec![version],
                        latest_created_at: document.created_at,
                    }),
                }
            }
            Ok(summaries)
        })
        .await
    }

    async fn get(&self, reference: &ModelRef) -> Result<ModelDocument, StoreError> {
        self.document(reference).await
    }

    async fn delete(&self, name: &str, version: u32) -> Result<(), StoreError> {
        let name = name.to_string();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(|e| backend("begin write", e))?;
            {
                let mut models = txn
                    .open_table(MODELS)
                    .map_err(|e| backend("open table", e))?;
                let removed = models
                    .remove((name.as_str(), version))
                    .map_err(|e| backend("delete", e))?
                    .is_some();
                if !removed {
                    let known = versions_of(&models, &name)?
                        .into_iter()
                        .map(|v| format!("{name}@{v}"))
                        .collect();
                    return Err(StoreError::NotFound {
                        reference: format!("{name}@{version}"),
                        known,
                    });
                }
                txn.open_table(MECHANISMS)
                    .map_err(|e| backend("open table", e))?
                    .remove((name.as_str(), version))
                    .map_err(|e| backend("delete", e))?;
            }
            txn.commit().map_err(|e| backend("commit", e))?;
            Ok(())
        })
        .await
    }

    async fn mechanisms(&self, reference: &ModelRef) -> Result<Option<Arc<str>>, StoreError> {
        let reference = reference.clone();
        self.blocking(move |db| {
            let document = Self::read_document(db, &reference)?;
            let txn = db.begin_read().map_err(|e| backend("begin read", e))?;
            let table = txn
                .open_table(MECHANISMS)
                .map_err(|e| backend("open table", e))?;
            let entry = table
                .get((document.name.as_str(), document.version))
                .map_err(|e| backend("read", e))?;
            Ok(entry.map(|text| Arc::from(text.value())))
        })
        .await
    }

    async fn descendants(
        &self,
        reference: &ModelRef,
        variable: &str,
        max_depth: usize,
    ) -> Result<Vec<String>, StoreError> {
        traversal::descendants(&self.document(reference).await?, variable, max_depth)
    }

    async fn ancestors(
        &self,
        reference: &ModelRef,
        variable: &str,
        max_depth: usize,
    ) -> Result<Vec<String>, StoreError> {
        traversal::ancestors(&self.document(reference).await?, variable, max_depth)
    }

    async fn paths(
        &self,
        reference: &ModelRef,
        from: &str,
        to: &str,
        max_depth: usize,
    ) -> Result<Vec<Vec<String>>, StoreError> {
        traversal::paths(&self.document(reference).await?, from, to, max_depth)
    }

    async fn downstream_kpis(
        &self,
        reference: &ModelRef,
        levers: &[String],
        max_depth: usize,
    ) -> Result<Vec<String>, StoreError> {
        traversal::downstream_kpis(&self.document(reference).await?, levers, max_depth)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.blocking(|db| {
            db.begin_read()
                .map(|_| ())
                .map_err(|e| backend("begin read", e))
        })
        .await
    }
}
