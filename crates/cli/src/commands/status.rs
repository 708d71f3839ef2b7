//! `projector status`: what each projection's serving generation has applied, how far a rebuild
//! has got, and on PostgreSQL which process holds the projection's lease; read beside running
//! processes without disturbing them; or, with `--server`, as a running server sees them
//! (`remote`). `--watch` shows it again and again (`watch`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::Context;
use projector_core::{
    EventFeed, GlobalPosition, ProjectionControls, ProjectionName, ProjectionTarget,
};
use projector_nats::EventStream;
use projector_postgres::LeaseHolder;
use projector_search::SearchStore;
use projector_sqlite::{SqliteEventStore, SqliteReadStore, SqliteReadStoreOptions};
use serde::Serialize;

use crate::admin_client::AdminClient;
use crate::data::DataDir;
use crate::opts::{CacheArgs, DataArgs, StatusArgs};
use crate::read_models;
use crate::redact::redact;
use crate::relaying::open_feed;
use crate::stores::{self, EventAccess, SearchAccess, Stores};

mod remote;
mod watch;

/// Everything `status` prints.
#[derive(Debug, Serialize)]
struct Report {
    /// Where the data is.
    storage: String,
    head: u64,
    projections: Vec<Line>,
    /// With `--nats-url`: the relay's stream against the event store's head.
    #[serde(skip_serializing_if = "Option::is_none")]
    relay: Option<RelayLine>,
}

/// What the relay has published.
#[derive(Debug, Serialize)]
struct RelayLine {
    stream: String,
    /// The position of the last event the stream holds.
    published: u64,
    /// Events in the event store not yet in the stream.
    lag_events: u64,
}

/// One projection.
#[derive(Debug, Serialize)]
struct Line {
    projection: String,
    /// What the projection's worker is doing (`live`, `catching_up`, `stopped`...): known to
    /// a server (`--server`), not to the stores.
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    /// The serving generation (`g3`); `None` before the projection first ran.
    generation: Option<String>,
    /// The projection version that built it.
    version: Option<u32>,
    checkpoint: u64,
    head: u64,
    lag_events: u64,
    /// The checkpoint is past the head of the event store (which lost its last commits or was
    /// restored from an older copy): the read model must be rebuilt.
    ahead_of_head: bool,
    last_event_at: Option<String>,
    dead_letters: usize,
    /// A rebuild filling a generation beside the serving one (or left unfinished by a process
    /// that stopped; the next one to run the projection carries it on).
    rebuild: Option<RebuildLine>,
    /// Whether each process keeps its own copy of this read model (a search index): the
    /// line is the copy in this data directory, and no lease is taken for it.
    local: bool,
    /// PostgreSQL only, for read models shared by every process: the lease, and who holds it.
    #[serde(skip_serializing_if = "Option::is_none")]
    lease: Option<LeaseLine>,
    /// Whether an operator paused it: it applies nothing until resumed.
    paused: bool,
    /// When and by whom, while paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    paused_since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    paused_by: Option<String>,
}

#[derive(Debug, Serialize)]
struct RebuildLine {
    generation: String,
    checkpoint: u64,
    remaining_events: u64,
}

#[derive(Debug, Serialize)]
struct LeaseLine {
    /// Whether a live process holds the lease (and runs the projection).
    held: bool,
    holder: Option<HolderLine>,
    /// The same, for a person.
    #[serde(skip)]
    described: String,
}

#[derive(Debug, Serialize)]
struct HolderLine {
    /// The holder's label, e.g. `projector serve http://10.0.0.5:8080 pid 4242`.
    application_name: Option<String>,
    client_addr: Option<String>,
    backend_pid: i32,
    since: Option<String>,
}

impl From<&LeaseHolder> for HolderLine {
    fn from(holder: &LeaseHolder) -> Self {
        Self {
            application_name: holder.application_name.clone(),
            client_addr: holder.client_addr.clone(),
            backend_pid: holder.backend_pid,
            since: holder.since.map(|t| t.to_rfc3339()),
        }
    }
}

pub(crate) async fn run(args: StatusArgs) -> anyhow::Result<()> {
    let server = AdminClient::from_args(&args.server)?;
    if args.watch {
        return watch::run(&args, server.as_ref()).await;
    }
    let report = match &server {
        Some(server) => remote::report(server).await?,
        None => local(&args).await?,
    };
    print!("{}", render(&report, args.json)?);
    Ok(())
}

/// The report printed: JSON on one line, or the table.
fn render(report: &Report, json: bool) -> anyhow::Result<String> {
    Ok(match json {
        true => format!("{}\n", serde_json::to_string(report)?),
        false => text(report),
    })
}

