//! A real `projector serve` process on a free port with a fresh data directory, and a real HTTP
//! client to talk to it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use projector_testkit::postgres::TestDatabase;
use projector_testkit::redis::TestRedis;
use projector_testkit::wait::{self, eventually, eventually_sync, eventually_within};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_projector");

/// The storage a test's servers run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default, in a temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

tokio::task_local! {
    static BACKEND: Backend;
    /// The Redis namespace of the test's caches, when it runs with them.
    static CACHE: Option<Arc<TestRedis>>;
}

impl Backend {
    /// Runs `test` with its servers on this backend; skips (saying why) when PostgreSQL is
    /// away outside CI.
    pub async fn run(self, test: impl std::future::Future<Output = ()>) {
        if self == Backend::Postgres && TestDatabase::create().await.is_none() {
            return;
        }
        BACKEND.scope(self, CACHE.scope(None, test)).await;
    }

    /// Runs `test` as [`Backend::run`] does, every server of it also keeping the "my orders"
    /// cache in a Redis namespace of the test's own; skips when Redis is away outside CI.
    pub async fn run_with_cache(self, test: impl std::future::Future<Output = ()>) {
        if self == Backend::Postgres && TestDatabase::create().await.is_none() {
            return;
        }
        let Some(redis) = TestRedis::create().await else {
            return;
        };
        BACKEND
            .scope(self, CACHE.scope(Some(Arc::new(redis)), test))
            .await;
    }

    pub fn current() -> Backend {
        BACKEND.try_with(|b| *b).unwrap_or(Backend::Sqlite)
    }
}

/// The Redis the test's servers keep their caches in, if it runs with them.
pub fn cache() -> Option<Arc<TestRedis>> {
    CACHE.try_with(Clone::clone).ok().flatten()
}

/// The options that give a server the test's caches, if it runs with them.
fn cache_args() -> Vec<std::ffi::OsString> {
    match cache() {
        Some(redis) => vec![
            "--redis-url".into(),
            redis.url().into(),
            "--redis-namespace".into(),
            redis.namespace().into(),
        ],
        None => Vec::new(),
    }
}

/// Where a server keeps its data. It outlives a server, so another can start on it. On
/// PostgreSQL the server still keeps its search indexes in a data directory of its own.
pub enum Storage {
    Sqlite(tempfile::TempDir),
    Postgres(TestDatabase, tempfile::TempDir),
}

impl Storage {
    /// Fresh storage on the test's backend.
    pub async fn fresh() -> Self {
        match Backend::current() {
            Backend::Sqlite => Storage::Sqlite(projector_testkit::temp_dir()),
            Backend::Postgres => Storage::Postgres(
                TestDatabase::create()
                    .await
                    .expect("PostgreSQL was reachable a moment ago"),
                projector_testkit::temp_dir(),
            ),
        }
    }

    fn args(&self) -> Vec<std::ffi::OsString> {
        let mut args = match self {
            Storage::Sqlite(dir) => vec!["--data".into(), dir.path().join("data").into_os_string()],
            Storage::Postgres(database, dir) => vec![
                "--database-url".into(),
                database.url().into(),
                "--data".into(),
                dir.path().join("data").into_os_string(),
            ],
        };
        args.extend(cache_args());
        args
    }
}

/// The pool size of servers sharing a database: each then opens at most 4 x 3 + 1 pooled
/// connections, plus one per lease it holds and one for its listener.
const SHARED_DATABASE_POOL_SIZE: &str = "3";

/// `--read-wait-ms` for a test's server unless `extra` sets it: half the scaled test deadline
/// (the server's default, 2 s, is short for a search index committing on a loaded machine),
/// so a read naming `min_position` without `wait_ms` waits rather than failing the test.
fn read_wait(extra: &[&str]) -> Vec<String> {
    if extra.contains(&"--read-wait-ms") {
        return Vec::new();
    }
    let wait = (projector_testkit::wait::deadline() / 2).min(Duration::from_secs(30));
    vec!["--read-wait-ms".into(), wait.as_millis().to_string()]
}

