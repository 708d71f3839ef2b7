//! `projector status` and `projector rebuild` on the storage of a real server: status read
//! beside it; a rebuild refused at once while the server runs the projection, naming the
//! admin route to use instead; and a rebuild that swaps a new generation in once it has stopped.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::{Backend, Server, cache, projector};

/// Longer than any of these commands needs; a command still running then is a hang.
const LIMIT: Duration = Duration::from_secs(60);
/// How long a refused rebuild may take: it must not wait for the lease.
const PROMPTLY: Duration = Duration::from_secs(15);

/// `projector status --json`, parsed.
async fn status(storage: &[std::ffi::OsString]) -> Value {
    let output = projector(&["status", "--json"], storage, LIMIT).await;
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

pub async fn status_and_rebuild_from_the_command_line() {
    let mut server = Server::start().await;
    let storage = server.storage_args();
    let mut last = 0;
    for i in 0..12 {
        last = server
            .place(&format!("o{i}"), "c", &[("a", 1 + i, 1.5)])
            .await;
    }
    let before = server.order("o5", last).await;
    server
        .get(&format!("/api/orders/search?min_position={last}"))
        .await
        .expect(200);
    server.ready().await;

    // Status beside the running server.
    let report = status(&storage).await;
    assert_eq!(report["head"], last);
    let summary = entry(&report, "order_summary");
    assert_eq!(summary["generation"], "g1");
    assert_eq!(
        summary["version"], 4,
        "with the position of each customer's region"
    );
    assert_eq!(summary["checkpoint"], last);
    assert_eq!(summary["lag_events"], 0);
    assert_eq!(summary["dead_letters"], 0);
    assert!(summary["last_event_at"].is_string());
    assert!(summary["rebuild"].is_null());
    match Backend::current() {
        Backend::Sqlite => assert!(summary.get("lease").is_none(), "{summary}"),
        Backend::Postgres => {
            assert_eq!(summary["lease"]["held"], true, "{summary}");
            let holder = summary["lease"]["holder"]["application_name"]
                .as_str()
                .expect("the holder's label");
            assert!(
                holder.starts_with(&format!("projector serve {}", server.base)),
                "{holder} names the server's address"
            );
        }
    }
    // The search index in this server's data directory: its own copy, without a lease.
    let search = entry(&report, "order_search");
    assert_eq!(search["local"], true, "{search}");
    assert_eq!(search["checkpoint"], last, "{search}");
    assert!(search.get("lease").is_none(), "{search}");
    assert_eq!(summary["local"], false);
    // With Redis, the "my orders" cache is a read model like the others.
    if cache().is_some() {
        let cached = entry(&report, "customer_orders_cache");
        assert_eq!(cached["generation"], "g1", "{cached}");
        assert_eq!(cached["checkpoint"], last, "{cached}");
        assert_eq!(cached["lag_events"], 0, "{cached}");
        assert_eq!(cached["local"], false, "{cached}");
    }
    let text = projector(&["status"], &storage, LIMIT).await;
    assert!(text.success, "{}", text.stderr);
    assert!(text.stdout.contains("order_summary"), "{}", text.stdout);
    if Backend::current() == Backend::Postgres {
        assert!(
            text.stdout.contains("held by 'projector serve"),
            "{}",
            text.stdout
        );
    }

    // A rebuild while the server runs the projection is refused at once, pointing at the
    // server's admin route.
    let refused = projector(&["rebuild", "order_summary"], &storage, PROMPTLY).await;
    assert!(!refused.success, "{}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("POST /admin/projections/order_summary/rebuild"),
        "{}",
        refused.stderr
    );
    if Backend::current() == Backend::Postgres {
        assert!(
            refused.stderr.contains(&server.base),
            "the error names the server holding the lease: {}",
            refused.stderr
        );
    }

    // The search index is the server's own, on either backend: the same refusal.
    let refused = projector(&["rebuild", "order_search"], &storage, PROMPTLY).await;
    assert!(!refused.success, "{}", refused.stdout);
    assert!(
        refused
            .stderr
            .contains("POST /admin/projections/order_search/rebuild"),
        "{}",
        refused.stderr
    );

    // Once the server has stopped, the command rebuilds and swaps the new generation in.
    let kept = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");
    let rebuilt = projector(&["rebuild", "order_summary"], &storage, LIMIT).await;
    assert!(rebuilt.success, "{}", rebuilt.stderr);
    assert!(
        rebuilt.stdout.contains(&format!(
            "rebuilt order_summary: generation g2 serves reads at position {last}"
        )),
        "{}",
        rebuilt.stdout
    );
    let rebuilt = projector(&["rebuild", "order_search"], &storage, LIMIT).await;
    assert!(rebuilt.success, "{}", rebuilt.stderr);
    assert!(
        rebuilt.stdout.contains(&format!(
            "rebuilt order_search: generation g2 serves reads at position {last}"
        )),
        "{}",
        rebuilt.stdout
    );
    if cache().is_some() {
        let rebuilt = projector(&["rebuild", "customer_orders_cache"], &storage, LIMIT).await;
        assert!(rebuilt.success, "{}", rebuilt.stderr);
        assert!(
            rebuilt.stdout.contains(&format!(
                "rebuilt customer_orders_cache: generation g2 serves reads at position {last}"
            )),
            "{}",
            rebuilt.stdout
        );
    }
    let report = status(&storage).await;
    if cache().is_some() {
        let cached = entry(&report, "customer_orders_cache");
        assert_eq!(cached["generation"], "g2", "{cached}");
        assert_eq!(cached["checkpoint"], last, "{cached}");
    }
    assert_eq!(entry(&report, "order_search")["generation"], "g2");
    let summary = entry(&report, "order_summary");
    assert_eq!(summary["generation"], "g2");
    assert_eq!(summary["checkpoint"], last);
    assert_eq!(entry(&report, "daily_sales")["generation"], "g1");
    if Backend::current() == Backend::Postgres {
        assert_eq!(summary["lease"]["held"], false, "{summary}");
    }

    let server = Server::start_with(kept).await;
    assert_eq!(server.order("o5", last).await, before);
    if cache().is_some() {
        // The rebuilt cache answers "my orders" with every order.
        let mine = server
            .get(&format!(
                "/api/customers/c/orders?min_position={last}&limit=100"
            ))
            .await
            .expect(200);
        assert_eq!(mine.header("read-model"), Some("customer_orders_cache"));
        assert_eq!(mine.json()["orders"].as_array().map(Vec::len), Some(12));
    }
}

/// Two servers on one PostgreSQL database: the standby refuses admin actions on projections
/// the other runs (rebuild, resume, dead letters' retries and skips), saying so; the holder
/// takes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_refuses_admin_actions_and_says_who_to_ask() {
    let Some(database) = projector_testkit::postgres::TestDatabase::create().await else {
        return;
    };
    let (holder, standby) = Server::holder_and_standby(database.url(), &[]).await;

    let list = standby.get("/admin/projections").await.expect(200).json();
    for projection in list["projections"].as_array().expect("projections") {
        // A local read model runs in every server; the shared ones in the holder only.
        match projection["local"].as_bool().expect("local") {
            true => assert_ne!(projection["state"], "standby", "{projection}"),
            false => assert_eq!(projection["state"], "standby", "{projection}"),
        }
    }
    // Its own search index it rebuilds itself.
    standby
        .post_empty("/admin/projections/order_search/rebuild")
        .await
        .expect(202);
    for action in [
        "rebuild",
        "resume",
        "dead-letters/1/retry",
        "dead-letters/1/skip",
        "dead-letters/retry",
    ] {
        let refused = standby
            .post_empty(&format!("/admin/projections/order_summary/{action}"))
            .await
            .expect(409);
        let problem = refused.json();
        assert_eq!(
            problem["type"], "urn:projector:problem:standby",
            "{problem}"
        );
        let detail = problem["detail"].as_str().expect("detail");
        assert!(
            detail.contains("stands by for projection order_summary")
                && detail.contains("admin API of the server holding the lease"),
            "{detail}"
        );
    }

    let started = holder
        .post_empty("/admin/projections/order_summary/rebuild")
        .await
        .expect(202);
    assert_eq!(started.json()["generation"], 2);
}
