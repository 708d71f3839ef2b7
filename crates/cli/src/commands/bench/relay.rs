//! The relay workload: the `orders-v1` events loaded into embedded SQLite, then published to a
//! fresh JetStream stream by the relay (each event once, in order, with its acknowledgement),
//! and with `--baseline` the same CloudEvents published by a plain `async-nats` loop into
//! another fresh stream (batches of acknowledgements awaited together, as the relay does, with
//! no expected sequence, message id or reading of the feed). Both streams are deleted after.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_nats::jetstream::message::PublishMessage;
use projector_core::{EventFeed, GlobalPosition, RecordedEvent};
use projector_nats::{EventStream, Relay, RelayOptions, StreamSettings, cloudevent};
use projector_sqlite::{Durability, SqliteEventStore, SqliteEventStoreOptions};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::report::median;
use super::{bar, phases};
use crate::opts::BenchArgs;

/// Events published per round, by the relay and the plain loop alike.
const BATCH: usize = 500;

#[derive(Debug, Serialize)]
struct Report {
    workload: &'static str,
    events: u64,
    runs: usize,
    relay_events_per_s: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    plain_publish_events_per_s: Option<u64>,
    check: &'static str,
}

pub(crate) async fn run(args: &BenchArgs, url: &str) -> anyhow::Result<()> {
    let mut relayed = Vec::new();
    let mut plain = Vec::new();
    for run in 1..=args.runs.max(1) {
        let (relay, baseline) = run_once(args, url, run).await?;
        if !args.json && args.runs > 1 {
            eprintln!("run {run}: relay {relay:.0} events/s");
        }
        relayed.push(relay);
        plain.extend(baseline);
    }
    let report = Report {
        workload: "orders-v1-relay",
        events: args.orders * 4,
        runs: relayed.len(),
        relay_events_per_s: median(relayed).round() as u64,
        plain_publish_events_per_s: (!plain.is_empty()).then(|| median(plain).round() as u64),
        check: "ok",
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "workload orders-v1-relay on NATS JetStream · {} events · median of {} run(s)\n",
            report.events, report.runs
        );
        println!(
            "{:<34} {:>14} {:>20} {:>8}",
            "phase", "events/s", "plain async-nats", "ratio"
        );
        let (limit, ratio) = match report.plain_publish_events_per_s {
            Some(p) if p > 0 => (
                p.to_string(),
                format!("{:.2}", report.relay_events_per_s as f64 / p as f64),
            ),
            _ => ("-".into(), "-".into()),
        };
        println!(
            "{:<34} {:>14} {:>20} {:>8}",
            "relay: publish and acknowledge", report.relay_events_per_s, limit, ratio
        );
    }
    Ok(())
}

/// A stream of its own for one run's publisher.
fn settings(url: &str, run: usize, who: &str) -> StreamSettings {
    let id = uuid::Uuid::now_v7().simple();
    StreamSettings::new(url)
        .with_stream(format!("BENCH_{who}_{run}_{id}"))
        .with_prefix(format!("bench.{who}.{id}"))
}

async fn run_once(args: &BenchArgs, url: &str, run: usize) -> anyhow::Result<(f64, Option<f64>)> {
    let dir = match &args.dir {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .context("creating a temporary directory")?;
    let options = SqliteEventStoreOptions {
        durability: Durability::Normal,
        ..SqliteEventStoreOptions::default()
    };
    let store = Arc::new(SqliteEventStore::open(
        dir.path().join("events.db"),
        options,
    )?);
    let progress = bar(args.json, args.orders, &format!("run {run} · load"));
    phases::append(store.clone(), args.orders, 16, &progress).await?;
    progress.finish_and_clear();
    let head = store.head().await?;

    let stream = EventStream::connect(settings(url, run, "relay")).await?;
    let spinner = bar(args.json, 0, &format!("run {run} · relay"));
    let relay = Relay::new(
        store.clone(),
        stream.clone(),
        RelayOptions {
            batch_size: BATCH,
            ..RelayOptions::default()
        },
    );
    let stop = CancellationToken::new();
    let started = Instant::now();
    let mut status = relay.status();
    let waiting = async {
        // The status is let go of at once: a held borrow would block the relay's next update.
        let reached = tokio::time::timeout(Duration::from_secs(3600), async {
            status.wait_for(|s| s.published >= head).await.map(|_| ())
        })
        .await;
        stop.cancel();
        reached
    };
    let ((), reached) = tokio::join!(relay.run(stop.clone()), waiting);
    let seconds = started.elapsed().as_secs_f64();
    spinner.finish_and_clear();
    reached
        .context("the relay did not finish")?
        .context("the relay's status")?;
    let tail = stream.tail().await?;
    if tail.position != head {
        bail!(
            "check failed: the stream ends at {}, the feed at {head}",
            tail.position
        );
    }
    remove(&stream).await;
    let relayed = head.get() as f64 / seconds;

    let baseline = if args.baseline {
        let events = store.read_all(GlobalPosition::ZERO, usize::MAX).await?;
        let stream = EventStream::connect(settings(url, run, "plain")).await?;
        let spinner = bar(args.json, 0, &format!("run {run} · plain async-nats loop"));
        let seconds = plain_loop(&stream, &events).await?;
        spinner.finish_and_clear();
        remove(&stream).await;
        Some(events.len() as f64 / seconds)
    } else {
        None
    };
    store.close().await;
    Ok((relayed, baseline))
}

/// Publishes `events` as CloudEvents with `async-nats` alone, a batch of acknowledgements
/// awaited at a time; the seconds taken.
async fn plain_loop(stream: &EventStream, events: &[RecordedEvent]) -> anyhow::Result<f64> {
    let jetstream = stream.jetstream();
    let started = Instant::now();
    for batch in events.chunks(BATCH) {
        let mut acks = Vec::with_capacity(batch.len());
        for event in batch {
            let message = PublishMessage::build().payload(cloudevent::encode(event)?.into());
            acks.push(
                jetstream
                    .send_publish(stream.subject(event), message)
                    .await?,
            );
        }
        for ack in acks {
            ack.await?;
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

async fn remove(stream: &EventStream) {
    let _ = stream
        .jetstream()
        .delete_stream(&stream.settings().stream)
        .await;
}
