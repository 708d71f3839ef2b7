//! Crash and replay: a real `projector project` process is killed with SIGKILL at random
//! moments while it projects, many times over. After each kill it is restarted until caught
//! up, and every read model must equal one rebuilt from scratch, with every checkpoint at the
//! head: nothing lost, nothing applied twice. The read models include the "my orders" cache in
//! Redis (its own namespace), whose batches are Lua scripts rather than SQL transactions, and
//! the order search index, whose batches are index commits carrying their checkpoint.
//!
//! Rounds: `PROJECTOR_CRASH_ROUNDS` (default 25). Seed: `PROJECTOR_CRASH_SEED` (default random,
//! printed so a failure can be replayed).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use projector_core::{CommandOptions, EventFeed, EventStore, GlobalPosition, execute};
use projector_orders::projections::{
    self, CUSTOMER_ORDERS_CACHE, CUSTOMERS, CustomerOrdersCacheProjection, DAILY_SALES,
    ORDER_SEARCH, ORDER_SUMMARY, OrderDocument, OrderSearchProjection,
};
use projector_orders::queries::{self, CustomerOrdersPage};
use projector_orders::{Money, NewItem, OrderCommand, OrderDecider, order_stream};
use projector_redis::{Namespace, RedisStore, RedisTarget};
use projector_runtime::{Projector, ProjectorOptions};
use projector_search::tantivy::collector::TopDocs;
use projector_search::tantivy::query::AllQuery;
use projector_search::{SearchStore, SearchTarget};
use projector_sql::{SqlProjection, SqlReadStore, SqlTarget};
use projector_sqlite::{Durability, SqliteEventStore, SqliteEventStoreOptions};
use projector_testkit::dump::{Dump, read_models};
use projector_testkit::redis::TestRedis;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio_util::sync::CancellationToken;

