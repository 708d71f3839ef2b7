//! Retrying a dead letter: its event applied again by the projection, and the letter deleted,
//! in one script that checks the state the caller saw first.

use projector_core::{
    ApplyError, Checkpoint, Generation, GlobalPosition, ReadStoreError, RecordedEvent,
};

use crate::catalog::encode_checkpoint;
use crate::scripts::{RETRY_DEAD_LETTER, Reply, corrupt};
use crate::target::{RedisTarget, wrong_type};

/// The retry script's own keys (catalog, checkpoint, letter index, letter), before the data
/// keys.
const RETRY_KEYS: usize = 4;

impl RedisTarget {
    /// Applies `event` again in `generation` of the catalog `epoch` and deletes its letter,
    /// moving the checkpoint from `from` to `to` when set.
    pub(crate) async fn retry_letter(
        &self,
        epoch: &str,
        generation: Generation,
        event: RecordedEvent,
        from: GlobalPosition,
        to: Option<Checkpoint>,
    ) -> Result<(), ApplyError> {
        let keys = self.keys.generation(epoch, generation);
        let writes = self
            .writes(generation, &keys, std::slice::from_ref(&event), RETRY_KEYS)
            .await?;
        let (position, at) = to.map(encode_checkpoint).unwrap_or_default();
        let mut invocation = RETRY_DEAD_LETTER.key(self.keys.catalog());
        invocation
            .key(keys.checkpoint())
            .key(keys.dead_letters())
            .key(keys.dead_letter(event.position));
        for key in &writes.keys {
            invocation.key(key);
        }
        invocation
            .arg(self.keys.tag())
            .arg(epoch)
            .arg(generation.get())
            .arg(from.get())
            .arg(position)
            .arg(at)
            .arg(event.position.get());
        for arg in &writes.args {
            invocation.arg(arg);
        }
        match self
            .store
            .run("retrying a dead letter", &invocation)
            .await?
        {
            Reply::Ok(_) => Ok(()),
            Reply::Moved(found) => Err(self.moved(from, &found).into()),
            Reply::NoGeneration => Err(self.no_generation(generation).into()),
            Reply::NoDeadLetter => Err(ReadStoreError::NoDeadLetter {
                projection: self.projection.name(),
                position: event.position,
            }
            .into()),
            Reply::WrongType { key, found, write } => Err(wrong_type(&keys, &key, &found, &write)),
            other => Err(corrupt(format!("{other:?} to a retry")).into()),
        }
    }
}
