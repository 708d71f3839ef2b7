//! One generation of one projection's read model: its own database file holding the
//! projection's tables, its checkpoint and its dead letters.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use projector_core::{
    ApplyError, Checkpoint, DeadLetter, EventType, Generation, GlobalPosition, Partition,
    ProjectionName, ReadStoreError, RecordedEvent, StreamId,
};
use projector_sql::{SqlProjection, apply_catching_panics, parse_sql_time, sql_time};
use rusqlite::{Connection, params};

use crate::connection::{open_busy_writer, open_reader};
use crate::durability::Durability;
use crate::error::read_store_error;
use crate::pool::ReaderPool;
use crate::read_store::transaction::SqliteTransaction;

/// An open generation database: one write connection (used by the projection's worker only)
/// and a pool of read-only connections for queries.
#[derive(Debug)]
pub(crate) struct GenerationDb {
    projection: ProjectionName,
    generation: Generation,
    writer: Mutex<Connection>,
    readers: Arc<ReaderPool>,
    /// Set, holding the writer, once a swap or a drop has retired the generation: a batch that
    /// found it open before, waiting for the writer meanwhile, must not commit to it.
    retired: AtomicBool,
}

impl GenerationDb {
    /// The database file of `projection`'s `generation` in `dir`.
    pub(crate) fn path(dir: &Path, projection: &ProjectionName, generation: Generation) -> PathBuf {
        dir.join(format!("{projection}.{generation}.db"))
    }

    /// Creates the file in `dir` with the bookkeeping tables and the projection's schema.
    pub(crate) fn create(
        dir: &Path,
        projection: &ProjectionName,
        generation: Generation,
        schema: &[String],
        durability: Durability,
        partitions: Option<u16>,
    ) -> Result<Self, ReadStoreError> {
        let path = Self::path(dir, projection, generation);
        remove_files(&path);
        let mut conn = open_busy_writer(&path, durability)
            .map_err(|e| read_store_error("creating a read model", e))?;
        let tx = conn
            .transaction()
            .map_err(|e| read_store_error("creating a read model", e))?;
        tx.execute_batch(include_str!("../sql/read_model_bookkeeping.sql"))
            .map_err(|e| read_store_error("creating bookkeeping tables", e))?;
        for statement in schema {
            tx.execute_batch(statement).map_err(|e| {
                read_store_error(&format!("creating the schema of {projection}"), e)
            })?;
        }
        for partition in 0..partitions.unwrap_or(0) {
            tx.execute(
                "INSERT INTO _projector_partitions (partition, partitions, position, last_event_at, updated_at) \
                 VALUES (?1, ?2, 0, NULL, ?3)",
                params![partition, partitions, sql_time(Utc::now())],
            )
            .map_err(|e| read_store_error("recording the partitions", e))?;
        }
        tx.commit()
            .map_err(|e| read_store_error("creating a read model", e))?;
        Ok(Self::from_connection(projection, generation, path, conn))
    }

    /// Opens an existing generation file in `dir`; `read_only` for inspection beside its
    /// writer.
    pub(crate) fn open(
        dir: &Path,
        projection: &ProjectionName,
        generation: Generation,
        durability: Durability,
        read_only: bool,
    ) -> Result<Self, ReadStoreError> {
        let path = Self::path(dir, projection, generation);
        if !path.exists() {
            return Err(ReadStoreError::Unavailable {
                message: format!("read model file {} is missing", path.display()),
                source: None,
            });
        }
        let conn = if read_only {
            open_reader(&path)
        } else {
            open_busy_writer(&path, durability)
        }
        .map_err(|e| read_store_error("opening a read model", e))?;
        Ok(Self::from_connection(projection, generation, path, conn))
    }

    fn from_connection(
        projection: &ProjectionName,
        generation: Generation,
        path: PathBuf,
        conn: Connection,
    ) -> Self {
        Self {
            projection: projection.clone(),
            generation,
            readers: ReaderPool::new(path, 4),
            writer: Mutex::new(conn),
            retired: AtomicBool::new(false),
        }
    }

    /// The read-only connections, for queries.
    pub(crate) fn readers(&self) -> &Arc<ReaderPool> {
        &self.readers
    }

