//! Command handling as a pure decider: fold a stream's events into state with `evolve`, choose
//! new events with `decide`, and append them guarded by the version that was loaded.
//!
//! [`Decider`] is synchronous and does no I/O, so domains test it given/when/then; [`execute`]
//! is the one place that loads, decides, appends and retries.

use crate::codec::DomainEvent;
use crate::error::{StoreError, VersionConflict};
use crate::event::{DecodeError, EventMetadata, NewEvent};
use crate::ids::{CausationId, StreamId};
use crate::position::{ExpectedVersion, GlobalPosition, StreamVersion};
use crate::store::{AppendOutcome, EventStore, ReadDirection};

/// A domain's pure command logic.
pub trait Decider: Send + Sync {
    /// What the decider knows of one stream, folded from its events.
    type State: Default + Send;
    /// A request to change the stream.
    type Command: Send + Sync;
    /// The events it records.
    type Event: DomainEvent;
    /// Why a command is refused.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The events that carry out `command` on `state`, or why it is refused. No events means
    /// the command changes nothing.
    fn decide(
        &self,
        state: &Self::State,
        command: &Self::Command,
    ) -> Result<Vec<Self::Event>, Self::Error>;

    /// The state after `event`.
    fn evolve(&self, state: Self::State, event: &Self::Event) -> Self::State;

    /// Whether `command` only ever starts a stream, and is refused on one that exists. Then
    /// [`execute`] decides it on the default state and appends it expecting no stream, without
    /// reading the stream first; only if the stream exists after all (or the default state
    /// refuses it) does it read the stream and decide as for any other command. Default: no.
    fn creates(&self, command: &Self::Command) -> bool {
        let _ = command;
        false
    }

    /// The state after all of `events`, from the default state.
    fn fold<'a>(&self, events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State
    where
        Self::Event: 'a,
    {
        events
            .into_iter()
            .fold(Self::State::default(), |state, event| {
                self.evolve(state, event)
            })
    }
}

/// A refusal that is only a reason, for deciders that need no error type of their own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

impl Refused {
    /// A refusal for `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// How [`execute`] runs one command.
#[derive(Clone, Debug)]
pub struct CommandOptions {
    /// The stream version the caller last saw (HTTP `If-Match`). When set, a stream at another
    /// version fails with [`CommandError::PreconditionFailed`] and nothing is retried.
    pub if_version: Option<StreamVersion>,
    /// How many times to load and decide again when another writer appended first. Only used
    /// without `if_version`: deciding again on fresh state is then safe.
    pub max_attempts: u32,
    /// Metadata stamped on every event the command records. Its causation id is the
    /// command's id: if the stream already holds events caused by it, the command ran before
    /// (a retry after a lost answer) and is not run again; see [`Executed::replayed`].
    pub metadata: EventMetadata,
}

impl Default for CommandOptions {
    fn default() -> Self {
        Self {
            if_version: None,
            max_attempts: 5,
            metadata: EventMetadata::default(),
        }
    }
}

/// What a command did.
#[derive(Debug)]
pub struct Executed<D: Decider> {
    /// The events recorded (empty when the command changed nothing).
    pub events: Vec<D::Event>,
    /// The state after the command.
    pub state: D::State,
    /// The stream's version after the command.
    pub stream_version: StreamVersion,
    /// Global position of the last event recorded; `None` when nothing was recorded.
    pub position: Option<GlobalPosition>,
    /// Whether the command had already run (its events were found in the stream, caused by
    /// its id) so nothing new was recorded; `position` and `stream_version` are then those of
    /// its last event, as the first run answered.
    pub replayed: bool,
}

/// Why a command did not run. "Refused by the domain" and "the system failed" are kept apart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError<E: std::error::Error + 'static> {
    /// The domain refused the command in the stream's current state; nothing was written.
    ///
    /// # Handling
    /// Report the domain's reason (HTTP 409 or 422, as the domain sees fit).
    #[error(transparent)]
    Rejected(E),

