//! Progress you can see from the command line: a rebuild's progress lines when its output is
//! a pipe, `status --watch` printing a table each interval, and `rebuild` and `status`
//! through a running server's admin API (`--server`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{Backend, Server, Storage, projector};

const BINARY: &str = env!("CARGO_BIN_EXE_projector");
/// Longer than any of these commands needs; a command still running then is a hang.
const LIMIT: Duration = Duration::from_secs(60);

/// Places `count` orders; returns the last position.
async fn place_orders(server: &Server, count: usize) -> u64 {
    let mut last = 0;
    for i in 0..count {
        last = server
            .place(&format!("o{i}"), "c", &[("a", 1, 1.0), ("b", 2, 0.5)])
            .await;
    }
    last
}

/// Whether `line` is a progress line of the rebuild of `name` into `generation`, with figures
/// that add up (done within total, the percentage theirs).
fn progress_line(line: &str, name: &str, generation: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix(&format!("rebuilding {name} into {generation}: "))?;
    let (figures, rest) = rest.split_once(" events (")?;
    let (done, total) = figures.split_once('/')?;
    let (done, total): (u64, u64) = (done.parse().ok()?, total.parse().ok()?);
    let (percent, rest) = rest.split_once("%), ")?;
    let percent: u64 = percent.parse().ok()?;
    assert!(done <= total, "{line}");
    assert_eq!(
        percent,
        (done * 100).checked_div(total).unwrap_or(100),
        "{line}"
    );
    let (rate, _) = rest.split_once(" events/s")?;
    let rate: u64 = rate.parse().ok()?;
    assert!(
        rate > 0 || done == 0,
        "a rebuild that applied events has a rate: {line}"
    );
    Some((done, total))
}

#[tokio::test]
async fn a_rebuild_on_a_pipe_prints_progress_lines_and_the_final_line() {
    let mut server = Server::start().await;
    let last = place_orders(&server, 10).await;
    server.wait_every_projection_at(last).await;
    let storage = server.storage_args();
    let _kept = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");

    let rebuilt = projector(
        &["rebuild", "order_summary", "--batch-size", "5"],
        &storage,
        LIMIT,
    )
    .await;
    assert!(rebuilt.success, "{}", rebuilt.stderr);
    let lines: Vec<&str> = rebuilt.stdout.lines().collect();
    let progress: Vec<(u64, u64)> = lines
        .iter()
        .filter_map(|l| progress_line(l, "order_summary", "g2"))
        .collect();
    assert!(
        !progress.is_empty(),
        "no progress lines: {}",
        rebuilt.stdout
    );
    assert_eq!(
        progress.last(),
        Some(&(last, last)),
        "the last progress line is the whole feed: {}",
        rebuilt.stdout
    );
    assert_eq!(
        lines.last().copied(),
        Some(
            format!("rebuilt order_summary: generation g2 serves reads at position {last}")
                .as_str()
        ),
        "{}",
        rebuilt.stdout
    );
    // No bar on a pipe (the log on stderr is another matter).
    assert!(!rebuilt.stdout.contains('\x1b'), "{:?}", rebuilt.stdout);
    assert!(!rebuilt.stderr.contains("events/s"), "{:?}", rebuilt.stderr);
}

#[tokio::test]
async fn status_watch_prints_a_table_each_interval_until_stopped() {
    let server = Server::start().await;
    let last = place_orders(&server, 2).await;
    server.wait_every_projection_at(last).await;
    let mut child = tokio::process::Command::new(BINARY)
        .args([
            "status",
            "--watch",
            "--interval",
            "1",
            "--log-level",
            "warn",
        ])
        .args(server.storage_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start projector status --watch");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let started = Instant::now();
    let mut tables = 0;
    let mut summaries = 0;
    while tables < 2 || summaries < 2 {
        let line = tokio::time::timeout(LIMIT.saturating_sub(started.elapsed()), lines.next_line())
            .await
            .expect("status --watch printed two tables in time")
            .expect("read stdout")
            .expect("status --watch still running");
        assert!(!line.contains('\x1b'), "no redraw on a pipe: {line:?}");
        if line.starts_with("projection ") {
            tables += 1;
        }
        if line.starts_with("order_summary ") {
            assert!(line.contains(&format!(" {last} ")), "{line}");
            summaries += 1;
        }
    }
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "--watch runs until stopped"
    );
    child.kill().await.expect("kill");
}

