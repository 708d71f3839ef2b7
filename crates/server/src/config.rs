//! Settings of the HTTP server.

use std::time::Duration;

pub use crate::browser::BrowserPolicy;
pub use crate::listener::ListenerLimits;
pub use crate::load::RateLimit;

/// How the server behaves at its edges.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Requests running longer are answered 503 and dropped.
    pub request_timeout: Duration,
    /// How long a write waits for its store's answer before it is answered 503 with its
    /// outcome unknown: a database that stops answering would otherwise hold it for the whole
    /// request timeout. The write carries on, so a retry with its `Idempotency-Key` finds it.
    pub write_timeout: Duration,
    /// How long a read with `min_position` waits by default.
    pub default_read_wait: Duration,
    /// The longest `wait_ms` a read may ask for.
    pub max_read_wait: Duration,
    /// An idempotency key claimed this long ago without an answer is taken to be abandoned.
    pub idempotency_abandoned_after: Duration,
    /// `/ready` fails while a projection trails the head by more events than this.
    pub ready_max_lag_events: u64,
    /// With authentication on, whether `/metrics` is open to anyone (else it needs `admin`).
    pub public_metrics: bool,
    /// With authentication on, whether `/docs` and `/openapi.json` are open to anyone (else
    /// they need `read`).
    pub public_docs: bool,
    /// When the admin API has a listener of its own (`--admin-addr`): it is then not served
    /// on the main listener.
    pub admin_listener: Option<AdminListener>,
    /// With authentication off: the hosts answered and the origins allowed to write.
    pub browser: BrowserPolicy,
    /// Requests per second per caller, if limited.
    pub rate_limit: Option<RateLimit>,
    /// The most requests running at once; past it, requests are answered 503 at once.
    pub max_in_flight: usize,
    /// The most writes waiting for the event store at once; past it, a write is answered 503
    /// at once, before anything is recorded, so accepted writes never queue for seconds.
    pub max_queued_writes: usize,
    /// While writes take longer than this on average, fewer than `max_queued_writes` may wait
    /// at once; `None` keeps the count fixed.
    pub write_latency_target: Option<WriteLatencyTarget>,
    /// Timeouts and caps of the listeners.
    pub listener: ListenerLimits,
    /// Set on a read node (`serve --from`): writes are refused, naming the writer, and a read
    /// may ask for a position the node's feed has not reached yet (it waits for it).
    pub read_node: Option<crate::read_node::ReadNode>,
    /// The dashboard marks a projection whose lag passes this (the page can change it).
    pub lag_alert: Duration,
}

/// The admin API's own listener.
#[derive(Clone, Copy, Debug)]
pub struct AdminListener {
    /// Whether its routes are open to anyone who reaches it (a loopback address), rather than
    /// needing the `admin` scope.
    pub open: bool,
}

/// The most writes waiting for the event store at once, unless configured.
pub const DEFAULT_MAX_QUEUED_WRITES: usize = 256;
/// The mean write latency past which fewer writes may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteLatencyTarget {
    /// This mean, whatever the store.
    Fixed(Duration),
    /// Four times the store's own write time (the quickest write that found none waiting), and
    /// at least the floors: past its capacity the server keeps the writes it takes quick, and
    /// few in flight. A slow disk or a distant database raises it, so that its places do not
    /// shrink at a load it takes in its stride.
    Measured(TargetFloors),
}

/// The least a measured write latency target may be: below it, the places would follow the
/// jitter of the machine rather than the writes queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetFloors {
    /// While every write is taken: room for a burst at the server's capacity.
    pub taking: Duration,
    /// While a good share of writes are turned away: a server past its capacity has no burst
    /// to absorb, so the writes it takes had better be quick, and few in flight.
    pub shedding: Duration,
}

impl TargetFloors {
    /// For a store on the server's own disk (SQLite): 15 ms, or 5 ms while writes are turned
    /// away.
    pub const LOCAL: Self = Self {
        taking: Duration::from_millis(15),
        shedding: Duration::from_millis(5),
    };
    /// For a database the writes reach in round trips (PostgreSQL): 20 ms either way. Its
    /// writes wait on the database's own load, so a lower target turns away writes the
    /// database would have taken without making those it takes any quicker.
    pub const DATABASE: Self = Self {
        taking: Duration::from_millis(20),
        shedding: Duration::from_millis(20),
    };
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: crate::limits::MAX_BODY_BYTES,
            request_timeout: Duration::from_secs(35),
            write_timeout: Duration::from_secs(10),
            default_read_wait: Duration::from_secs(2),
            max_read_wait: Duration::from_millis(crate::limits::WAIT_MS_MAX),
            idempotency_abandoned_after: Duration::from_secs(60),
            ready_max_lag_events: 10_000,
            public_metrics: false,
            public_docs: true,
            admin_listener: None,
            browser: BrowserPolicy::default(),
            rate_limit: None,
            max_in_flight: 4096,
            max_queued_writes: DEFAULT_MAX_QUEUED_WRITES,
            write_latency_target: Some(WriteLatencyTarget::Measured(TargetFloors::LOCAL)),
            listener: ListenerLimits::default(),
            read_node: None,
            lag_alert: Duration::from_secs(10),
        }
    }
}