const BINARY: &str = env!("CARGO_BIN_EXE_projector");
const ORDERS_PER_ROUND: usize = 120;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_batch_the_read_models_still_equal_a_rebuild() {
    let rounds: usize = env_or("PROJECTOR_CRASH_ROUNDS", 25);
    let seed: u64 = env_or("PROJECTOR_CRASH_SEED", rand::rng().random());
    eprintln!("crash test: {rounds} rounds, PROJECTOR_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let data = projector_testkit::temp_dir();
    let Some(redis) = TestRedis::create().await else {
        return;
    };
    let cache = Cache::new(&redis).await;
    let mut interrupted = 0;
    let mut orders = 0;

    for round in 0..rounds {
        let head_before = append_orders(data.path(), &mut rng, orders).await;
        orders += ORDERS_PER_ROUND;

        // Project, and kill the process at a random moment.
        let mut child = Command::new(BINARY)
            .args([
                "project",
                "--batch-size",
                "20",
                "--log-level",
                "warn",
                "--data",
            ])
            .arg(data.path())
            .args(cache.args())
            .stdout(Stdio::null())
            .spawn()
            .expect("start projector");
        // Kill once a projection has passed a random point of the new events, plus a random
        // few milliseconds, so the kill lands while batches are being applied.
        let head = head_of(data.path()).await;
        let target = head_before.get() + rng.random_range(1..=head_before.distance_to(head));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline
            && child.try_wait().expect("poll child").is_none()
        {
            let mut reached = try_checkpoints(data.path()).await.unwrap_or_default();
            reached.push(cache.checkpoint().await);
            if reached.iter().any(|p| p.get() >= target) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // This sleep stays: a random delay spreads the kills over every point of a batch.
        tokio::time::sleep(Duration::from_micros(rng.random_range(0..3000))).await;
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let mut reached = checkpoints(data.path()).await;
        reached.push(cache.checkpoint().await);
        reached.push(search_index(data.path()).0);
        if reached.iter().any(|p| *p > head_before && *p < head) {
            interrupted += 1;
        }

        // Restart until caught up, then compare with a rebuild from scratch.
        let status = Command::new(BINARY)
            .args([
                "project",
                "--until-caught-up",
                "--log-level",
                "warn",
                "--data",
            ])
            .arg(data.path())
            .args(cache.args())
            .stdout(Stdio::null())
            .status()
            .expect("restart projector");
        assert!(
            status.success(),
            "round {round}: the restarted projector failed: {status}"
        );
        let (searched_at, documents) = search_index(data.path());
        let mut checkpoints = checkpoints(data.path()).await;
        checkpoints.push(cache.checkpoint().await);
        checkpoints.push(searched_at);
        assert!(
            checkpoints.iter().all(|p| *p == head),
            "round {round}: checkpoints {checkpoints:?} did not reach the head {head}"
        );
        let survived = dump(data.path()).await;
        let rebuilt = rebuild(data.path()).await;
        assert_eq!(survived.len(), rebuilt.len(), "the same tables");
        for (got, want) in survived.iter().zip(&rebuilt) {
            let table = &got.name;
            assert_eq!(
                got.rows.len(),
                want.rows.len(),
                "round {round}: {table} has {} rows, a rebuild {}",
                got.rows.len(),
                want.rows.len()
            );
            assert_eq!(
                got, want,
                "round {round}: {table} differs from a rebuild (seed {seed})"
            );
        }
        assert_eq!(
            cache.lists().await,
            Cache::rebuilt(data.path()).await,
            "round {round}: the cache differs from a rebuild (seed {seed})"
        );
        let rebuilt = search_rebuilt(data.path()).await;
        assert_eq!(
            documents.len(),
            orders,
            "round {round}: one document per order"
        );
        let differs = documents
            .iter()
            .zip(&rebuilt)
            .find(|(got, want)| got != want);
        assert!(
            documents == rebuilt,
            "round {round}: the search index differs from a rebuild (seed {seed}): {differs:?}"
        );
    }
    eprintln!("crash test: {interrupted} of {rounds} kills landed while projections were behind");
    assert!(
        interrupted * 2 >= rounds,
        "only {interrupted} of {rounds} kills interrupted a projection mid-way; the test did not test much"
    );
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Appends `ORDERS_PER_ROUND` orders with random lifecycles; returns the head before them.
async fn append_orders(data: &Path, rng: &mut StdRng, first: usize) -> GlobalPosition {
    let options = SqliteEventStoreOptions {
        durability: Durability::Normal,
        ..SqliteEventStoreOptions::default()
    };
    let store =
        Arc::new(SqliteEventStore::open(data.join("events.db"), options).expect("event store"));
    let head_before = store.head().await.expect("head");
    let mut tasks = Vec::new();
    for n in first..first + ORDERS_PER_ROUND {
        let plan = lifecycle(rng, n);
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let id = format!("o{n}");
            let stream = order_stream(&id).expect("valid id");
            for command in plan {
                execute(
                    &OrderDecider,
                    store.as_ref() as &dyn EventStore,
                    &stream,
                    &command,
                    &CommandOptions::default(),
                )
                .await
                .expect("command");
            }
        }));
    }
    for task in tasks {
        task.await.expect("order task");
    }
    store.close().await;
    head_before
}

