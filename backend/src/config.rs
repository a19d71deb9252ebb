//! Settings, layered: defaults → optional `causeway.toml` → `CAUSEWAY_*` environment
//! variables → command-line flags. Each layer only overrides what it sets.
//!
//! Secrets (the Neo4j password, the LLM API key, the Slack signing secret and bot
//! token) are wrapped in [`Secret`] so that printing the
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

/// How Slack reaches Causeway and Causeway reaches Slack; when present, the
/// `/slack/*` endpoints answer (without it they say Slack is not configured).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackSettings {
    /// The app's signing secret: every request from Slack is checked against it.
    pub signing_secret: Secret,
    /// The bot token (`xoxb-…`) that answers mentions through `chat.postMessage`;
    /// without it only the slash command works.
    pub bot_token: Option<Secret>,
    /// Base URL of the Slack Web API, without a trailing slash.
    pub api_url: String,
}

impl SlackSettings {
    /// The Web API's address when none is configured.
    pub const DEFAULT_API_URL: &'static str = "https://slack.com/api";
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
    /// Slack, when configured.
    pub slack: Option<SlackSettings>,
    /// The address people reach the server at (`https://causeway.example.com`), for
    /// links in Slack answers; none: `http://` and the listen address.
    pub public_url: Option<String>,
    /// The largest upload (CSV and DAG together) the server accepts for a fit job
    /// or an estimate, in bytes. Uploads are streamed to disk; the fit or estimate
    /// then reads the CSV into memory, so a few times this much memory is needed.
    pub max_upload_bytes: u64,
}

