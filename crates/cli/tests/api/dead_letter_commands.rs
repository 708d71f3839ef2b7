//! `projector dead-letters` with the real binary: through a running server (`--server`), and
//! by opening the stores once it has stopped (refused, pointing at `--server`, while it runs):
//! list (table and JSON), show, retry, skip and retry all, checked against the read model.

use std::time::Duration;

use serde_json::Value;

use crate::dead_letters::{break_read_model, mend_read_model, wait_state};
use crate::helpers::{Server, projector};

/// Longer than any of these commands needs; a command still running then is a hang.
const LIMIT: Duration = Duration::from_secs(90);

/// `projector dead-letters ARGS` with `extra` (storage or `--server URL`); stdout on success.
async fn dead_letters(args: &[&str], extra: &[std::ffi::OsString]) -> Result<String, String> {
    let mut all = vec!["dead-letters"];
    all.extend_from_slice(args);
    let output = projector(&all, extra, LIMIT).await;
    if output.success {
        Ok(output.stdout)
    } else {
        Err(format!("{}{}", output.stdout, output.stderr))
    }
}

/// The letters `list --json` prints.
async fn listed(extra: &[std::ffi::OsString]) -> Vec<Value> {
    let json = dead_letters(&["list", "order_summary", "--json"], extra)
        .await
        .expect("list");
    let list: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    list["dead_letters"]
        .as_array()
        .cloned()
        .expect("dead_letters")
}

pub async fn dead_letters_from_the_command_line() {
    let mut server = Server::start().await;
    let storage = server.storage_args();
    let remote: Vec<std::ffi::OsString> = vec!["--server".into(), server.base.clone().into()];
    let first = server.place("o1", "c1", &[("a", 1, 1.0)]).await;
    server.order("o1", first).await;
    break_read_model(&server).await;
    let blocked = server.place("o2", "c1", &[("a", 2, 1.0)]).await;
    let at = wait_state(&server, "stopped").await["stopped_at"]
        .as_u64()
        .expect("stopped_at");

    // Through the server: the table, JSON, and the letter with its event.
    let table = dead_letters(&["list", "order_summary"], &remote)
        .await
        .expect("list");
    assert!(table.starts_with("POSITION"), "{table}");
    assert!(
        table
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with(&at.to_string())),
        "{table}"
    );
    let letters = listed(&remote).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["position"], at);
    let shown = dead_letters(&["show", "order_summary", &at.to_string()], &remote)
        .await
        .expect("show");
    let shown: Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(shown["event"]["position"], at, "{shown}");
    assert_eq!(shown["event"]["event_id"], letters[0]["event_id"]);

    // Opening the stores while the server runs the projection is refused, saying to ask it.
    let refused = dead_letters(&["retry", "order_summary", &at.to_string()], &storage)
        .await
        .expect_err("refused while the server runs it");
    assert!(refused.contains("--server"), "{refused}");

    // Still broken: the retry fails, saying why; once mended it applies.
    let failed = dead_letters(&["retry", "order_summary", &at.to_string()], &remote)
        .await
        .expect_err("the event fails again");
    assert!(failed.contains("failed (attempt"), "{failed}");
    mend_read_model(&server).await;
    let applied = dead_letters(&["retry", "order_summary", &at.to_string()], &remote)
        .await
        .expect("applied");
    assert!(applied.contains("applied"), "{applied}");
    assert_eq!(server.order("o2", blocked).await["status"], "confirmed");

    // Stopped again, then the server stops: the command runs the projection itself.
    break_read_model(&server).await;
    let third = server.place("o3", "c1", &[("a", 3, 1.0)]).await;
    let at = wait_state(&server, "stopped").await["stopped_at"]
        .as_u64()
        .expect("stopped_at");
    let kept = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");

    let local = listed(&storage).await;
    assert_eq!(local.len(), 1, "{local:?}");
    assert_eq!(
        (local[0]["position"].as_u64(), &local[0]["skipped"]),
        (Some(at), &Value::Bool(false))
    );
    let shown = dead_letters(&["show", "order_summary", &at.to_string()], &storage)
        .await
        .expect("show");
    assert!(shown.contains("\"event\""), "{shown}");
    let skipped = dead_letters(&["skip", "order_summary", &at.to_string()], &storage)
        .await
        .expect("skip");
    assert!(skipped.contains("skipped"), "{skipped}");
    let local = listed(&storage).await;
    assert_eq!(local[0]["position"], at, "{local:?}");
    assert_eq!(local[0]["skipped"], true, "{local:?}");

    // Mended: retrying them all applies the skipped event and those after it, in order.
    mend_read_model_of(&kept).await;
    let all = dead_letters(&["retry", "order_summary", "--all"], &storage)
        .await
        .expect("every letter applied");
    assert!(
        all.contains(&format!("order_summary {at}: applied")),
        "{all}"
    );
    assert!(listed(&storage).await.is_empty());

    let server = Server::start_with(kept).await;
    assert_eq!(server.order("o3", third).await["status"], "confirmed");
    let (entry, _) = crate::admin::projection(&server, "order_summary").await;
    assert_eq!(entry["dead_letters"], 0, "{entry}");
}

/// Mends the order summary's table in storage no server runs on.
async fn mend_read_model_of(storage: &crate::helpers::Storage) {
    storage
        .alter_read_model(
            "order_summary",
            "ALTER TABLE order_summary RENAME COLUMN order_key TO order_id",
        )
        .await;
}
