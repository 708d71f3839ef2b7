//! The options of `projector bench`: the workload, its phases, and what it runs against.

use std::path::PathBuf;

use clap::Args;
use projector_sqlite::Durability;

/// `projector bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Orders in the workload (4 events each).
    #[arg(long, default_value_t = 100_000)]
    pub orders: u64,
    /// Concurrent appenders sharing the orders in phase A (1 is the workload's phase A).
    #[arg(long, default_value_t = 1)]
    pub writers: usize,
    /// Run every order projection in phase B, not only `order_summary`.
    #[arg(long)]
    pub all_projections: bool,
    /// Run phase A twice, plain and then with `order_summary` applied inline (in the append's
    /// transaction), and report both and their ratio; on PostgreSQL with `--database-url`.
    #[arg(long)]
    pub inline: bool,
    /// Run on PostgreSQL: a fresh database is created on this server for each run and dropped
    /// after it (e.g. `postgres://postgres@127.0.0.1:5432/postgres`). Without it, the bench runs
    /// on embedded SQLite.
    #[arg(long, env = "PROJECTOR_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Durability of the SQLite event store's commits (PostgreSQL uses the server's
    /// `synchronous_commit`).
    #[arg(long, default_value = "full")]
    pub durability: Durability,
    /// Events per projection batch.
    #[arg(long, default_value_t = projector_runtime::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Repeat the whole run this many times and report the median.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Also run the plain loops (rusqlite, or tokio-postgres with `--database-url`) that are the
    /// physical limit.
    #[arg(long)]
    pub baseline: bool,
    /// Print one JSON line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Directory for the temporary data (default: the system's temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also run phase B into the "my orders" cache in this Redis (a fresh namespace, removed
    /// after), and with `--baseline` a plain pipelined loop writing the same keys beside it.
    #[arg(long, env = "PROJECTOR_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Run phase C instead: a server (on the embedded default, or on PostgreSQL with
    /// `--database-url`) driven over HTTP at `--rate` for `--seconds`, after a second at half
    /// the rate that is not measured.
    #[arg(long)]
    pub http: bool,
    /// Phase C: find the highest rate the service holds with every order readable within
    /// 50 ms of its write at p99, stepping up from `--rate` and then bisecting, each step
    /// `--seconds` long on a fresh server.
    #[arg(long, requires = "http")]
    pub capacity: bool,
    /// Phase C: orders written per second (with `--capacity`, the first rate tried).
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
    /// Phase C: pass this flag to the server (repeatable), e.g. `--serve-arg=--max-queued-writes=64`.
    #[arg(long, value_name = "FLAG", allow_hyphen_values = true)]
    pub serve_arg: Vec<String>,
    /// Phase C: the `projector` executable that serves (default: this one), to compare builds
    /// with the same client.
    #[arg(long, value_name = "PATH")]
    pub server_exe: Option<PathBuf>,
    /// Phase C, and the catalogue's searches: how long to hold the rate, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// Run the catalogue workload instead: products loaded into embedded SQLite, projected
    /// into the `product_search` index (with `--baseline`, a plain tantivy loop beside it),
    /// then searched at `--search-rate`.
    #[arg(long, conflicts_with_all = ["http", "database_url", "redis_url"])]
    pub catalogue: bool,
    /// The catalogue: products in it (one event each).
    #[arg(long, default_value_t = 100_000)]
    pub products: u64,
    /// The catalogue: searches started per second, whatever their speed.
    #[arg(long, default_value_t = 200)]
    pub search_rate: u32,
    /// The NATS server of the event feed's stream (`nats://host:port`): `relay` publishes to
    /// it; `status` also reports what the stream holds against the event store's head.
    /// In `bench`: run the relay workload on it, or with `--http` read through a read node.
    #[arg(
        long,
        env = "PROJECTOR_NATS_URL",
        value_name = "NATS_URL",
        hide_env_values = true
    )]
    pub nats_url: Option<String>,
    /// Run phase B with `order_summary` as this many partitions, each count into a fresh read
    /// model, taking turns over `--runs` rounds (e.g. `--partitions 1,2,4`), and report each
    /// against the first.
    #[arg(long, value_delimiter = ',', value_name = "N,...", conflicts_with_all = ["http", "catalogue"])]
    pub partitions: Vec<u16>,
}