    /// Runs `work` in a write transaction (`BEGIN IMMEDIATE`), rolled back when it fails; `work`
    /// commits it itself.
    fn write_transaction(
        &self,
        what: &str,
        work: impl FnOnce(&mut Connection) -> Result<(), ApplyError>,
    ) -> Result<(), ApplyError> {
        let mut conn = self.live_writer()?;
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| read_store_error(what, e))?;
        let result = work(&mut conn);
        if result.is_err() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        result
    }

    /// The write connection for a write that must land in a generation still in use: refused,
    /// as a generation gone, once a swap or a drop has retired this one.
    fn live_writer(&self) -> Result<MutexGuard<'_, Connection>, ReadStoreError> {
        let conn = self.writer();
        if self.retired.load(Ordering::Acquire) {
            return Err(ReadStoreError::NoGeneration {
                projection: self.projection.clone(),
                generation: self.generation.to_string(),
            });
        }
        Ok(conn)
    }

    /// The write connection, held until the guard drops: no batch, swap or drop of this
    /// generation runs meanwhile. Inline projections apply through it.
    pub(crate) fn writer(&self) -> MutexGuard<'_, Connection> {
        let conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        // A panic inside a projection can leave a transaction open; never build on it.
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        conn
    }

    /// The checkpoint of the whole generation, or of one partition of it (blocking).
    pub(crate) fn checkpoint(&self, slot: Option<Partition>) -> Result<Checkpoint, ReadStoreError> {
        read_checkpoint(&self.writer(), slot)
    }

    /// How many partitions built this generation: 1 when it was built whole (blocking).
    pub(crate) fn partitions(&self) -> Result<u16, ReadStoreError> {
        let conn = self.writer();
        let count: Option<i64> = conn
            .prepare_cached("SELECT max(partitions) FROM _projector_partitions")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .ok()
            .flatten();
        Ok(count
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(1)
            .max(1))
    }

    /// Applies a batch and moves the checkpoint in one transaction (blocking). The projection's
    /// future is driven on this thread with `runtime`.
    pub(crate) fn apply(
        &self,
        runtime: &tokio::runtime::Handle,
        projection: &dyn SqlProjection,
        events: &[RecordedEvent],
        from: GlobalPosition,
        checkpoint: Checkpoint,
        slot: Option<Partition>,
    ) -> Result<(), ApplyError> {
        self.write_transaction("starting a batch", |conn| {
            apply_in_transaction(conn, runtime, projection, events, from, checkpoint, slot)
        })
    }

    /// Retires this generation with `retire` (a swap or a drop in the catalog), run while no
    /// batch can commit to it and only if its checkpoint is at `at` (blocking), so it never acts
    /// on a generation another writer moved since the caller looked. `retire` sees the write
    /// connection, to read the checkpoints it decides on. Once it succeeds, writes to this
    /// generation are refused.
    pub(crate) fn retire<T>(
        &self,
        at: GlobalPosition,
        slot: Option<Partition>,
        retire: impl FnOnce(&Connection) -> Result<T, ReadStoreError>,
    ) -> Result<T, ReadStoreError> {
        let conn = self.live_writer()?;
        expect_position(&conn, &self.projection, at, slot)?;
        let retired = retire(&conn)?;
        self.retired.store(true, Ordering::Release);
        Ok(retired)
    }

    /// The checkpoint of each partition by index, or the whole generation's alone when it was
    /// built whole (blocking).
    pub(crate) fn partition_positions(&self) -> Result<Vec<GlobalPosition>, ReadStoreError> {
        partition_positions(&self.writer())
    }

    /// Records or updates a dead letter, and moves the checkpoint from `from` past it when
    /// skipping (blocking); refused unless the checkpoint is at `from`.
    pub(crate) fn record_dead_letter(
        &self,
        letter: &DeadLetter,
        from: GlobalPosition,
        skip_to: Option<Checkpoint>,
        slot: Option<Partition>,
    ) -> Result<(), ReadStoreError> {
        let mut conn = self.live_writer()?;
        let tx = conn
            .transaction()
            .map_err(|e| read_store_error("recording a dead letter", e))?;
        expect_position(&tx, &letter.projection, from, slot)?;
        tx.prepare_cached(include_str!("../sql/upsert_dead_letter.sql"))
            .and_then(|mut s| {
                s.execute(params![
                    to_i64(letter.position.get()),
                    letter.event_id.to_string(),
                    letter.stream_id.as_str(),
                    letter.event_type.as_str(),
                    letter.error,
                    i64::from(letter.attempts),
                    sql_time(letter.first_failed_at),
                    sql_time(letter.last_failed_at),
                    letter.skipped,
                ])
            })
            .map_err(|e| read_store_error("recording a dead letter", e))?;
        if let Some(checkpoint) = skip_to {
            write_checkpoint(&tx, checkpoint, slot)?;
        }
        tx.commit()
            .map_err(|e| read_store_error("recording a dead letter", e))
    }

    /// Applies a dead letter's event again and deletes the letter in one transaction, moving
    /// the checkpoint from `from` to `to` when set (blocking); refused unless the checkpoint is
    /// at `from` and the letter is there.
    pub(crate) fn retry_dead_letter(
        &self,
        runtime: &tokio::runtime::Handle,
        projection: &dyn SqlProjection,
        event: &RecordedEvent,
        from: GlobalPosition,
        to: Option<Checkpoint>,
        slot: Option<Partition>,
    ) -> Result<(), ApplyError> {
        self.write_transaction("retrying a dead letter", |conn| {
            retry_in_transaction(conn, runtime, projection, event, from, to, slot)
        })
    }

    /// Every dead letter, oldest first (blocking).
    pub(crate) fn dead_letters(
        &self,
        projection: &ProjectionName,
    ) -> Result<Vec<DeadLetter>, ReadStoreError> {
        let conn = self.writer();
        let mut stmt = conn
            .prepare_cached(
                "SELECT position, event_id, stream_id, event_type, error, attempts, \
                 first_failed_at, last_failed_at, skipped \
                 FROM _projector_dead_letters ORDER BY position",
            )
            .map_err(|e| read_store_error("reading dead letters", e))?;
        let mut rows = stmt
            .query([])
            .map_err(|e| read_store_error("reading dead letters", e))?;
        let mut letters = Vec::new();
        while let Some(row) = rows
            .next()
            .map_err(|e| read_store_error("reading dead letters", e))?
        {
            letters.push(dead_letter(projection, row)?);
        }
        Ok(letters)
    }
}

