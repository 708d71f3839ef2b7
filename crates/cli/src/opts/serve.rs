//! The options of `projector serve`: what it serves, its limits, and who may call it.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{LeaseArgs, StorageArgs, StreamArgs, default_batch_interval_ms, parse_partitions};

/// `projector serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
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
    /// The address to listen on (port 0 picks a free port, printed at start).
    #[arg(long, env = "PROJECTOR_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: String,
    /// Events per projection transaction.
    #[arg(long, env = "PROJECTOR_BATCH_SIZE", default_value_t = projector_runtime::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// The shortest time between two batches a projection applies at the head of the feed,
    /// in milliseconds: under a steady stream of writes each batch gathers what arrived
    /// meanwhile, one transaction for several writes; 0 applies each batch as soon as it is
    /// read. A write after a quiet spell is applied at once either way.
    #[arg(long, env = "PROJECTOR_BATCH_INTERVAL_MS", default_value_t = default_batch_interval_ms())]
    pub batch_interval_ms: u64,
    /// The largest request body accepted, in bytes.
    #[arg(long, env = "PROJECTOR_MAX_BODY_BYTES", default_value_t = 65536)]
    pub max_body_bytes: usize,
    /// How long a request's claim on its idempotency key may go unanswered before a retry with
    /// the key takes it over (its server is taken to have died), in milliseconds. Until then a
    /// retry is answered 409.
    #[arg(
        long,
        env = "PROJECTOR_IDEMPOTENCY_ABANDONED_AFTER_MS",
        default_value_t = 60_000
    )]
    pub idempotency_abandoned_after_ms: u64,
    /// Who may call.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// What one client may push.
    #[command(flatten)]
    pub edge: EdgeArgs,
    /// Also publish the event feed to this NATS server (`nats://host:port`), as
    /// `projector relay` does, from this process.
    #[arg(
        long,
        env = "PROJECTOR_PUBLISH",
        value_name = "NATS_URL",
        hide_env_values = true
    )]
    pub publish: Option<String>,
    /// Read the event feed from this NATS server (`nats://host:port`) instead of the event
    /// store: `serve` runs as a read node (reads only; writes are refused, naming the
    /// writer), `project` keeps the read models from it, `status` measures lag against it.
    #[arg(
        long,
        env = "PROJECTOR_FROM",
        value_name = "NATS_URL",
        hide_env_values = true,
        conflicts_with = "publish"
    )]
    pub from: Option<String>,
    /// On a read node: the writer's base URL, named in the refusal of a write.
    #[arg(long, env = "PROJECTOR_WRITER_URL", requires = "from")]
    pub writer_url: Option<String>,
    /// The stream of `--publish` or `--from`.
    #[command(flatten)]
    pub stream: StreamArgs,
    /// The dashboard (`/admin/`) marks a projection lagging more than this many seconds (the
    /// page can change it for itself).
    #[arg(
        long,
        env = "PROJECTOR_DASHBOARD_LAG_ALERT",
        value_name = "SECONDS",
        default_value_t = 10.0,
        value_parser = lag_alert
    )]
    pub dashboard_lag_alert: f64,
}

/// A lag threshold: a number of seconds, zero or more.
fn lag_alert(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.0..=86_400.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "{text:?} is not a number of seconds from 0 to 86400"
        )),
    }
}

