//! One bench run on embedded SQLite in a fresh temporary directory, with the plain-rusqlite
//! loops beside it on request.

use std::sync::Arc;

use anyhow::Context;
use projector_sql::SqlReadStore;
use projector_sqlite::{
    SqliteEventStore, SqliteEventStoreOptions, SqliteReadStore, SqliteReadStoreOptions,
};

use super::report::{RunFigures, Settings};
use super::{bar, baseline, cache, phases};
use crate::opts::BenchArgs;

pub(crate) async fn run_once(
    args: &BenchArgs,
    run: usize,
) -> anyhow::Result<(RunFigures, Settings)> {
    let events = args.orders * 4;
    let dir = match &args.dir {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .context("creating a temporary directory")?;

    let options = SqliteEventStoreOptions {
        durability: args.durability,
        ..SqliteEventStoreOptions::default()
    };
    let store = Arc::new(SqliteEventStore::open(
        dir.path().join("events.db"),
        options,
    )?);
    let read_dir = dir.path().join("read");
    let (append_seconds, project_seconds) =
        phases::append_and_project(args, run, store.clone(), async move {
            let reads = SqliteReadStore::open(read_dir, SqliteReadStoreOptions::default())?;
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
        let spinner = bar(args.json, 0, &format!("run {run} · plain rusqlite loops"));
        let (dir_path, orders, durability, batch_size) = (
            dir.path().to_path_buf(),
            args.orders,
            args.durability,
            args.batch_size.max(1),
        );
        let figures = tokio::task::spawn_blocking(move || {
            baseline::run(&dir_path, orders, durability, batch_size)
        })
        .await
        .context("the baseline panicked")??;
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
            backend: "sqlite",
            durability: args.durability.to_string(),
            read_durability: projector_sqlite::Durability::Normal.to_string(),
            baseline_name: "plain rusqlite",
        },
    ))
}
