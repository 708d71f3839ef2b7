//! `--no-migrate` on PostgreSQL: a database whose schema is behind this build is refused at
//! start-up, naming the missing migrations, and left as it was; once migrated, it opens.

use std::time::Duration;

use projector_testkit::postgres::TestDatabase;

use crate::helpers::projector;

/// Longer than any of these commands needs; a command still running then is a hang.
const LIMIT: Duration = Duration::from_secs(60);

const EVERY_MIGRATION: &str = "migration(s) 1 (event_store), 2 (read_store), 3 (idempotency), \
     4 (append_statement), 5 (idempotency_command_ids), 6 (projection_controls) not applied";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_migrate_refuses_a_schema_behind_the_build_and_changes_nothing() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let data = projector_testkit::temp_dir();
    let storage: Vec<std::ffi::OsString> = vec![
        "--database-url".into(),
        database.url().into(),
        "--data".into(),
        data.path().join("data").into_os_string(),
    ];
    let no_migrate: Vec<std::ffi::OsString> = storage
        .iter()
        .cloned()
        .chain(["--no-migrate".into()])
        .collect();

    let serve = projector(&["serve", "--addr", "127.0.0.1:0"], &no_migrate, LIMIT).await;
    assert!(!serve.success, "served an empty database: {serve:?}");
    assert!(serve.stderr.contains(EVERY_MIGRATION), "{}", serve.stderr);
    // Nothing was applied: the next command finds every migration still missing.
    let status = projector(&["status"], &no_migrate, LIMIT).await;
    assert!(!status.success, "{status:?}");
    assert!(status.stderr.contains(EVERY_MIGRATION), "{}", status.stderr);

    // Migrated once (without the option), the schema matches and `--no-migrate` opens it.
    let migrated = projector(&["status"], &storage, LIMIT).await;
    assert!(migrated.success, "{migrated:?}");
    let status = projector(&["status"], &no_migrate, LIMIT).await;
    assert!(status.success, "{status:?}");
}
