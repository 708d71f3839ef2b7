//! Who may call `projector serve`: the authenticator from the command line, and the rule that
//! a server without authentication listens on loopback only unless told otherwise.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use projector_server::AdminListener;
use projector_server::auth::{ApiKeys, Authenticator, JwtSettings, JwtVerifier};
use tokio::net::TcpListener;

use crate::opts::{AuthArgs, PublicRoute};

/// The authenticator the options describe (off when they name no keys and no JWKS), checked
/// against the address served.
///
/// # Errors
/// A keys file or JWKS that cannot be read; no authentication on an address other than
/// loopback without `--insecure-no-auth`.
pub(crate) async fn authenticator(
    args: &AuthArgs,
    addr: SocketAddr,
) -> anyhow::Result<Arc<Authenticator>> {
    let mut authenticator = Authenticator::default();
    if let Some(path) = &args.api_keys {
        let keys = ApiKeys::load(path).context("reading the API keys")?;
        tracing::info!(file = %path.display(), keys = keys.len(), "accepting API keys");
        authenticator = authenticator.with_api_keys(keys);
    }
    if let (Some(jwks), Some(issuer), Some(audience)) =
        (&args.jwks, &args.jwt_issuer, &args.jwt_audience)
    {
        let verifier = JwtVerifier::load(JwtSettings {
            jwks: jwks.clone(),
            issuer: issuer.clone(),
            audience: audience.clone(),
        })
        .await
        .context("reading the JWKS")?;
        tracing::info!(%jwks, %issuer, %audience, "accepting JWTs");
        authenticator = authenticator.with_jwt(verifier);
    }
    if !authenticator.is_on() {
        if !addr.ip().is_loopback() && !args.insecure_no_auth {
            anyhow::bail!(
                "refusing to serve {addr} without authentication: anyone who reaches it could read, \
                 write and rebuild. Give --api-keys or --jwks, listen on a loopback address, or \
                 pass --insecure-no-auth to accept the risk"
            );
        }
        tracing::warn!(%addr, "authentication is off: every caller may read, write and rebuild, and X-User-Id names the acting user");
    }
    Ok(Arc::new(authenticator))
}

/// Binds the admin API's own listener: `PORT` means `127.0.0.1:PORT`. Its routes are open on
/// loopback and need the `admin` scope elsewhere, so off loopback it needs authentication (or
/// `--insecure-no-auth`) like the main listener.
///
/// # Errors
/// An address that does not parse or cannot be bound; no authentication off loopback.
pub(crate) async fn admin_listener(
    given: &str,
    args: &AuthArgs,
    authenticator: &Authenticator,
) -> anyhow::Result<(TcpListener, AdminListener)> {
    let addr = match given.parse::<u16>() {
        Ok(port) => SocketAddr::from(([127, 0, 0, 1], port)),
        Err(_) => given
            .parse::<SocketAddr>()
            .with_context(|| format!("--admin-addr {given:?} is neither a port nor an address"))?,
    };
    let open = addr.ip().is_loopback();
    if !open && !authenticator.is_on() && !args.insecure_no_auth {
        anyhow::bail!(
            "refusing to serve the admin API on {addr} without authentication; give --api-keys \
             or --jwks, a loopback address, or --insecure-no-auth"
        );
    }
    let listener = projector_server::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} for the admin API"))?;
    Ok((
        listener,
        AdminListener {
            open: open || !authenticator.is_on(),
        },
    ))
}

/// Whether `route` is among the public ones.
pub(crate) fn is_public(args: &AuthArgs, route: PublicRoute) -> bool {
    args.public.contains(&route)
}
