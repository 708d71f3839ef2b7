//! Who is calling, and what they may do.
//!
//! A caller presents a bearer token: an API key from the keys file (see [`ApiKeys`]), or a JWT
//! from an identity provider, checked against its published keys (see [`JwtVerifier`]). Either
//! names a principal (a user id) and the [`Scope`]s it holds. Every route declares the scope it
//! needs in the OpenAPI document, and the guard enforces exactly what the document says.
//!
//! With no keys file and no JWKS configured, authentication is off: the server is meant for
//! loopback use, and `X-User-Id` names the acting user as before.

mod api_keys;
mod guard;
mod jwt;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use projector_core::UserId;

pub use api_keys::{ApiKeys, NewApiKey};
pub(crate) use guard::{
    Access, RoutePolicy, SCHEME, document_refusals, guard, open_to_anyone, operations_of_mut,
};
pub use jwt::{JwtSettings, JwtVerifier};

/// What a token lets its holder do. Scopes are independent: `admin` does not imply `write`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Read the read models and the event history.
    Read,
    /// Send commands.
    Write,
    /// Operate projections (the admin API) and read the metrics.
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    /// Its name in tokens, key files and the OpenAPI document.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, AuthError> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| AuthError::UnknownScope(s.to_owned()))
    }
}

/// Parses a comma- or space-separated list of scopes (`read,write`).
///
/// # Errors
/// [`AuthError::UnknownScope`] for a name that is not a scope.
pub fn parse_scopes(list: &str) -> Result<BTreeSet<Scope>, AuthError> {
    list.split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Who it is: the user id recorded on the events it causes.
    pub id: UserId,
    /// What it may do.
    pub scopes: BTreeSet<Scope>,
}

impl Principal {
    /// Whether it holds `scope`.
    pub fn may(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// Why credentials could not be loaded, made or accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A scope name that is not `read`, `write` or `admin`.
    #[error("unknown scope {0:?} (the scopes are read, write and admin)")]
    UnknownScope(String),
    /// The keys file could not be read or written.
    #[error("the API keys file {path}: {source}")]
    KeysFile {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line of the keys file is not a key entry.
    #[error("the API keys file {path}, line {line}: {message}")]
    BadKeyEntry {
        /// The file.
        path: String,
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A principal that is not a valid user id.
    #[error("the principal {0:?} is not a valid user id: {1}")]
    BadPrincipal(String, String),
    /// The JWKS could not be read or is not a key set.
    #[error("the JWKS at {location}: {message}")]
    Jwks {
        /// The file or URL.
        location: String,
        /// What went wrong.
        message: String,
    },
    /// The token is not valid; the message says why, for the log only.
    #[error("{0}")]
    InvalidToken(String),
}

/// Every way this server accepts a caller. Built once at start.
#[derive(Debug, Default)]
pub struct Authenticator {
    keys: Option<ApiKeys>,
    jwt: Option<JwtVerifier>,
}

impl Authenticator {
    /// Accepts the API keys of `keys`.
    pub fn with_api_keys(mut self, keys: ApiKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Accepts JWTs that `verifier` accepts.
    pub fn with_jwt(mut self, verifier: JwtVerifier) -> Self {
        self.jwt = Some(verifier);
        self
    }

    /// Whether any kind of token is configured; without, authentication is off.
    pub fn is_on(&self) -> bool {
        self.keys.is_some() || self.jwt.is_some()
    }

    /// The principal a bearer token names.
    ///
    /// # Errors
    /// [`AuthError::InvalidToken`] when no configured kind of token accepts it.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        if api_keys::looks_like_key(token) {
            return match &self.keys {
                Some(keys) => keys.principal(token),
                None => Err(AuthError::InvalidToken(
                    "API keys are not accepted here".into(),
                )),
            };
        }
        match &self.jwt {
            Some(jwt) => jwt.principal(token).await,
            None => Err(AuthError::InvalidToken(
                "not an API key, and JWTs are not accepted here".into(),
            )),
        }
    }
}

/// Makes a principal's user id from a name given in a key file or a token.
fn principal_id(name: &str) -> Result<UserId, AuthError> {
    UserId::parse(name).map_err(|e| AuthError::BadPrincipal(name.to_owned(), e.to_string()))
}
