//! The command line, defined with clap. Every option can also come from the environment.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use projector_core::{GlobalPosition, StartFrom};
use projector_postgres::DEFAULT_LEASE_TIMEOUT;

mod bench;
mod broker;
mod dead_letters;
mod serve;

pub use bench::BenchArgs;
pub use broker::{RelayArgs, StreamArgs};
pub use dead_letters::{
    DeadLetterAction, DeadLetterArgs, DeadLetterListArgs, DeadLetterRetryArgs, DeadLettersArgs,
    LetterSource,
};
pub use serve::{AuthArgs, EdgeArgs, PublicRoute, ServeArgs};

/// projector: a CQRS and event-sourcing engine whose centre is read projections.
#[derive(Debug, Parser)]
#[command(name = "projector", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// How to log.
    #[command(flatten)]
    pub log: LogOptions,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (writes, reads, OpenAPI, metrics) and run the projections.
    Serve(Box<ServeArgs>),
    /// Run the projections over the event store until stopped (SIGINT/SIGTERM).
    Project(ProjectArgs),
    /// Rebuild a projection from the first event into a new generation, then swap it in
    /// (carrying on an unfinished rebuild of it, if one was cut short).
    Rebuild(RebuildArgs),
    /// Show each projection's checkpoint, lag, dead letters and rebuild, and on PostgreSQL
    /// which process holds its lease.
    Status(StatusArgs),
    /// List, show, retry or skip the events a projection failed to apply (its dead letters).
    DeadLetters(DeadLettersArgs),
    /// Pause a projection: it applies nothing until resumed, and its read model keeps serving
    /// what it has. The pause outlives restarts and, on PostgreSQL, a failover.
    Pause(PauseArgs),
    /// Resume a paused projection from its checkpoint (through a server, also one stopped at
    /// a poison event).
    Resume(PauseArgs),
    /// Manage the API keys that authenticate callers.
    ApiKey(ApiKeyArgs),
    /// Publish the event feed to a NATS JetStream stream, each event once and in order, until
    /// stopped; with PostgreSQL one relay publishes at a time and others stand by.
    Relay(RelayArgs),
    /// Run the benchmark workload (`orders-v1`, described in docs/benchmarks.md) and print its
    /// figures.
    Bench(BenchArgs),
}

/// Logging options.
#[derive(Debug, Args)]
pub struct LogOptions {
    /// Log format.
    #[arg(
        long,
        global = true,
        env = "PROJECTOR_LOG_FORMAT",
        default_value = "pretty"
    )]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `projector_runtime=debug,info` (also `RUST_LOG`).
    #[arg(long, global = true, env = "PROJECTOR_LOG")]
    pub log_level: Option<String>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines.
    Pretty,
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// The data directory: `events.db`, the read models under `read/` and the search indexes
    /// under `search/` (kept there on PostgreSQL too: each process needs a directory of its own).
    /// Its directories are made `0700` and its database files `0600`; one found open to others
    /// is tightened, and the log says so.
    #[arg(long, env = "PROJECTOR_DATA", default_value = "./data")]
    pub data: PathBuf,
}

/// Where the data lives, on SQLite (the default) or PostgreSQL.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// The SQLite data directory, when no database URL is given.
    #[command(flatten)]
    pub data: DataArgs,
    /// Keep events, read models, checkpoints and idempotency keys in PostgreSQL instead
    /// (`postgres://user@host:port/db`); several processes may share one database.
    #[arg(long, env = "PROJECTOR_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// With PostgreSQL: do not run the embedded schema migrations at start-up; a database
    /// whose schema is behind this build is then refused, naming the missing migrations.
    #[arg(long, env = "PROJECTOR_NO_MIGRATE")]
    pub no_migrate: bool,
    /// With PostgreSQL: the most connections each of this process's pools opens (reading the
    /// feed; the projections' writes; the read models' queries; and at most 4 for HTTP stream
    /// reads). Appends take one more, and so does each projection lease it holds.
    #[arg(
        long,
        env = "PROJECTOR_DATABASE_POOL_SIZE",
        default_value_t = 8,
        value_parser = clap::value_parser!(u16).range(1..=1024)
    )]
    pub database_pool_size: u16,
    /// Where the caches are, if anywhere.
    #[command(flatten)]
    pub cache: CacheArgs,
}

