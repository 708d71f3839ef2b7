//! `projector status`: what each projection's serving generation has applied, read beside a
//! running process without disturbing it.

use anyhow::Context;
use projector_core::{EventReader, SqlReadStore};
use projector_sqlite::{SqliteEventStore, SqliteReadStore, SqliteReadStoreOptions};
use serde::Serialize;

use crate::data::DataDir;
use crate::opts::StatusArgs;

#[derive(Debug, Serialize)]
struct Line {
    projection: String,
    generation: String,
    checkpoint: u64,
    head: u64,
    lag_events: u64,
    last_event_at: Option<String>,
    dead_letters: usize,
}

pub(crate) async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let data = DataDir::new(&args.data.data);
    let events = SqliteEventStore::open_read_only(data.events_path())
        .with_context(|| format!("no event store in {}", data.root().display()))?;
    let head = events.head().await?;
    let reads = SqliteReadStore::open(
        data.read_dir(),
        SqliteReadStoreOptions {
            read_only: true,
            ..SqliteReadStoreOptions::default()
        },
    )
    .context("opening the read models")?;
    let mut lines = Vec::new();
    for (projection, generation) in reads.serving_generations() {
        let checkpoint = reads.checkpoint(&projection, generation).await?;
        let dead_letters = reads.dead_letters(&projection).await?.len();
        lines.push(Line {
            projection: projection.to_string(),
            generation: generation.to_string(),
            checkpoint: checkpoint.position.get(),
            head: head.get(),
            lag_events: checkpoint.position.distance_to(head),
            last_event_at: checkpoint.last_event_at.map(|t| t.to_rfc3339()),
            dead_letters,
        });
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string(
                &serde_json::json!({ "head": head.get(), "projections": lines })
            )?
        );
        return Ok(());
    }
    println!("head {head}");
    println!(
        "{:<20} {:>10} {:>12} {:>10} {:>12}",
        "projection", "generation", "checkpoint", "lag", "dead letters"
    );
    for line in lines {
        println!(
            "{:<20} {:>10} {:>12} {:>10} {:>12}",
            line.projection, line.generation, line.checkpoint, line.lag_events, line.dead_letters
        );
    }
    Ok(())
}
