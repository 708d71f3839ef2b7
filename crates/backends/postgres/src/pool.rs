//! Connection pools to one database, with timeouts so a database that is away makes calls fail
//! quickly (as `Unavailable`) instead of hanging, and reconnects when it returns.

use std::str::FromStr;
use std::time::Duration;

use crate::tls::{Connector, Settings, SslMode};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};

/// How long opening a connection may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a pool could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PoolSetupError {
    /// The URL is not a PostgreSQL connection string.
    #[error("invalid database URL: {0}")]
    Url(#[source] tokio_postgres::Error),
    /// The TLS settings (`sslmode`, `sslrootcert`) cannot be used.
    #[error("{0}")]
    Tls(#[from] crate::tls::TlsSetupError),
    /// The pool could not be built.
    #[error("cannot build a connection pool: {0}")]
    Build(#[from] deadpool_postgres::BuildError),
}

/// How much longer than its statement timeout a read waits for the database's answer before
/// giving up on it: the server cancels the statement at the timeout and answers at once, so only
/// a network that stopped answering needs this.
pub(crate) const ANSWER_GRACE: Duration = Duration::from_secs(1);

/// The driver configuration of `url`, with the settings every connection of this backend uses.
pub(crate) fn config(url: &str) -> Result<tokio_postgres::Config, PoolSetupError> {
    let tls = Settings::of(url)?;
    let mut config = tokio_postgres::Config::from_str(&tls.rest).map_err(PoolSetupError::Url)?;
    config.ssl_mode(if tls.mode == SslMode::Disable {
        tokio_postgres::config::SslMode::Disable
    } else {
        tokio_postgres::config::SslMode::Require
    });
    if config.get_application_name().is_none() {
        config.application_name("projector");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    // The schema statements say `IF NOT EXISTS` and `CASCADE` on purpose; their notices would
    // only fill the logs. Warnings and errors still arrive.
    Ok(with_settings(config, "-c client_min_messages=warning"))
}

/// The TLS connector `url`'s `sslmode` and `sslrootcert` ask for.
pub(crate) fn connector(url: &str) -> Result<Connector, PoolSetupError> {
    Ok(Settings::of(url)?.connector()?)
}

/// `config` with queries planned for their actual parameters on every execution.
///
/// The event store's reads are few and keyed; a generic plan cached while the events table was
/// small (a scan) would stay in use as it grows. Planning each time costs microseconds.
pub(crate) fn custom_plans(config: tokio_postgres::Config) -> tokio_postgres::Config {
    with_settings(config, "-c plan_cache_mode=force_custom_plan")
}

/// `config` for the writer's connection: its one statement planned once and the plan kept,
/// with index scans only.
///
/// Planning the append statement costs more than running it for a small group, so the plan
/// is generic and cached; every lookup in it is keyed, and without scans the cached plan
/// stays right however the events table grows.
pub(crate) fn writer_settings(config: tokio_postgres::Config) -> tokio_postgres::Config {
    with_settings(
        config,
        "-c plan_cache_mode=force_generic_plan -c enable_seqscan=off",
    )
}

pub(crate) fn with_settings(
    mut config: tokio_postgres::Config,
    settings: &str,
) -> tokio_postgres::Config {
    let options = match config.get_options() {
        Some(options) => format!("{options} {settings}"),
        None => settings.to_owned(),
    };
    config.options(&options);
    config
}

/// A pool of at most `size` connections to `config`'s database.
///
/// Connections are checked cheaply on reuse (a closed one is replaced); waiting for one and
/// creating one are both bounded, so callers see an error while the database is away.
pub(crate) fn build(
    config: tokio_postgres::Config,
    tls: &Connector,
    size: usize,
) -> Result<Pool, PoolSetupError> {
    let manager = Manager::from_config(
        config,
        tls.0.clone(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .build()?)
}
