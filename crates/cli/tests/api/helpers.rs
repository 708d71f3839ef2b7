//! A real `projector serve` process on a free port with a fresh data directory, and a real HTTP
//! client to talk to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_projector");

/// A running server.
pub struct Server {
    child: Child,
    pub base: String,
    pub client: reqwest::Client,
    pub logs: Arc<Mutex<Vec<String>>>,
    data: PathBuf,
    _dir: Option<tempfile::TempDir>,
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
    /// Starts a server on a fresh data directory.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data = dir.path().join("data");
        Self::start_on(data, Some(dir)).await
    }

    /// Starts a server on `data`.
    pub async fn start_on(data: PathBuf, dir: Option<tempfile::TempDir>) -> Self {
        let mut child = Command::new(BINARY)
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--log-format",
                "json",
                "--log-level",
                "info",
                "--data",
            ])
            .arg(&data)
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
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("projector listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
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
            data,
            _dir: dir,
        }
    }

    pub fn data(&self) -> &Path {
        &self.data
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
        let text = response.text().await.expect("body");
        Reply {
            status,
            headers,
            text,
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
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

    /// Waits until `/ready` answers 200 (every projection has opened its read model), and
    /// returns its report.
    pub async fn ready(&self) -> Value {
        for _ in 0..200 {
            let reply = self.get("/ready").await;
            if reply.status == 200 {
                return reply.json();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the server never became ready: {}",
            self.get("/ready").await.text
        )
    }

    /// Sends SIGTERM and waits for the process to exit; returns whether it exited with 0.
    pub fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        let status = self.child.wait().expect("wait");
        status.success()
    }

    /// The log lines so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.logs.lock().expect("logs").clone()
    }

    /// Takes the data directory out, so it outlives this server.
    pub fn keep_dir(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
