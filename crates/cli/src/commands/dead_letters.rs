//! `projector dead-letters`: list, show, retry and skip the events a projection failed to
//! apply, through a running server's admin API (`--server`) or by opening the stores.
//!
//! Listing and showing only read the stores. Retrying and skipping act in the process that
//! runs the projection, between its batches: without `--server` this command runs the
//! projection itself, as `rebuild` does, so on SQLite the data directory must be free and on
//! PostgreSQL the command takes the projection's lease, failing at once, naming the holder,
//! when a server runs it (then ask that server with `--server`). Both ways print the same.

use std::sync::Arc;

use anyhow::{Context, bail};
use projector_core::{
    DeadLetter, GlobalPosition, ProjectionName, ProjectionTarget, ReadStoreError, RecordedEvent,
};
use projector_runtime::{Projector, ProjectorHandle, ProjectorOptions, RetryOutcome, WorkerState};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::admin_client::AdminClient;
use crate::opts::{DeadLetterAction, DeadLettersArgs, LetterSource};
use crate::read_models;
use crate::stores::{EventAccess, SearchAccess, Stores};

pub(crate) async fn run(args: DeadLettersArgs) -> anyhow::Result<()> {
    match args.action {
        DeadLetterAction::List(args) => {
            let list = list(&args.projection, &args.source).await?;
            if args.json {
                println!("{}", serde_json::to_string(&list)?);
            } else {
                print_table(&list);
            }
            Ok(())
        }
        DeadLetterAction::Show(args) => {
            let shown = show(&args.projection, args.position, &args.source).await?;
            println!("{}", serde_json::to_string_pretty(&shown)?);
            Ok(())
        }
        DeadLetterAction::Retry(args) => {
            let answers = match args.position {
                Some(position) => {
                    vec![act(&args.projection, position, Act::Retry, &args.source).await?]
                }
                None => act_all(&args.projection, &args.source).await?,
            };
            report_retries(&args.projection, &answers)
        }
        DeadLetterAction::Skip(args) => {
            let letter = act(&args.projection, args.position, Act::Skip, &args.source).await?;
            println!(
                "skipped the dead letter of {} at position {}: the projection goes on past it",
                args.projection, args.position
            );
            tracing::debug!(%letter, "the letter as now recorded");
            Ok(())
        }
    }
}

/// `{projection, dead_letters}`, as the admin API answers.
async fn list(projection: &str, source: &LetterSource) -> anyhow::Result<Value> {
    let name = read_models::known(projection)?;
    if let Some(client) = AdminClient::from_args(&source.server)? {
        return client
            .get(&format!("projections/{name}/dead-letters"))
            .await;
    }
    let (stores, target) = open(source, &name, SearchAccess::Report).await?;
    let letters = letters(target.as_ref()).await;
    stores.close().await;
    Ok(json!({
        "projection": name.to_string(),
        "dead_letters": letters?.iter().map(letter_json).collect::<Vec<_>>(),
    }))
}

/// `{projection, dead_letter, event | event_unavailable}`, as the admin API answers.
async fn show(projection: &str, position: u64, source: &LetterSource) -> anyhow::Result<Value> {
    let name = read_models::known(projection)?;
    if let Some(client) = AdminClient::from_args(&source.server)? {
        return client
            .get(&format!("projections/{name}/dead-letters/{position}"))
            .await;
    }
    let (stores, target) = open(source, &name, SearchAccess::Report).await?;
    let position = GlobalPosition::new(position);
    let shown = async {
        let letter = letters(target.as_ref())
            .await?
            .into_iter()
            .find(|l| l.position == position)
            .with_context(|| {
                format!("projection {name} has no dead letter at position {position}")
            })?;
        let mut shown =
            json!({"projection": name.to_string(), "dead_letter": letter_json(&letter)});
        match event_at(&stores, position).await {
            Ok(event) => shown["event"] = event_json(&event),
            Err(error) => shown["event_unavailable"] = json!(format!("{error:#}")),
        }
        anyhow::Ok(shown)
    }
    .await;
    stores.close().await;
    shown
}

/// What to do with one letter.
#[derive(Clone, Copy)]
enum Act {
    Retry,
    Skip,
}

/// Retries or skips one letter; the admin API's answer (`RetryAnswer`, or the letter).
async fn act(
    projection: &str,
    position: u64,
    act: Act,
    source: &LetterSource,
) -> anyhow::Result<Value> {
    let name = read_models::known(projection)?;
    let verb = match act {
        Act::Retry => "retry",
        Act::Skip => "skip",
    };
    if let Some(client) = AdminClient::from_args(&source.server)? {
        return client
            .post(
                &format!("projections/{name}/dead-letters/{position}/{verb}"),
                None,
            )
            .await;
    }
    let running = Running::start(source, &name).await?;
    let position = GlobalPosition::new(position);
    let answer = match act {
        Act::Retry => running
            .handle
            .retry_dead_letter(&name, position)
            .await
            .map(|outcome| retry_json(position, outcome)),
        Act::Skip => running
            .handle
            .skip_dead_letter(&name, position)
            .await
            .map(|letter| letter_json(&letter)),
    };
    running.stop().await;
    answer.with_context(|| format!("{verb} of the dead letter of {name} at position {position}"))
}