/// A running server.
pub struct Server {
    child: Child,
    pub base: String,
    pub client: reqwest::Client,
    pub logs: Arc<Mutex<Vec<String>>>,
    storage: Option<Storage>,
    storage_args: Vec<std::ffi::OsString>,
    admin_base: Arc<Mutex<Option<String>>>,
    /// The data directory of a server started on a shared database.
    data: Option<tempfile::TempDir>,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `position` of an accepted write.
    #[track_caller]
    pub fn position(&self) -> u64 {
        self.json()["position"]
            .as_u64()
            .unwrap_or_else(|| panic!("no position in {}", self.text))
    }

    /// The fields a problem names.
    #[track_caller]
    pub fn fields(&self) -> Vec<String> {
        let problem = self.json();
        problem["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected answer: {}",
            self.text
        );
        self
    }
}

impl Server {
    /// Starts a server on fresh storage of the test's backend.
    pub async fn start() -> Self {
        Self::start_with(Storage::fresh().await).await
    }

    /// Starts a server on `storage`.
    pub async fn start_with(storage: Storage) -> Self {
        Self::start_with_args(storage, &[]).await
    }

    /// Starts a server on `storage` with extra `serve` options.
    pub async fn start_with_args(storage: Storage, extra: &[&str]) -> Self {
        let args = storage.args();
        Self::spawn(args, Some(storage), extra).await
    }

    /// Starts a server on a PostgreSQL database another server may share.
    pub async fn start_on_database(url: &str) -> Self {
        Self::start_on_database_with_args(url, &[]).await
    }

    /// Starts a server on a PostgreSQL database another server may share, with extra `serve`
    /// options, and a data directory of its own for its search indexes. Its pools are kept
    /// small ([`SHARED_DATABASE_POOL_SIZE`]) unless `extra` sizes them, so two tests each
    /// running three servers stay well inside PostgreSQL's default 100 connections.
    pub async fn start_on_database_with_args(url: &str, extra: &[&str]) -> Self {
        let data = projector_testkit::temp_dir();
        let mut args: Vec<std::ffi::OsString> = vec![
            "--database-url".into(),
            url.into(),
            "--data".into(),
            data.path().join("data").into_os_string(),
        ];
        if !extra.contains(&"--database-pool-size") {
            args.extend([
                "--database-pool-size".into(),
                SHARED_DATABASE_POOL_SIZE.into(),
            ]);
        }
        args.extend(cache_args());
        let mut server = Self::spawn(args, None, extra).await;
        server.data = Some(data);
        server
    }

    /// Two servers on the database at `url`, each with `extra`, each ready: the first runs the
    /// shared projections (it holds their leases), the second stands by.
    pub async fn holder_and_standby(url: &str, extra: &[&str]) -> (Self, Self) {
        let holder = Self::start_on_database_with_args(url, extra).await;
        holder.ready().await;
        let standby = Self::start_on_database_with_args(url, extra).await;
        standby.ready().await;
        (holder, standby)
    }

