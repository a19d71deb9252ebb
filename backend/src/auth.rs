//! Access tokens and roles: who may read and who may write.
//!
//! A token is `cw_` and 64 hex digits: 256 bits from the operating system's CSPRNG,
//! with a prefix that secret scanners and people recognise. It is shown once, when
//! `causeway token create` makes it; only its SHA-256 is kept. A plain hash (rather
//! than a slow password hash) is enough because the token has full entropy: there is
//! no dictionary to search. Presented tokens are hashed and compared against every
//! stored hash in constant time.
//!
//! Tokens live in `tokens.json` in the data directory, a file of their own rather
//! than a table of the embedded store: `redb` lets one process open its file at a
//! time, and `causeway token create` or `revoke` must work while `causeway serve`
//! runs. Writers replace the file whole (write a temporary file, then rename), and
//! the server re-reads it when its modification time, length or inode changes, so a
//! new or revoked token counts from the next request. Two token commands run at the same
//! instant can lose one of the two changes (the last rename wins); they are an
//! operator's commands, not concurrent traffic.
//!
//! With no tokens at all, the server is open (the local demo); as soon as one exists,
//! every request needs one. A token file that cannot be read or parsed closes the
//! server rather than opening it.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token allows. Each role may do everything the roles before it may.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Chat, browse, what-if, read models.
    Viewer,
    /// A viewer who may also import and delete model versions.
    Analyst,
    /// An analyst who may also manage tokens.
    Admin,
}

impl Role {
    /// Every role, from the one that may do least.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Analyst, Role::Admin];

    /// The role `name` names, as [`Role::name`] spells it (in any case).
    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|role| role.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The role's name, as the command line and the files spell it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The prefix of every token.
pub const TOKEN_PREFIX: &str = "cw_";
/// Random bytes in a token.
const TOKEN_BYTES: usize = 32;
/// Hex digits of the hash that make a token's public id.
const ID_LEN: usize = 12;
/// The file, in the data directory.
pub const TOKENS_FILE: &str = "tokens.json";

/// A new token: its secret text (to show once) and what is stored of it.
pub struct NewToken {
    /// `cw_` and 64 hex digits.
    pub secret: String,
    /// What the file keeps.
    pub stored: StoredToken,
}

/// A token as the file keeps it: no secret, only its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    /// Public id (the start of the hash), for `list` and `revoke`.
    pub id: String,
    /// What it allows.
    pub role: Role,
    /// A label for people ("ci", "alice").
    pub name: Option<String>,
    /// When it was made, RFC 3339.
    pub created_at: String,
    /// SHA-256 of the token text, hex.
    pub sha256: String,
}

/// A token as `causeway token list` and the pages show it: no hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// Public id.
    pub id: String,
    /// What it allows.
    pub role: Role,
    /// Its label.
    pub name: Option<String>,
    /// When it was made.
    pub created_at: String,
}

impl From<&StoredToken> for TokenInfo {
    fn from(token: &StoredToken) -> Self {
        TokenInfo {
            id: token.id.clone(),
            role: token.role,
            name: token.name.clone(),
            created_at: token.created_at.clone(),
        }
    }
}

/// Makes a token with `role` and an optional label.
pub fn generate(role: Role, name: Option<String>) -> NewToken {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!("{TOKEN_PREFIX}{}", hex(&bytes));
    let sha256 = hash(&secret);
    NewToken {
        stored: StoredToken {
            id: sha256[..ID_LEN].to_string(),
            role,
            name,
            created_at: crate::clock::now_rfc3339(),
            sha256,
        },
        secret,
    }
}

/// SHA-256 of a token's text, hex.
pub fn hash(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The token among `tokens` whose hash is that of `secret`. Every stored hash is
/// compared, each in constant time, so the time taken says nothing about which
/// bytes matched.
pub fn verify<'a>(tokens: &'a [StoredToken], secret: &str) -> Option<&'a StoredToken> {
    let presented = hash(secret.trim());
    let mut found = None;
    for token in tokens {
        if bool::from(token.sha256.as_bytes().ct_eq(presented.as_bytes())) {
            found = Some(token);
        }
    }
    found
}