/// The limits no client can push past, and what a browser may do.
#[derive(Debug, Args)]
pub struct EdgeArgs {
    /// Without authentication: host names answered besides localhost and IP addresses
    /// (comma-separated). Requests naming any other host are refused (DNS rebinding).
    #[arg(long, env = "PROJECTOR_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Origins allowed to call the API from a browser (CORS), such as
    /// `https://app.example.com` (comma-separated); none by default.
    #[arg(long, env = "PROJECTOR_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Requests per second each caller (a principal, or an address without authentication)
    /// may send; past it, 429 with Retry-After. 0 for no limit.
    #[arg(long, env = "PROJECTOR_RATE_LIMIT", default_value_t = 0)]
    pub rate_limit: u32,
    /// How many requests a caller may send at once after a quiet spell (default: the rate).
    #[arg(long, env = "PROJECTOR_RATE_LIMIT_BURST")]
    pub rate_limit_burst: Option<u32>,
    /// The most requests running at once; past it, 503 with Retry-After at once.
    #[arg(long, env = "PROJECTOR_MAX_IN_FLIGHT", default_value_t = 4096)]
    pub max_in_flight: usize,
    /// The most writes waiting for the event store at once; past it, a write is answered 503
    /// with Retry-After at once, before anything is recorded, instead of queueing.
    #[arg(long, env = "PROJECTOR_MAX_QUEUED_WRITES", default_value_t = projector_server::config::DEFAULT_MAX_QUEUED_WRITES)]
    pub max_queued_writes: usize,
    /// While writes take longer than this on average, in milliseconds, fewer may wait at once
    /// (down to 8): past its capacity the server then takes writes about as fast as it
    /// completes them, and those it takes stay quick. By default, four times the store's own
    /// write time (the quickest write that found none waiting), and at least 15 on SQLite, or 5
    /// while writes are being turned away, and at least 20 on PostgreSQL, whose writes wait on
    /// the database's own load. 0 keeps `--max-queued-writes` fixed.
    #[arg(long, env = "PROJECTOR_WRITE_LATENCY_TARGET_MS")]
    pub write_latency_target_ms: Option<u64>,
    /// How long a read naming `min_position` without `wait_ms` waits for its read model to
    /// reach it, in milliseconds, before a 503 naming the position reached (a read may ask
    /// for up to 30000).
    #[arg(
        long,
        env = "PROJECTOR_READ_WAIT_MS",
        default_value_t = 2_000,
        value_parser = clap::value_parser!(u64).range(0..=projector_server::limits::WAIT_MS_MAX)
    )]
    pub read_wait_ms: u64,
    /// The most connections open at once; past it, a new connection is answered 503 with
    /// Retry-After and closed, its request never handled. The server raises its open-files
    /// limit to fit them where the system allows.
    #[arg(long, env = "PROJECTOR_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers, and may stay idle between
    /// requests, in milliseconds.
    #[arg(
        long,
        env = "PROJECTOR_HEADER_READ_TIMEOUT_MS",
        default_value_t = 10_000
    )]
    pub header_read_timeout_ms: u64,
    /// On SIGTERM or SIGINT, how long requests in flight may run on before their connections
    /// are closed, in milliseconds; reads waiting for a position are answered at once.
    #[arg(long, env = "PROJECTOR_SHUTDOWN_GRACE_MS", default_value_t = 30_000)]
    pub shutdown_grace_ms: u64,
}

/// Who may call the API. With neither API keys nor a JWKS, authentication is off, which is
/// allowed on a loopback address only (or with `--insecure-no-auth`).
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// Accept the API keys of this file (made by `projector api-key create`; read again when it
    /// changes).
    #[arg(long, env = "PROJECTOR_API_KEYS", value_name = "FILE")]
    pub api_keys: Option<PathBuf>,
    /// Accept JWTs signed by a key of this JWKS (a file, or an http(s) URL fetched at start
    /// and every ten minutes).
    #[arg(
        long,
        env = "PROJECTOR_JWKS",
        value_name = "PATH_OR_URL",
        requires_all = ["jwt_issuer", "jwt_audience"]
    )]
    pub jwks: Option<String>,
    /// The issuer (`iss`) every JWT must name.
    #[arg(long, env = "PROJECTOR_JWT_ISSUER", requires = "jwks")]
    pub jwt_issuer: Option<String>,
    /// The audience (`aud`) every JWT must include.
    #[arg(long, env = "PROJECTOR_JWT_AUDIENCE", requires = "jwks")]
    pub jwt_audience: Option<String>,
    /// With authentication on, the routes open to anyone besides /health and /ready:
    /// `metrics`, `docs` (the interactive docs and /openapi.json), both, or `none`.
    #[arg(
        long,
        env = "PROJECTOR_PUBLIC",
        value_delimiter = ',',
        default_value = "docs"
    )]
    pub public: Vec<PublicRoute>,
    /// Serve the admin API (and health, readiness and metrics) on a listener of its own, and not
    /// on `--addr`: a port (on 127.0.0.1) or an address. On loopback its routes are open;
    /// elsewhere they need the `admin` scope.
    #[arg(long, env = "PROJECTOR_ADMIN_ADDR", value_name = "PORT_OR_ADDR")]
    pub admin_addr: Option<String>,
    /// Serve without authentication on an address other than loopback. Anyone who reaches the
    /// port can then read, write and rebuild.
    #[arg(long, env = "PROJECTOR_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
}

/// A route that can be opened to anyone while authentication is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PublicRoute {
    /// `/metrics`.
    Metrics,
    /// `/docs` and `/openapi.json`.
    Docs,
    /// Nothing beyond /health and /ready.
    None,
}
