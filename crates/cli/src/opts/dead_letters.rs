//! The options of `projector dead-letters`: listing, showing, retrying and skipping the events
//! a projection failed to apply.

use clap::{Args, Subcommand};

use super::{LeaseArgs, ServerArgs, StorageArgs};

/// `projector dead-letters`.
#[derive(Debug, Args)]
pub struct DeadLettersArgs {
    /// What to do with them.
    #[command(subcommand)]
    pub action: DeadLetterAction,
}

/// The `dead-letters` subcommands.
#[derive(Debug, Subcommand)]
pub enum DeadLetterAction {
    /// List a projection's dead letters: position, event, error, attempts, whether skipped.
    List(DeadLetterListArgs),
    /// Show one dead letter and its event (payload and metadata), as JSON.
    Show(DeadLetterArgs),
    /// Apply a dead letter's event again, once its cause is mended (or every letter, with
    /// `--all`); fails when the event fails again, saying why.
    Retry(DeadLetterRetryArgs),
    /// Move a projection past the event it stopped at without applying it; the letter is
    /// kept, marked skipped, and can still be retried.
    Skip(DeadLetterArgs),
}

/// Where the projection's dead letters are: its stores, or the server running it.
#[derive(Debug, Args)]
pub struct LetterSource {
    /// Where the data lives (when not asking a server).
    #[command(flatten)]
    pub storage: StorageArgs,
    /// How the projection's lease is taken, to retry or skip in this process.
    #[command(flatten)]
    pub leases: LeaseArgs,
    /// The running server to ask instead of opening the stores.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `projector dead-letters list`.
#[derive(Debug, Args)]
pub struct DeadLetterListArgs {
    /// The projection, such as `order_summary`.
    pub projection: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where they are.
    #[command(flatten)]
    pub source: LetterSource,
}

/// `projector dead-letters show` and `skip`: one letter.
#[derive(Debug, Args)]
pub struct DeadLetterArgs {
    /// The projection, such as `order_summary`.
    pub projection: String,
    /// The position of the letter's event in the feed.
    pub position: u64,
    /// Where it is.
    #[command(flatten)]
    pub source: LetterSource,
}

/// `projector dead-letters retry`.
#[derive(Debug, Args)]
pub struct DeadLetterRetryArgs {
    /// The projection, such as `order_summary`.
    pub projection: String,
    /// The position of the letter's event in the feed.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub position: Option<u64>,
    /// Retry every letter of the projection, by position.
    #[arg(long)]
    pub all: bool,
    /// Where they are.
    #[command(flatten)]
    pub source: LetterSource,
}