/// Why the token file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a token file (hand-edited, truncated).
    #[error("{path} is not a valid token file: {message}; fix or remove it")]
    Corrupt { path: PathBuf, message: String },
    /// No token has this id.
    #[error("no token with id `{id}`; `causeway token list` shows them")]
    UnknownId { id: String },
    /// A label that cannot be stored.
    #[error("{0}")]
    InvalidName(String),
}

/// The token file's contents.
#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<StoredToken>,
}

/// The tokens of a data directory, read and written as one file.
#[derive(Debug)]
pub struct TokenStore {
    path: PathBuf,
    /// The last read, if any.
    cached: Mutex<Option<Snapshot>>,
}

/// The tokens as last read, with what identified that version of the file.
#[derive(Debug)]
struct Snapshot {
    /// The file's modification time, length and inode; `None` when there was no
    /// file. Every write renames a new file into place, so the inode changes even
    /// where modification times are coarse.
    stamp: Option<(SystemTime, u64, u64)>,
    tokens: Vec<StoredToken>,
}

impl TokenStore {
    /// The tokens of `data_dir` (the file need not exist: then there are none).
    pub fn new(data_dir: &Path) -> Self {
        TokenStore {
            path: data_dir.join(TOKENS_FILE),
            cached: Mutex::new(None),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tokens now, re-reading the file only when it changed since the last read.
    /// Blocking (a `stat`, and a read when the file changed).
    pub fn current(&self) -> Result<Vec<StoredToken>, TokenError> {
        let stamp = match std::fs::metadata(&self.path) {
            Ok(meta) => Some((
                meta.modified().map_err(|e| self.io(e))?,
                meta.len(),
                inode(&meta),
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.io(e)),
        };
        // Poisoning cannot leave the cache half-written: it is replaced whole.
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(snapshot) = cached.as_ref() {
            if snapshot.stamp == stamp {
                return Ok(snapshot.tokens.clone());
            }
        }
        let tokens = self.read()?.tokens;
        *cached = Some(Snapshot {
            stamp,
            tokens: tokens.clone(),
        });
        Ok(tokens)
    }

    /// Makes a token, stores its hash and returns it (with its secret, to show once).
    pub fn create(&self, role: Role, name: Option<String>) -> Result<NewToken, TokenError> {
        if let Some(name) = &name {
            if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
                return Err(TokenError::InvalidName(format!(
                    "`{name}` cannot label a token: use 1 to 100 printable characters"
                )));
            }
        }
        let mut file = self.read()?;
        let token = generate(role, name);
        file.tokens.push(token.stored.clone());
        self.write(&file)?;
        Ok(token)
    }

    /// Every token, oldest first, without secrets or hashes.
    pub fn list(&self) -> Result<Vec<TokenInfo>, TokenError> {
        Ok(self.read()?.tokens.iter().map(TokenInfo::from).collect())
    }

    /// Removes the token `id`; returns how many tokens remain.
    pub fn revoke(&self, id: &str) -> Result<usize, TokenError> {
        let mut file = self.read()?;
        let before = file.tokens.len();
        file.tokens.retain(|t| t.id != id.trim());
        if file.tokens.len() == before {
            return Err(TokenError::UnknownId { id: id.to_string() });
        }
        self.write(&file)?;
        Ok(file.tokens.len())
    }

    fn io(&self, source: std::io::Error) -> TokenError {
        TokenError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn read(&self) -> Result<TokenFile, TokenError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TokenFile::default()),
            Err(e) => return Err(self.io(e)),
        };
        serde_json::from_str(&text).map_err(|e| TokenError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })
    }

    /// Replaces the file whole: a reader (the server) sees the old tokens or the new,
    /// never half a file.
    fn write(&self, file: &TokenFile) -> Result<(), TokenError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let temporary = self
            .path
            .with_extension(format!("json.{}.tmp", std::process::id()));
        let text = serde_json::to_string_pretty(file).map_err(|e| self.io(e.into()))?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        // Hashes are not secrets, but nobody else needs to read who has which role.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(&temporary).map_err(|e| self.io(e))?;
        out.write_all(text.as_bytes())
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.sync_all())
            .map_err(|e| self.io(e))?;
        std::fs::rename(&temporary, &self.path).map_err(|e| self.io(e))
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_256_bit_hex_and_differ() {
        let a = generate(Role::Viewer, None);
        let b = generate(Role::Viewer, None);
        let digits = a.secret.strip_prefix(TOKEN_PREFIX).expect("cw_ prefix");
        assert_eq!(digits.len(), 64);
        assert!(digits
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.stored.id.len(), ID_LEN);
        assert!(a.stored.sha256.starts_with(&a.stored.id));
    }

    #[test]
    fn only_the_hash_is_stored_and_it_verifies() {
        let token = generate(Role::Analyst, Some("ci".into()));
        assert_eq!(token.stored.sha256, hash(&token.secret));
        assert!(!token.stored.sha256.contains(&token.secret[3..]));
        // SHA-256("abc"), the FIPS 180-2 test vector.
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let other = generate(Role::Admin, None);
        let tokens = vec![other.stored.clone(), token.stored.clone()];
        assert_eq!(
            verify(&tokens, &token.secret).map(|t| t.role),
            Some(Role::Analyst)
        );
        assert_eq!(
            verify(&tokens, &other.secret).map(|t| t.role),
            Some(Role::Admin)
        );
        assert!(verify(&tokens, "cw_0000").is_none());
        assert!(verify(&tokens, "").is_none());
        let mut changed = token.secret.clone();
        changed.pop();
        changed.push(if token.secret.ends_with('0') {
            '1'
        } else {
            '0'
        });
        assert!(verify(&tokens, &changed).is_none());
        assert!(verify(&[], &token.secret).is_none());
    }

    #[test]
    fn roles_parse_from_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.name()), Some(role));
        }
        assert_eq!(Role::parse(" Admin "), Some(Role::Admin));
        assert_eq!(Role::parse("owner"), None);
        assert_eq!(Role::parse(""), None);
    }

    #[test]
    fn roles_are_ordered_viewer_analyst_admin() {
        assert!(Role::Viewer < Role::Analyst);
        assert!(Role::Analyst < Role::Admin);
        assert!(Role::Admin >= Role::Viewer);
        assert_eq!(
            serde_json::to_string(&Role::Analyst).unwrap(),
            "\"analyst\""
        );
    }

    #[test]
    fn the_file_round_trips_and_revoke_removes_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path());
        assert!(store.current().unwrap().is_empty());
        let viewer = store.create(Role::Viewer, Some("alice".into())).unwrap();
        let analyst = store.create(Role::Analyst, None).unwrap();
        let text = std::fs::read_to_string(store.path()).unwrap();
        assert!(!text.contains(&viewer.secret) && !text.contains(&analyst.secret));
        let current = store.current().unwrap();
        assert_eq!(current.len(), 2);
        assert!(verify(&current, &viewer.secret).is_some());
        assert_eq!(store.list().unwrap()[0].name.as_deref(), Some("alice"));

        // A second store over the same file (another process) sees the revoke.
        assert_eq!(
            TokenStore::new(dir.path())
                .revoke(&viewer.stored.id)
                .unwrap(),
            1
        );
        let current = store.current().unwrap();
        assert!(verify(&current, &viewer.secret).is_none());
        assert!(verify(&current, &analyst.secret).is_some());
        assert!(matches!(
            store.revoke(&viewer.stored.id),
            Err(TokenError::UnknownId { .. })
        ));
        assert!(matches!(
            store.create(Role::Viewer, Some(String::new())),
            Err(TokenError::InvalidName(_))
        ));
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_an_open_server() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TOKENS_FILE), "{not json").unwrap();
        assert!(matches!(
            TokenStore::new(dir.path()).current(),
            Err(TokenError::Corrupt { .. })
        ));
    }
}
