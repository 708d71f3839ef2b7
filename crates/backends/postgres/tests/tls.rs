//! TLS to the local PostgreSQL, which serves a self-signed certificate: `sslmode=require`
//! encrypts, `verify-full` with that certificate as the CA encrypts and checks it, and a CA
//! that did not sign it, or a host name it was not issued for, is refused.

use std::path::PathBuf;
use std::time::Duration;

use projector_core::EventFeed;
use projector_postgres::{PgEventStore, PgEventStoreOptions};
use projector_testkit::postgres::TestDatabase;
use tokio_postgres::NoTls;

/// The server's certificate file, when it speaks TLS; `None` (saying why) otherwise, which
/// fails the test in CI.
async fn server_certificate(admin_url: &str) -> Option<PathBuf> {
    let (client, connection) = tokio_postgres::connect(admin_url, NoTls).await.ok()?;
    tokio::spawn(connection);
    let ssl: String = client.query_one("SHOW ssl", &[]).await.ok()?.get(0);
    let file: String = client
        .query_one("SHOW ssl_cert_file", &[])
        .await
        .ok()?
        .get(0);
    let path = PathBuf::from(file);
    if ssl != "on" || !path.is_file() {
        let why = format!(
            "the PostgreSQL server does not serve TLS with a readable certificate (ssl={ssl}, {})",
            path.display()
        );
        assert!(std::env::var("CI").is_err(), "{why}");
        eprintln!("skipping: {why}");
        return None;
    }
    Some(path)
}

/// How many of the database's sessions are encrypted.
async fn encrypted_sessions(admin_url: &str, database: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(admin_url, NoTls)
        .await
        .expect("admin");
    tokio::spawn(connection);
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE datname = $1 AND ssl",
            &[&database],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0)
}

async fn connect(url: &str) -> Result<PgEventStore, String> {
    tokio::time::timeout(
        Duration::from_secs(20),
        PgEventStore::connect(url, PgEventStoreOptions::default()),
    )
    .await
    .map_err(|_| "timed out".to_owned())?
    .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_encrypted_and_verified_as_asked() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let url = database.url().to_owned();
    let Some(certificate) = server_certificate(&url).await else {
        return;
    };
    let name = url.rsplit('/').next().expect("a database name").to_owned();
    let ca = certificate.display().to_string();

    // Plain by default, as before.
    let plain = connect(&url).await.expect("plain");
    plain.head().await.expect("head");
    assert_eq!(
        encrypted_sessions(&url, &name).await,
        0,
        "a plain connection was encrypted"
    );
    drop(plain);

    let required = connect(&format!("{url}?sslmode=require"))
        .await
        .expect("require");
    required.head().await.expect("head");
    assert!(
        encrypted_sessions(&url, &name).await > 0,
        "sslmode=require did not encrypt"
    );
    drop(required);

    // The certificate names localhost: verify-full checks it there, verify-ca anywhere.
    let by_name = url.replacen("127.0.0.1", "localhost", 1);
    let verified = connect(&format!("{by_name}?sslmode=verify-full&sslrootcert={ca}"))
        .await
        .expect("verify-full against the server's own certificate");
    verified.head().await.expect("head");
    let any_name = connect(&format!("{url}?sslmode=verify-ca&sslrootcert={ca}"))
        .await
        .expect("verify-ca does not check the host name");
    any_name.head().await.expect("head");

    let stranger = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/stranger-ca.pem"
    );
    let refused = connect(&format!(
        "{by_name}?sslmode=verify-full&sslrootcert={stranger}"
    ))
    .await;
    assert!(
        refused.is_err(),
        "a certificate the CA did not sign was accepted"
    );
    // Reached by its address, the server's certificate (issued for localhost) does not match.
    let wrong_host = connect(&format!("{url}?sslmode=verify-full&sslrootcert={ca}")).await;
    assert!(
        wrong_host.is_err(),
        "a host the certificate does not name was accepted"
    );
    let missing = connect(&format!("{url}?sslmode=verify-full")).await;
    assert!(
        missing.is_err_and(|e| e.contains("sslrootcert")),
        "verify-full without a CA"
    );
}
