//! The projector: runs projections over the event feed and keeps their read models current.
//!
//! Each projection gets a worker that opens its read model, catches up from its checkpoint in
//! batches and then follows live commits, woken by the store. Every batch commits with its
//! checkpoint, so a crash at any instant loses nothing and applies nothing twice. Transient
//! failures are retried with backoff; an event that keeps failing becomes a dead letter and the
//! projection stops or skips it, as its policy says. A rebuild fills a new generation beside
//! the serving one and swaps it in when caught up, so reads never stop; if its process stops
//! first, the next worker to run the projection carries it on.
//!
//! # Layout
//! - [`projector`]: [`Projector`] (assembly and start) and [`ProjectorHandle`] (status, lag,
//!   waiting for a position, rebuild, resume, shutdown).
//! - `worker`: one projection's loop; `lane`: a generation it writes, with its checkpoint and
//!   feed; `open`: which generations it writes, from the catalog and the projection's version;
//!   `feed`: reading one batch ahead.
//! - `dead_letter`: isolating a poison event; `letter_actions`: retrying and skipping dead
//!   letters on request; `rebuild`: building a generation and swapping it,
//!   and carrying on one a stopped process left unfinished;
//!   `standby`: leases, following the holder's checkpoint from another process, and starting
//!   a worker again after a panic.
//!   `balance`: spreading a partitioned projection's partitions over the processes sharing it.
//! - `pause`: an operator's pause, kept by the projector's `ProjectionControls`; `actions`: the
//!   handle's pause and rebuild from a chosen start (a backfill).
//! - `volatile`: noticing, while idle, that a read model the store can lose (a cache) is gone.
//! - [`status`]: what workers report, and [`Lag`]; `scrape`: the gauges derived from it for
//!   `/metrics`. [`retry`]: backoff. [`options`].
//!
//! It is not:
//! - a scheduler across machines: with a `LeaseProvider` (the PostgreSQL backend's advisory
//!   locks), each projection runs in one process at a time and the others stand by; a local
//!   read model (each process keeping its own, such as a search index) runs in every process.

mod actions;
mod balance;
mod dead_letter;
mod error;
mod feed;
mod lane;
mod letter_actions;
mod open;
pub mod options;
mod pause;
pub mod projector;
mod rebuild;
pub mod retry;
mod scrape;
mod shared_feed;
mod standby;
pub mod status;
mod volatile;
mod worker;

pub use error::{RuntimeError, WaitError};
pub use letter_actions::RetryOutcome;
pub use options::{DEFAULT_BATCH_INTERVAL, DEFAULT_BATCH_SIZE, ProjectorOptions};
pub use projector::{Projector, ProjectorHandle};
pub use retry::RetryPolicy;
pub use status::{Lag, ProjectionStatus, RebuildStatus, WorkerState};
