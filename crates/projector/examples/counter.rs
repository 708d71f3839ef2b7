// A counter on embedded SQLite: events, a decider, a SQL projection, reads of every write.
use projector::prelude::*;
use std::time::Duration;

#[projector::events(category = "counter")] // its streams are `counter-<id>`
#[derive(Clone, Debug, PartialEq)]
enum CounterEvent {
    Incremented { by: u32 },
    Reset,
}

enum Command {
    Increment(u32),
    Reset,
}

struct Counter;
impl Decider for Counter {
    type State = u64; // the total
    type Command = Command;
    type Event = CounterEvent;
    type Error = Refused;
    fn decide(&self, _total: &u64, command: &Command) -> Result<Vec<CounterEvent>, Refused> {
        match *command {
            Command::Increment(0) => Err(Refused::new("increment by at least 1")),
            Command::Increment(by) => Ok(vec![CounterEvent::Incremented { by }]),
            Command::Reset => Ok(vec![CounterEvent::Reset]),
        }
    }
    fn evolve(&self, total: u64, event: &CounterEvent) -> u64 {
        match event {
            CounterEvent::Incremented { by } => total + u64::from(*by),
            CounterEvent::Reset => 0,
        }
    }
}

struct Totals; // the read model: one row per counter
impl TypedSqlProjection for Totals {
    type Event = CounterEvent;
    const NAME: ProjectionName = ProjectionName::from_static("counter_totals");
    const SCHEMA: &[&str] = &["CREATE TABLE totals (counter TEXT PRIMARY KEY, total BIGINT)"];
    async fn apply(
        &self,
        tx: &mut dyn SqlTransaction,
        e: &Envelope<'_, CounterEvent>,
    ) -> Result<(), ProjectionError> {
        let add = "INSERT INTO totals VALUES ($1, $2) \
            ON CONFLICT (counter) DO UPDATE SET total = totals.total + $2";
        let reset = "UPDATE totals SET total = 0 WHERE counter = $1";
        match e.event {
            CounterEvent::Incremented { by } => tx.execute(add, params![e.stream_id, by]).await?,
            CounterEvent::Reset => tx.execute(reset, params![e.stream_id]).await?,
        }; // `?` keeps the event's position, so the projector can set a failing event aside
        Ok(())
    }
}

#[projector::tokio::main(crate = "projector::tokio")]
async fn main() -> Result<(), BoxError> {
    let (dir, patience) = (tempfile::tempdir()?, Duration::from_secs(10));
    let (events, reads) = projector::sqlite::open_dir(dir.path())?;
    let handle = Projector::new(events.clone(), ProjectorOptions::default())
        .with_target(SqlTarget::typed(reads.clone(), Totals))
        .spawn()?;
    let id = CounterEvent::stream(1)?; // `counter-1`
    for command in [Command::Increment(2), Command::Reset, Command::Increment(5)] {
        events.execute(&Counter, &id, &command).await?;
    }
    handle.wait_caught_up(patience).await?; // read your writes
    let sql = "SELECT total FROM totals WHERE counter = $1";
    let rows = reads.query(&Totals::NAME, sql, params![&id]).await?;
    assert_eq!(rows[0].get::<i64>("total")?, 5);
    handle.rebuild_and_swap(&Totals::NAME, patience).await?; // from the first event
    let rows = reads.query(&Totals::NAME, sql, params![&id]).await?;
    assert_eq!(rows[0].get::<i64>("total")?, 5);
    handle.stop().await;
    Ok(())
}