/// The Redis caches: off unless a URL is given.
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// Keep the "my orders" cache (`customer_orders_cache`) in this Redis
    /// (`redis://host:port/db`) and answer "my orders" from it; off by default. Reads fall
    /// back to the SQL read model whenever the cache is away, missing, rebuilding or behind.
    #[arg(long, env = "PROJECTOR_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// The prefix of every key the caches write, so several deployments can share one Redis.
    #[arg(long, env = "PROJECTOR_REDIS_NAMESPACE", default_value = "projector")]
    pub redis_namespace: String,
}

/// A running server to act through, for what must happen in the process running a projection.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Act through this running server's admin API (`http://host:port`; its admin listener if
    /// it has one) instead of opening the stores: needed while a server runs the projection.
    #[arg(long, env = "PROJECTOR_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// The API key or token sent with `--server`; the admin API needs the `admin` scope when
    /// the server has authentication on.
    #[arg(
        long,
        env = "PROJECTOR_TOKEN",
        hide_env_values = true,
        requires = "server"
    )]
    pub token: Option<String>,
}

/// How this process keeps the projection leases it holds, with PostgreSQL.
#[derive(Debug, Clone, Args)]
pub struct LeaseArgs {
    /// With PostgreSQL: how long, in milliseconds, a projection's lease connection may go
    /// unanswered (a hung network) before this process stops running the projection. The
    /// database frees the lease twice this long after it last heard from this process, and
    /// another process takes the projection over.
    #[arg(
        long,
        env = "PROJECTOR_LEASE_TIMEOUT_MS",
        default_value_t = DEFAULT_LEASE_TIMEOUT.as_millis() as u64,
        value_parser = clap::value_parser!(u64).range(100..=3_600_000),
    )]
    pub lease_timeout_ms: u64,
}

impl LeaseArgs {
    /// The lease timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.lease_timeout_ms)
    }
}

/// `projector api-key`.
#[derive(Debug, Args)]
pub struct ApiKeyArgs {
    /// What to do with keys.
    #[command(subcommand)]
    pub command: ApiKeyCommand,
}

/// The `api-key` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Make a key, append its hash to the keys file, and print the key (alone, once) on
    /// standard output.
    Create(ApiKeyCreateArgs),
}

/// `projector api-key create`.
#[derive(Debug, Args)]
pub struct ApiKeyCreateArgs {
    /// The user id the key acts as (recorded on the events it causes).
    #[arg(long)]
    pub principal: String,
    /// What the key may do: `read`, `write`, `admin`, comma-separated.
    #[arg(long, default_value = "read")]
    pub scopes: String,
    /// The keys file to append to (created owner-only if missing).
    #[arg(long, env = "PROJECTOR_API_KEYS")]
    pub file: PathBuf,
}

/// `projector project`.
#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// Where the data lives.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Run a projection as N partitions, each its own worker and checkpoint
    /// (`order_summary=4`; repeatable, or comma-separated). A number other than the serving
    /// read model's rebuilds it beside.
    #[arg(long, env = "PROJECTOR_PARTITIONS", value_name = "NAME=N", value_delimiter = ',', value_parser = parse_partitions)]
    pub partitions: Vec<(String, u16)>,
    /// How leases are kept.
    #[command(flatten)]
    pub leases: LeaseArgs,
    /// Run only these projections (repeatable, or comma-separated); all by default.
    #[arg(
        long = "projection",
        env = "PROJECTOR_PROJECTION",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub projections: Vec<String>,
    /// Events per transaction.
    #[arg(long, env = "PROJECTOR_BATCH_SIZE", default_value_t = projector_runtime::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// The shortest time between two batches a projection applies at the head of the feed,
    /// in milliseconds: under a steady stream of writes each batch gathers what arrived
    /// meanwhile, one transaction for several writes; 0 applies each batch as soon as it is
    /// read. A write after a quiet spell is applied at once either way.
    #[arg(long, env = "PROJECTOR_BATCH_INTERVAL_MS", default_value_t = default_batch_interval_ms())]
    pub batch_interval_ms: u64,
    /// Exit once every projection has reached the head, instead of following new events.
    #[arg(long, env = "PROJECTOR_UNTIL_CAUGHT_UP")]
    pub until_caught_up: bool,
    /// Read the event feed from this NATS server (`nats://host:port`) instead of the event
    /// store: `serve` runs as a read node (reads only; writes are refused, naming the
    /// writer), `project` keeps the read models from it, `status` measures lag against it.
    #[arg(
        long,
        env = "PROJECTOR_FROM",
        value_name = "NATS_URL",
        hide_env_values = true
    )]
    pub from: Option<String>,
    /// The stream of `--from`.
    #[command(flatten)]
    pub stream: StreamArgs,
}