    /// The stream was not at the version the caller said it saw; nothing was written.
    ///
    /// # Handling
    /// HTTP 412: the caller reloads and tries again.
    #[error("stream {stream} is at version {actual}, not {expected}")]
    PreconditionFailed {
        /// The stream.
        stream: StreamId,
        /// The version the caller saw.
        expected: StreamVersion,
        /// The version the stream is at.
        actual: StreamVersion,
    },

    /// Other writers kept appending first through every attempt; nothing was written.
    ///
    /// # Handling
    /// HTTP 409: the caller may retry.
    #[error(transparent)]
    Conflict(VersionConflict),

    /// A stored event of the stream could not be read back.
    ///
    /// # Handling
    /// A bug or missing upcaster: HTTP 500, and alert.
    #[error(transparent)]
    Decode(#[from] DecodeError),

    /// A new event could not be encoded.
    ///
    /// # Handling
    /// A bug: HTTP 500.
    #[error("cannot encode event: {0}")]
    Encode(#[from] serde_json::Error),

    /// The store failed.
    ///
    /// # Handling
    /// As the [`StoreError`] says: usually HTTP 503 and retry later.
    #[error(transparent)]
    Store(StoreError),
}

/// Running commands as a method of any event store: `events.execute(&decider, &stream,
/// &command)` is [`execute`] with [`CommandOptions::default`].
pub trait Execute: EventStore {
    /// Runs `command` against `stream` with the default options (see [`execute`]).
    ///
    /// # Errors
    /// See [`CommandError`]; in every error case nothing was written.
    fn execute<'a, D: Decider>(
        &'a self,
        decider: &'a D,
        stream: &'a StreamId,
        command: &'a D::Command,
    ) -> impl Future<Output = Result<Executed<D>, CommandError<D::Error>>> + Send + 'a
    where
        Self: Sync,
    {
        async move { execute(decider, self, stream, command, &CommandOptions::default()).await }
    }
}

impl<S: EventStore + ?Sized> Execute for S {}

/// How many events [`load`] reads per request.
const LOAD_PAGE: usize = 1_000;

/// Loads `stream` and folds it into the decider's state, with the version it was at.
///
/// # Errors
/// The store's error, or a decode error for an event the domain cannot read.
pub async fn load<D: Decider, S: EventStore + ?Sized>(
    decider: &D,
    store: &S,
    stream: &StreamId,
) -> Result<(D::State, StreamVersion), CommandError<D::Error>> {
    let loaded = load_checking(decider, store, stream, None).await?;
    Ok((loaded.state, loaded.version))
}

/// A folded stream, and where the last event of a given command sits in it, if anywhere.
struct Loaded<S> {
    state: S,
    version: StreamVersion,
    caused_by_command: Option<(GlobalPosition, StreamVersion)>,
}

async fn load_checking<D: Decider, S: EventStore + ?Sized>(
    decider: &D,
    store: &S,
    stream: &StreamId,
    command: Option<&CausationId>,
) -> Result<Loaded<D::State>, CommandError<D::Error>> {
    let mut state = D::State::default();
    let mut version = StreamVersion::NONE;
    let mut caused_by_command = None;
    loop {
        let page = store
            .read_stream(stream, version.next(), ReadDirection::Forwards, LOAD_PAGE)
            .await
            .map_err(CommandError::Store)?;
        let full = page.len() == LOAD_PAGE;
        for recorded in &page {
            let event = D::Event::decode(recorded)?;
            state = decider.evolve(state, &event);
            version = recorded.stream_version;
            if command.is_some() && recorded.metadata.causation_id.as_ref() == command {
                caused_by_command = Some((recorded.position, recorded.stream_version));
            }
        }
        if !full {
            return Ok(Loaded {
                state,
                version,
                caused_by_command,
            });
        }
    }
}

/// Runs `command` against `stream`: load, decide, append with the loaded version expected, and
/// on a conflict load and decide again (up to `max_attempts`) unless the caller pinned a version.
///
/// # Errors
/// See [`CommandError`]; in every error case nothing was written.
pub async fn execute<D: Decider, S: EventStore + ?Sized>(
    decider: &D,
    store: &S,
    stream: &StreamId,
    command: &D::Command,
    options: &CommandOptions,
) -> Result<Executed<D>, CommandError<D::Error>> {
    if options.if_version.is_none()
        && decider.creates(command)
        && let Some(created) = create_unread(decider, store, stream, command, options).await?
    {
        return Ok(created);
    }
    let mut attempt = 1;
    loop {
        let command_id = options.metadata.causation_id.as_ref();
        let Loaded {
            state,
            version,
            caused_by_command,
        } = load_checking(decider, store, stream, command_id).await?;
        if let Some((position, stream_version)) = caused_by_command {
            return Ok(Executed {
                events: Vec::new(),
                state,
                stream_version,
                position: Some(position),
                replayed: true,
            });
        }
        if let Some(expected) = options.if_version
            && expected != version
        {
            return Err(CommandError::PreconditionFailed {
                stream: stream.clone(),
                expected,
                actual: version,
            });
        }
        let events = decider
            .decide(&state, command)
            .map_err(CommandError::Rejected)?;
        if events.is_empty() {
            return Ok(Executed {
                events,
                state,
                stream_version: version,
                position: None,
                replayed: false,
            });
        }
        let new_events = encoded(&events, options)?;
        match store
            .append(stream, ExpectedVersion::Exact(version), new_events)
            .await
        {
            Ok(outcome) => return Ok(appended(decider, state, events, &outcome)),
            Err(StoreError::Conflict(conflict)) => {
                if let Some(expected) = options.if_version {
                    return Err(CommandError::PreconditionFailed {
                        stream: stream.clone(),
                        expected,
                        actual: conflict.actual,
                    });
                }
                if attempt >= options.max_attempts.max(1) {
                    return Err(CommandError::Conflict(conflict));
                }
                attempt += 1;
            }
            Err(other) => return Err(CommandError::Store(other)),
        }
    }
}

/// A create decided on the default state and appended expecting no stream: no read, since a
/// stream that does not exist folds to the default state. `None` when that settles nothing
/// (the stream exists, or the default state refuses the command or changes nothing): the
/// caller then reads the stream and decides as for any command, so a repeated create is
/// refused, or answered from its events, exactly as if it had been read first.
async fn create_unread<D: Decider, S: EventStore + ?Sized>(
    decider: &D,
    store: &S,
    stream: &StreamId,
    command: &D::Command,
    options: &CommandOptions,
) -> Result<Option<Executed<D>>, CommandError<D::Error>> {
    let state = D::State::default();
    let events = match decider.decide(&state, command) {
        Ok(events) if !events.is_empty() => events,
        _ => return Ok(None),
    };
    match store
        .append(
            stream,
            ExpectedVersion::NoStream,
            encoded(&events, options)?,
        )
        .await
    {
        Ok(outcome) => Ok(Some(appended(decider, state, events, &outcome))),
        Err(StoreError::Conflict(_)) => Ok(None),
        Err(other) => Err(CommandError::Store(other)),
    }
}

/// The events a command decided, encoded for the store with the command's metadata.
fn encoded<E: DomainEvent>(
    events: &[E],
    options: &CommandOptions,
) -> Result<Vec<NewEvent>, serde_json::Error> {
    events
        .iter()
        .map(|e| e.to_new_event(&options.metadata))
        .collect()
}

/// What a command that appended `events` onto `state` did.
fn appended<D: Decider>(
    decider: &D,
    state: D::State,
    events: Vec<D::Event>,
    outcome: &AppendOutcome,
) -> Executed<D> {
    let state = events.iter().fold(state, |s, e| decider.evolve(s, e));
    Executed {
        events,
        state,
        stream_version: outcome.stream_version,
        position: Some(outcome.last_position),
        replayed: false,
    }
}
