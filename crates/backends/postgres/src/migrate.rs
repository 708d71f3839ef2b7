//! Embedded, versioned migrations, run by the stores' constructors unless opted out.
//!
//! Every migration runs in one transaction that first takes a transaction-level advisory lock,
//! so two processes starting together apply each migration once: the second waits, then finds
//! it recorded in `projector._projector_migrations`. The event store and the read store share
//! one list, so either may create the schema first.
//!
//! Each applied migration's checksum is recorded; a recorded one that differs from the
//! embedded SQL is refused. A store told not to migrate still [`verify`]s: a schema behind this
//! build is refused, naming the missing migrations, and nothing is changed.

use deadpool_postgres::Pool;

use crate::error::describe;

/// One migration: its version, name and SQL, embedded from `migrations/`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Migration {
    pub(crate) version: i32,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration, in the order they apply.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "event_store",
        sql: include_str!("../migrations/0001_event_store.sql"),
    },
    Migration {
        version: 2,
        name: "read_store",
        sql: include_str!("../migrations/0002_read_store.sql"),
    },
    Migration {
        version: 3,
        name: "idempotency",
        sql: include_str!("../migrations/0003_idempotency.sql"),
    },
    Migration {
        version: 4,
        name: "append_statement",
        sql: include_str!("../migrations/0004_append_statement.sql"),
    },
    Migration {
        version: 5,
        name: "idempotency_command_ids",
        sql: include_str!("../migrations/0005_idempotency_command_ids.sql"),
    },
    Migration {
        version: 6,
        name: "projection_controls",
        sql: include_str!("../migrations/0006_projection_controls.sql"),
    },
];

/// The advisory lock key that serializes migrations across processes (`projector_migrations`
/// hashed once, fixed here so every version of the code agrees).
const MIGRATION_LOCK: i64 = 0x7072_6f6a_6d69_6772;

/// Why migrations did not run.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The database could not be reached.
    #[error("cannot reach the database to migrate it: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A statement failed; the migration's transaction was rolled back.
    #[error("migration {version} ({name}) failed: {message}")]
    Failed {
        /// The migration's version.
        version: i32,
        /// The migration's name.
        name: &'static str,
        /// The server's message.
        message: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A recorded migration's SQL differs from the embedded one: the schema was made by other
    /// code than this.
    #[error(
        "migration {version} ({name}) was applied with other SQL than this build embeds; refusing to run"
    )]
    Changed {
        /// The migration's version.
        version: i32,
        /// The migration's name.
        name: &'static str,
    },
    /// Migrations this build needs are not applied, and the store was told not to apply them.
    #[error(
        "the database schema is behind this build: migration(s) {} not applied; apply them (start once with migrations on) or use a matching build",
        .missing.join(", ")
    )]
    Behind {
        /// The missing migrations, as `version (name)`.
        missing: Vec<String>,
    },
    /// The recorded migrations could not be read.
    #[error("cannot read the applied migrations: {message}")]
    Unreadable {
        /// The server's message.
        message: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

/// Applies every migration not yet recorded, each in its own locked transaction. Returns how
/// many were applied.
///
/// # Errors
/// [`MigrationError`] when the database cannot be reached, a migration fails, or a recorded
/// migration differs from the embedded one.
pub async fn migrate(pool: &Pool) -> Result<usize, MigrationError> {
    migrate_to(pool, i32::MAX).await
}

/// As [`migrate`], applying only the migrations up to version `last`: for upgrading a database
/// one step at a time.
///
/// # Errors
/// As [`migrate`].
pub async fn migrate_to(pool: &Pool, last: i32) -> Result<usize, MigrationError> {
    let mut client = pool.get().await?;
    let mut applied = 0;
    for migration in MIGRATIONS.iter().filter(|m| m.version <= last) {
        let failed = |source: tokio_postgres::Error| MigrationError::Failed {
            version: migration.version,
            name: migration.name,
            message: describe(&source),
            source,
        };
        let tx = client.transaction().await.map_err(failed)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(failed)?;
        tx.batch_execute(
            "CREATE SCHEMA IF NOT EXISTS projector;
             CREATE TABLE IF NOT EXISTS projector._projector_migrations (
                 version    INTEGER     PRIMARY KEY,
                 name       TEXT        NOT NULL,
                 checksum   BIGINT      NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             );",
        )
        .await
        .map_err(failed)?;
        let checksum = checksum(migration.sql);
        let recorded = tx
            .query_opt(
                "SELECT checksum FROM projector._projector_migrations WHERE version = $1",
                &[&migration.version],
            )
            .await
            .map_err(failed)?;
        match recorded {
            Some(row) => {
                let recorded: i64 = row.get(0);
                if recorded != checksum {
                    return Err(MigrationError::Changed {
                        version: migration.version,
                        name: migration.name,
                    });
                }
            }
            None => {
                tx.batch_execute(migration.sql).await.map_err(failed)?;
                tx.execute(
                    "INSERT INTO projector._projector_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    &[&migration.version, &migration.name, &checksum],
                )
                .await
                .map_err(failed)?;
                tracing::info!(
                    version = migration.version,
                    name = migration.name,
                    "applied migration"
                );
                applied += 1;
            }
        }
        tx.commit().await.map_err(failed)?;
    }
    Ok(applied)
}

/// Checks, changing nothing, that every migration this build embeds is recorded with the same
/// checksum: for a store that does not migrate, so it refuses a schema it cannot work with.
///
/// # Errors
/// [`MigrationError::Behind`] naming the missing migrations, [`MigrationError::Changed`] for
/// a recorded one that differs, or the database's error.
pub async fn verify(pool: &Pool) -> Result<(), MigrationError> {
    let client = pool.get().await?;
    let unreadable = |source: tokio_postgres::Error| MigrationError::Unreadable {
        message: describe(&source),
        source,
    };
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('projector._projector_migrations') IS NOT NULL",
            &[],
        )
        .await
        .map_err(unreadable)?
        .get(0);
    let recorded: std::collections::HashMap<i32, i64> = if exists {
        client
            .query(
                "SELECT version, checksum FROM projector._projector_migrations",
                &[],
            )
            .await
            .map_err(unreadable)?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    } else {
        std::collections::HashMap::new()
    };
    let mut missing = Vec::new();
    for migration in MIGRATIONS {
        match recorded.get(&migration.version) {
            Some(sum) if *sum != checksum(migration.sql) => {
                return Err(MigrationError::Changed {
                    version: migration.version,
                    name: migration.name,
                });
            }
            Some(_) => {}
            None => missing.push(format!("{} ({})", migration.version, migration.name)),
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MigrationError::Behind { missing })
    }
}

/// FNV-1a of the migration's text with line endings normalized, as a signed 64-bit number.
fn checksum(sql: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.bytes().filter(|b| *b != b'\r') {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_checksums_ignore_line_endings() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
        assert_eq!(checksum("a\r\nb"), checksum("a\nb"));
        assert_ne!(checksum("a"), checksum("b"));
    }
}