/// The report of the stores `args` name, read here.
async fn local(args: &StatusArgs) -> anyhow::Result<Report> {
    let names = read_models::names();
    // A read node's head is the broker's feed, not the empty event store in its directory.
    let feed = match &args.from {
        Some(url) => Some(open_feed(args.stream.settings(url)).await?),
        None => None,
    };
    let mut report = match &args.storage.database_url {
        None => sqlite(&args.storage.data, &args.storage.cache, feed).await?,
        Some(_) => {
            let stores = Stores::open(
                &args.storage,
                "projector status",
                projector_postgres::DEFAULT_LEASE_TIMEOUT,
                EventAccess::from_broker(args.from.as_ref()),
                SearchAccess::Report,
            )
            .await?;
            let holders = stores.lease_holders(&names).await?;
            let events: Arc<dyn EventFeed> = match feed {
                Some(feed) => feed,
                None => stores.events()?,
            };
            let report = report(
                stores.described.clone(),
                events.as_ref(),
                &read_models::targets(&stores, &[])?,
                holders.as_ref(),
            )
            .await;
            let report = match report {
                Ok(mut report) => mark_paused(&mut report, stores.controls.as_ref())
                    .await
                    .map(|()| report),
                Err(error) => Err(error),
            };
            stores.close().await;
            report?
        }
    };
    if let Some(url) = &args.nats_url {
        let settings = args.stream.settings(url);
        let stream = EventStream::connect(settings)
            .await
            .with_context(|| format!("opening the event stream on {}", redact(url)))?;
        let published = stream
            .tail()
            .await
            .context("reading the stream's last event")?;
        report.relay = Some(RelayLine {
            stream: args.stream.nats_stream.clone(),
            published: published.position.get(),
            lag_events: published
                .position
                .distance_to(GlobalPosition::new(report.head)),
        });
    }
    Ok(report)
}

/// The report of a SQLite data directory, opened read-only beside the process that writes it.
async fn sqlite(
    data: &DataArgs,
    cache: &CacheArgs,
    feed: Option<Arc<dyn EventFeed>>,
) -> anyhow::Result<Report> {
    let data = DataDir::new(&data.data);
    let events: Arc<dyn EventFeed> = match feed {
        Some(feed) => feed,
        None => Arc::new(
            SqliteEventStore::open_read_only(data.events_path())
                .with_context(|| format!("no event store in {}", data.root().display()))?,
        ),
    };
    let reads = SqliteReadStore::open(
        data.read_dir(),
        SqliteReadStoreOptions {
            read_only: true,
            ..SqliteReadStoreOptions::default()
        },
    )
    .context("opening the read models")?;
    let storage = format!("SQLite in {}", data.root().display());
    let cache = stores::cache(cache)?;
    let search = SearchStore::open_read_only(data.search_dir());
    let targets = read_models::over(Arc::new(reads), cache.as_ref(), Some(&search));
    let mut report = report(storage, events.as_ref(), &targets, None).await?;
    mark_paused(&mut report, &data.open_controls()?).await?;
    Ok(report)
}

/// Marks the projections an operator paused, as the projection controls say.
async fn mark_paused(report: &mut Report, controls: &dyn ProjectionControls) -> anyhow::Result<()> {
    for line in &mut report.projections {
        let name = ProjectionName::parse(line.projection.clone())?;
        if let Some(pause) = controls
            .paused(&name)
            .await
            .context("reading the projection controls")?
        {
            line.paused = true;
            line.paused_since = Some(pause.since.to_rfc3339());
            line.paused_by = Some(pause.by);
        }
    }
    Ok(())
}

async fn report(
    storage: String,
    events: &dyn EventFeed,
    targets: &[Arc<dyn ProjectionTarget>],
    holders: Option<&BTreeMap<ProjectionName, LeaseHolder>>,
) -> anyhow::Result<Report> {
    let head = events
        .head()
        .await
        .context("reading the head of the feed")?;
    let mut lines = Vec::new();
    for target in targets {
        let name = target.name();
        let mut line = line(target.as_ref(), head)
            .await
            .with_context(|| format!("reading the read model of {name}"))?;
        line.lease = holders.filter(|_| !line.local).map(|holders| {
            let holder = holders.get(&name);
            LeaseLine {
                held: holder.is_some(),
                holder: holder.map(HolderLine::from),
                described: holder.map_or_else(
                    || "free: no process runs it".to_owned(),
                    |h| format!("held by {h}"),
                ),
            }
        });
        lines.push(line);
    }
    // An inline projection moves its checkpoint in the append's own commit, so a checkpoint
    // read after the head may have passed it: only one still past a head read afterwards is.
    if lines.iter().any(|l| l.ahead_of_head) {
        let after = events
            .head()
            .await
            .context("reading the head of the feed")?;
        for line in lines.iter_mut().filter(|l| l.ahead_of_head) {
            line.ahead_of_head = line.checkpoint > after.get();
        }
    }
    Ok(Report {
        storage,
        head: head.get(),
        projections: lines,
        relay: None,
    })
}

