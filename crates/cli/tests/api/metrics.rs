//! The per-projection series of `/metrics`, scraped from the real server after writes and a
//! rebuild: counts that match what the projection handled, a histogram of batch apply times,
//! the worker's state, and rebuild progress back to 0 once swapped in.

use projector_testkit::wait::eventually;

use crate::helpers::Server;

/// The value of the series `series` (name and labels, exactly) in a scrape.
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// Scrapes until `wanted` holds of the scrape, and returns it.
async fn scrape_until(server: &Server, what: &str, wanted: impl Fn(&str) -> bool) -> String {
    eventually(&format!("a scrape showing {what}"), || async {
        let metrics = server.get("/metrics").await.expect(200).text;
        if wanted(&metrics) {
            Ok(metrics)
        } else {
            Err(metrics)
        }
    })
    .await
}

/// Waits until `GET /admin/projections` shows `name` serving `generation` with no rebuild.
async fn wait_swapped_in(server: &Server, name: &str, generation: u64) {
    eventually(&format!("{name} to swap {generation} in"), || async {
        let list = server.get("/admin/projections").await.expect(200).json();
        let entry = list["projections"]
            .as_array()
            .and_then(|all| all.iter().find(|p| p["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} is not listed: {list}"));
        if entry["generation"] == generation && entry["rebuild"].is_null() {
            Ok(())
        } else {
            Err(entry)
        }
    })
    .await;
}

#[tokio::test]
async fn projection_series_follow_writes_and_a_rebuild() {
    let server = Server::start().await;
    let mut last = 0;
    for i in 0..4 {
        last = server
            .place(&format!("o{i}"), "c1", &[("a", 1, 1.0), ("b", 2, 2.5)])
            .await;
    }
    // Only orders were written: every event of the store is one order_summary handles.
    server.wait_every_projection_at(last).await;
    let series = |name: &str| format!("{name}{{projection=\"order_summary\"}}");
    let applied = series("projector_projection_events_applied_total");
    let before = scrape_until(&server, "every event applied", |m| {
        value(m, &applied) == Some(last as f64)
    })
    .await;
    // The issues projection takes none of them, yet looked at each: its feed hands it only
    // the last event of each read, and counts the rest.
    let issues = |name: &str| format!("{name}{{projection=\"issues\"}}");
    let read = issues("projector_projection_events_read_total");
    let ignored = scrape_until(&server, "every event read by issues", |m| {
        value(m, &read).is_some_and(|r| r >= last as f64)
    })
    .await;
    assert_eq!(
        value(
            &ignored,
            &issues("projector_projection_events_applied_total")
        ),
        Some(0.0),
        "{ignored}"
    );
    let batches =
        value(&before, &series("projector_projection_batches_total")).expect("a batch counter");
    assert!(batches >= 1.0, "{before}");
    let timed = value(
        &before,
        &series("projector_projection_batch_apply_seconds_count"),
    )
    .expect("a histogram of batch apply times");
    assert_eq!(timed, batches, "each committed batch is timed once");
    assert!(
        value(
            &before,
            &series("projector_projection_batch_apply_seconds_sum")
        )
        .is_some_and(|s| s > 0.0),
        "{before}"
    );
    assert!(
        before.contains(
            "projector_projection_batch_apply_seconds_bucket{projection=\"order_summary\",le=\"0.001\"}"
        ),
        "the histogram has the seconds buckets:\n{before}"
    );

    server
        .post_empty("/admin/projections/order_summary/rebuild")
        .await
        .expect(202);
    wait_swapped_in(&server, "order_summary", 2).await;
    // The rebuild applied every event again, into the new generation.
    let after = scrape_until(
        &server,
        "the rebuild's events applied and the worker live",
        |m| {
            value(m, &applied) == Some(2.0 * last as f64)
                && value(
                    m,
                    "projector_projection_state{projection=\"order_summary\",state=\"live\"}",
                ) == Some(1.0)
        },
    )
    .await;
    assert!(
        value(&after, &series("projector_projection_batches_total")).is_some_and(|b| b > batches),
        "{after}"
    );
    for (name, expected) in [
        ("projector_projection_rebuild_checkpoint", 0.0),
        ("projector_projection_rebuild_remaining_events", 0.0),
        ("projector_projection_lag_events", 0.0),
        ("projector_projection_lag_seconds", 0.0),
        ("projector_projection_dead_letters", 0.0),
        ("projector_projection_checkpoint", last as f64),
        ("projector_projection_active", 1.0),
    ] {
        assert_eq!(
            value(&after, &series(name)),
            Some(expected),
            "{name}:\n{after}"
        );
    }
    // Only the current state is 1: a state left is 0, not a second 1.
    let current: Vec<&str> = after
        .lines()
        .filter(|l| l.starts_with("projector_projection_state{projection=\"order_summary\","))
        .filter(|l| l.ends_with(" 1"))
        .collect();
    assert_eq!(current.len(), 1, "{current:?}");
    assert!(
        value(&after, &series("projector_projection_events_read_total"))
            .is_some_and(|r| r >= 2.0 * last as f64),
        "{after}"
    );
}
