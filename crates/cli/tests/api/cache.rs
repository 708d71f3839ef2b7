//! The "my orders" cache in Redis, for real: answered from it when it is as fresh as the SQL
//! read model, from SQL (and said so) when Redis is cut off, flushed or behind, never with a
//! wrong answer, and back to the cache without a restart.

use std::collections::BTreeSet;

use projector_testkit::proxy::Proxy;
use projector_testkit::redis::TestRedis;
use projector_testkit::wait::eventually;
use serde_json::Value;

use crate::helpers::{Reply, Server, Storage};

/// Reads `path` until `done` accepts the answer.
async fn until(server: &Server, path: &str, what: &str, done: impl Fn(&Reply) -> bool) -> Reply {
    eventually(what, || async {
        let reply = server.get(path).await;
        if done(&reply) {
            Ok(reply)
        } else {
            Err(format!("{:?} {}", reply.header("read-model"), reply.text))
        }
    })
    .await
}

fn from(reply: &Reply, read_model: &str) -> bool {
    reply.status == 200 && reply.header("read-model") == Some(read_model)
}

fn order_ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| o["order_id"].as_str().expect("id").to_owned())
        .collect()
}

pub async fn my_orders_fall_back_to_sql_while_redis_is_cut_off_and_come_back() {
    let Some(redis) = TestRedis::create().await else {
        return;
    };
    let proxy = Proxy::start_redis(redis.url()).await;
    let server = Server::start_with_args(
        Storage::fresh().await,
        &[
            "--redis-url",
            proxy.url(),
            "--redis-namespace",
            redis.namespace(),
        ],
    )
    .await;
    let mut last = 0;
    for i in 0..5 {
        last = server
            .place(&format!("m{i}"), "cust-cache", &[("a", 1 + i, 2.25)])
            .await;
    }
    let path = format!("/api/customers/cust-cache/orders?min_position={last}");
    let cached = until(&server, &path, "the cache answers", |r| {
        from(r, "customer_orders_cache")
    })
    .await;
    let reached: u64 = cached
        .header("projection-position")
        .and_then(|p| p.parse().ok())
        .expect("a position");
    assert!(
        reached >= last,
        "the cache answered at {reached}, before {last}"
    );
    assert_eq!(order_ids(&cached.json()), ["m4", "m3", "m2", "m1", "m0"]);

    // Redis is cut off: the same answer comes from SQL, and the service stays ready, the
    // cache reported degraded.
    proxy.cut();
    let from_sql = server.get(&path).await.expect(200);
    assert_eq!(from_sql.header("read-model"), Some("customers"));
    assert_eq!(from_sql.json(), cached.json());
    let ready = until(&server, "/ready", "the cache is reported degraded", |r| {
        r.status == 200
            && r.json()["degraded"]
                .as_array()
                .is_some_and(|d| !d.is_empty())
    })
    .await
    .json();
    assert_eq!(ready["status"], "ready");
    assert!(
        ready["degraded"]
            .to_string()
            .contains("customer_orders_cache"),
        "{ready}"
    );

    // Writes go on; reads of them come from SQL.
    let written = server.place("m5", "cust-cache", &[("b", 2, 1.5)]).await;
    let after = server
        .get(&format!(
            "/api/customers/cust-cache/orders?min_position={written}"
        ))
        .await
        .expect(200);
    assert_eq!(after.header("read-model"), Some("customers"));
    assert_eq!(
        order_ids(&after.json()).first().map(String::as_str),
        Some("m5")
    );

    // Redis comes back: the cache catches up and answers again, without a restart.
    proxy.restore();
    let back = until(
        &server,
        &format!("/api/customers/cust-cache/orders?min_position={written}"),
        "the cache answers again",
        |r| from(r, "customer_orders_cache"),
    )
    .await;
    assert_eq!(back.json(), after.json());
    until(&server, "/ready", "the cache is healthy again", |r| {
        r.status == 200 && r.json().get("degraded").is_none()
    })
    .await;
}

