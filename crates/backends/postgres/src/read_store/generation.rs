//! Work inside one generation's schema: creating it, its checkpoint, applying a batch with the
//! checkpoint in one transaction, and its dead letters.
//!
//! Each runs in a transaction whose `search_path` is the generation's schema (`SET LOCAL`, so
//! it ends with the transaction and never leaks to the next user of the pooled connection);
//! the projection's SQL and the bookkeeping SQL are unqualified.

use chrono::{DateTime, Utc};
use projector_core::{
    ApplyError, Checkpoint, DeadLetter, EventType, Generation, GlobalPosition, Partition,
    ProjectionName, ReadStoreError, RecordedEvent, StreamId,
};
use projector_sql::{SqlProjection, apply_catching_panics};
use tokio_postgres::error::SqlState;

use crate::error::{describe, read_store_error};
use crate::read_store::catalog::{quoted, schema_name};
use crate::read_store::transaction::{PgTransaction, prepare};
use crate::rows::{clamp, to_u64};

/// Begins a transaction on `client` with `search_path` set to `schema`; with `lazy_commit`,
/// its commit does not wait for the WAL flush (see `PgReadStoreOptions::durable_commits`).
pub(crate) async fn begin<'c>(
    client: &'c mut deadpool_postgres::Client,
    schema: &str,
    lazy_commit: bool,
) -> Result<deadpool_postgres::Transaction<'c>, ReadStoreError> {
    let tx = client
        .transaction()
        .await
        .map_err(|e| read_store_error("starting a read-model transaction", e))?;
    let mut settings = format!("SET LOCAL search_path TO {}", quoted(schema));
    if lazy_commit {
        settings.push_str("; SET LOCAL synchronous_commit TO off");
    }
    tx.batch_execute(&settings)
        .await
        .map_err(|e| read_store_error("setting the search path", e))?;
    Ok(tx)
}

/// Creates the generation's schema with the bookkeeping tables and the projection's own, in
/// `tx` (whose catalog row was just added).
pub(crate) async fn create_schema(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    generation: Generation,
    ddl: &[&str],
    partitions: Option<u16>,
) -> Result<(), ReadStoreError> {
    let schema = quoted(&schema_name(projection, generation));
    tx.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET LOCAL search_path TO {schema}"
    ))
    .await
    .map_err(|e| read_store_error("creating a generation's schema", e))?;
    tx.batch_execute(include_str!("../sql/read_model_bookkeeping.sql"))
        .await
        .map_err(|e| read_store_error("creating bookkeeping tables", e))?;
    for statement in ddl {
        tx.batch_execute(statement)
            .await
            .map_err(|e| read_store_error(&format!("creating the schema of {projection}"), e))?;
    }
    if let Some(count) = partitions {
        tx.execute(
            "INSERT INTO _projector_partitions (partition, partitions, position, last_event_at, updated_at) \
             SELECT p, $1, 0, NULL, now() FROM generate_series(0, $1 - 1) AS p",
            &[&i32::from(count)],
        )
        .await
        .map_err(|e| read_store_error("recording the partitions", e))?;
    }
    Ok(())
}

/// A missing schema or table means the generation is gone (dropped, or never made).
fn gone_or(
    projection: &ProjectionName,
    generation: Generation,
    context: &'static str,
) -> impl Fn(tokio_postgres::Error) -> ReadStoreError {
    let projection = projection.clone();
    move |e| match e.code() {
        Some(code)
            if *code == SqlState::UNDEFINED_TABLE || *code == SqlState::INVALID_SCHEMA_NAME =>
        {
            ReadStoreError::NoGeneration {
                projection: projection.clone(),
                generation: generation.to_string(),
            }
        }
        _ => read_store_error(context, e),
    }
}