/// On a terminal (a pseudo-terminal from `script`) each table replaces the last: the cursor
/// goes home and the screen is cleared before it.
#[tokio::test]
async fn status_watch_redraws_in_place_on_a_terminal() {
    use tokio::io::AsyncReadExt;
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no `script` to run the command on a pseudo-terminal");
        return;
    }
    let server = Server::start().await;
    let last = place_orders(&server, 1).await;
    server.wait_every_projection_at(last).await;
    let mut command = vec![
        BINARY.to_owned(),
        "status".into(),
        "--watch".into(),
        "--interval".into(),
        "1".into(),
        "--log-level".into(),
        "warn".into(),
    ];
    command.extend(
        server
            .storage_args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned()),
    );
    let mut child = tokio::process::Command::new("script")
        .args(["-qfec", &command.join(" "), "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start script");
    let mut stdout = child.stdout.take().expect("stdout");
    let started = Instant::now();
    let mut seen = Vec::new();
    let redraws = |seen: &[u8]| seen.windows(6).filter(|w| *w == b"\x1b[H\x1b[J").count();
    while redraws(&seen) < 3 {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(
            LIMIT.saturating_sub(started.elapsed()),
            stdout.read(&mut chunk),
        )
        .await
        .unwrap_or_else(|_| panic!("no redraws in time: {}", String::from_utf8_lossy(&seen)))
        .expect("read");
        assert!(
            read > 0,
            "status --watch ended: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&chunk[..read]);
    }
    let text = String::from_utf8_lossy(&seen);
    // Each redraw is followed by a whole table.
    for table in text.split("\x1b[H\x1b[J").skip(1).take(2) {
        assert!(table.contains("projection "), "{table:?}");
        assert!(table.contains("order_summary "), "{table:?}");
    }
    child.kill().await.expect("kill");
}

/// `projector status --server URL --json`, parsed.
async fn status(base: &str) -> Value {
    let output = projector(&["status", "--json", "--server", base], &[], LIMIT).await;
    assert!(output.success, "status failed: {}", output.stderr);
    serde_json::from_str(&output.stdout)
        .unwrap_or_else(|e| panic!("status printed no JSON ({e}): {}", output.stdout))
}

#[track_caller]
fn entry<'a>(status: &'a Value, name: &str) -> &'a Value {
    status["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .find(|p| p["projection"] == name)
        .unwrap_or_else(|| panic!("{name} is not in {status}"))
}

pub async fn rebuild_and_status_through_a_server() {
    // One event per transaction: the rebuild takes long enough to be seen running.
    let server = Server::start_with_args(Storage::fresh().await, &["--batch-size", "1"]).await;
    let last = place_orders(&server, 25).await;
    server.wait_every_projection_at(last).await;

    let report = status(&server.base).await;
    assert_eq!(report["head"], last, "{report}");
    let summary = entry(&report, "order_summary");
    assert_eq!(summary["state"], "live", "{summary}");
    assert_eq!(summary["generation"], "g1", "{summary}");
    assert_eq!(summary["checkpoint"], last, "{summary}");
    assert_eq!(summary["lag_events"], 0, "{summary}");
    assert_eq!(summary["dead_letters"], 0, "{summary}");
    assert!(summary["rebuild"].is_null(), "{summary}");
    assert_eq!(entry(&report, "order_search")["local"], true);
    let text = projector(&["status", "--server", &server.base], &[], LIMIT).await;
    assert!(text.success, "{}", text.stderr);
    let row = text
        .stdout
        .lines()
        .find(|l| l.starts_with("order_summary "))
        .unwrap_or_else(|| panic!("no order_summary row: {}", text.stdout));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..3], ["order_summary", "live", "g1"], "{row}");

    // The rebuild runs in the server, which runs the projection, and is followed there.
    let rebuilt = projector(
        &["rebuild", "order_summary", "--server", &server.base],
        &[],
        LIMIT,
    )
    .await;
    assert!(rebuilt.success, "{}", rebuilt.stderr);
    assert!(
        rebuilt
            .stdout
            .lines()
            .any(|l| progress_line(l, "order_summary", "g2").is_some()),
        "{}",
        rebuilt.stdout
    );
    assert_eq!(
        rebuilt.stdout.lines().last(),
        Some(
            format!("rebuilt order_summary: generation g2 serves reads at position {last}")
                .as_str()
        ),
        "{}",
        rebuilt.stdout
    );
    // The command returned once the new generation served, not before.
    let list = server.get("/admin/projections").await.expect(200).json();
    let summary = list["projections"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["name"] == "order_summary"))
        .unwrap_or_else(|| panic!("no order_summary in {list}"));
    assert_eq!(summary["generation"], 2, "{summary}");
    assert!(summary["rebuild"].is_null(), "{summary}");
    let report = status(&server.base).await;
    assert_eq!(
        entry(&report, "order_summary")["generation"],
        "g2",
        "{report}"
    );
    assert_eq!(
        entry(&report, "daily_sales")["generation"],
        "g1",
        "{report}"
    );

    // What the server refuses is said, and nothing is done.
    let unknown = projector(&["rebuild", "nope", "--server", &server.base], &[], LIMIT).await;
    assert!(!unknown.success, "{}", unknown.stdout);
    assert!(unknown.stderr.contains("404"), "{}", unknown.stderr);
    let away = projector(&["status", "--server", "http://127.0.0.1:1"], &[], LIMIT).await;
    assert!(!away.success, "{}", away.stdout);
    assert!(
        away.stderr.contains("http://127.0.0.1:1/admin/projections"),
        "{}",
        away.stderr
    );
}

