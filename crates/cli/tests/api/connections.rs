//! The PostgreSQL connections a server opens stay within `--database-pool-size`, however many
//! requests arrive at once, so several servers can share a database's connection limit.

use projector_testkit::postgres::TestDatabase;
use serde_json::json;
use tokio_postgres::NoTls;

use crate::helpers::Server;

/// Writes sent at once: far more than the pools may open.
const CONCURRENT_WRITES: usize = 64;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_opens_no_more_pooled_connections_than_its_pool_size() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let server =
        Server::start_on_database_with_args(database.url(), &["--database-pool-size", "1"]).await;
    server.ready().await;

    let writes = (0..CONCURRENT_WRITES).map(|i| {
        let body = json!({"id": format!("o{i}"), "customer_id": format!("c{}", i % 5), "items": [
            {"sku": "a", "quantity": 1, "unit_price": 2.5}]});
        let request = server
            .client
            .post(format!("{}/api/orders", server.base))
            .json(&body)
            .send();
        async move { request.await.expect("write").status().as_u16() }
    });
    let statuses = futures::future::join_all(writes).await;
    assert!(
        statuses.iter().all(|s| *s == 202),
        "every write is taken, waiting for a connection rather than failing: {statuses:?}"
    );
    let head = server.head().await;
    server.wait_every_projection_at(head).await;

    // The pools' sessions are named `projector`; leases and the listener name themselves.
    let (client, connection) = tokio_postgres::connect(database.url(), NoTls)
        .await
        .expect("connect to the test database");
    tokio::spawn(connection);
    let pooled: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'projector' \
             AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .expect("count the server's sessions")
        .get(0);
    // One each for the feed and stream reads, the projections' writes, the queries and the
    // HTTP stream reads, and the appends' own writer.
    assert!(
        (1..=5).contains(&pooled),
        "{pooled} pooled connections with --database-pool-size 1"
    );
}