/// The checkpoint of the generation `tx` is in, or of one partition of it. Read (not locked)
/// for a partition of a generation built whole, it is the whole generation's: the serving one a
/// partitioned rebuild replaces.
pub(crate) async fn checkpoint(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    generation: Generation,
    for_update: bool,
    slot: Option<Partition>,
) -> Result<Checkpoint, ReadStoreError> {
    let schema = schema_name(projection, generation);
    if let Some(partition) = slot {
        let gone = gone_or(projection, generation, "reading a partition's checkpoint");
        let parted = for_update || partitions_table(tx, &schema).await?;
        if parted {
            let lock = if for_update { " FOR UPDATE" } else { "" };
            let statement = tx
                .prepare_cached(&format!(
                    "/* {schema} */ SELECT position, last_event_at FROM _projector_partitions WHERE partition = $1{lock}"
                ))
                .await
                .map_err(&gone)?;
            let row = tx
                .query_opt(&statement, &[&i32::from(partition.index())])
                .await
                .map_err(&gone)?;
            match row {
                Some(row) => {
                    let position: i64 = row.try_get(0).map_err(&gone)?;
                    return Ok(Checkpoint {
                        position: GlobalPosition::new(to_u64(position)),
                        last_event_at: row.try_get(1).map_err(&gone)?,
                    });
                }
                None if for_update => {
                    return Err(ReadStoreError::NoGeneration {
                        projection: projection.clone(),
                        generation: format!("{generation} partition {partition}"),
                    });
                }
                None => {}
            }
        }
    }
    let sql = if for_update {
        include_str!("../sql/checkpoint_lock.sql")
    } else {
        include_str!("../sql/checkpoint_read.sql")
    };
    let gone = gone_or(projection, generation, "reading a checkpoint");
    let statement = tx
        .prepare_cached(&format!("/* {schema} */ {sql}"))
        .await
        .map_err(&gone)?;
    let row = tx.query_one(&statement, &[]).await.map_err(&gone)?;
    let position: i64 = row.try_get(0).map_err(&gone)?;
    let last_event_at: Option<DateTime<Utc>> = row.try_get(1).map_err(&gone)?;
    Ok(Checkpoint {
        position: GlobalPosition::new(to_u64(position)),
        last_event_at,
    })
}

/// Whether the generation in `schema` has the partitions' table (those made before it do not).
pub(crate) async fn partitions_table(
    tx: &deadpool_postgres::Transaction<'_>,
    schema: &str,
) -> Result<bool, ReadStoreError> {
    let row = tx
        .query_one(
            "SELECT to_regclass(quote_ident($1) || '._projector_partitions') IS NOT NULL",
            &[&schema],
        )
        .await
        .map_err(|e| read_store_error("looking for partitions", e))?;
    row.try_get(0)
        .map_err(|e| read_store_error("looking for partitions", e))
}

/// How many partitions built the generation in `schema` (1 when built whole).
pub(crate) async fn partitions(
    tx: &deadpool_postgres::Transaction<'_>,
    schema: &str,
) -> Result<u16, ReadStoreError> {
    if !partitions_table(tx, schema).await? {
        return Ok(1);
    }
    let row = tx
        .query_one(
            &format!(
                "SELECT max(partitions) FROM {}._projector_partitions",
                quoted(schema)
            ),
            &[],
        )
        .await
        .map_err(|e| read_store_error("counting partitions", e))?;
    let count: Option<i32> = row
        .try_get(0)
        .map_err(|e| read_store_error("counting partitions", e))?;
    Ok(count
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(1)
        .max(1))
}