async fn line(target: &dyn ProjectionTarget, head: GlobalPosition) -> anyhow::Result<Line> {
    let serving = target.serving().await?;
    let (checkpoint, dead_letters) = match serving {
        Some((generation, _)) => (
            target.checkpoint(generation).await?,
            target.dead_letters().await?.len(),
        ),
        None => (Default::default(), 0),
    };
    let rebuild = match target.building().await?.last() {
        Some(building) => {
            let reached = target.checkpoint(building.generation).await?.position;
            Some(RebuildLine {
                generation: building.generation.to_string(),
                checkpoint: reached.get(),
                remaining_events: reached.distance_to(head),
            })
        }
        None => None,
    };
    Ok(Line {
        projection: target.name().to_string(),
        state: None,
        generation: serving.map(|(generation, _)| generation.to_string()),
        version: serving.map(|(_, version)| version),
        checkpoint: checkpoint.position.get(),
        head: head.get(),
        lag_events: checkpoint.position.distance_to(head),
        ahead_of_head: checkpoint.position > head,
        last_event_at: checkpoint.last_event_at.map(|t| t.to_rfc3339()),
        dead_letters,
        rebuild,
        local: target.local(),
        lease: None,
        paused: false,
        paused_since: None,
        paused_by: None,
    })
}

fn text(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a `String` cannot fail.
    let _ = write_text(&mut out, report);
    out
}

fn write_text(out: &mut String, report: &Report) -> std::fmt::Result {
    writeln!(out, "{}, head {}", report.storage, report.head)?;
    if let Some(relay) = &report.relay {
        writeln!(
            out,
            "relay to NATS stream {}: published {}, {} events behind",
            relay.stream, relay.published, relay.lag_events
        )?;
    }
    // A server says what each worker is doing; the stores alone do not.
    let states = report.projections.iter().any(|l| l.state.is_some());
    let state = |s: &str| match states {
        true => format!(" {s:<12}"),
        false => String::new(),
    };
    writeln!(
        out,
        "{:<20}{} {:>10} {:>12} {:>10} {:>13}  {:<20}  last event",
        "projection",
        state("state"),
        "generation",
        "checkpoint",
        "lag",
        "dead letters",
        "rebuild"
    )?;
    for line in &report.projections {
        let rebuild = line.rebuild.as_ref().map_or_else(
            || "-".to_owned(),
            |r| format!("{} at {}", r.generation, r.checkpoint),
        );
        writeln!(
            out,
            "{:<20}{} {:>10} {:>12} {:>10} {:>13}  {:<20}  {}",
            line.projection,
            state(line.state.as_deref().unwrap_or("-")),
            line.generation.as_deref().unwrap_or("none"),
            line.checkpoint,
            line.lag_events,
            line.dead_letters,
            rebuild,
            line.last_event_at.as_deref().unwrap_or("-"),
        )?;
    }
    for line in report.projections.iter().filter(|l| l.ahead_of_head) {
        writeln!(
            out,
            "{}: its checkpoint {} is past the head of the event store ({}); the event store lost \
             its last commits or was restored from an older copy. Rebuild it: projector rebuild {}",
            line.projection, line.checkpoint, line.head, line.projection
        )?;
    }
    for line in report.projections.iter().filter(|l| l.paused) {
        println!(
            "{}: paused since {} by {}; it applies nothing until resumed: projector resume {}",
            line.projection,
            line.paused_since.as_deref().unwrap_or("-"),
            line.paused_by.as_deref().unwrap_or("-"),
            line.projection
        );
    }
    if report.projections.iter().any(|l| l.lease.is_some()) {
        writeln!(out)?;
        writeln!(out, "leases:")?;
        for line in &report.projections {
            match &line.lease {
                Some(lease) => writeln!(out, "{:<20} {}", line.projection, lease.described)?,
                None if line.local => writeln!(
                    out,
                    "{:<20} none: each process keeps its own (shown: this data directory's)",
                    line.projection
                )?,
                None => {}
            }
        }
    }
    Ok(())
}