/// A random but valid lifecycle for order `n`.
fn lifecycle(rng: &mut StdRng, n: usize) -> Vec<OrderCommand> {
    let at = |minutes: i64| {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0)
            .single()
            .expect("valid")
            + chrono::Duration::minutes(minutes + n as i64 * 37)
    };
    let item = |sku: String, quantity: u32, cents: i64| {
        NewItem::new(sku, quantity, Money::from_cents(cents))
    };
    let customer = format!("c{}", rng.random_range(CUSTOMERS_IDS));
    let items = (0..rng.random_range(1..4u32))
        .map(|i| {
            item(
                format!("s{i}"),
                rng.random_range(1..5),
                rng.random_range(100..5000),
            )
        })
        .collect();
    let mut commands = vec![OrderCommand::place(format!("o{n}"), customer, items, at(0))];
    if rng.random_bool(0.4) {
        commands.push(OrderCommand::AddItem {
            item: item("extra".into(), rng.random_range(1..3), 250),
            at: at(1),
        });
    }
    if rng.random_bool(0.2) {
        commands.push(OrderCommand::RemoveItem {
            sku: "s0".into(),
            at: at(2),
        });
        commands.push(OrderCommand::AddItem {
            item: item("s9".into(), 1, 999),
            at: at(2),
        });
    }
    match rng.random_range(0..10) {
        0..=1 => commands.push(OrderCommand::Cancel {
            reason: "changed mind".into(),
            at: at(3),
        }),
        2..=3 => commands.push(OrderCommand::Ship {
            tracking: format!("T{n}"),
            at: at(4),
        }),
        _ => {
            commands.push(OrderCommand::Ship {
                tracking: format!("T{n}"),
                at: at(4),
            });
            commands.push(OrderCommand::Complete { at: at(600) });
            if rng.random_bool(0.5) {
                commands.push(OrderCommand::Refund {
                    amount: Money::from_cents(10),
                    at: at(2000),
                });
                commands.push(OrderCommand::Refund {
                    amount: Money::from_cents(5),
                    at: at(3000),
                });
            }
        }
    }
    commands
}

async fn head_of(data: &Path) -> GlobalPosition {
    SqliteEventStore::open_read_only(data.join("events.db"))
        .expect("event store")
        .head()
        .await
        .expect("head")
}

/// The serving checkpoint of every order projection (zero where none exists yet).
async fn checkpoints(data: &Path) -> Vec<GlobalPosition> {
    try_checkpoints(data).await.expect("checkpoints")
}

async fn try_checkpoints(
    data: &Path,
) -> Result<Vec<GlobalPosition>, projector_core::ReadStoreError> {
    let reads = projector_testkit::sqlite::read_only_read_store(data)?;
    let mut positions = Vec::new();
    for name in [ORDER_SUMMARY, DAILY_SALES, CUSTOMERS] {
        let position = match reads.serving(&name).await? {
            Some(serving) => reads.checkpoint(&name, serving.generation).await?.position,
            None => GlobalPosition::ZERO,
        };
        positions.push(position);
    }
    Ok(positions)
}

/// Every row of every table of the order read models kept in the data directory `data`.
async fn dump(data: &Path) -> Dump {
    let reads = projector_testkit::sqlite::read_only_read_store(data).expect("read store");
    let all = projections::all();
    let all: Vec<&dyn SqlProjection> = all.iter().map(|p| p.as_ref()).collect();
    read_models(&reads, &all).await
}

/// Projects the whole store into a fresh read store and dumps it.
async fn rebuild(data: &Path) -> Dump {
    let events =
        Arc::new(SqliteEventStore::open_read_only(data.join("events.db")).expect("event store"));
    let fresh = projector_testkit::temp_dir();
    let reads = Arc::new(projector_testkit::sqlite::read_store(fresh.path()));
    let mut projector = Projector::new(events, ProjectorOptions::default());
    for projection in projections::all() {
        projector = projector.with_target(SqlTarget::new(
            reads.clone() as Arc<dyn SqlReadStore>,
            projection,
        ));
    }
    let shutdown = CancellationToken::new();
    let handle = projector.start(shutdown.clone()).expect("start");
    handle
        .wait_caught_up(Duration::from_secs(120))
        .await
        .expect("rebuild caught up");
    shutdown.cancel();
    handle.join().await;
    drop(reads);
    dump(fresh.path()).await
}

/// The order search index a projector process keeps in `data`: its checkpoint and every
/// document by id (zero and none before it has a serving generation).
fn search_index(data: &Path) -> (GlobalPosition, Vec<(String, OrderDocument)>) {
    documents(&SearchStore::open_read_only(data.join("search")))
}

