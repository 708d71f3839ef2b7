//! The heartbeat of a held lease, and the timing that bounds how long a hung lease session goes
//! unnoticed at either end (the reasoning is in the [`lease`](crate::lease) module's docs).

use std::sync::Arc;
use std::time::Duration;

use projector_core::ProjectionName;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::describe;
use crate::pool;

/// The shortest lease timeout: below it, scheduling noise alone would lose leases.
const MIN_TIMEOUT: Duration = Duration::from_millis(10);
/// The longest: the server's idle timeout, `2 T`, must fit its setting (`i32` milliseconds).
const MAX_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64 / 2);

/// The bounds of one lease session, all derived from the lease timeout.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    /// `T`: the holder gives the lease up when no heartbeat sent in the last `T` was answered.
    pub(crate) timeout: Duration,
    /// How often the holder sends a heartbeat: at most `T / 3`.
    pub(crate) interval: Duration,
    /// `2 T`: the server ends the session when no statement arrived for this long.
    pub(crate) server_idle: Duration,
}

impl Timing {
    /// The timing for lease timeout `timeout` and a wished heartbeat interval.
    pub(crate) fn new(timeout: Duration, heartbeat: Duration) -> Self {
        let timeout = timeout.clamp(MIN_TIMEOUT, MAX_TIMEOUT);
        Self {
            timeout,
            interval: heartbeat.min(timeout / 3).max(Duration::from_millis(1)),
            server_idle: timeout.saturating_mul(2),
        }
    }

    /// `base` with the settings of a lease session: the server's idle timeout, and TCP
    /// keepalives and a TCP user timeout that let the holder notice a dead peer within `T`.
    pub(crate) fn session(&self, base: &tokio_postgres::Config) -> tokio_postgres::Config {
        let mut config = base.clone();
        config
            .keepalives(true)
            // The kernel counts keepalive times in whole seconds.
            .keepalives_idle((self.timeout / 2).max(Duration::from_secs(1)))
            .keepalives_interval(Duration::from_secs(1))
            .keepalives_retries(2)
            .tcp_user_timeout(self.timeout);
        let idle_ms = self.server_idle.as_millis();
        pool::with_settings(config, &format!("-c idle_session_timeout={idle_ms}"))
    }
}

/// Checks the session of the lease on `projection` every heartbeat interval until `lost` is
/// cancelled; gives the lease up (cancels `lost`, ends the `session`'s driver, which closes the
/// connection) when a heartbeat fails, or when `T` passes after the send of the last answered
/// one (`answered`: at first, the lock query's).
pub(crate) async fn beat(
    client: Arc<tokio_postgres::Client>,
    projection: ProjectionName,
    timing: Timing,
    mut answered: Instant,
    lost: CancellationToken,
    session: AbortHandle,
) {
    loop {
        let deadline = answered + timing.timeout;
        tokio::select! {
            () = lost.cancelled() => return,
            () = tokio::time::sleep_until((Instant::now() + timing.interval).min(deadline)) => {}
        }
        let sent = Instant::now();
        match tokio::time::timeout_at(deadline, client.simple_query("SELECT 1")).await {
            Ok(Ok(_)) => answered = sent,
            Ok(Err(error)) => {
                tracing::warn!(%projection, error = %describe(&error),
                    "the lease's session failed; giving the lease up");
                break;
            }
            Err(_) => {
                tracing::warn!(%projection, timeout_ms = timing.timeout.as_millis(),
                    "no heartbeat answered within the lease timeout; giving the lease up");
                break;
            }
        }
    }
    lost.cancel();
    session.abort();
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Timing;

    #[test]
    fn the_holder_gives_up_well_before_the_server_frees_the_lease() {
        for (timeout, heartbeat) in [
            (5_000, 1_000),
            (1_000, 1_000),
            (300, 100),
            (0, 0),
            (u64::MAX, 1),
        ] {
            let timing = Timing::new(
                Duration::from_millis(timeout),
                Duration::from_millis(heartbeat),
            );
            assert!(timing.interval * 3 <= timing.timeout, "{timing:?}");
            assert!(!timing.interval.is_zero(), "{timing:?}");
            assert_eq!(timing.server_idle, timing.timeout * 2, "{timing:?}");
        }
    }

    #[test]
    fn the_server_is_told_its_idle_timeout_in_milliseconds() {
        let base: tokio_postgres::Config = "postgres://u@h/db".parse().expect("url");
        let timing = Timing::new(Duration::from_millis(1_500), Duration::from_secs(1));
        let session = timing.session(&base);
        assert_eq!(session.get_options(), Some("-c idle_session_timeout=3000"));
        assert!(session.get_keepalives());
        assert_eq!(
            session.get_tcp_user_timeout(),
            Some(&Duration::from_millis(1_500))
        );
        let huge = Timing::new(Duration::MAX, Duration::from_secs(1)).session(&base);
        assert_eq!(
            huge.get_options(),
            Some(format!("-c idle_session_timeout={}", i32::MAX - 1).as_str()),
            "the longest idle timeout the server takes, still twice the lease timeout"
        );
    }
}