/// `projector rebuild`.
#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// The projection to rebuild.
    pub projection: String,
    /// Where the data lives.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// The server to rebuild in, instead of opening the stores here.
    #[command(flatten)]
    pub server: ServerArgs,
    /// How the projection's lease is kept.
    #[command(flatten)]
    pub leases: LeaseArgs,
    /// Events per transaction.
    #[arg(long, default_value_t = projector_runtime::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Start the new generation at the event at this position, for a read model that needs
    /// only recent history (a backfill): the events before it are never applied.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), conflicts_with = "since")]
    pub from_position: Option<u64>,
    /// Start the new generation at the first event recorded at or after this time: RFC 3339
    /// (`2026-11-01T00:00:00Z`) or an age (`7d`, `12h`, `30m`, `45s`) before now.
    #[arg(long, value_name = "TIME", value_parser = parse_since)]
    pub since: Option<StartFrom>,
    /// Rebuild a projection as N partitions (`order_summary=4`, as `serve` takes it). Without
    /// it, a projection is rebuilt as as many partitions as built its serving read model.
    #[arg(long, env = "PROJECTOR_PARTITIONS", value_name = "NAME=N", value_delimiter = ',', value_parser = parse_partitions)]
    pub partitions: Vec<(String, u16)>,
}

impl RebuildArgs {
    /// Where the new generation starts, if not where the projection says.
    pub fn start(&self) -> Option<StartFrom> {
        match (self.from_position, self.since) {
            (Some(position), _) => Some(StartFrom::Position(GlobalPosition::new(position))),
            (None, since) => since,
        }
    }
}

/// `--since`: an RFC 3339 time, or an age such as `7d` before now.
fn parse_since(text: &str) -> Result<StartFrom, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(StartFrom::Time(at.with_timezone(&chrono::Utc)));
    }
    let unit = |c: char| match c {
        's' => Some(1),
        'm' => Some(60),
        'h' => Some(3600),
        'd' => Some(86_400),
        _ => None,
    };
    let age = text
        .char_indices()
        .last()
        .and_then(|(at, c)| Some((text[..at].parse::<u64>().ok()?, unit(c)?)))
        .and_then(|(n, seconds)| n.checked_mul(seconds));
    match age {
        Some(seconds) => Ok(StartFrom::Since(Duration::from_secs(seconds))),
        None => Err(format!(
            "{text:?} is neither an RFC 3339 time (2026-11-01T00:00:00Z) nor an age (7d, 12h, 30m, 45s)"
        )),
    }
}

/// `projector pause` and `projector resume`.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// The projection.
    pub projection: String,
    /// Where the data lives, when not acting through a server.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// A running server to act through.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `projector status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Where the data lives.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// The server to ask, instead of reading the stores here.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Keep showing the status, refreshed every `--interval` seconds, until Ctrl-C: redrawn in
    /// place on a terminal, a new table (or JSON line) each time otherwise.
    #[arg(long)]
    pub watch: bool,
    /// With `--watch`: seconds between refreshes.
    #[arg(
        long,
        default_value_t = 2,
        value_name = "SECS",
        requires = "watch",
        value_parser = clap::value_parser!(u64).range(1..=3600),
    )]
    pub interval: u64,
    /// Read the event feed from this NATS server (`nats://host:port`) instead of the event
    /// store: `serve` runs as a read node (reads only; writes are refused, naming the
    /// writer), `project` keeps the read models from it, `status` measures lag against it.
    #[arg(
        long,
        env = "PROJECTOR_FROM",
        value_name = "NATS_URL",
        hide_env_values = true
    )]
    pub from: Option<String>,
    /// The NATS server of the event feed's stream (`nats://host:port`): `relay` publishes to
    /// it; `status` also reports what the stream holds against the event store's head.
    #[arg(
        long,
        env = "PROJECTOR_NATS_URL",
        value_name = "NATS_URL",
        hide_env_values = true,
        conflicts_with = "from"
    )]
    pub nats_url: Option<String>,
    /// The stream of `--from` or `--nats-url`.
    #[command(flatten)]
    pub stream: StreamArgs,
}