/// Retries every letter; each one's answer.
async fn act_all(projection: &str, source: &LetterSource) -> anyhow::Result<Vec<Value>> {
    let name = read_models::known(projection)?;
    if let Some(client) = AdminClient::from_args(&source.server)? {
        let answer: Value = client
            .post(&format!("projections/{name}/dead-letters/retry"), None)
            .await?;
        return Ok(answer["retried"].as_array().cloned().unwrap_or_default());
    }
    let running = Running::start(source, &name).await?;
    let outcomes = running.handle.retry_dead_letters(&name).await;
    running.stop().await;
    Ok(outcomes
        .with_context(|| format!("retrying the dead letters of {name}"))?
        .into_iter()
        .map(|(position, outcome)| match outcome {
            Ok(outcome) => retry_json(position, outcome),
            Err(error) => json!({"position": position.get(), "outcome": "refused", "error": error.to_string()}),
        })
        .collect())
}

/// Prints each retry's outcome; fails unless every one applied.
fn report_retries(projection: &str, answers: &[Value]) -> anyhow::Result<()> {
    if answers.is_empty() {
        println!("{projection} has no dead letters");
        return Ok(());
    }
    let mut unapplied = 0;
    for answer in answers {
        let position = &answer["position"];
        match answer["outcome"].as_str() {
            Some("applied") => println!("{projection} {position}: applied; the letter is gone"),
            Some(outcome) => {
                unapplied += 1;
                let attempts = answer["attempts"]
                    .as_u64()
                    .map_or_else(String::new, |a| format!(" (attempt {a})"));
                let error = answer["error"].as_str().unwrap_or("");
                println!("{projection} {position}: {outcome}{attempts}: {error}");
            }
            None => bail!("an answer without an outcome: {answer}"),
        }
    }
    if unapplied > 0 {
        bail!(
            "{unapplied} of {} dead letter(s) of {projection} did not apply",
            answers.len()
        );
    }
    Ok(())
}

/// The projection run in this process, to act on its letters between its batches.
struct Running {
    handle: ProjectorHandle,
    shutdown: CancellationToken,
    stores: Stores,
}

impl Running {
    /// Starts the projection and waits until it has settled (live, or stopped at an event),
    /// so a letter it stops at again is known as such.
    async fn start(source: &LetterSource, name: &ProjectionName) -> anyhow::Result<Self> {
        let names = [name.to_string()];
        let (stores, target) = open(source, name, read_models::search_access(&names)).await?;
        // Run as the partitions that built the serving read model, never rebuilding it.
        let count = read_models::partition_count(&stores, name, &[]).await?;
        let targets =
            read_models::partitioned(&stores, vec![target], &[(name.to_string(), count)])?;
        let mut projector = Projector::new(stores.events()?, ProjectorOptions::default());
        for target in targets {
            projector = projector.with_target(target);
        }
        if let Some(leases) = &stores.leases {
            projector = projector.with_leases(Arc::clone(leases));
        }
        let shutdown = CancellationToken::new();
        let handle = projector.start(shutdown.clone())?;
        let running = Self {
            handle,
            shutdown,
            stores,
        };
        let workers = match running.handle.watch(name) {
            Some(_) => vec![name.clone()],
            None => running.handle.partition_workers(name),
        };
        for worker in &workers {
            if let Err(error) = running.settle(worker).await {
                running.stop().await;
                return Err(error);
            }
        }
        Ok(running)
    }

    /// Waits until the worker `name` (the projection, or one of its partitions) has settled:
    /// live, or stopped at an event.
    async fn settle(&self, name: &ProjectionName) -> anyhow::Result<()> {
        let running = self;
        let mut status = running
            .handle
            .watch(name)
            .context("the projection is registered")?;
        loop {
            let settled = status
                .wait_for(|s| {
                    !matches!(
                        s.state,
                        WorkerState::Starting
                            | WorkerState::CatchingUp
                            | WorkerState::Retrying { .. }
                    )
                })
                .await
                .map(|s| s.state.clone());
            match settled {
                Ok(WorkerState::Standby) => {
                    // A lease a stopped process held a moment ago is free, or this process's
                    // by now: the worker takes it at its next try.
                    if let Some(holder) = running.holder(name).await {
                        bail!(
                            "projection {name} runs in {holder}, which holds its lease; its dead \
                             letters are retried and skipped where it runs: ask that server with \
                             --server URL"
                        );
                    }
                    if status.changed().await.is_err() {
                        break;
                    }
                }
                Ok(_) => return Ok(()),
                Err(_) => break,
            }
        }
        bail!("projection {name} shut down before it settled")
    }