    async fn spawn(
        storage_args: Vec<std::ffi::OsString>,
        storage: Option<Storage>,
        extra: &[&str],
    ) -> Self {
        let mut child = Command::new(BINARY)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--log-level",
                "info",
            ])
            .args(extra)
            .args(read_wait(extra))
            .args(&storage_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start projector serve");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        {
            let logs = Arc::clone(&logs);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    logs.lock().expect("logs").push(line);
                }
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let admin_base = Arc::new(Mutex::new(None));
        {
            let admin_base = Arc::clone(&admin_base);
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(url) = line.strip_prefix("projector admin listening on ") {
                        *admin_base.lock().expect("admin base") = Some(url.to_owned());
                    } else if let Some(url) = line.strip_prefix("projector listening on ") {
                        let _ = tx.send(url.to_owned());
                    }
                }
            });
        }
        let base = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let logs = logs.lock().expect("logs").join("\n");
                panic!("the server did not start:\n{logs}")
            });
        Self {
            child,
            base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(40))
                .build()
                .expect("client"),
            logs,
            storage,
            storage_args,
            admin_base,
            data: None,
        }
    }

    /// The address of the admin API's own listener, when it has one.
    pub fn admin_base(&self) -> Option<String> {
        self.admin_base.lock().expect("admin base").clone()
    }

    /// The options that point a command at this server's storage.
    pub fn storage_args(&self) -> Vec<std::ffi::OsString> {
        self.storage_args.clone()
    }

    /// Sends a request with a JSON body (or none) and extra headers.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        for (name, value) in headers {
            request = request.header(
                HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                HeaderValue::from_str(value).expect("header value"),
            );
        }
        self.read(request).await
    }

    /// Sends raw bytes with the given content type.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        self.read(request).await
    }

    async fn read(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        // An event stream never ends: its tests read it event by event instead.
        let streamed = headers
            .get("content-type")
            .is_some_and(|t| t.as_bytes().starts_with(b"text/event-stream"));
        let text = if streamed {
            String::new()
        } else {
            response.text().await.expect("body")
        };
        Reply {
            status,
            headers,
            text,
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    /// A POST without a body.
    pub async fn post_empty(&self, path: &str) -> Reply {
        self.send(Method::POST, path, None, &[]).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    /// Places an order and returns the position of its last event.
    pub async fn place(&self, id: &str, customer: &str, items: &[(&str, u32, f64)]) -> u64 {
        let items: Vec<Value> = items
            .iter()
            .map(|(sku, quantity, price)| serde_json::json!({"sku": sku, "quantity": quantity, "unit_price": price}))
            .collect();
        self.post(
            "/api/orders",
            &serde_json::json!({"id": id, "customer_id": customer, "items": items}),
        )
        .await
        .expect(202)
        .position()
    }

    /// The order's read model once it has applied `position`.
    pub async fn order(&self, id: &str, position: u64) -> Value {
        self.get(&format!(
            "/api/orders/{id}/projection?min_position={position}"
        ))
        .await
        .expect(200)
        .json()
    }

    /// Events this server process has appended, from its metrics.
    pub async fn appended(&self) -> u64 {
        let metrics = self.get("/metrics").await.expect(200).text;
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("projector_events_appended_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    }

    /// Waits until every projection in `GET /admin/projections` has applied `position`, with
    /// no rebuild running. Its deadline is six default ones: a search index fed one event per
    /// commit catches up slowly after a load on a loaded machine.
    pub async fn wait_every_projection_at(&self, position: u64) {
        eventually_within(
            &format!("every projection at {position}"),
            wait::deadline() * 6,
            || async {
                let list = self.get("/admin/projections").await.expect(200).json();
                let behind: Vec<Value> = list["projections"]
                    .as_array()
                    .expect("projections")
                    .iter()
                    .filter(|p| {
                        p["checkpoint"].as_u64().is_none_or(|c| c < position)
                            || !p["rebuild"].is_null()
                    })
                    .cloned()
                    .collect();
                if behind.is_empty() {
                    Ok(())
                } else {
                    Err(behind)
                }
            },
        )
        .await;
    }

    /// Waits until `/ready` answers 200 (every projection has opened its read model), and
    /// returns its report.
    pub async fn ready(&self) -> Value {
        eventually("the server to be ready", || async {
            let reply = self.get("/ready").await;
            if reply.status == 200 {
                Ok(reply.json())
            } else {
                Err(reply.text)
            }
        })
        .await
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited with 0.
    pub fn terminate(mut self) -> bool {
        self.ask_to_stop();
        let status = self.child.wait().expect("wait");
        status.success()
    }

    /// Sends SIGTERM without waiting for the process to exit.
    pub fn ask_to_stop(&self) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The state of each projection, from `/ready`.
    pub async fn projection_states(&self) -> Vec<String> {
        let ready = self.get("/ready").await.json();
        ready["projections"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter_map(|p| p["state"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The state of each projection shared by every server (not kept by each for itself),
    /// from `/ready`.
    pub async fn shared_projection_states(&self) -> Vec<String> {
        let ready = self.get("/ready").await.json();
        ready["projections"]
            .as_array()
            .map(|p| {
                p.iter()
                    .filter(|p| !p["local"].as_bool().expect("local or not"))
                    .filter_map(|p| p["state"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The log lines so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.logs.lock().expect("logs").clone()
    }

    /// Waits for the first log line that `wanted` accepts. A line reaches the pipe after the
    /// work it describes is visible over HTTP, so a test must not expect it to be there already.
    pub async fn wait_for_log(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        eventually_sync(&format!("a log line {what}"), || {
            let logs = self.log_lines();
            logs.iter().find(|line| wanted(line)).cloned().ok_or(logs)
        })
        .await
    }

    /// Takes the storage out, so it outlives this server.
    pub fn keep_storage(&mut self) -> Storage {
        self.storage.take().expect("the storage is still here")
    }

    /// The storage this server runs on.
    pub fn storage(&self) -> &Storage {
        self.storage.as_ref().expect("the storage is still here")
    }

    /// The head of the event store: the `Projection-Position` of the audit log, which reads
    /// the event store itself (an unknown order's, so it is a 404).
    pub async fn head(&self) -> u64 {
        let reply = self
            .get("/api/orders/no-such-order/history")
            .await
            .expect(404);
        reply
            .header("projection-position")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no head in {:?}", reply.headers))
    }

    /// The events of order `id`, oldest first, as the audit log shows them.
    pub async fn history(&self, id: &str) -> Vec<Value> {
        let history = self
            .get(&format!("/api/orders/{id}/history"))
            .await
            .expect(200)
            .json();
        history["events"].as_array().cloned().unwrap_or_default()
    }
}

impl Server {
    /// The day order `id` was completed on, from its history: the day its sales count on.
    /// Tests read reports around this day, not the wall clock's, so they hold at midnight.
    pub async fn completed_on(&self, id: &str) -> chrono::NaiveDate {
        let mut after = 0;
        let completed_at = loop {
            let page = self
                .get(&format!("/api/orders/{id}/history?after_version={after}"))
                .await
                .expect(200)
                .json();
            let events = page["events"].as_array().cloned().unwrap_or_default();
            if let Some(at) = events
                .iter()
                .find_map(|e| e["data"]["completed_at"].as_str())
            {
                break at.to_owned();
            }
            after = page["next_after_version"]
                .as_u64()
                .unwrap_or_else(|| panic!("{id} was never completed: {page}"));
        };
        chrono::DateTime::parse_from_rfc3339(&completed_at)
            .unwrap_or_else(|e| panic!("completed_at {completed_at}: {e}"))
            .date_naive()
    }

    /// The `from` and `to` of a daily sales report: the day before `day` to the day after.
    pub fn days_around(day: chrono::NaiveDate) -> String {
        format!(
            "from={}&to={}",
            day - chrono::Days::new(1),
            day + chrono::Days::new(1)
        )
    }
}

/// What a `projector` command printed, and whether it succeeded.
#[derive(Debug)]
pub struct CommandOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `projector <args> <storage>`, failing the test if it takes longer than `limit`.
pub async fn projector(
    args: &[&str],
    storage: &[std::ffi::OsString],
    limit: Duration,
) -> CommandOutput {
    let child = tokio::process::Command::new(BINARY)
        .args(args)
        .args(["--log-level", "warn"])
        .args(storage)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start projector");
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("projector {args:?} did not finish within {limit:?}"))
        .expect("projector ran");
    CommandOutput {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// How many of a server's last log lines a failing test prints.
const LOG_LINES_ON_FAILURE: usize = 200;

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what its servers said: the harness prints a failed test's
        // output, and the log is otherwise lost with the process.
        if std::thread::panicking() {
            let logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
            let skipped = logs.len().saturating_sub(LOG_LINES_ON_FAILURE);
            eprintln!(
                "--- the server at {} logged {} lines; the last {}:",
                self.base,
                logs.len(),
                logs.len() - skipped
            );
            for line in &logs[skipped..] {
                eprintln!("{line}");
            }
            eprintln!("--- end of the server's log");
        }
    }
}
