//! [`TestDatabase`]: a fresh PostgreSQL database per test, dropped when the test ends and swept
//! by a later run if the test process died first.
//!
//! Each database is recorded in `projector_test_databases` in the admin database (from
//! [`postgres_url`](crate::services::postgres_url)) with the id of the process that made it,
//! before it is created. The first database a test process makes sweeps every recorded one whose
//! process is gone, so a crashed run leaves nothing behind for long.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio_postgres::NoTls;

use crate::services::{postgres_url, unavailable};

/// The registry of test databases, in the admin database.
const REGISTRY: &str = "CREATE TABLE IF NOT EXISTS projector_test_databases (
    name        TEXT        PRIMARY KEY,
    pid         INTEGER     NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)";

/// Serializes registry changes across test processes.
const REGISTRY_LOCK: i64 = 0x7072_6f6a_7465_7374;

/// Whether this process has swept leftovers already.
static SWEPT: AtomicBool = AtomicBool::new(false);

/// A database that exists for one test.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// Creates a fresh, empty database `projector_test_<random>`.
    ///
    /// Returns `None` when PostgreSQL cannot be reached outside CI (the test should skip).
    ///
    /// # Panics
    /// In CI when PostgreSQL cannot be reached, and whenever creating the database fails.
    pub async fn create() -> Option<Self> {
        let admin_url = postgres_url();
        let (admin, connection) = match tokio_postgres::connect(&admin_url, NoTls).await {
            Ok(pair) => pair,
            Err(error) => {
                unavailable("PostgreSQL", &error);
                return None;
            }
        };
        let driver = tokio::spawn(connection);
        let name = format!("projector_test_{}", uuid::Uuid::now_v7().simple());
        let leftovers = register(&admin, &name).await;
        for leftover in leftovers {
            drop_database(&admin, &leftover).await;
        }
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        drop(admin);
        let _ = driver.await;
        Some(Self {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL to connect to it.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside or outside a runtime; a thread of its own works in both.
        let dropped = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok((admin, connection)) = tokio_postgres::connect(&admin_url, NoTls).await
                else {
                    return;
                };
                let driver = tokio::spawn(connection);
                drop_database(&admin, &name).await;
                drop(admin);
                let _ = driver.await;
            });
        });
        let _ = dropped.join();
    }
}

/// Records `name` in the registry and, the first time in this process, takes out the records
/// whose process is gone; returns their databases to drop.
async fn register(admin: &tokio_postgres::Client, name: &str) -> Vec<String> {
    let sweep = !SWEPT.swap(true, Ordering::SeqCst);
    let setup = async {
        admin.batch_execute("BEGIN").await?;
        admin
            .execute("SELECT pg_advisory_xact_lock($1)", &[&REGISTRY_LOCK])
            .await?;
        admin.batch_execute(REGISTRY).await?;
        let mut leftovers = Vec::new();
        if sweep {
            for row in admin
                .query(
                    "SELECT name, pid, created_at < now() - interval '1 day' FROM projector_test_databases",
                    &[],
                )
                .await?
            {
                let (leftover, pid, old): (String, i32, bool) = (row.get(0), row.get(1), row.get(2));
                if old || !process_alive(pid) {
                    admin
                        .execute("DELETE FROM projector_test_databases WHERE name = $1", &[&leftover])
                        .await?;
                    leftovers.push(leftover);
                }
            }
        }
        let pid = i32::try_from(std::process::id()).unwrap_or(i32::MAX);
        admin
            .execute(
                "INSERT INTO projector_test_databases (name, pid) VALUES ($1, $2)",
                &[&name, &pid],
            )
            .await?;
        admin.batch_execute("COMMIT").await?;
        Ok::<_, tokio_postgres::Error>(leftovers)
    };
    setup
        .await
        .unwrap_or_else(|e| panic!("registering test database {name}: {e}"))
}

/// Whether process `pid` still runs on this machine. Without `/proc` every process counts as
/// alive, and only records older than a day are swept.
pub(crate) fn process_alive(pid: i32) -> bool {
    if !std::path::Path::new("/proc/self").exists() {
        return true;
    }
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

async fn drop_database(admin: &tokio_postgres::Client, name: &str) {
    // Names come from the registry, which holds only names this module made.
    if !name.starts_with("projector_test_")
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return;
    }
    if let Err(error) = admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
    {
        eprintln!("could not drop test database {name}: {error}");
        return;
    }
    let _ = admin
        .execute(
            "DELETE FROM projector_test_databases WHERE name = $1",
            &[&name],
        )
        .await;
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn urls_get_the_new_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/postgres?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:1", "x"), "postgres://h:1/x");
    }
}
