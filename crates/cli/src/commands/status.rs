//! `projector status`: what each projection's serving generation has applied, read beside
//! running processes without disturbing them. On PostgreSQL it also names the process holding
//! each projection's lease.

use anyhow::Context;
use projector_core::{EventReader, Generation, GlobalPosition, ProjectionName, SqlReadStore};
use projector_postgres::{
    PgEventStore, PgEventStoreOptions, PgLeases, PgReadStore, PgReadStoreOptions,
};
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
    /// PostgreSQL only: the session holding the projection's lease, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    held_by: Option<String>,
}

pub(crate) async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let (head, lines) = match &args.storage.database_url {
        Some(url) => postgres(url, !args.storage.no_migrate).await?,
        None => sqlite(&DataDir::new(&args.storage.data.data)).await?,
    };
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
        "{:<20} {:>10} {:>12} {:>10} {:>12}  held by",
        "projection", "generation", "checkpoint", "lag", "dead letters"
    );
    for line in lines {
        println!(
            "{:<20} {:>10} {:>12} {:>10} {:>12}  {}",
            line.projection,
            line.generation,
            line.checkpoint,
            line.lag_events,
            line.dead_letters,
            line.held_by.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}

async fn sqlite(data: &DataDir) -> anyhow::Result<(GlobalPosition, Vec<Line>)> {
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
        lines.push(line(&reads, head, projection, generation, None).await?);
    }
    Ok((head, lines))
}

async fn postgres(url: &str, run_migrations: bool) -> anyhow::Result<(GlobalPosition, Vec<Line>)> {
    let events = PgEventStore::connect(
        url,
        PgEventStoreOptions {
            run_migrations,
            ..PgEventStoreOptions::default()
        },
    )
    .await
    .context("connecting to PostgreSQL")?;
    let head = events.head().await?;
    events.close().await;
    let reads = PgReadStore::connect(
        url,
        PgReadStoreOptions {
            run_migrations,
            ..PgReadStoreOptions::default()
        },
    )
    .await
    .context("connecting the read store")?;
    let leases = PgLeases::new(url).context("reading projection leases")?;
    let mut lines = Vec::new();
    for (projection, generation) in reads.serving_generations().await? {
        let held_by = leases
            .holder(&projection)
            .await
            .context("reading projection leases")?
            .map(|holder| holder.to_string());
        lines.push(line(&reads, head, projection, generation, held_by).await?);
    }
    Ok((head, lines))
}

async fn line(
    reads: &dyn SqlReadStore,
    head: GlobalPosition,
    projection: ProjectionName,
    generation: Generation,
    held_by: Option<String>,
) -> anyhow::Result<Line> {
    let checkpoint = reads.checkpoint(&projection, generation).await?;
    let dead_letters = reads.dead_letters(&projection).await?.len();
    Ok(Line {
        projection: projection.to_string(),
        generation: generation.to_string(),
        checkpoint: checkpoint.position.get(),
        head: head.get(),
        lag_events: checkpoint.position.distance_to(head),
        last_event_at: checkpoint.last_event_at.map(|t| t.to_rfc3339()),
        dead_letters,
        held_by,
    })
}
