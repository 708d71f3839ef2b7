//! One bench run on PostgreSQL: a fresh database on the server of `--database-url`, created
//! for the run and dropped after it, with the plain tokio-postgres loops beside it on request.

use std::sync::Arc;

use anyhow::Context;
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions};
use projector_sql::SqlReadStore;
use tokio_postgres::NoTls;

use super::report::{RunFigures, Settings};
use super::{bar, baseline_pg, cache, phases};
use crate::opts::BenchArgs;

pub(crate) async fn run_once(
    args: &BenchArgs,
    url: &str,
    run: usize,
) -> anyhow::Result<(RunFigures, Settings)> {
    let database = BenchDatabase::create(url).await?;
    let result = run_in(args, &database, run).await;
    database.drop().await;
    result
}

async fn run_in(
    args: &BenchArgs,
    database: &BenchDatabase,
    run: usize,
) -> anyhow::Result<(RunFigures, Settings)> {
    let events = args.orders * 4;
    let store = Arc::new(
        PgEventStore::connect(&database.url, PgEventStoreOptions::default())
            .await
            .context("connecting the event store")?,
    );
    let url = database.url.clone();
    let (append_seconds, project_seconds) =
        phases::append_and_project(args, run, store.clone(), async move {
            let reads = PgReadStore::connect(&url, PgReadStoreOptions::default())
                .await
                .context("opening the read store")?;
            anyhow::Ok(Arc::new(reads) as Arc<dyn SqlReadStore>)
        })
        .await?;
    let cache = match &args.redis_url {
        Some(url) => Some(cache::run(args, url, store.clone(), run).await?),
        None => None,
    };
    store.close().await;
    drop(store);

    let baseline = if args.baseline {
        let spinner = bar(
            args.json,
            0,
            &format!("run {run} · plain tokio-postgres loops"),
        );
        let figures = baseline_pg::run(&database.url, args.orders, args.batch_size.max(1)).await?;
        spinner.finish_and_clear();
        Some(figures)
    } else {
        None
    };
    Ok((
        RunFigures {
            append_events_per_s: events as f64 / append_seconds,
            project_events_per_s: events as f64 / project_seconds,
            baseline,
            cache,
        },
        Settings {
            backend: "postgres",
            durability: format!("synchronous_commit={}", database.synchronous_commit),
            read_durability: "synchronous_commit=off".to_owned(),
            baseline_name: "plain tokio-postgres",
        },
    ))
}

/// A database made for one run.
pub(crate) struct BenchDatabase {
    admin: tokio_postgres::Client,
    name: String,
    pub(crate) url: String,
    synchronous_commit: String,
}

impl BenchDatabase {
    pub(crate) async fn create(url: &str) -> anyhow::Result<Self> {
        let (admin, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .with_context(|| format!("connecting to {}", crate::redact::redact(url)))?;
        tokio::spawn(connection);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("projector_bench_{}_{nanos}", std::process::id());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .with_context(|| format!("creating the bench database {name}"))?;
        let synchronous_commit: String = admin
            .query_one("SHOW synchronous_commit", &[])
            .await
            .context("reading synchronous_commit")?
            .try_get(0)?;
        Ok(Self {
            admin,
            url: with_database(url, &name),
            name,
            synchronous_commit,
        })
    }

    pub(crate) async fn drop(self) {
        if let Err(error) = self
            .admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
        {
            tracing::warn!(%error, database = self.name, "could not drop the bench database");
        }
    }
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    match query {
        Some(query) => format!("{}/{name}?{query}", &base[..path]),
        None => format!("{}/{name}", &base[..path]),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_bench_database_replaces_the_one_in_the_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgres://h/x?a=1", "b"),
            "postgres://h/b?a=1"
        );
    }
}