impl Settings {
    /// The upload limit when none is configured: 256 MiB, a few million rows of a
    /// few dozen columns.
    pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 256 * 1024 * 1024;
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            addr: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./causeway-data"),
            neo4j: None,
            llm: None,
            default_model: None,
            slack: None,
            public_url: None,
            max_upload_bytes: Settings::DEFAULT_MAX_UPLOAD_BYTES,
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
    slack_signing_secret: Option<Secret>,
    slack_bot_token: Option<Secret>,
    slack_api_url: Option<String>,
    public_url: Option<String>,
    max_upload_mb: Option<f64>,
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
        let mut slack_signing_secret = file.slack_signing_secret;
        let mut slack_bot_token = file.slack_bot_token;
        let mut slack_api_url = file.slack_api_url;
        settings.public_url = file.public_url;
        let mut max_upload_mb = file.max_upload_mb.map(|mb| mb.to_string());
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
                "CAUSEWAY_SLACK_SIGNING_SECRET" if !value.is_empty() => {
                    slack_signing_secret = Some(Secret::new(value))
                }
                "CAUSEWAY_SLACK_BOT_TOKEN" if !value.is_empty() => {
                    slack_bot_token = Some(Secret::new(value))
                }
                "CAUSEWAY_SLACK_API_URL" if !value.is_empty() => slack_api_url = Some(value),
                "CAUSEWAY_PUBLIC_URL" if !value.is_empty() => settings.public_url = Some(value),
                "CAUSEWAY_MAX_UPLOAD_MB" if !value.is_empty() => max_upload_mb = Some(value),
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
        settings.slack = match slack_signing_secret.filter(|s| !s.expose().is_empty()) {
            Some(signing_secret) => Some(SlackSettings {
                signing_secret,
                bot_token: slack_bot_token.filter(|t| !t.expose().is_empty()),
                api_url: http_url(
                    slack_api_url.as_deref().unwrap_or(SlackSettings::DEFAULT_API_URL),
                    "CAUSEWAY_SLACK_API_URL (slack_api_url)",
                )?,
            }),
            // A token without the secret would leave the bot silently off: every
            // request would be refused as unsigned.
            None if slack_bot_token.is_some() || slack_api_url.is_some() => {
                return Err(ConfigError::Incomplete(
                    "a Slack bot token or API URL is set but no CAUSEWAY_SLACK_SIGNING_SECRET (slack_signing_secret in causeway.toml)".into(),
                ))
            }
            None => None,
        };
        if let Some(url) = &settings.public_url {
            settings.public_url = Some(http_url(url, "CAUSEWAY_PUBLIC_URL (public_url)")?);
        }
        if let Some(text) = max_upload_mb {
            settings.max_upload_bytes = parse_megabytes(&text)?;
        }
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

/// An upload limit in MiB, decimals allowed (`0.5`); above 0 and at most 1 TiB.
fn parse_megabytes(text: &str) -> Result<u64, ConfigError> {
    match text.trim().parse::<f64>() {
        Ok(mb) if mb > 0.0 && mb <= 1024.0 * 1024.0 => Ok((mb * 1024.0 * 1024.0).round() as u64),
        _ => Err(ConfigError::Incomplete(format!(
            "CAUSEWAY_MAX_UPLOAD_MB (max_upload_mb) must be a number of MiB above 0 and at most 1048576, not `{text}`"
        ))),
    }
}

/// An `http://` or `https://` URL, without its trailing slashes.
fn http_url(text: &str, setting: &str) -> Result<String, ConfigError> {
    let url = text.trim().trim_end_matches('/');
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.to_string())
    } else {
        Err(ConfigError::Incomplete(format!(
            "{setting} must start with http:// or https://, not `{text}`"
        )))
    }
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| {
        // toml's own rendering quotes the offending line, which may be a secret's:
        // name the line, not its text.
        let line = e
            .span()
            .and_then(|span| text.get(..span.start))
            .map(|before| before.matches('\n').count() + 1);
        let message = e.message().trim().replace('\n', " ");
        ConfigError::Invalid {
            path: path.to_path_buf(),
            message: match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            },
        }
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
    fn a_broken_file_is_reported_without_quoting_a_secret() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("causeway.toml");
        std::fs::write(
            &file,
            "addr = \"127.0.0.1:8080\"\nslack_signing_secret = \"s3cr3t-value\n",
        )
        .unwrap();
        let err = Settings::load(Some(&file), env(&[]), &Overrides::default()).unwrap_err();
        let printed = format!("{err} {err:?}");
        assert!(printed.contains("causeway.toml: line 2"), "{printed}");
        assert!(!printed.contains("s3cr3t"), "{printed}");
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
    fn slack_settings_come_from_file_and_environment_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("causeway.toml");
        std::fs::write(
            &file,
            "slack_signing_secret = \"file-secret\"\npublic_url = \"https://causeway.example.com/\"\n",
        )
        .unwrap();
        let settings = Settings::load(
            Some(&file),
            env(&[
                ("CAUSEWAY_SLACK_BOT_TOKEN", "xoxb-token"),
                ("CAUSEWAY_SLACK_API_URL", "http://127.0.0.1:9/api/"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        let slack = settings.slack.clone().unwrap();
        assert_eq!(slack.signing_secret.expose(), "file-secret");
        assert_eq!(slack.bot_token.as_ref().unwrap().expose(), "xoxb-token");
        assert_eq!(slack.api_url, "http://127.0.0.1:9/api");
        assert_eq!(
            settings.public_url.as_deref(),
            Some("https://causeway.example.com")
        );
        let printed = format!("{settings:?}");
        assert!(!printed.contains("file-secret") && !printed.contains("xoxb-token"));

        let default = Settings::load(
            None,
            env(&[("CAUSEWAY_SLACK_SIGNING_SECRET", "s")]),
            &Overrides::default(),
        )
        .unwrap();
        let slack = default.slack.unwrap();
        assert_eq!(slack.api_url, SlackSettings::DEFAULT_API_URL);
        assert_eq!(slack.bot_token, None);
        let none = Settings::load(None, env(&[]), &Overrides::default()).unwrap();
        assert_eq!(none.slack, None);
    }

    #[test]
    fn incomplete_slack_settings_are_refused() {
        for pairs in [
            &[("CAUSEWAY_SLACK_BOT_TOKEN", "xoxb-1")][..],
            &[("CAUSEWAY_SLACK_API_URL", "http://x/api")][..],
            &[
                ("CAUSEWAY_SLACK_SIGNING_SECRET", "s"),
                ("CAUSEWAY_SLACK_API_URL", "slack.com/api"),
            ][..],
        ] {
            let err = Settings::load(None, env(pairs), &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("CAUSEWAY_SLACK"), "{err}");
        }
        let err = Settings::load(
            None,
            env(&[("CAUSEWAY_PUBLIC_URL", "causeway.example.com")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("CAUSEWAY_PUBLIC_URL"), "{err}");
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

    #[test]
    fn the_upload_limit_comes_from_file_and_environment_and_must_be_positive() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("causeway.toml");
        std::fs::write(&file, "max_upload_mb = 2\n").unwrap();
        let from_file = Settings::load(Some(&file), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(from_file.max_upload_bytes, 2 * 1024 * 1024);
        let from_env = Settings::load(
            Some(&file),
            env(&[("CAUSEWAY_MAX_UPLOAD_MB", "0.5")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(from_env.max_upload_bytes, 512 * 1024);
        let default = Settings::load(None, env(&[]), &Overrides::default()).unwrap();
        assert_eq!(default.max_upload_bytes, Settings::DEFAULT_MAX_UPLOAD_BYTES);
        for bad in ["0", "-3", "lots"] {
            let err = Settings::load(
                None,
                env(&[("CAUSEWAY_MAX_UPLOAD_MB", bad)]),
                &Overrides::default(),
            )
            .unwrap_err();
            assert!(err.to_string().contains("CAUSEWAY_MAX_UPLOAD_MB"), "{err}");
        }
    }
}