/// The checkpoint of each partition of `projection`'s `generation` by index, or its whole
/// checkpoint alone when it was built whole; with `lock`, the rows stay locked until `tx` ends,
/// so no batch moves them meanwhile. A generation dropped meanwhile is `NoGeneration`.
pub(crate) async fn partition_positions(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    generation: Generation,
    lock: bool,
) -> Result<Vec<GlobalPosition>, ReadStoreError> {
    let schema = &schema_name(projection, generation);
    let lock = if lock { " FOR UPDATE" } else { "" };
    let quoted = quoted(schema);
    let reading = gone_or(
        projection,
        generation,
        "reading the partitions' checkpoints",
    );
    let decoding = |e| read_store_error("reading the partitions' checkpoints", e);
    let mut positions = Vec::new();
    if partitions_table(tx, schema).await? {
        for row in tx
            .query(
                &format!(
                    "SELECT position FROM {quoted}._projector_partitions ORDER BY partition{lock}"
                ),
                &[],
            )
            .await
            .map_err(&reading)?
        {
            positions.push(GlobalPosition::new(to_u64(
                row.try_get(0).map_err(decoding)?,
            )));
        }
    }
    if positions.is_empty() {
        let row = tx
            .query_one(
                &format!("SELECT position FROM {quoted}._projector_checkpoint WHERE id = 1{lock}"),
                &[],
            )
            .await
            .map_err(&reading)?;
        positions.push(GlobalPosition::new(to_u64(
            row.try_get(0).map_err(decoding)?,
        )));
    }
    Ok(positions)
}

/// Moves the checkpoint of the generation `tx` is in, or of one partition of it.
pub(crate) async fn write_checkpoint(
    tx: &deadpool_postgres::Transaction<'_>,
    schema: &str,
    checkpoint: Checkpoint,
    slot: Option<Partition>,
) -> Result<(), ReadStoreError> {
    if let Some(partition) = slot {
        let statement = prepare(
            tx,
            schema,
            "UPDATE _projector_partitions SET position = $1, last_event_at = $2, updated_at = now() WHERE partition = $3",
        )
        .await
        .map_err(|e| ReadStoreError::Unavailable {
            message: format!("writing a partition's checkpoint: {e}"),
            source: Some(Box::new(e)),
        })?;
        tx.execute(
            &statement,
            &[
                &clamp(checkpoint.position.get()),
                &checkpoint.last_event_at,
                &i32::from(partition.index()),
            ],
        )
        .await
        .map_err(|e| read_store_error("writing a partition's checkpoint", e))?;
        return Ok(());
    }
    let statement = prepare(tx, schema, include_str!("../sql/checkpoint_write.sql"))
        .await
        .map_err(|e| ReadStoreError::Unavailable {
            message: format!("writing a checkpoint: {e}"),
            source: Some(Box::new(e)),
        })?;
    tx.execute(
        &statement,
        &[&clamp(checkpoint.position.get()), &checkpoint.last_event_at],
    )
    .await
    .map_err(|e| read_store_error("writing a checkpoint", e))?;
    Ok(())
}

/// What a [`pass`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Passed {
    /// The checkpoint moved from `from` to the batch's end.
    Moved,
    /// The checkpoint was elsewhere, and stays there: another writer moved it, or the event
    /// store's appends did, for an inline read model. Nothing was written.
    Found(GlobalPosition),
    /// The statement failed (the generation is gone, the connection failed), or saw another
    /// writer move the checkpoint under it: the full path says why.
    Unknown,
}

