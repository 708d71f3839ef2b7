//! Phase B for the Redis cache (`--redis-url`): the workload's events projected into the "my
//! orders" cache, and beside it the plain limit: a loop with the `redis` crate that folds the
//! same events in memory and writes the same keys, one pipeline per batch, with no checkpoint,
//! no reads and no script. Each runs in a namespace of its own, removed afterwards.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use projector_core::{DomainEvent, EventFeed, GlobalPosition};
use projector_orders::OrderView;
use projector_orders::events::OrderEvent;
use projector_orders::projections::{
    CUSTOMER_ORDERS_CACHE, CachedOrder, CustomerOrdersCacheProjection, customer_key, list_member,
    order_key,
};
use projector_redis::{Namespace, RedisStore, RedisTarget};
use projector_runtime::{Projector, ProjectorOptions};
use tokio_util::sync::CancellationToken;

use super::bar;
use super::workload::CUSTOMERS;
use crate::opts::BenchArgs;

/// Phase B's figures for the cache.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CacheFigures {
    pub(crate) project_events_per_s: f64,
    pub(crate) baseline_events_per_s: Option<f64>,
}

/// Projects every event of `feed` into a fresh cache in the Redis at `url`, checks it, and
/// runs the plain loop beside it when `--baseline` is given.
pub(crate) async fn run(
    args: &BenchArgs,
    url: &str,
    feed: Arc<dyn EventFeed>,
    run: usize,
) -> anyhow::Result<CacheFigures> {
    let events = (args.orders * 4) as f64;
    let namespace = format!("projector_bench_{}", uuid::Uuid::now_v7().simple());
    let result = async {
        let store = RedisStore::connect(url, Namespace::parse(&namespace)?)
            .await
            .context("connecting to Redis")?;
        let progress = bar(
            args.json,
            args.orders * 4,
            &format!("run {run} · B: project into Redis"),
        );
        let seconds = project(&store, Arc::clone(&feed), args.batch_size.max(1), &progress).await?;
        progress.finish_and_clear();
        check(&store, args.orders).await?;
        let baseline = if args.baseline {
            let spinner = bar(args.json, 0, &format!("run {run} · plain redis pipelines"));
            let seconds = plain(url, &namespace, feed, args.batch_size.max(1)).await?;
            spinner.finish_and_clear();
            Some(events / seconds)
        } else {
            None
        };
        anyhow::Ok(CacheFigures {
            project_events_per_s: events / seconds,
            baseline_events_per_s: baseline,
        })
    }
    .await;
    remove(url, &namespace).await;
    result
}

/// The projector with the cache alone; the seconds until it reaches the last event.
async fn project(
    store: &RedisStore,
    feed: Arc<dyn EventFeed>,
    batch_size: usize,
    progress: &ProgressBar,
) -> anyhow::Result<f64> {
    let options = ProjectorOptions {
        batch_size,
        ..ProjectorOptions::default()
    };
    let target = RedisTarget::typed(store.clone(), CustomerOrdersCacheProjection);
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let handle = Projector::new(feed, options)
        .with_target(target)
        .start(shutdown.clone())?;
    let ticker = {
        let handle = handle.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            loop {
                if let Some(status) = handle.status(&CUSTOMER_ORDERS_CACHE) {
                    progress.set_position(status.checkpoint.get());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let caught_up = handle.wait_caught_up(Duration::from_secs(3600)).await;
    let seconds = started.elapsed().as_secs_f64();
    ticker.abort();
    shutdown.cancel();
    handle.join().await;
    caught_up.context("projecting the workload into Redis")?;
    Ok(seconds)
}

/// Every order is in its customer's list, once.
async fn check(store: &RedisStore, orders: u64) -> anyhow::Result<()> {
    let read = store.read(&CUSTOMER_ORDERS_CACHE).await?;
    let mut listed = 0;
    for customer in 0..CUSTOMERS.min(orders) {
        listed += read
            .zcard(&customer_key(&super::workload::customer(customer)))
            .await?;
    }
    if listed != orders {
        bail!("check failed: the cache lists {listed} orders, the workload has {orders}");
    }
    Ok(())
}

/// The plain limit: the same fold and the same keys, one pipeline per batch; the seconds it
/// takes.
async fn plain(
    url: &str,
    namespace: &str,
    feed: Arc<dyn EventFeed>,
    batch_size: usize,
) -> anyhow::Result<f64> {
    let client = redis::Client::open(url).context("the Redis URL")?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .context("connecting to Redis")?;
    let prefix = format!("{{{namespace}:plain}}:");
    let mut views: HashMap<String, OrderView> = HashMap::new();
    let mut after = GlobalPosition::ZERO;
    let started = Instant::now();
    loop {
        let batch = feed.read_all(after, batch_size).await?;
        let Some(last) = batch.last() else {
            break;
        };
        after = last.position;
        let mut touched: Vec<String> = Vec::new();
        for recorded in &batch {
            let event = OrderEvent::decode(recorded)?;
            let id = event.order_id().to_owned();
            match (&event, views.get_mut(&id)) {
                (OrderEvent::Created(created), _) => {
                    views.insert(id.clone(), OrderView::created(created));
                }
                (_, Some(view)) => view.apply(&event, recorded.recorded_at)?,
                (_, None) => bail!("{} before its order was created", recorded.event_type),
            }
            if !touched.contains(&id) {
                touched.push(id);
            }
        }
        let mut pipe = redis::pipe();
        for id in &touched {
            let cached = CachedOrder::of(&views[id]);
            pipe.zadd(
                format!("{prefix}{}", customer_key(&cached.customer_id)),
                list_member(&cached, id),
                0,
            )
            .ignore();
            pipe.set(
                format!("{prefix}{}", order_key(id)),
                serde_json::to_string(&cached)?,
            )
            .ignore();
        }
        pipe.query_async::<()>(&mut conn)
            .await
            .context("writing a batch")?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Removes every key of the run (the cache's and the plain loop's), in steps.
async fn remove(url: &str, namespace: &str) {
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let pattern = format!("{{{namespace}:*");
    let mut cursor: u64 = 0;
    loop {
        let Ok((next, keys)) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1_000)
            .query_async::<(u64, Vec<String>)>(&mut conn)
            .await
        else {
            return;
        };
        if !keys.is_empty() {
            let _ = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<u64>(&mut conn)
                .await;
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}
