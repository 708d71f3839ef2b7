//! Every read model a process keeps on SQLite, read whole, and the same read models rebuilt
//! from scratch from an event store: what "nothing lost, nothing applied twice" is checked
//! against.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use projector_cli::read_models::{self, sql_projections};
use projector_core::{EventFeed, GlobalPosition, ProjectionName};
use projector_orders::projections::ORDER_SEARCH;
use projector_postgres::{PgEventStore, PgEventStoreOptions, PgReadStore, PgReadStoreOptions};
use projector_products::projections::PRODUCT_SEARCH;
use projector_runtime::{Projector, ProjectorOptions};
use projector_search::SearchStore;
use projector_search::tantivy::collector::TopDocs;
use projector_search::tantivy::query::AllQuery;
use projector_sql::{SqlProjection, SqlReadStore};
use projector_sqlite::SqliteEventStore;
use projector_testkit::dump::read_models;
use projector_testkit::postgres::TestDatabase;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Every row of every table of a read model, and every document of a search index, by name.
pub type ReadModels = BTreeMap<String, Vec<String>>;

/// Every read model kept in the data directory `data` (SQL tables under `read/`, search
/// indexes under `search/`), with the position each has reached. The process keeping them
/// should be stopped.
pub async fn kept(data: &Path) -> (ReadModels, BTreeMap<String, GlobalPosition>) {
    let reads = projector_testkit::sqlite::read_only_read_store(data).expect("the read models");
    kept_in(&reads, data).await
}

/// Every read model a process on PostgreSQL keeps: its SQL tables in the database at `url`,
/// its search indexes under `search/` of its data directory `data`; with the position each
/// has reached. The process keeping them should be stopped.
pub async fn kept_on_postgres(
    url: &str,
    data: &Path,
) -> (ReadModels, BTreeMap<String, GlobalPosition>) {
    let reads = PgReadStore::connect(url, PgReadStoreOptions::default())
        .await
        .expect("the read models");
    kept_in(&reads, data).await
}

/// The SQL read models in `reads` and the search indexes in `data`, with their positions.
async fn kept_in(
    reads: &dyn SqlReadStore,
    data: &Path,
) -> (ReadModels, BTreeMap<String, GlobalPosition>) {
    let search = SearchStore::open_read_only(data.join("search"));
    let mut positions = BTreeMap::new();
    for projection in sql_projections() {
        let name = projection.name();
        let serving = reads
            .serving(&name)
            .await
            .expect("the catalog")
            .unwrap_or_else(|| panic!("{name} has no serving generation"));
        let checkpoint = reads
            .checkpoint(&name, serving.generation)
            .await
            .expect("a checkpoint");
        positions.insert(name.to_string(), checkpoint.position);
    }
    for name in [ORDER_SEARCH, PRODUCT_SEARCH] {
        let read = search.read(&name).expect("a search index");
        positions.insert(name.to_string(), read.checkpoint().position);
    }
    (dump(reads, &search).await, positions)
}

/// The read models of every built-in projection rebuilt from scratch from the SQLite event
/// store `events_db` (which may be in use by its writer, idle), up to its head.
pub async fn rebuilt(events_db: &Path) -> ReadModels {
    let events = Arc::new(SqliteEventStore::open_read_only(events_db).expect("the event store"));
    let fresh = projector_testkit::temp_dir();
    let reads = Arc::new(projector_testkit::sqlite::read_store(fresh.path()));
    rebuild(events, reads, fresh.path()).await
}

/// The read models of every built-in projection rebuilt from scratch from the PostgreSQL
/// event store at `url` (which may be in use by its writer, idle), up to its head: the SQL
/// tables into a second fresh database, the search indexes into a fresh directory.
pub async fn rebuilt_from_postgres(url: &str) -> ReadModels {
    let events = Arc::new(
        PgEventStore::connect(url, PgEventStoreOptions::default())
            .await
            .expect("the event store"),
    );
    let database = TestDatabase::create()
        .await
        .expect("PostgreSQL was reachable a moment ago");
    let reads = Arc::new(
        PgReadStore::connect(database.url(), PgReadStoreOptions::default())
            .await
            .expect("a fresh read store"),
    );
    let fresh = projector_testkit::temp_dir();
    let models = rebuild(
        Arc::clone(&events) as Arc<dyn EventFeed>,
        reads,
        fresh.path(),
    )
    .await;
    events.close().await;
    models
}

/// Projects the whole of `events` into `reads` and a fresh search store under `dir`, and
/// dumps them.
async fn rebuild(
    events: Arc<dyn EventFeed>,
    reads: Arc<dyn SqlReadStore>,
    dir: &Path,
) -> ReadModels {
    let search = SearchStore::open(dir.join("search")).expect("a search store");
    let mut projector = Projector::new(events, ProjectorOptions::default());
    for target in read_models::over(Arc::clone(&reads), None, Some(&search)) {
        projector = projector.with_target(target);
    }
    let shutdown = CancellationToken::new();
    let handle = projector.start(shutdown.clone()).expect("start");
    handle
        .wait_caught_up(Duration::from_secs(120))
        .await
        .expect("the rebuild reaches the head");
    shutdown.cancel();
    handle.join().await;
    dump(reads.as_ref(), &search).await
}

/// Every row of every table of the built-in SQL read models in `reads`, in the order of all
/// their columns, and every search document by id.
async fn dump(reads: &dyn SqlReadStore, search: &SearchStore) -> ReadModels {
    let projections = sql_projections();
    let projections: Vec<&dyn SqlProjection> = projections.iter().map(|p| p.as_ref()).collect();
    let mut models: ReadModels = read_models(reads, &projections)
        .await
        .into_iter()
        .map(|table| {
            let rows = table.rows.iter().map(|row| format!("{row:?}")).collect();
            (table.name, rows)
        })
        .collect();
    for name in [ORDER_SEARCH, PRODUCT_SEARCH] {
        models.insert(name.to_string(), documents(search, &name));
    }
    models
}

/// Every document of the search index `name`, by id.
fn documents(search: &SearchStore, name: &ProjectionName) -> Vec<String> {
    let read = search.read(name).expect("a search index");
    let searcher = read.searcher();
    let every = TopDocs::with_limit(searcher.num_docs().max(1) as usize).order_by_score();
    let mut documents: Vec<String> = searcher
        .search(&AllQuery, &every)
        .expect("every document")
        .into_iter()
        .map(|(_, address)| {
            let (id, source): (String, Value) = read.hit(address).expect("a document");
            format!("{id} {source}")
        })
        .collect();
    documents.sort();
    documents
}

/// Asserts that `kept` equals `rebuilt`, naming the first read model that differs.
pub fn assert_equal(what: &str, kept: &ReadModels, rebuilt: &ReadModels) {
    assert_eq!(
        kept.keys().collect::<Vec<_>>(),
        rebuilt.keys().collect::<Vec<_>>(),
        "{what}: the read models kept and rebuilt differ in their tables"
    );
    for (model, rows) in rebuilt {
        let mine = &kept[model];
        assert!(
            mine == rows,
            "{what}: {model} differs from a rebuild ({} rows kept, {} rebuilt)\nkept: {:?}\nrebuilt: {:?}",
            mine.len(),
            rows.len(),
            mine.iter()
                .filter(|r| !rows.contains(r))
                .take(3)
                .collect::<Vec<_>>(),
            rows.iter()
                .filter(|r| !mine.contains(r))
                .take(3)
                .collect::<Vec<_>>(),
        );
    }
}