pub async fn flushing_redis_under_writes_never_gives_a_wrong_answer() {
    let Some(redis) = TestRedis::exclusive().await else {
        return;
    };
    let server = Server::start_with_args(
        Storage::fresh().await,
        &[
            "--redis-url",
            redis.url(),
            "--redis-namespace",
            redis.namespace(),
        ],
    )
    .await;
    let customers = ["f0", "f1", "f2"];
    let mut placed: Vec<BTreeSet<String>> = vec![BTreeSet::new(); customers.len()];
    let mut answered_by_cache = 0;
    let mut answered_by_sql = 0;
    for i in 0..60 {
        if i % 15 == 7 {
            redis.flush().await;
        }
        let slot = i % customers.len();
        let order = format!("fl{i}");
        let position = server
            .place(&order, customers[slot], &[("a", 1, 1.0)])
            .await;
        placed[slot].insert(order);
        let reply = server
            .get(&format!(
                "/api/customers/{}/orders?limit=100&min_position={position}",
                customers[slot]
            ))
            .await
            .expect(200);
        let got: BTreeSet<String> = order_ids(&reply.json()).into_iter().collect();
        assert_eq!(
            got,
            placed[slot],
            "answer {i} from {:?} lost or invented orders",
            reply.header("read-model")
        );
        match reply.header("read-model") {
            Some("customer_orders_cache") => answered_by_cache += 1,
            Some("customers") => answered_by_sql += 1,
            other => panic!("answered by {other:?}"),
        }
    }
    assert!(answered_by_sql > 0, "the flushes made some reads fall back");
    // The cache comes back whole.
    for (slot, customer) in customers.iter().enumerate() {
        let path = format!("/api/customers/{customer}/orders?limit=100");
        let back = until(&server, &path, "the cache is rebuilt", |r| {
            from(r, "customer_orders_cache")
        })
        .await;
        let got: BTreeSet<String> = order_ids(&back.json()).into_iter().collect();
        assert_eq!(got, placed[slot]);
    }
    eprintln!("{answered_by_cache} answers from the cache, {answered_by_sql} from SQL");
}

/// Two servers on one PostgreSQL database and one Redis: one holds the cache projection's lease,
/// the other stands by and answers "my orders" from the cache the holder keeps, waiting for a
/// `min_position` by reading the cache's checkpoint from Redis.
pub async fn a_standby_answers_from_the_cache_the_holder_keeps() {
    let Some(redis) = TestRedis::create().await else {
        return;
    };
    let Some(database) = projector_testkit::postgres::TestDatabase::create().await else {
        return;
    };
    let cache = [
        "--redis-url",
        redis.url(),
        "--redis-namespace",
        redis.namespace(),
    ];
    let (holder, standby) = Server::holder_and_standby(database.url(), &cache).await;
    assert!(
        standby
            .shared_projection_states()
            .await
            .iter()
            .all(|s| s == "standby"),
        "the second server stands by"
    );

    let mut expected = Vec::new();
    for i in 0..20 {
        // Written through either server, read at once through the standby.
        let writer = if i % 2 == 0 { &holder } else { &standby };
        let order = format!("sb{i}");
        let written = writer.place(&order, "cust-sb", &[("a", 1, 1.5)]).await;
        expected.insert(0, order);
        let reply = standby
            .get(&format!(
                "/api/customers/cust-sb/orders?limit=100&min_position={written}"
            ))
            .await
            .expect(200);
        assert_eq!(order_ids(&reply.json()), expected, "read {i}");
        let reached: u64 = reply
            .header("projection-position")
            .and_then(|p| p.parse().ok())
            .expect("a position");
        assert!(
            reached >= written,
            "answered at {reached}, before {written}"
        );
        assert_eq!(
            reply.header("read-model"),
            Some("customer_orders_cache"),
            "the standby waited for the holder's cache rather than falling back (read {i})"
        );
    }
}