/// [`projector_runtime::DEFAULT_BATCH_INTERVAL`] in the milliseconds the flags take.
pub(crate) fn default_batch_interval_ms() -> u64 {
    projector_runtime::DEFAULT_BATCH_INTERVAL.as_millis() as u64
}

/// `NAME=N` of `--partitions`.
pub(crate) fn parse_partitions(value: &str) -> Result<(String, u16), String> {
    let (name, count) = value
        .split_once('=')
        .ok_or_else(|| format!("{value:?} is not NAME=N"))?;
    let count: u16 = count
        .trim()
        .parse()
        .map_err(|_| format!("{count:?} is not a number of partitions"))?;
    projector_core::Partition::all(count).map_err(|e| e.to_string())?;
    Ok((name.trim().to_owned(), count))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::{Cli, Command, StartFrom};

    fn rebuild_start(args: &[&str]) -> Result<Option<StartFrom>, clap::Error> {
        match Cli::try_parse_from(args)?.command {
            Command::Rebuild(rebuild) => Ok(rebuild.start()),
            other => panic!("not a rebuild: {other:?}"),
        }
    }

    #[test]
    fn a_rebuild_starts_from_a_position_a_time_or_an_age() {
        use projector_core::GlobalPosition;
        assert_eq!(
            rebuild_start(&["projector", "rebuild", "p"]).ok(),
            Some(None)
        );
        assert_eq!(
            rebuild_start(&["projector", "rebuild", "p", "--from-position", "42"]).ok(),
            Some(Some(StartFrom::Position(GlobalPosition::new(42))))
        );
        assert_eq!(
            rebuild_start(&["projector", "rebuild", "p", "--since", "7d"]).ok(),
            Some(Some(StartFrom::Since(Duration::from_secs(7 * 86_400))))
        );
        assert_eq!(
            rebuild_start(&["projector", "rebuild", "p", "--since", "12h"]).ok(),
            Some(Some(StartFrom::Since(Duration::from_secs(12 * 3600))))
        );
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
            .expect("time")
            .with_timezone(&chrono::Utc);
        assert_eq!(
            rebuild_start(&[
                "projector",
                "rebuild",
                "p",
                "--since",
                "2026-11-01T00:00:00Z"
            ])
            .ok(),
            Some(Some(StartFrom::Time(at)))
        );
        for bad in [
            &["--from-position", "0"][..],
            &["--from-position", "-3"],
            &["--since", "yesterday"],
            &["--since", "7w"],
            &["--since", "d"],
            &["--from-position", "3", "--since", "1h"],
        ] {
            let args = [&["projector", "rebuild", "p"][..], bad].concat();
            assert!(rebuild_start(&args).is_err(), "{bad:?} was accepted");
        }
    }

    fn lease_timeout(args: &[&str]) -> Option<Duration> {
        let cli = Cli::try_parse_from(args).ok()?;
        match cli.command {
            Command::Serve(serve) => Some(serve.leases.timeout()),
            Command::Project(project) => Some(project.leases.timeout()),
            _ => None,
        }
    }

    #[test]
    fn the_lease_timeout_is_five_seconds_unless_given() {
        assert_eq!(
            lease_timeout(&["projector", "serve"]),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            lease_timeout(&["projector", "project", "--lease-timeout-ms", "2500"]),
            Some(Duration::from_millis(2_500))
        );
        assert_eq!(
            lease_timeout(&["projector", "serve", "--lease-timeout-ms", "20"]),
            None,
            "too short to keep a lease through ordinary scheduling delays"
        );
    }
}
