//! TLS to PostgreSQL, with libpq's `sslmode` and `sslrootcert` in the connection string.
//!
//! - `disable`, `allow`, `prefer` (or none): no TLS. `prefer` protects nothing an attacker on
//!   the path cannot strip, so it is not worth a handshake.
//! - `require`: encrypted, the server's certificate not checked (libpq's meaning).
//! - `verify-ca`: encrypted, the certificate signed by a CA of `sslrootcert`.
//! - `verify-full`: that, and issued for the host connected to.
//!
//! The driver knows only `disable`, `prefer` and `require`, so the two parameters are taken
//! out of the string here and the driver is told `require` when TLS is wanted.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// What a connection string asks of TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// No TLS.
    Disable,
    /// TLS, certificate unchecked.
    Require,
    /// TLS, certificate checked against the CA.
    VerifyCa,
    /// TLS, certificate checked against the CA and the host name.
    VerifyFull,
}

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// An `sslmode` libpq does not define.
    #[error("sslmode {0:?} is not one of disable, allow, prefer, require, verify-ca, verify-full")]
    UnknownMode(String),
    /// `verify-ca` or `verify-full` without `sslrootcert`.
    #[error("sslmode={0} needs sslrootcert=<a PEM file of the CA certificates to trust>")]
    NoRootCert(&'static str),
    /// The CA file cannot be read or holds no certificate.
    #[error("sslrootcert {path}: {message}")]
    RootCert {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The TLS client could not be configured.
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The TLS connector of a database's connections.
#[derive(Clone)]
pub(crate) struct Connector(pub(crate) MakeRustlsConnect);

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector")
    }
}

/// What a connection string asks of TLS: the string without `sslmode` and `sslrootcert`, the
/// mode, and the CA file. Reads no file: the connector is built only where connections are made.
pub(crate) struct Settings {
    /// The connection string the driver is given.
    pub(crate) rest: String,
    /// What TLS is asked for.
    pub(crate) mode: SslMode,
    root: Option<PathBuf>,
}

impl Settings {
    /// Reads them from `url`.
    pub(crate) fn of(url: &str) -> Result<Self, TlsSetupError> {
        let (rest, mode, root) = take_parameters(url);
        let mode = match mode.as_deref() {
            None | Some("disable" | "allow" | "prefer") => SslMode::Disable,
            Some("require") => SslMode::Require,
            Some("verify-ca") => SslMode::VerifyCa,
            Some("verify-full") => SslMode::VerifyFull,
            Some(other) => return Err(TlsSetupError::UnknownMode(other.to_owned())),
        };
        Ok(Self { rest, mode, root })
    }

    /// The connector they ask for (it makes plain connections when the driver is told
    /// `disable`).
    pub(crate) fn connector(self) -> Result<Connector, TlsSetupError> {
        Ok(Connector(connector(self.mode, self.root)?))
    }
}

fn connector(mode: SslMode, root: Option<PathBuf>) -> Result<MakeRustlsConnect, TlsSetupError> {
    let verifier: Arc<dyn ServerCertVerifier> = match mode {
        SslMode::Disable | SslMode::Require => Arc::new(Unchecked::new()),
        SslMode::VerifyCa | SslMode::VerifyFull => {
            let name = if mode == SslMode::VerifyCa {
                "verify-ca"
            } else {
                "verify-full"
            };
            let path = root.ok_or(TlsSetupError::NoRootCert(name))?;
            let roots = Arc::new(roots(&path)?);
            let webpki = WebPkiServerVerifier::builder(roots).build().map_err(|e| {
                TlsSetupError::RootCert {
                    path: path.display().to_string(),
                    message: e.to_string(),
                }
            })?;
            if mode == SslMode::VerifyCa {
                Arc::new(AnyName(webpki))
            } else {
                webpki
            }
        }
    };
    let config = ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn roots(path: &PathBuf) -> Result<RootCertStore, TlsSetupError> {
    let failed = |message: String| TlsSetupError::RootCert {
        path: path.display().to_string(),
        message,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| failed(e.to_string()))? {
        roots
            .add(cert.map_err(|e| failed(e.to_string()))?)
            .map_err(|e| failed(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(failed("it holds no certificate".into()));
    }
    Ok(roots)
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query or a keyword string.
fn take_parameters(url: &str) -> (String, Option<String>, Option<PathBuf>) {
    let (mut mode, mut root) = (None, None);
    let mut take = |key: &str, value: &str| match key {
        "sslmode" => {
            mode = Some(value.to_owned());
            true
        }
        "sslrootcert" => {
            root = Some(PathBuf::from(value));
            true
        }
        _ => false,
    };
    let rest = if url.contains("://") {
        match url.split_once('?') {
            Some((base, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|pair| {
                        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                        !take(key, &percent_decoded(value))
                    })
                    .collect();
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
            None => url.to_owned(),
        }
    } else {
        let kept: Vec<&str> = url
            .split_whitespace()
            .filter(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                !take(key, value.trim_matches('\''))
            })
            .collect();
        kept.join(" ")
    };
    (rest, mode, root)
}

/// `%2F` and the like in a URL's query value.
fn percent_decoded(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `require`: any certificate, though the handshake's signatures are still checked.
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl Unchecked {
    fn new() -> Self {
        Self(
            rustls::crypto::CryptoProvider::get_default()
                .cloned()
                .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider())),
        )
    }
}

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain checked, the host name not.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                | rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tls_parameters_are_taken_out_of_either_form() {
        let (rest, mode, root) = take_parameters(
            "postgres://u@h:5432/db?sslmode=verify-full&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        );
        assert_eq!(rest, "postgres://u@h:5432/db?application_name=x");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root, Some(PathBuf::from("/etc/ca.pem")));
        let (rest, mode, root) = take_parameters("host=h sslmode=require user=u");
        assert_eq!(rest, "host=h user=u");
        assert_eq!(mode.as_deref(), Some("require"));
        assert_eq!(root, None);
        assert_eq!(take_parameters("postgres://h/db").0, "postgres://h/db");
    }

    #[test]
    fn verifying_needs_a_root_certificate() {
        let connector = |url: &str| Settings::of(url).and_then(Settings::connector);
        assert!(matches!(
            connector("postgres://h/db?sslmode=verify-full"),
            Err(TlsSetupError::NoRootCert("verify-full"))
        ));
        assert!(matches!(
            Settings::of("postgres://h/db?sslmode=sometimes"),
            Err(TlsSetupError::UnknownMode(_))
        ));
        assert_eq!(
            Settings::of("postgres://h/db").map(|s| s.mode).ok(),
            Some(SslMode::Disable)
        );
    }
}