/// Moves the checkpoint of the generation in `schema` from `from` to `checkpoint` past events
/// its projection ignores, in one round trip where [`apply`] takes five: a single `UPDATE`
/// that holds only while the checkpoint is at `from`, in the implicit transaction of one
/// simple query (with the same lazy commit as a batch). A projection taking none of a busy
/// feed's events does this for every batch, so on PostgreSQL it was a good share of the
/// statements each write cost. The same statement reads where the checkpoint was, so one that
/// moved (an inline read model's, at every batch) is reported without the full path.
pub(crate) async fn pass(
    client: &tokio_postgres::Client,
    schema: &str,
    from: GlobalPosition,
    checkpoint: Checkpoint,
    lazy_commit: bool,
) -> Passed {
    let lazy = if lazy_commit {
        "SET LOCAL synchronous_commit TO off; "
    } else {
        ""
    };
    let last_event_at = checkpoint.last_event_at.map_or_else(
        || "NULL".to_owned(),
        |at| {
            let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            format!("'{at}'::TIMESTAMPTZ")
        },
    );
    let table = format!("{}._projector_checkpoint", quoted(schema));
    // Both parts read the statement's one snapshot: `was` is where the checkpoint stood when
    // the statement began, whether or not the update then found it there.
    let sql = format!(
        "{lazy}WITH was AS (SELECT position FROM {table} WHERE id = 1), \
         moved AS (UPDATE {table} SET position = {}, last_event_at = {last_event_at}, \
         updated_at = now() WHERE id = 1 AND position = {} RETURNING 1) \
         SELECT (SELECT count(*) FROM moved), (SELECT position FROM was)",
        clamp(checkpoint.position.get()),
        clamp(from.get()),
    );
    let Ok(messages) = client.simple_query(&sql).await else {
        return Passed::Unknown;
    };
    let answer = messages.iter().find_map(|message| match message {
        tokio_postgres::SimpleQueryMessage::Row(row) => Some((
            row.get(0).and_then(|moved| moved.parse::<u64>().ok()),
            row.get(1).and_then(|was| was.parse::<i64>().ok()),
        )),
        _ => None,
    });
    match answer {
        Some((Some(1), _)) => Passed::Moved,
        Some((Some(0), Some(was))) if was != clamp(from.get()) => {
            Passed::Found(GlobalPosition::new(to_u64(was)))
        }
        _ => Passed::Unknown,
    }
}

/// Applies a batch and moves the checkpoint in `tx`; the caller commits.
pub(crate) async fn apply(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &dyn SqlProjection,
    generation: Generation,
    events: &[RecordedEvent],
    from: GlobalPosition,
    checkpoint: Checkpoint,
    slot: Option<Partition>,
) -> Result<(), ApplyError> {
    let name = projection.name();
    let schema = schema_name(&name, generation);
    lock_checkpoint_at(tx, &name, generation, from, slot).await?;
    if !events.is_empty() {
        let mut sql = PgTransaction::new(tx, &schema);
        apply_catching_panics(projection, &mut sql, events).await?;
    }
    write_checkpoint(tx, &schema, checkpoint, slot).await?;
    Ok(())
}

/// Locks the checkpoint of the generation `tx` is in, refusing unless it is at `from`.
///
/// The row lock makes a second writer wait; once it has it, a checkpoint that moved means
/// another process applied the events the caller was about to, so it must not.
async fn lock_checkpoint_at(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    generation: Generation,
    from: GlobalPosition,
    slot: Option<Partition>,
) -> Result<(), ReadStoreError> {
    let found = checkpoint(tx, projection, generation, true, slot)
        .await?
        .position;
    if found != from {
        return Err(ReadStoreError::CheckpointMoved {
            projection: projection.clone(),
            expected: from,
            found,
        });
    }
    Ok(())
}

/// Records or updates a dead letter in `tx`, and moves the checkpoint from `from` past it when
/// skipping; refused unless the checkpoint is at `from`.
pub(crate) async fn record_dead_letter(
    tx: &deadpool_postgres::Transaction<'_>,
    generation: Generation,
    letter: &DeadLetter,
    from: GlobalPosition,
    skip_to: Option<Checkpoint>,
    slot: Option<Partition>,
) -> Result<(), ReadStoreError> {
    lock_checkpoint_at(tx, &letter.projection, generation, from, slot).await?;
    let schema = schema_name(&letter.projection, generation);
    let gone = gone_or(&letter.projection, generation, "recording a dead letter");
    let statement = tx
        .prepare_cached(&format!(
            "/* {schema} */ {}",
            include_str!("../sql/upsert_dead_letter.sql")
        ))
        .await
        .map_err(&gone)?;
    tx.execute(
        &statement,
        &[
            &clamp(letter.position.get()),
            &letter.event_id,
            &letter.stream_id.as_str(),
            &letter.event_type.as_str(),
            &letter.error,
            &i64::from(letter.attempts),
            &letter.first_failed_at,
            &letter.last_failed_at,
            &letter.skipped,
        ],
    )
    .await
    .map_err(&gone)?;
    if let Some(checkpoint) = skip_to {
        write_checkpoint(tx, &schema, checkpoint, slot).await?;
    }
    Ok(())
}

