//! The event feed on NATS JetStream with real processes: a writer publishing its feed (in its
//! own process with `--publish`, or through `projector relay`), read nodes (`serve --from`)
//! on data directories of their own; read-your-writes across nodes; writes refused on a read
//! node, naming the writer; under a write load, a relay, a read node and the broker killed with
//! SIGKILL and started again, after which every read node answers as the writer does and its
//! read models equal a rebuild from the writer's events; writes
//! taken while the broker is away; and on PostgreSQL a standby relay taking over.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use projector_testkit::wait::eventually;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, Server, Storage};
use crate::rebuilt;

const BINARY: &str = env!("CARGO_BIN_EXE_projector");

/// The NATS server of the tests, and the options of a stream (its name and subjects) no other
/// test uses; `None` (after saying why) when NATS is away outside CI.
async fn fresh_stream() -> Option<(String, Vec<String>)> {
    let url = projector_testkit::services::nats_url();
    let address = url.trim_start_matches("nats://").to_owned();
    if let Err(error) = tokio::net::TcpStream::connect(&address).await {
        projector_testkit::services::unavailable("NATS", &error);
        return None;
    }
    let id = uuid::Uuid::now_v7().simple();
    let stream = vec![
        "--nats-stream".to_owned(),
        format!("TEST_{id}"),
        "--nats-prefix".to_owned(),
        format!("test.{id}"),
    ];
    Some((url, stream))
}

/// Deletes the stream a test made (named by the options `fresh_stream` gave).
async fn remove_stream(url: &str, stream: &[String]) {
    if let (Ok(client), Some(name)) = (async_nats::connect(url).await, stream.get(1)) {
        let _ = async_nats::jetstream::new(client).delete_stream(name).await;
    }
}

fn sqlite() -> Storage {
    Storage::Sqlite(projector_testkit::temp_dir())
}

/// The data directory of a server on SQLite.
fn sqlite_data(storage: &Storage) -> std::path::PathBuf {
    match storage {
        Storage::Sqlite(dir) => dir.path().join("data"),
        Storage::Postgres(..) => panic!("a server on SQLite"),
    }
}

/// A read node on a data directory of its own.
async fn read_node(url: &str, stream: &[String], writer: &Server) -> Server {
    Server::start_with_args(sqlite(), &node_args(url, stream, writer)).await
}

fn node_args<'a>(url: &'a str, stream: &'a [String], writer: &'a Server) -> Vec<&'a str> {
    let mut args = vec!["--from", url, "--writer-url", &writer.base];
    args.extend(stream.iter().map(String::as_str));
    args
}

/// A child process, killed when the test ends however it ends.
struct Killed(Child);

