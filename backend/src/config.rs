//! Settings, layered: defaults → optional `causeway.toml` → `CAUSEWAY_*` environment
//! variables → command-line flags. Each layer only overrides what it sets.
//!
//! Secrets (the Neo4j password, the LLM API key) are wrapped in [`Secret`] so that printing the
//! settings, in a log or an error, never shows them. Clients are built from these
//! settings explicitly; nothing else reads the environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// How to reach an OpenAI-compatible language model; when present, the chat
/// translates questions with it (falling back to the offline parser).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LlmSettings {
    /// Base URL of the API, up to and including `/v1` (`https://api.openai.com/v1`,
    /// `http://127.0.0.1:11434/v1`).
    pub base_url: String,
    /// API key; empty for local servers that need none.
    pub api_key: Secret,
    /// Model name (`gpt-4o-mini`, `qwen2.5:7b`).
    pub model: String,
    /// How long one translation may take before the offline parser answers instead.
    pub timeout: Duration,
}

impl LlmSettings {
    /// The timeout when none is configured: long enough for a hosted model's
    /// function call, short enough that a chat reply does not hang.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
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
    /// The language model of the chat, when configured.
    pub llm: Option<LlmSettings>,
    /// The model a question without one is asked of (`retail`, `retail@3`); none:
    /// the only stored model, if there is exactly one.
    pub default_model: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            addr: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./causeway-data"),
            neo4j: None,
            llm: None,
            default_model: None,
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
    llm_base_url: Option<String>,
    llm_api_key: Option<Secret>,
    llm_model: Option<String>,
    llm_timeout_secs: Option<f64>,
    default_model: Option<String>,
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
        let mut llm_base_url = file.llm_base_url;
        let mut llm_api_key = file.llm_api_key;
        let mut llm_model = file.llm_model;
        let mut llm_timeout = file.llm_timeout_secs.map(|s| s.to_string());
        if let Some(addr) = file.addr {
            settings.addr = addr;
        }
        if let Some(dir) = file.data_dir {
            settings.data_dir = dir;
        }
        settings.default_model = file.default_model;
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
                "CAUSEWAY_LLM_BASE_URL" if !value.is_empty() => llm_base_url = Some(value),
                "CAUSEWAY_LLM_API_KEY" if !value.is_empty() => {
                    llm_api_key = Some(Secret::new(value))
                }
                "CAUSEWAY_LLM_MODEL" if !value.is_empty() => llm_model = Some(value),
                "CAUSEWAY_LLM_TIMEOUT_SECS" if !value.is_empty() => llm_timeout = Some(value),
                "CAUSEWAY_DEFAULT_MODEL" if !value.is_empty() => {
                    settings.default_model = Some(value)
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
        settings.llm = match (llm_base_url, llm_model) {
            (Some(base_url), Some(model)) => Some(LlmSettings {
                base_url,
                api_key: llm_api_key.unwrap_or_default(),
                model,
                timeout: match llm_timeout {
                    Some(text) => parse_timeout(&text)?,
                    None => LlmSettings::DEFAULT_TIMEOUT,
                },
            }),
            (Some(_), None) => {
                return Err(ConfigError::Incomplete(
                    "CAUSEWAY_LLM_BASE_URL is set but no CAUSEWAY_LLM_MODEL (llm_model in causeway.toml)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::Incomplete(
                    "CAUSEWAY_LLM_MODEL is set but no CAUSEWAY_LLM_BASE_URL (llm_base_url in causeway.toml)".into(),
                ))
            }
            (None, None) if llm_api_key.is_some() => {
                return Err(ConfigError::Incomplete(
                    "an LLM API key is set but no CAUSEWAY_LLM_BASE_URL and CAUSEWAY_LLM_MODEL".into(),
                ))
            }
            (None, None) => None,
        };
        Ok(settings)
    }
}

/// A timeout in seconds, decimals allowed (`2.5`); positive and at most an hour.
fn parse_timeout(text: &str) -> Result<Duration, ConfigError> {
    match text.trim().parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 3600.0 => Ok(Duration::from_secs_f64(secs)),
        _ => Err(ConfigError::Incomplete(format!(
            "CAUSEWAY_LLM_TIMEOUT_SECS (llm_timeout_secs) must be a number of seconds above 0 and at most 3600, not `{text}`"
        ))),
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
    fn llm_settings_come_from_file_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("causeway.toml");
        std::fs::write(
            &file,
            "llm_base_url = \"http://file/v1\"\nllm_model = \"file-model\"\nllm_timeout_secs = 2.5\n",
        )
        .unwrap();
        let settings = Settings::load(
            Some(&file),
            env(&[
                ("CAUSEWAY_LLM_MODEL", "env-model"),
                ("CAUSEWAY_LLM_API_KEY", "sk-secret"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        let llm = settings.llm.clone().unwrap();
        assert_eq!(llm.base_url, "http://file/v1");
        assert_eq!(llm.model, "env-model");
        assert_eq!(llm.api_key.expose(), "sk-secret");
        assert_eq!(llm.timeout, Duration::from_millis(2500));
        assert!(!format!("{settings:?}").contains("sk-secret"));
        let none = Settings::load(None, env(&[]), &Overrides::default()).unwrap();
        assert_eq!(none.llm, None);
    }

    #[test]
    fn incomplete_llm_settings_are_refused() {
        for pairs in [
            &[("CAUSEWAY_LLM_BASE_URL", "http://x/v1")][..],
            &[("CAUSEWAY_LLM_MODEL", "m")][..],
            &[("CAUSEWAY_LLM_API_KEY", "k")][..],
            &[
                ("CAUSEWAY_LLM_BASE_URL", "http://x/v1"),
                ("CAUSEWAY_LLM_MODEL", "m"),
                ("CAUSEWAY_LLM_TIMEOUT_SECS", "soon"),
            ][..],
        ] {
            let err = Settings::load(None, env(pairs), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("CAUSEWAY_LLM"), "{err}");
        }
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