/// Applies a dead letter's event again and deletes the letter in `tx`, moving the checkpoint
/// from `from` to `to` when set; refused unless the checkpoint is at `from` and the letter is
/// there. The caller commits.
pub(crate) async fn retry_dead_letter(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &dyn SqlProjection,
    generation: Generation,
    event: &RecordedEvent,
    from: GlobalPosition,
    to: Option<Checkpoint>,
    slot: Option<Partition>,
) -> Result<(), ApplyError> {
    let name = projection.name();
    let schema = schema_name(&name, generation);
    lock_checkpoint_at(tx, &name, generation, from, slot).await?;
    let gone = gone_or(&name, generation, "retrying a dead letter");
    let statement = tx
        .prepare_cached(&format!(
            "/* {schema} */ DELETE FROM _projector_dead_letters WHERE position = $1"
        ))
        .await
        .map_err(&gone)?;
    let deleted = tx
        .execute(&statement, &[&clamp(event.position.get())])
        .await
        .map_err(&gone)?;
    if deleted == 0 {
        return Err(ReadStoreError::NoDeadLetter {
            projection: name.clone(),
            position: event.position,
        }
        .into());
    }
    let mut sql = PgTransaction::new(tx, &schema);
    apply_catching_panics(projection, &mut sql, std::slice::from_ref(event)).await?;
    if let Some(checkpoint) = to {
        write_checkpoint(tx, &schema, checkpoint, slot).await?;
    }
    Ok(())
}

/// Every dead letter of the generation `tx` is in, oldest first.
pub(crate) async fn dead_letters(
    tx: &deadpool_postgres::Transaction<'_>,
    projection: &ProjectionName,
    generation: Generation,
) -> Result<Vec<DeadLetter>, ReadStoreError> {
    let schema = schema_name(projection, generation);
    let gone = gone_or(projection, generation, "reading dead letters");
    let statement = tx
        .prepare_cached(&format!(
            "/* {schema} */ {}",
            include_str!("../sql/dead_letters.sql")
        ))
        .await
        .map_err(&gone)?;
    let rows = tx.query(&statement, &[]).await.map_err(&gone)?;
    rows.iter()
        .map(|row| dead_letter(projection, row))
        .collect()
}

fn dead_letter(
    projection: &ProjectionName,
    row: &tokio_postgres::Row,
) -> Result<DeadLetter, ReadStoreError> {
    let corrupt = |e: &dyn std::fmt::Display| ReadStoreError::Unavailable {
        message: format!("corrupt dead letter: {e}"),
        source: None,
    };
    let driver = |e: tokio_postgres::Error| corrupt(&describe(&e));
    let position: i64 = row.try_get(0).map_err(driver)?;
    let stream_id: &str = row.try_get(2).map_err(driver)?;
    let event_type: &str = row.try_get(3).map_err(driver)?;
    let attempts: i64 = row.try_get(5).map_err(driver)?;
    Ok(DeadLetter {
        projection: projection.clone(),
        position: GlobalPosition::new(to_u64(position)),
        event_id: row.try_get(1).map_err(driver)?,
        stream_id: StreamId::parse(stream_id).map_err(|e| corrupt(&e))?,
        event_type: EventType::parse(event_type).map_err(|e| corrupt(&e))?,
        error: row.try_get(4).map_err(driver)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        first_failed_at: row.try_get(6).map_err(driver)?,
        last_failed_at: row.try_get(7).map_err(driver)?,
        skipped: row.try_get(8).map_err(driver)?,
    })
}