impl Killed {
    /// Kills it with SIGKILL, as a crash would, and reaps it.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `projector relay` beside the writer, on its data directory.
fn relay(writer: &Server, url: &str, stream: &[String]) -> Killed {
    Killed(
        Command::new(BINARY)
            .args(["relay", "--nats-url", url, "--log-level", "warn"])
            .args(stream)
            .args(writer.storage_args())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start projector relay"),
    )
}

/// Order `id`'s projection on `server` once it has reached `position`, waiting up to 20 s.
async fn order_on(server: &Server, id: &str, position: u64) -> Value {
    server
        .get(&format!(
            "/api/orders/{id}/projection?min_position={position}&wait_ms=20000"
        ))
        .await
        .expect(200)
        .json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_node_serves_what_the_writer_publishes_and_refuses_writes() {
    Backend::Sqlite
        .run(async {
            let Some((url, stream)) = fresh_stream().await else { return };
            let mut publish = vec!["--publish", url.as_str()];
            publish.extend(stream.iter().map(String::as_str));
            let writer = Server::start_with_args(sqlite(), &publish).await;
            let node = read_node(&url, &stream, &writer).await;

            // Read your writes across nodes: written on the writer, read on the node.
            for i in 0..5 {
                let position = writer.place(&format!("o{i}"), "ada", &[("SKU-1", 1, 2.5)]).await;
                let order = order_on(&node, &format!("o{i}"), position).await;
                assert_eq!(order["status"], "confirmed", "{order}");
                assert_eq!(order, writer.order(&format!("o{i}"), position).await);
            }

            // Writes, and a stream's history, are the writer's.
            let refused = node
                .post("/api/orders", &json!({"customer_id": "ada", "items": [{"sku": "a", "quantity": 1, "unit_price": 1.0}]}))
                .await
                .expect(421);
            assert_eq!(refused.header("content-type"), Some("application/problem+json"));
            let problem = refused.json();
            assert_eq!(problem["type"], "urn:projector:problem:read-node");
            assert!(problem["detail"].as_str().is_some_and(|d| d.contains(&writer.base)), "{problem}");
            node.get("/api/orders/o1/history").await.expect(421);
            assert_eq!(node.get("/ready").await.status.as_u16(), 200);

            // The writer reports its relay.
            let list = writer.get("/admin/projections").await.expect(200).json();
            let relay = &list["relay"];
            assert_eq!(relay["published"], list["head"], "{list}");
            assert_eq!(relay["lag_events"], 0, "{list}");
            // And in /metrics, for an alert on a relay behind.
            let published = format!("projector_relay_published_position {}", list["head"]);
            eventually("the relay series in /metrics", || async {
                let metrics = writer.get("/metrics").await.expect(200).text;
                if metrics.lines().any(|l| l == published)
                    && metrics.lines().any(|l| l == "projector_relay_lag_events 0")
                    && metrics.lines().any(|l| l.starts_with("projector_relay_lag_seconds "))
                {
                    Ok(())
                } else {
                    Err(metrics)
                }
            })
            .await;
            remove_stream(&url, &stream).await;
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_nodes_partitions_read_their_own_subjects_of_the_stream() {
    Backend::Sqlite
        .run(async {
            let Some((url, stream)) = fresh_stream().await else {
                return;
            };
            let mut publish = vec!["--publish", url.as_str()];
            publish.extend(stream.iter().map(String::as_str));
            let writer = Server::start_with_args(sqlite(), &publish).await;

            // Orders of three customers, each customer registering with a region among them:
            // an event every partition applies, though it is only in its stream's subject. The
            // node starts once all is published, so the registrations fall mid-batch.
            let mut ids = Vec::new();
            for i in 0..24 {
                let id = format!("b-{i}");
                writer
                    .place(&id, &format!("c{}", i % 3), &[("a", 1 + i % 2, 2.5)])
                    .await;
                ids.push(id);
                if i % 8 == 4 {
                    let c = i / 8;
                    let body = json!({"id": format!("c{c}"), "email": format!("c{c}@example.com"),
                        "name": "Robin", "region": format!("region-{c}")});
                    writer.post("/api/customers", &body).await.expect(201);
                }
            }
            let head = writer.head().await;
            eventually("the writer to publish everything", || async {
                let list = writer.get("/admin/projections").await.expect(200).json();
                if list["relay"]["published"] == head {
                    Ok(())
                } else {
                    Err(list["relay"].clone())
                }
            })
            .await;
            let mut args = node_args(&url, &stream, &writer);
            args.extend(["--partitions", "order_summary=4"]);
            let node = Server::start_with_args(sqlite(), &args).await;
            for (i, id) in ids.iter().enumerate() {
                let order = order_on(&node, id, head).await;
                assert_eq!(
                    order["customer_region"],
                    format!("region-{}", i % 3),
                    "{order}"
                );
                assert_eq!(order, writer.order(id, head).await);
            }
            crate::partitions::wait_partitions_at_head(&node, 4, None).await;

            // Each partition reads the broker's subject for it: four consumers filtered to
            // the partition bits of the subjects, one per index.
            let client = async_nats::connect(url.as_str()).await.expect("NATS");
            let jetstream = async_nats::jetstream::new(client);
            let nats_stream = jetstream.get_stream(&stream[1]).await.expect("the stream");
            let mut filters = Vec::new();
            let mut consumers = nats_stream.consumers();
            while let Some(info) = futures::StreamExt::next(&mut consumers).await {
                filters.push(info.expect("a consumer").config.filter_subject);
            }
            for index in 0..4 {
                let own = format!("{}.*.*.{}.{}.*.*.*.*", stream[3], index & 1, index >> 1);
                assert!(
                    filters.contains(&own),
                    "no consumer of {own} among {filters:?}"
                );
            }
            remove_stream(&url, &stream).await;
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashed_relays_read_nodes_and_brokers_lose_nothing_and_apply_nothing_twice() {
    Backend::Sqlite
        .run(async {
            // A broker of the test's own, so it can be killed and started again.
            let Some(mut nats) = OwnNats::start().await else {
                return;
            };
            let url = nats.url();
            let stream: Vec<String> = Vec::new();
            let writer = Server::start().await;
            let mut relay_process = relay(&writer, &url, &stream);
            let mut crashing = read_node(&url, &stream, &writer).await;
            let steady = read_node(&url, &stream, &writer).await;

            // A write load; meanwhile the relay, one read node and the broker are killed and
            // started again.
            let mut last = 0;
            let mut placed = Vec::new();
            for i in 0..60 {
                let id = format!("load-{i}");
                last = writer
                    .place(&id, &format!("c{}", i % 7), &[("SKU-1", 1 + i % 3, 1.25)])
                    .await;
                if i % 4 == 0 {
                    writer
                        .post(
                            &format!("/api/orders/{id}/ship"),
                            &json!({"tracking": format!("T{i}")}),
                        )
                        .await
                        .expect(202);
                }
                if i % 8 == 0 {
                    writer
                        .send(
                            Method::POST,
                            &format!("/api/orders/{id}/complete"),
                            None,
                            &[],
                        )
                        .await
                        .expect(202);
                }
                if i % 10 == 0 {
                    let product = json!({"id": format!("p{i}"), "name": format!("Lamp {i}"),
                        "category": "lighting", "price": 10 + i});
                    writer.post("/api/products", &product).await.expect(201);
                }
                placed.push(id);
                if i == 20 {
                    relay_process.kill();
                    relay_process = relay(&writer, &url, &stream);
                }
                if i == 45 {
                    nats.kill();
                    nats.run().await.expect("the broker starts again");
                }
                if i == 35 {
                    let mut storage = crashing.keep_storage();
                    crashing.kill();
                    crashing = Server::start_with_args(
                        std::mem::replace(&mut storage, sqlite()),
                        &node_args(&url, &stream, &writer),
                    )
                    .await;
                }
            }
            let last = writer.head().await.max(last);

            // Both read nodes reach the head and answer every order as the writer does.
            for node in [&crashing, &steady] {
                for id in &placed {
                    let mine = order_on(node, id, last).await;
                    assert_eq!(mine, writer.order(id, last).await, "{id}");
                }
                let activity = node
                    .get(&format!(
                        "/api/customers/c3/orders?min_position={last}&wait_ms=20000"
                    ))
                    .await
                    .expect(200)
                    .json();
                let expected = writer
                    .get(&format!("/api/customers/c3/orders?min_position={last}"))
                    .await
                    .expect(200)
                    .json();
                assert_eq!(activity, expected);
            }

            // Stopped, each read node's read models, every table and search index, equal a
            // rebuild from the writer's events, each at the head.
            let head = writer.head().await;
            let rebuilt = rebuilt::rebuilt(&sqlite_data(writer.storage()).join("events.db")).await;
            for (which, mut node) in [("restarted", crashing), ("steady", steady)] {
                node.wait_every_projection_at(head).await;
                let storage = node.keep_storage();
                assert!(node.terminate(), "the {which} read node stops cleanly");
                let data = sqlite_data(&storage);
                for file in ["events.db", "idempotency.db"] {
                    assert!(!data.join(file).exists(), "a read node has no {file}");
                }
                let (kept, positions) = rebuilt::kept(&data).await;
                for (model, position) in positions {
                    assert_eq!(position.get(), head, "the {which} node's {model}");
                }
                rebuilt::assert_equal(&format!("the {which} read node"), &kept, &rebuilt);
            }
            drop(relay_process);
        })
        .await;
}

/// A NATS server of the test's own, on a free port with its own store, that the test may stop
/// and start again.
struct OwnNats {
    port: u16,
    store: tempfile::TempDir,
    process: Option<Child>,
}

impl OwnNats {
    /// Starts one; `None` (after saying why) when there is no `nats-server` outside CI.
    async fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut nats = Self {
            port,
            store: projector_testkit::temp_dir(),
            process: None,
        };
        if let Err(error) = nats.run().await {
            projector_testkit::services::unavailable("nats-server", &error);
            return None;
        }
        Some(nats)
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn run(&mut self) -> Result<(), String> {
        let binary = std::env::var("PROJECTOR_TEST_NATS_SERVER")
            .unwrap_or_else(|_| "/usr/sbin/nats-server".to_owned());
        let process = Command::new(&binary)
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{binary}: {e}"))?;
        self.process = Some(process);
        // It started, so it must listen: a server that never does fails the test, even outside CI.
        let port = self.port;
        eventually(&format!("{binary} to listen on {port}"), || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map(drop)
        })
        .await;
        Ok(())
    }

    fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

impl Drop for OwnNats {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_go_on_while_the_broker_is_away_and_read_nodes_catch_up_after() {
    Backend::Sqlite
        .run(async {
            let Some(mut nats) = OwnNats::start().await else {
                return;
            };
            let url = nats.url();
            let writer = Server::start_with_args(sqlite(), &["--publish", &url]).await;
            let node = read_node(&url, &[], &writer).await;
            let first = writer.place("before", "ada", &[("SKU-1", 1, 1.0)]).await;
            assert_eq!(
                order_on(&node, "before", first).await["status"],
                "confirmed"
            );

            nats.kill();
            // The event store is the outbox: the writer takes writes with the broker away.
            let mut last = first;
            for i in 0..10 {
                last = writer
                    .place(&format!("away-{i}"), "ada", &[("SKU-2", 2, 3.0)])
                    .await;
            }
            let list = writer.get("/admin/projections").await.expect(200).json();
            assert!(list["relay"]["lag_events"].as_u64() > Some(0), "{list}");

            nats.run().await.expect("the broker starts again");
            for i in 0..10 {
                let id = format!("away-{i}");
                assert_eq!(
                    order_on(&node, &id, last).await,
                    writer.order(&id, last).await
                );
            }
            let after = writer.place("after", "ada", &[("SKU-3", 1, 1.0)]).await;
            assert_eq!(
                order_on(&node, "after", after).await,
                writer.order("after", after).await
            );
        })
        .await;
}

/// `projector status --json` of the writer's storage, with its relay's stream.
async fn relay_lag(writer: &Server, url: &str, stream: &[String]) -> Option<u64> {
    let mut args = vec!["status", "--json", "--nats-url", url];
    args.extend(stream.iter().map(String::as_str));
    let output =
        crate::helpers::projector(&args, &writer.storage_args(), Duration::from_secs(60)).await;
    assert!(output.success, "{}", output.stderr);
    let report: Value = serde_json::from_str(&output.stdout).expect("status JSON");
    report["relay"]["lag_events"].as_u64()
}

/// Waits until the relay has published everything the writer holds.
async fn wait_published(writer: &Server, url: &str, stream: &[String]) {
    eventually("the relay to catch up", || async {
        match relay_lag(writer, url, stream).await {
            Some(0) => Ok(()),
            lag => Err(lag),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_one_relay_publishes_and_a_standby_takes_over() {
    Backend::Postgres
        .run(async {
            let Some((url, stream)) = fresh_stream().await else {
                return;
            };
            let writer = Server::start().await;
            let mut first = relay(&writer, &url, &stream);
            let mut second = relay(&writer, &url, &stream);
            writer.place("a", "ada", &[("SKU-1", 1, 1.0)]).await;
            wait_published(&writer, &url, &stream).await;

            // Each relay in turn is killed; the other publishes what comes next.
            first.kill();
            writer.place("b", "ada", &[("SKU-1", 1, 1.0)]).await;
            wait_published(&writer, &url, &stream).await;
            first = relay(&writer, &url, &stream);
            second.kill();
            writer.place("c", "ada", &[("SKU-1", 1, 1.0)]).await;
            wait_published(&writer, &url, &stream).await;

            // A read node sees every order once.
            let node = read_node(&url, &stream, &writer).await;
            let head = writer.head().await;
            for id in ["a", "b", "c"] {
                assert_eq!(
                    order_on(&node, id, head).await,
                    writer.order(id, head).await
                );
            }
            drop(first);
            remove_stream(&url, &stream).await;
        })
        .await;
}

/// A password or token in a NATS URL (`--publish`, `--from`, `--nats-url`) reaches neither the
/// logs nor `--help`, as a database password does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_passwords_stay_out_of_the_logs_and_help() {
    let Some((url, stream)) = fresh_stream().await else {
        return;
    };
    let secret = "s3cret-nats-password";
    let with_password = url.replacen("nats://", &format!("nats://relay:{secret}@"), 1);
    let mut args = vec!["--publish", with_password.as_str()];
    args.extend(stream.iter().map(String::as_str));
    let writer = Server::start_with_args(sqlite(), &args).await;
    writer.place("o1", "c1", &[("a", 1, 1.0)]).await;
    let relaying = writer
        .wait_for_log("saying where it relays", |line| {
            line.contains("relaying the event feed")
        })
        .await;
    assert!(relaying.contains("nats://relay:***@"), "{relaying}");
    let logs = writer.log_lines().join("\n");
    assert!(!logs.contains(secret), "the password is in the log: {logs}");
    drop(writer);

    for (command, variable) in [
        ("serve", "PROJECTOR_PUBLISH"),
        ("serve", "PROJECTOR_FROM"),
        ("project", "PROJECTOR_FROM"),
        ("status", "PROJECTOR_FROM"),
        ("status", "PROJECTOR_NATS_URL"),
        ("relay", "PROJECTOR_NATS_URL"),
        ("bench", "PROJECTOR_NATS_URL"),
    ] {
        let help = Command::new(BINARY)
            .args([command, "--help"])
            .env(variable, &with_password)
            .output()
            .expect("help");
        let help = String::from_utf8_lossy(&help.stdout);
        assert!(help.contains(variable), "{command} --help: {help}");
        assert!(!help.contains(secret), "{command} --help shows {variable}");
    }
    remove_stream(&url, &stream).await;
}
