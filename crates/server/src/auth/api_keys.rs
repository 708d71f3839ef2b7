//! API keys: random tokens handed to clients once, kept by the server only as SHA-256 hashes.
//!
//! The keys file holds one JSON object per line (`{"hash":"sha256:…","principal":"alice",
//! "scopes":["read","write"],"created_at":"…"}`); blank lines and lines starting with `#` are
//! skipped. A key is 32 random bytes, so a fast hash is enough: nothing short of the key finds
//! its hash's preimage. The file is read again when it changes, so keys can be added or revoked
//! without a restart.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AuthError, Principal, Scope, principal_id};

/// What every key starts with, so a key is told from a JWT at a glance (and found by secret
/// scanners).
const PREFIX: &str = "pjk_";
/// How often the file is looked at for changes, at most.
const RECHECK: Duration = Duration::from_secs(1);

/// Whether `token` has the shape of an API key.
pub(super) fn looks_like_key(token: &str) -> bool {
    token.starts_with(PREFIX)
}

/// One line of the keys file.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    hash: String,
    principal: String,
    scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<String>,
}

/// A key just made: the key itself (shown once) and what it grants.
#[derive(Debug)]
pub struct NewApiKey {
    /// The key, to hand to the client. It is not stored anywhere.
    pub key: String,
    /// Who it names.
    pub principal: String,
    /// What it grants.
    pub scopes: BTreeSet<Scope>,
}

/// The keys of a keys file, read again when the file changes.
#[derive(Debug)]
pub struct ApiKeys {
    path: PathBuf,
    loaded: Mutex<Loaded>,
}

#[derive(Debug)]
struct Loaded {
    by_hash: Arc<HashMap<String, Principal>>,
    modified: Option<SystemTime>,
    checked: Instant,
}

impl ApiKeys {
    /// Reads the keys file at `path`.
    ///
    /// # Errors
    /// When it cannot be read or a line is not a key entry.
    pub fn load(path: impl Into<PathBuf>) -> Result<Self, AuthError> {
        let path = path.into();
        let (by_hash, modified) = read(&path)?;
        Ok(Self {
            path,
            loaded: Mutex::new(Loaded {
                by_hash: Arc::new(by_hash),
                modified,
                checked: Instant::now(),
            }),
        })
    }

    /// How many keys the file holds.
    pub fn len(&self) -> usize {
        self.current().len()
    }

    /// Whether the file holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Makes a key for `principal` with `scopes` and appends its hash to the keys file at
    /// `path` (created owner-only if missing).
    ///
    /// # Errors
    /// A bad principal, or the file cannot be written.
    pub fn create(
        path: &Path,
        principal: &str,
        scopes: BTreeSet<Scope>,
    ) -> Result<NewApiKey, AuthError> {
        principal_id(principal)?;
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        let key = format!("{PREFIX}{}", hex(&secret));
        let entry = Entry {
            hash: hash(&key),
            principal: principal.to_owned(),
            scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_at: Some(chrono::Utc::now().to_rfc3339()),
        };
        let line = serde_json::to_string(&entry).map_err(|e| AuthError::BadKeyEntry {
            path: path.display().to_string(),
            line: 0,
            message: e.to_string(),
        })?;
        let io = |source| AuthError::KeysFile {
            path: path.display().to_string(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(io)?;
        writeln!(file, "{line}").map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(NewApiKey {
            key,
            principal: principal.to_owned(),
            scopes,
        })
    }

    /// The principal `key` names.
    pub(super) fn principal(&self, key: &str) -> Result<Principal, AuthError> {
        self.current()
            .get(&hash(key))
            .cloned()
            .ok_or_else(|| AuthError::InvalidToken("no such API key".into()))
    }

    /// The keys, read again first if the file changed since it was last looked at.
    fn current(&self) -> Arc<HashMap<String, Principal>> {
        let mut loaded = self
            .loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if loaded.checked.elapsed() >= RECHECK {
            loaded.checked = Instant::now();
            let modified = std::fs::metadata(&self.path)
                .and_then(|m| m.modified())
                .ok();
            if modified != loaded.modified {
                match read(&self.path) {
                    Ok((by_hash, modified)) => {
                        tracing::info!(path = %self.path.display(), keys = by_hash.len(), "read the API keys file again");
                        loaded.by_hash = Arc::new(by_hash);
                        loaded.modified = modified;
                    }
                    Err(error) => {
                        tracing::error!(%error, "the API keys file changed but cannot be read; keeping the keys read before");
                    }
                }
            }
        }
        Arc::clone(&loaded.by_hash)
    }
}

/// Reads every entry of the keys file at `path`.
fn read(path: &Path) -> Result<(HashMap<String, Principal>, Option<SystemTime>), AuthError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| AuthError::KeysFile {
        path: shown.clone(),
        source,
    })?;
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let mut by_hash = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |message: String| AuthError::BadKeyEntry {
            path: shown.clone(),
            line: index + 1,
            message,
        };
        let entry: Entry = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if !entry.hash.starts_with("sha256:") {
            return Err(bad("the hash must start with sha256:".into()));
        }
        let scopes = entry
            .scopes
            .iter()
            .map(|s| s.parse())
            .collect::<Result<BTreeSet<Scope>, _>>()
            .map_err(|e| bad(e.to_string()))?;
        let id = principal_id(&entry.principal).map_err(|e| bad(e.to_string()))?;
        by_hash.insert(entry.hash, Principal { id, scopes });
    }
    Ok((by_hash, modified))
}

/// The stored form of a key.
fn hash(key: &str) -> String {
    format!("sha256:{}", hex(&Sha256::digest(key.as_bytes())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_key_is_stored_as_its_hash_and_found_by_the_key() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("keys");
        let made = ApiKeys::create(&path, "alice", [Scope::Read].into()).expect("created");
        let text = std::fs::read_to_string(&path).expect("file");
        assert!(!text.contains(&made.key), "the key itself is not stored");
        assert!(text.contains(&hash(&made.key)));
        let keys = ApiKeys::load(&path).expect("loaded");
        let principal = keys.principal(&made.key).expect("found");
        assert_eq!(principal.id.as_str(), "alice");
        assert!(principal.may(Scope::Read) && !principal.may(Scope::Write));
        assert!(keys.principal("pjk_0000").is_err());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "the file is the owner's only");
        }
    }

    #[test]
    fn bad_lines_are_named() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("keys");
        std::fs::write(
            &path,
            "# keys\n\n{\"hash\":\"sha256:ab\",\"principal\":\"a\",\"scopes\":[\"root\"]}\n",
        )
        .expect("write");
        let error = ApiKeys::load(&path).expect_err("refused").to_string();
        assert!(
            error.contains("line 3") && error.contains("root"),
            "{error}"
        );
    }
}
