//! The embedded SQLite backend of projector: the default, needing no server.
//!
//! - [`SqliteEventStore`] keeps events in one WAL-mode file. A single writer thread does group
//!   commit: concurrent appends share one transaction and one sync to disk, while each caller
//!   gets its own answer. Reads use a pool of read-only connections beside it.
//! - [`SqliteReadStore`] keeps each projection's read model in its own files, one per
//!   generation, with the checkpoint in the same file so batch and checkpoint commit together.
//!
//! - [`InlineProjections`], given to the event store with [`SqliteEventStore::set_inline`],
//!   are applied to their serving read model inside each group commit, committed right after
//!   the events, so a write's answer comes after its read-model rows.
//!
//! Events and read models live in separate files, so appends and projection never queue
//! behind one another (inline projections apart, which the appends wait for by design).
//!
//! # Layout
//! - `event_store`: the store and its options; `writer`: the group-commit thread;
//!   `answer_wait`: how an append waits for the writer's answer;
//!   `inline`: the inline projections it applies; `rows`: rows to events.
//! - `read_store`: the read store; its `catalog` of generations, each `generation` file, and
//!   the portable `transaction` projections write through.
//! - `idempotency`: idempotency keys and the answers they got.
//! - `controls`: operators' pauses of projections, beside the read store's catalog.
//! - `dir`: [`open_dir`], both stores of an application from one directory.
//! - `durability`: what each `synchronous` mode promises.
//! - `connection`, `pool`, `error`: opening files, reusing read connections, mapping errors.
//! - `checkpointer`: the event and read-model files' checkpoints, off the committing thread.
//!
//! It is not:
//! - a multi-process store: one process appends at a time (the file is locked);
//!   others may open it read-only.

mod answer_wait;
mod checkpointer;
mod connection;
mod controls;
mod dir;
mod durability;
mod error;
mod event_store;
mod idempotency;
mod inline;
mod pool;
mod read_store;
mod rows;
mod writer;

pub use controls::SqliteControls;
pub use dir::{OpenDirError, open_dir};
pub use durability::Durability;
pub use event_store::{SqliteEventStore, SqliteEventStoreOptions};
pub use idempotency::SqliteIdempotencyStore;
pub use inline::InlineProjections;
pub use read_store::{SqliteReadStore, SqliteReadStoreOptions};