    /// Another process holding the projection's lease, if one does.
    async fn holder(&self, name: &ProjectionName) -> Option<String> {
        let ours = format!("pid {}", std::process::id());
        match self.stores.lease_holders(std::slice::from_ref(name)).await {
            Ok(Some(mut holders)) => holders.remove(name).and_then(|holder| {
                let label = holder.application_name.clone().unwrap_or_default();
                (!label.ends_with(&ours)).then(|| holder.to_string())
            }),
            Ok(None) => None,
            Err(error) => Some(format!(
                "another process (which one could not be read: {error:#})"
            )),
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.handle.join().await;
        self.stores.close().await;
    }
}

/// The stores and the projection's target over them.
async fn open(
    source: &LetterSource,
    name: &ProjectionName,
    search: SearchAccess,
) -> anyhow::Result<(Stores, Arc<dyn ProjectionTarget>)> {
    let stores = Stores::open(
        &source.storage,
        "projector dead-letters",
        source.leases.timeout(),
        EventAccess::Store,
        search,
    )
    .await
    .with_context(|| {
        format!(
            "opening the stores of {name}; while a server runs it, ask that server with \
             --server URL"
        )
    })?;
    let target = read_models::targets(&stores, &[name.to_string()])?.remove(0);
    Ok((stores, target))
}

/// The serving generation's letters, by position; none before it has one.
async fn letters(target: &dyn ProjectionTarget) -> anyhow::Result<Vec<DeadLetter>> {
    match target.dead_letters().await {
        Ok(mut letters) => {
            letters.sort_by_key(|l| l.position);
            Ok(letters)
        }
        Err(ReadStoreError::NoGeneration { .. }) => Ok(Vec::new()),
        Err(error) => Err(error).context("reading the dead letters"),
    }
}

/// The event at `position` in the event store.
async fn event_at(stores: &Stores, position: GlobalPosition) -> anyhow::Result<RecordedEvent> {
    let after = GlobalPosition::new(position.get().saturating_sub(1));
    stores
        .events()?
        .read_all(after, 1)
        .await
        .context("reading the event")?
        .into_iter()
        .next()
        .filter(|e| e.position == position)
        .context("the event store has no event at that position")
}

/// A letter as the admin API shows it.
fn letter_json(letter: &DeadLetter) -> Value {
    json!({
        "position": letter.position.get(),
        "event_id": letter.event_id,
        "stream_id": letter.stream_id.as_str(),
        "event_type": letter.event_type.as_str(),
        "error": letter.error,
        "attempts": letter.attempts,
        "first_failed_at": letter.first_failed_at,
        "last_failed_at": letter.last_failed_at,
        "skipped": letter.skipped,
    })
}

/// An event as the admin API shows it.
fn event_json(event: &RecordedEvent) -> Value {
    json!({
        "position": event.position.get(),
        "event_id": event.event_id,
        "stream_id": event.stream_id.as_str(),
        "stream_version": event.stream_version.get(),
        "event_type": event.event_type.as_str(),
        "schema_version": event.schema_version,
        "recorded_at": event.recorded_at,
        "data": event.data.to_value().unwrap_or_default(),
        "metadata": event.metadata,
    })
}

/// A retry's outcome as the admin API answers it.
fn retry_json(position: GlobalPosition, outcome: RetryOutcome) -> Value {
    match outcome {
        RetryOutcome::Applied => json!({"position": position.get(), "outcome": "applied"}),
        RetryOutcome::Failed { error, attempts } => json!({
            "position": position.get(), "outcome": "failed", "error": error, "attempts": attempts,
        }),
    }
}

/// The letters as a table, one a line.
fn print_table(list: &Value) {
    let projection = list["projection"].as_str().unwrap_or("");
    let letters = list["dead_letters"].as_array().cloned().unwrap_or_default();
    if letters.is_empty() {
        println!("{projection} has no dead letters");
        return;
    }
    println!(
        "{:<10} {:<24} {:<24} {:>8} {:<7} {:<27} ERROR",
        "POSITION", "EVENT TYPE", "STREAM", "ATTEMPTS", "SKIPPED", "LAST FAILED"
    );
    for letter in &letters {
        let text = |field: &str| letter[field].as_str().unwrap_or("").to_owned();
        println!(
            "{:<10} {:<24} {:<24} {:>8} {:<7} {:<27} {}",
            letter["position"],
            text("event_type"),
            text("stream_id"),
            letter["attempts"],
            if letter["skipped"] == true {
                "yes"
            } else {
                "no"
            },
            text("last_failed_at"),
            text("error").replace('\n', " "),
        );
    }
}