/// The body of [`GenerationDb::apply`], inside its open transaction; the caller rolls back on
/// error.
fn apply_in_transaction(
    conn: &mut Connection,
    runtime: &tokio::runtime::Handle,
    projection: &dyn SqlProjection,
    events: &[RecordedEvent],
    from: GlobalPosition,
    checkpoint: Checkpoint,
    slot: Option<Partition>,
) -> Result<(), ApplyError> {
    expect_position(conn, &projection.name(), from, slot)?;
    if !events.is_empty() {
        let mut tx = SqliteTransaction::new(conn);
        runtime.block_on(apply_catching_panics(projection, &mut tx, events))?;
    }
    write_checkpoint(conn, checkpoint, slot)?;
    conn.execute_batch("COMMIT")
        .map_err(|e| ApplyError::Store(read_store_error("committing a batch", e)))
}

/// The body of [`GenerationDb::retry_dead_letter`], inside its open transaction; the caller
/// rolls back on error.
fn retry_in_transaction(
    conn: &mut Connection,
    runtime: &tokio::runtime::Handle,
    projection: &dyn SqlProjection,
    event: &RecordedEvent,
    from: GlobalPosition,
    to: Option<Checkpoint>,
    slot: Option<Partition>,
) -> Result<(), ApplyError> {
    let name = projection.name();
    expect_position(conn, &name, from, slot)?;
    let deleted = conn
        .prepare_cached("DELETE FROM _projector_dead_letters WHERE position = ?1")
        .and_then(|mut s| s.execute(params![to_i64(event.position.get())]))
        .map_err(|e| read_store_error("retrying a dead letter", e))?;
    if deleted == 0 {
        return Err(ReadStoreError::NoDeadLetter {
            projection: name,
            position: event.position,
        }
        .into());
    }
    {
        let mut tx = SqliteTransaction::new(conn);
        runtime.block_on(apply_catching_panics(
            projection,
            &mut tx,
            std::slice::from_ref(event),
        ))?;
    }
    if let Some(checkpoint) = to {
        write_checkpoint(conn, checkpoint, slot)?;
    }
    conn.execute_batch("COMMIT")
        .map_err(|e| ApplyError::Store(read_store_error("committing a retry", e)))
}

/// The checkpoint's position on `conn` (of the whole generation).
pub(crate) fn position(conn: &Connection) -> Result<GlobalPosition, ReadStoreError> {
    Ok(read_checkpoint(conn, None)?.position)
}

/// The checkpoint of the generation, or of one partition of it. A generation built whole has
/// no partition rows: each partition reads the whole generation's checkpoint there (it is only
/// ever read so, as the serving generation a partitioned rebuild replaces).
fn read_checkpoint(
    conn: &Connection,
    slot: Option<Partition>,
) -> Result<Checkpoint, ReadStoreError> {
    let row = |r: &rusqlite::Row<'_>| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?));
    let partition_row = match slot {
        Some(partition) => conn
            .prepare_cached(
                "SELECT position, last_event_at FROM _projector_partitions WHERE partition = ?1",
            )
            .and_then(|mut s| s.query_row(params![partition.index()], row))
            .ok(),
        None => None,
    };
    let (position, last_event_at) = match partition_row {
        Some(found) => found,
        None => conn
            .prepare_cached(
                "SELECT position, last_event_at FROM _projector_checkpoint WHERE id = 1",
            )
            .and_then(|mut s| s.query_row([], row))
            .map_err(|e| read_store_error("reading a checkpoint", e))?,
    };
    Ok(Checkpoint {
        position: GlobalPosition::new(u64::try_from(position).unwrap_or(0)),
        last_event_at: last_event_at.as_deref().map(parse_time).transpose()?,
    })
}

