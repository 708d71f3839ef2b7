//! The proxy's faults against the real PostgreSQL: a hung network that closes nothing, and a
//! reply lost after the server carried the statement out.

use std::time::Duration;

use projector_testkit::postgres::TestDatabase;
use projector_testkit::proxy::Proxy;
use projector_testkit::wait::{self, eventually, eventually_sync};
use tokio_postgres::{Client, NoTls};

/// How long a test watches for something that must not happen: these sleeps stay, since that
/// nothing crosses a paused proxy for a while is the claim.
const QUIET: Duration = Duration::from_millis(500);

async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// Waits for `client`'s connection to close.
async fn closed(client: &Client) {
    eventually_sync("the client's connection to close", || client.is_closed()).await;
}

async fn rows(client: &Client) -> Vec<i32> {
    client
        .query("SELECT id FROM t ORDER BY id", &[])
        .await
        .expect("select")
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_proxy_forwards_nothing_and_closes_nothing_until_resumed() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let proxy = Proxy::start(database.url()).await;
    let direct = connect(database.url()).await;
    let proxied = connect(proxy.url()).await;
    let backend: i32 = proxied
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .expect("through the proxy")
        .get(0);

    proxy.pause();
    let query = tokio::spawn(async move {
        let answer = proxied.query_one("SELECT 42", &[]).await;
        (proxied, answer)
    });
    // Nor does a new connection get through.
    let connecting = tokio::spawn({
        let url = proxy.url().to_owned();
        async move { tokio_postgres::connect(&url, NoTls).await.map(|_| ()) }
    });
    tokio::time::sleep(QUIET).await;
    assert!(
        !query.is_finished(),
        "a query was answered through a paused proxy"
    );
    assert!(
        !connecting.is_finished(),
        "a connection was set up through a paused proxy"
    );

    proxy.resume();
    let (proxied, answer) = tokio::time::timeout(wait::deadline(), query)
        .await
        .expect("answered once resumed")
        .expect("task");
    assert_eq!(answer.expect("the held query").get::<_, i32>(0), 42);
    tokio::time::timeout(wait::deadline(), connecting)
        .await
        .expect("connected once resumed")
        .expect("task")
        .expect("the held connection");

    // The server ending the session does not reach the client while the network hangs.
    proxy.pause();
    direct
        .execute("SELECT pg_terminate_backend($1)", &[&backend])
        .await
        .expect("terminate");
    eventually("the session to end on the server", || async {
        let sessions = direct
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                &[&backend],
            )
            .await
            .expect("activity")
            .get::<_, i64>(0);
        if sessions == 0 { Ok(()) } else { Err(sessions) }
    })
    .await;
    tokio::time::sleep(QUIET).await;
    assert!(
        !proxied.is_closed(),
        "the end of the session crossed a paused proxy"
    );
    proxy.resume();
    closed(&proxied).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_reply_is_lost_fails_for_the_client_yet_commits() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let proxy = Proxy::start(database.url()).await;
    let direct = connect(database.url()).await;
    direct
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .expect("table");

    let mut proxied = connect(proxy.url()).await;
    proxy.lose_reply_to(b"COMMIT");
    let transaction = proxied.transaction().await.expect("begin");
    transaction
        .execute("INSERT INTO t (id) VALUES (1)", &[])
        .await
        .expect("insert");
    assert!(rows(&direct).await.is_empty(), "not committed yet");
    let commit = tokio::time::timeout(wait::deadline(), transaction.commit())
        .await
        .expect("the client hears of the failure");
    assert!(commit.is_err(), "the reply to COMMIT arrived: {commit:?}");
    closed(&proxied).await;
    assert_eq!(rows(&direct).await, [1], "yet the COMMIT committed");

    // One-shot: the next COMMIT through the proxy is answered.
    let mut again = connect(proxy.url()).await;
    let transaction = again.transaction().await.expect("begin");
    transaction
        .execute("INSERT INTO t (id) VALUES (2)", &[])
        .await
        .expect("insert");
    transaction.commit().await.expect("answered this time");
    assert_eq!(rows(&again).await, [1, 2]);
}

/// The proxy carries Redis too, and cuts it off and gives it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_proxy_forwards_cuts_and_restores() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let url = projector_testkit::services::redis_url();
    let upstream = url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379")
        .to_owned();
    if let Err(error) = tokio::net::TcpStream::connect(&upstream).await {
        projector_testkit::services::unavailable("Redis", &error);
        return;
    }
    let proxy = Proxy::start_redis(&url).await;
    let through = proxy
        .url()
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .expect("authority")
        .to_owned();
    let ping = |address: String| async move {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut answer = [0_u8; 7];
        stream.read_exact(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    assert_eq!(&ping(through.clone()).await.expect("ping"), b"+PONG\r\n");
    proxy.cut();
    assert!(
        tokio::time::timeout(QUIET, ping(through.clone()))
            .await
            .map_or(true, |r| r.is_err()),
        "Redis answered through a cut proxy"
    );
    proxy.restore();
    assert_eq!(&ping(through).await.expect("ping again"), b"+PONG\r\n");
}
