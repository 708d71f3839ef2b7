//! The index's own threads at a lower CPU priority than the rest of the process.
//!
//! The index library starts its indexing threads when its writer is made and again at each
//! commit, and its merge threads with the writer; a thread starts at the CPU priority of the
//! thread that starts it. So the writer is made, fed and committed on a thread whose priority
//! is lowered first, and every thread it starts inherits the lower priority. Under CPU
//! pressure the event store's writer and the other read models then come first, and the
//! index catches up in larger batches, as a database's background compactions do.

use crate::error::SearchError;

/// Runs `work` on a thread of its own whose CPU priority is `nice` steps lower than the
/// caller's (on Linux; elsewhere, and with `nice` 0, on the caller's thread as it is).
///
/// # Errors
/// When no thread can be started.
pub(crate) fn lowered<T: Send>(
    nice: u8,
    work: impl FnOnce() -> T + Send,
) -> Result<T, SearchError> {
    if nice == 0 || !cfg!(target_os = "linux") {
        return Ok(work());
    }
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("search-indexing".into())
            .spawn_scoped(scope, move || {
                lower_own_priority(nice);
                work()
            })
            .map_err(SearchError::Thread)?;
        Ok(thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

/// Lowers the calling thread's CPU priority (raises its nice value) by `by`; a thread whose
/// priority cannot change keeps its own, which only costs the ordering.
#[cfg(target_os = "linux")]
fn lower_own_priority(by: u8) {
    use rustix::process::{getpriority_process, setpriority_process};
    // On Linux each thread has its own nice value, addressed by its thread id.
    let me = Some(rustix::thread::gettid());
    let lowered = getpriority_process(me)
        .and_then(|now| setpriority_process(me, (now + i32::from(by)).min(19)));
    if let Err(error) = lowered {
        tracing::debug!(%error, "the index's thread keeps its CPU priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_own_priority(_by: u8) {}
