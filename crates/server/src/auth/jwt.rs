//! JWTs from an identity provider, checked against the keys it publishes (a JWKS file or URL).
//!
//! Only asymmetric algorithms are accepted (RS*, PS*, ES256/ES384, EdDSA): the server holds
//! public keys only, so it cannot be made to accept a token signed with one of them as an HMAC
//! secret. The signature, `exp`, `nbf`, `iss` and `aud` are checked; the principal is `sub`, the
//! scopes come from `scope` (space-separated) or `scp` (a list). Keys fetched from a URL are
//! fetched again every ten minutes, and at once (at most every 30 s) for a key id not known yet,
//! so a provider's key rotation needs no restart.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;

use super::{AuthError, Principal, Scope, principal_id};

/// The algorithms a token may be signed with.
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];
/// How long keys fetched from a URL are used before fetching them again.
const REFRESH_EVERY: Duration = Duration::from_secs(600);
/// How soon keys may be fetched again for an unknown key id.
const REFETCH_AFTER: Duration = Duration::from_secs(30);
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

/// Where the keys are and what a token must say.
#[derive(Clone, Debug)]
pub struct JwtSettings {
    /// A JWKS file, or an `http(s)://` URL serving one.
    pub jwks: String,
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must include.
    pub audience: String,
}

/// Verifies JWTs against a JWKS.
#[derive(Debug)]
pub struct JwtVerifier {
    settings: JwtSettings,
    client: Option<reqwest::Client>,
    keys: RwLock<Keys>,
}

struct Keys {
    set: Vec<(Option<String>, DecodingKey)>,
    fetched: Instant,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("count", &self.set.len())
            .finish_non_exhaustive()
    }
}

/// The claims read from a token.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<Vec<String>>,
}

impl JwtVerifier {
    /// Reads the key set named in `settings`.
    ///
    /// # Errors
    /// When it cannot be read, fetched or understood, or holds no usable key.
    pub async fn load(settings: JwtSettings) -> Result<Self, AuthError> {
        let client = if is_url(&settings.jwks) {
            Some(
                reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| AuthError::Jwks {
                        location: settings.jwks.clone(),
                        message: e.to_string(),
                    })?,
            )
        } else {
            None
        };
        let set = fetch(&settings.jwks, client.as_ref()).await?;
        Ok(Self {
            settings,
            client,
            keys: RwLock::new(Keys {
                set,
                fetched: Instant::now(),
            }),
        })
    }

    /// The principal a valid token names.
    pub(super) async fn principal(&self, token: &str) -> Result<Principal, AuthError> {
        let invalid = |e: jsonwebtoken::errors::Error| AuthError::InvalidToken(e.to_string());
        let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(AuthError::InvalidToken(format!(
                "tokens signed with {:?} are not accepted",
                header.alg
            )));
        }
        self.refresh_if_due(header.kid.as_deref()).await;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let keys = self.keys.read().await;
        let candidates = keys
            .set
            .iter()
            .filter(|(kid, _)| header.kid.is_none() || kid.as_deref() == header.kid.as_deref());
        let mut last = AuthError::InvalidToken("no key of the JWKS has the token's key id".into());
        for (_, key) in candidates {
            match jsonwebtoken::decode::<Claims>(token, key, &validation) {
                Ok(data) => return principal(data.claims),
                Err(error) => last = invalid(error),
            }
        }
        Err(last)
    }

    /// Fetches the keys again when they came from a URL and are old, or lack `kid`.
    async fn refresh_if_due(&self, kid: Option<&str>) {
        let Some(client) = &self.client else {
            return;
        };
        let due = {
            let keys = self.keys.read().await;
            let unknown =
                kid.is_some_and(|kid| !keys.set.iter().any(|(k, _)| k.as_deref() == Some(kid)));
            keys.fetched.elapsed() >= REFRESH_EVERY
                || (unknown && keys.fetched.elapsed() >= REFETCH_AFTER)
        };
        if !due {
            return;
        }
        {
            // Claim the fetch, so that concurrent requests wait for none and only one fetches.
            let mut keys = self.keys.write().await;
            if keys.fetched.elapsed() < REFETCH_AFTER {
                return;
            }
            keys.fetched = Instant::now();
        }
        match fetch(&self.settings.jwks, Some(client)).await {
            Ok(set) => self.keys.write().await.set = set,
            Err(error) => {
                tracing::warn!(%error, "could not fetch the JWKS again; keeping the keys fetched before")
            }
        }
    }
}

fn is_url(location: &str) -> bool {
    location.starts_with("https://") || location.starts_with("http://")
}

/// Reads the key set at `location` (a file, or a URL with `client`).
async fn fetch(
    location: &str,
    client: Option<&reqwest::Client>,
) -> Result<Vec<(Option<String>, DecodingKey)>, AuthError> {
    let failed = |message: String| AuthError::Jwks {
        location: location.to_owned(),
        message,
    };
    let text = match client {
        Some(client) => client
            .get(location)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| failed(e.to_string()))?
            .text()
            .await
            .map_err(|e| failed(e.to_string()))?,
        None => tokio::fs::read_to_string(location)
            .await
            .map_err(|e| failed(e.to_string()))?,
    };
    let set: JwkSet = serde_json::from_str(&text).map_err(|e| failed(e.to_string()))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        match DecodingKey::from_jwk(jwk) {
            Ok(key) => keys.push((jwk.common.key_id.clone(), key)),
            Err(error) => {
                tracing::warn!(kid = ?jwk.common.key_id, %error, "skipping a key of the JWKS")
            }
        }
    }
    if keys.is_empty() {
        return Err(failed("it holds no usable key".into()));
    }
    Ok(keys)
}

/// The principal the claims name; unknown scopes are ignored, as identity providers mix in
/// their own.
fn principal(claims: Claims) -> Result<Principal, AuthError> {
    let id = principal_id(&claims.sub).map_err(|e| AuthError::InvalidToken(format!("sub: {e}")))?;
    let names = claims
        .scope
        .iter()
        .flat_map(|s| s.split(' '))
        .map(str::to_owned)
        .chain(claims.scp.into_iter().flatten());
    let scopes: BTreeSet<Scope> = names.filter_map(|name| name.parse().ok()).collect();
    Ok(Principal { id, scopes })
}