#[tokio::test]
async fn sqlite_rebuild_and_status_through_a_server() {
    Backend::Sqlite
        .run(rebuild_and_status_through_a_server())
        .await;
}

#[tokio::test]
async fn postgres_rebuild_and_status_through_a_server() {
    Backend::Postgres
        .run(rebuild_and_status_through_a_server())
        .await;
}

/// A key made with `projector api-key create` for `scopes`, into `file`.
async fn make_key(file: &std::path::Path, scopes: &str) -> String {
    let file = file.to_str().expect("path");
    let made = projector(
        &[
            "api-key",
            "create",
            "--principal",
            "operator",
            "--scopes",
            scopes,
            "--file",
            file,
        ],
        &[],
        LIMIT,
    )
    .await;
    assert!(made.success, "{}", made.stderr);
    made.stdout.trim().to_owned()
}

/// With authentication on, `--token` carries the caller's key: the admin scope is let in, a
/// missing key or a key without the scope is refused, saying so.
#[tokio::test]
async fn a_server_with_authentication_takes_the_token() {
    let dir = projector_testkit::temp_dir();
    let file = dir.path().join("api-keys");
    let admin = make_key(&file, "admin").await;
    let reader = make_key(&file, "read").await;
    let server = Server::start_with_args(
        Storage::fresh().await,
        &["--api-keys", file.to_str().expect("path")],
    )
    .await;
    server.ready().await;
    let base = server.base.as_str();

    let allowed = projector(
        &["status", "--json", "--server", base, "--token", &admin],
        &[],
        LIMIT,
    )
    .await;
    assert!(allowed.success, "{}", allowed.stderr);
    let report: Value = serde_json::from_str(&allowed.stdout).expect("status JSON");
    assert!(
        entry(&report, "order_summary")["state"].is_string(),
        "{report}"
    );

    let anonymous = projector(&["status", "--server", base], &[], LIMIT).await;
    assert!(!anonymous.success, "{}", anonymous.stdout);
    assert!(anonymous.stderr.contains("401"), "{}", anonymous.stderr);
    let refused = projector(
        &[
            "rebuild",
            "order_summary",
            "--server",
            base,
            "--token",
            &reader,
        ],
        &[],
        LIMIT,
    )
    .await;
    assert!(!refused.success, "{}", refused.stdout);
    assert!(refused.stderr.contains("403"), "{}", refused.stderr);
    // Nothing was rebuilt.
    let report: Value = serde_json::from_str(
        &projector(
            &["status", "--json", "--server", base, "--token", &admin],
            &[],
            LIMIT,
        )
        .await
        .stdout,
    )
    .expect("status JSON");
    assert_eq!(
        entry(&report, "order_summary")["generation"],
        "g1",
        "{report}"
    );
    assert!(
        entry(&report, "order_summary")["rebuild"].is_null(),
        "{report}"
    );
}