/// The checkpoint of each partition on `conn` by index, or the whole generation's alone when
/// it was built whole.
pub(crate) fn partition_positions(
    conn: &Connection,
) -> Result<Vec<GlobalPosition>, ReadStoreError> {
    let positions: Vec<GlobalPosition> = conn
        .prepare_cached("SELECT position FROM _projector_partitions ORDER BY partition")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, i64>(0))?
                .map(|p| p.map(|p| GlobalPosition::new(u64::try_from(p).unwrap_or(0))))
                .collect()
        })
        .map_err(|e| read_store_error("reading the partitions' checkpoints", e))?;
    if positions.is_empty() {
        return Ok(vec![read_checkpoint(conn, None)?.position]);
    }
    Ok(positions)
}

/// Refuses with [`ReadStoreError::CheckpointMoved`] unless the checkpoint (of the partition,
/// with `slot`) is at `expected`.
fn expect_position(
    conn: &Connection,
    projection: &ProjectionName,
    expected: GlobalPosition,
    slot: Option<Partition>,
) -> Result<(), ReadStoreError> {
    let found = read_checkpoint(conn, slot)?.position;
    if found != expected {
        return Err(ReadStoreError::CheckpointMoved {
            projection: projection.clone(),
            expected,
            found,
        });
    }
    Ok(())
}

pub(crate) fn write_checkpoint(
    conn: &Connection,
    checkpoint: Checkpoint,
    slot: Option<Partition>,
) -> Result<(), ReadStoreError> {
    let values = params![
        to_i64(checkpoint.position.get()),
        checkpoint.last_event_at.map(sql_time),
        sql_time(Utc::now()),
    ];
    let written = match slot {
        None => conn
            .prepare_cached(
                "UPDATE _projector_checkpoint SET position = ?1, last_event_at = ?2, updated_at = ?3 WHERE id = 1",
            )
            .and_then(|mut s| s.execute(values)),
        Some(partition) => conn
            .prepare_cached(
                "UPDATE _projector_partitions SET position = ?1, last_event_at = ?2, updated_at = ?3 \
                 WHERE partition = ?4",
            )
            .and_then(|mut s| {
                s.execute(params![
                    to_i64(checkpoint.position.get()),
                    checkpoint.last_event_at.map(sql_time),
                    sql_time(Utc::now()),
                    partition.index(),
                ])
            }),
    }
    .map_err(|e| read_store_error("writing a checkpoint", e))?;
    if written != 1 {
        return Err(ReadStoreError::Unavailable {
            message: format!(
                "this generation was not built as partitions; partition {} has no checkpoint in it",
                slot.map(|p| p.to_string()).unwrap_or_default()
            ),
            source: None,
        });
    }
    Ok(())
}

fn dead_letter(
    projection: &ProjectionName,
    row: &rusqlite::Row<'_>,
) -> Result<DeadLetter, ReadStoreError> {
    let corrupt = |e: &dyn std::fmt::Display| ReadStoreError::Unavailable {
        message: format!("corrupt dead letter: {e}"),
        source: None,
    };
    let get_text =
        |i: usize| -> Result<String, ReadStoreError> { row.get(i).map_err(|e| corrupt(&e)) };
    let get_int = |i: usize| -> Result<i64, ReadStoreError> { row.get(i).map_err(|e| corrupt(&e)) };
    Ok(DeadLetter {
        projection: projection.clone(),
        position: GlobalPosition::new(u64::try_from(get_int(0)?).unwrap_or(0)),
        event_id: get_text(1)?.parse().map_err(|e| corrupt(&e))?,
        stream_id: StreamId::parse(get_text(2)?).map_err(|e| corrupt(&e))?,
        event_type: EventType::parse(get_text(3)?).map_err(|e| corrupt(&e))?,
        error: get_text(4)?,
        attempts: u32::try_from(get_int(5)?).unwrap_or(u32::MAX),
        first_failed_at: parse_time(&get_text(6)?)?,
        last_failed_at: parse_time(&get_text(7)?)?,
        skipped: get_int(8)? != 0,
    })
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, ReadStoreError> {
    parse_sql_time(text).map_err(ReadStoreError::from)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Deletes a database file and its WAL companions; open connections keep reading the unlinked
/// file until they close.
pub(crate) fn remove_files(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(file));
    }
}