fn documents(store: &SearchStore) -> (GlobalPosition, Vec<(String, OrderDocument)>) {
    let Ok(read) = store.read(&ORDER_SEARCH) else {
        return (GlobalPosition::ZERO, Vec::new());
    };
    let searcher = read.searcher();
    let every = TopDocs::with_limit(searcher.num_docs().max(1) as usize).order_by_score();
    let mut documents: Vec<(String, OrderDocument)> = searcher
        .search(&AllQuery, &every)
        .expect("every document")
        .into_iter()
        .map(|(_, address)| read.hit(address).expect("a document"))
        .collect();
    documents.sort_by(|a, b| a.0.cmp(&b.0));
    (read.checkpoint().position, documents)
}

/// The documents of a search index rebuilt from scratch.
async fn search_rebuilt(data: &Path) -> Vec<(String, OrderDocument)> {
    let events =
        Arc::new(SqliteEventStore::open_read_only(data.join("events.db")).expect("event store"));
    let fresh = projector_testkit::temp_dir();
    let store = SearchStore::open(fresh.path()).expect("search store");
    let shutdown = CancellationToken::new();
    let handle = Projector::new(events, ProjectorOptions::default())
        .with_target(SearchTarget::typed(store.clone(), OrderSearchProjection))
        .start(shutdown.clone())
        .expect("start");
    handle
        .wait_caught_up(Duration::from_secs(120))
        .await
        .expect("rebuild caught up");
    shutdown.cancel();
    handle.join().await;
    documents(&store).1
}

/// Customers' ids: the lifecycles pick among these.
const CUSTOMERS_IDS: std::ops::Range<usize> = 0..40;

/// The "my orders" cache the projector processes keep, in the test's Redis namespace.
struct Cache {
    url: String,
    namespace: String,
    store: RedisStore,
}

impl Cache {
    async fn new(redis: &TestRedis) -> Self {
        Self {
            url: redis.url().to_owned(),
            namespace: redis.namespace().to_owned(),
            store: RedisStore::connect(
                redis.url(),
                Namespace::parse(redis.namespace()).expect("namespace"),
            )
            .await
            .expect("redis"),
        }
    }

    fn args(&self) -> [&str; 4] {
        [
            "--redis-url",
            &self.url,
            "--redis-namespace",
            &self.namespace,
        ]
    }

    /// The cache's serving checkpoint (zero before it has one).
    async fn checkpoint(&self) -> GlobalPosition {
        self.store
            .read(&CUSTOMER_ORDERS_CACHE)
            .await
            .map_or(GlobalPosition::ZERO, |read| read.checkpoint().position)
    }

    /// Every customer's whole list of orders, from the serving generation of `store`.
    async fn lists_in(store: &RedisStore) -> Vec<CustomerOrdersPage> {
        let read = store
            .read(&CUSTOMER_ORDERS_CACHE)
            .await
            .expect("a serving cache");
        let mut lists = Vec::new();
        for customer in CUSTOMERS_IDS {
            lists.push(
                queries::customer_orders_cached(&read, &format!("c{customer}"), 10_000, None)
                    .await
                    .expect("list"),
            );
        }
        lists
    }

    async fn lists(&self) -> Vec<CustomerOrdersPage> {
        Self::lists_in(&self.store).await
    }

    /// The lists a cache rebuilt from scratch (in a namespace of its own) holds.
    async fn rebuilt(data: &Path) -> Vec<CustomerOrdersPage> {
        let fresh = TestRedis::create()
            .await
            .expect("Redis was reachable a moment ago");
        let store = RedisStore::connect(
            fresh.url(),
            Namespace::parse(fresh.namespace()).expect("namespace"),
        )
        .await
        .expect("redis");
        let events = Arc::new(
            SqliteEventStore::open_read_only(data.join("events.db")).expect("event store"),
        );
        let shutdown = CancellationToken::new();
        let handle = Projector::new(events, ProjectorOptions::default())
            .with_target(RedisTarget::typed(
                store.clone(),
                CustomerOrdersCacheProjection,
            ))
            .start(shutdown.clone())
            .expect("start");
        handle
            .wait_caught_up(Duration::from_secs(120))
            .await
            .expect("rebuild caught up");
        shutdown.cancel();
        handle.join().await;
        Self::lists_in(&store).await
    }
}
