//! Settings, layered: defaults → optional `causeway.toml` → `CAUSEWAY_*` environment
//! variables → command-line flags. Each layer only overrides what it sets.
//!
//! Secrets (the Neo4j password) are wrapped in [`Secret`] so that printing the
//! settings, in a log or an error, never shows them. Clients are built from these
//! settings explicitly; nothing else reads the environment.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A value that must never be printed.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How to reach Neo4j; when present, models are stored there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neo4jSettings {
    /// `bolt://host:7687` or `neo4j://…`.
    pub uri: String,
    /// User name.
    pub user: String,
    /// Password.
    pub password: Secret,
}

/// Every setting the `causeway` binary uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Listen address of the server.
    pub addr: String,
    /// Directory of the embedded store and uploads.
    pub data_dir: PathBuf,
    /// Neo4j, when configured.
    pub neo4j: Option<Neo4jSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            addr: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./causeway-data"),
            neo4j: None,
        }
    }
}

/// The file layer: every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    addr: Option<String>,
    data_dir: Option<PathBuf>,
    neo4j_uri: Option<String>,
    neo4j_user: Option<String>,
    neo4j_password: Option<Secret>,
}

/// Values given on the command line, which win over everything else.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--addr`.
    pub addr: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The configuration file is not valid.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// A setting is missing or inconsistent.
    #[error("{0}")]
    Incomplete(String),
}

impl Settings {
    /// Loads the layers. `config` names a file that must exist; without it,
    /// `./causeway.toml` is read when present. `env` is the environment to read
    /// (`std::env::vars()` in the binary; a fixed list in tests).
    pub fn load(
        config: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Settings, ConfigError> {
        let file = match config {
            Some(path) => Some(read_file(path)?),
            None => {
                let default = Path::new("causeway.toml");
                if default.exists() {
                    Some(read_file(default)?)
                } else {
                    None
                }
            }
        }
        .unwrap_or_default();

        let mut settings = Settings::default();
        let mut uri = file.neo4j_uri;
        let mut user = file.neo4j_user;
        let mut password = file.neo4j_password;
        if let Some(addr) = file.addr {
            settings.addr = addr;
        }
        if let Some(dir) = file.data_dir {
            settings.data_dir = dir;
        }
        for (key, value) in env {
            match key.as_str() {
                "CAUSEWAY_ADDR" => settings.addr = value,
                "CAUSEWAY_DATA_DIR" => settings.data_dir = PathBuf::from(value),
                "CAUSEWAY_NEO4J_URI" if !value.is_empty() => uri = Some(value),
                // Empty values count as unset, as compose files leave them.
                "CAUSEWAY_NEO4J_USER" if !value.is_empty() => user = Some(value),
                "CAUSEWAY_NEO4J_PASSWORD" if !value.is_empty() => {
                    password = Some(Secret::new(value))
                }
                _ => {}
            }
        }
        if let Some(addr) = &overrides.addr {
            settings.addr = addr.clone();
        }
        if let Some(dir) = &overrides.data_dir {
            settings.data_dir = dir.clone();
        }
        settings.neo4j = match uri {
            Some(uri) => Some(Neo4jSettings {
                uri,
                user: user.unwrap_or_else(|| "neo4j".into()),
                password: password.unwrap_or_default(),
            }),
            None if user.is_some() || password.is_some() => {
                return Err(ConfigError::Incomplete(
                    "a Neo4j user or password is set but no CAUSEWAY_NEO4J_URI (neo4j_uri in causeway.toml)".into(),
                ))
            }
            None => None,
        };
        Ok(settings)
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Invalid {
        path: path.to_path_buf(),
        message: e.to_string().trim().replace('\n', " "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("causeway.toml");
        std::fs::write(
            &file,
            "addr = \"0.0.0.0:9000\"\ndata_dir = \"/srv/file\"\nneo4j_uri = \"bolt://file:7687\"\n",
        )
        .unwrap();
        let settings = Settings::load(
            Some(&file),
            env(&[
                ("CAUSEWAY_DATA_DIR", "/srv/env"),
                ("CAUSEWAY_NEO4J_PASSWORD", "hunter2"),
            ]),
            &Overrides {
                addr: Some("127.0.0.1:1".into()),
                data_dir: None,
            },
        )
        .unwrap();
        assert_eq!(settings.addr, "127.0.0.1:1");
        assert_eq!(settings.data_dir, PathBuf::from("/srv/env"));
        let neo4j = settings.neo4j.unwrap();
        assert_eq!(neo4j.uri, "bolt://file:7687");
        assert_eq!(neo4j.user, "neo4j");
        assert_eq!(neo4j.password.expose(), "hunter2");
    }

    #[test]
    fn secrets_never_print() {
        let settings = Settings {
            neo4j: Some(Neo4jSettings {
                uri: "bolt://x".into(),
                user: "u".into(),
                password: Secret::new("hunter2"),
            }),
            ..Settings::default()
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("causeway.toml");
        std::fs::write(&file, "adr = 1\n").unwrap();
        let err = Settings::load(Some(&file), env(&[]), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("causeway.toml"), "{err}");
        let err = Settings::load(
            Some(&dir.path().join("missing.toml")),
            env(&[]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("cannot read"), "{err}");
    }

    #[test]
    fn credentials_without_a_uri_are_refused() {
        let err = Settings::load(
            None,
            env(&[("CAUSEWAY_NEO4J_USER", "x")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("CAUSEWAY_NEO4J_URI"), "{err}");
    }
}
