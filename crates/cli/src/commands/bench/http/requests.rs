//! The requests of phase C's client: a write and the reads that follow it until its order is
//! readable, and point reads of orders already written.
//!
//! The client holds a fixed set of connections for its writes, and another for its reads, as a
//! load generator with a fixed number of connections does (wrk's `-c`): a request that finds
//! every one of them busy waits for one, and that wait counts in its latency. A client that
//! opened a new connection for each request finding none idle would, against a server slowed
//! down, open thousands, and measure the server turning connections away rather than its
//! writes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How one write went.
pub(super) enum Written {
    /// Accepted and read back; timings in milliseconds.
    Read { write_ms: f64, readable_ms: f64 },
    /// Turned away after this many milliseconds.
    Shed(f64),
}

/// The servers a step talks to, and the connections it may use to each at once. Cloning
/// shares them.
#[derive(Clone)]
pub(super) struct Servers {
    client: reqwest::Client,
    /// Where writes go.
    base: Arc<str>,
    /// Where reads go: the writer, or the read node with a broker.
    read_base: Arc<str>,
    /// The connections writes may use at once.
    writes: Arc<Semaphore>,
    /// Those reads may use: as many again, so that reads waiting for a projection that lags
    /// never hold the writes up, as if a client of its own made them.
    reads: Arc<Semaphore>,
}

/// An answer, and the connection it came on, held until its body is read.
struct Answer {
    response: reqwest::Response,
    _connection: OwnedSemaphorePermit,
}

impl Answer {
    fn status(&self) -> u16 {
        self.response.status().as_u16()
    }

    fn retry_after(&self) -> Option<Duration> {
        retry_after(&self.response)
    }

    /// Its body as JSON, the connection given back once it is read.
    async fn json(self) -> reqwest::Result<serde_json::Value> {
        self.response.json().await
    }

    /// Reads its body to the end, so the connection goes back to the pool: a response dropped
    /// unread closes its connection.
    async fn finish(self) -> reqwest::Result<()> {
        self.response.bytes().await.map(drop)
    }
}

impl Servers {
    /// `client` writing to `base` and reading from `read_base`, over at most `connections`
    /// connections for the writes and as many for the reads.
    pub(super) fn new(
        client: &reqwest::Client,
        base: &str,
        read_base: &str,
        connections: usize,
    ) -> Self {
        Self {
            client: client.clone(),
            base: base.into(),
            read_base: read_base.into(),
            writes: Arc::new(Semaphore::new(connections.max(1))),
            reads: Arc::new(Semaphore::new(connections.max(1))),
        }
    }

    /// Sends `request` once one of the connections `to` allows is free.
    async fn ask(
        &self,
        to: &Arc<Semaphore>,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<Answer> {
        let connection = Arc::clone(to)
            .acquire_owned()
            .await
            .context("the client's connections were closed")?;
        Ok(Answer {
            response: request.send().await?,
            _connection: connection,
        })
    }

    /// Writes order `i` and reads it until it is `confirmed`; the write's latency counts
    /// from now, so a wait for a free connection is in it.
    pub(super) async fn write_and_read(&self, i: usize) -> anyhow::Result<Written> {
        let id = format!("http-{i}");
        let body = json!({"id": id, "customer_id": format!("cust-{}", i % 1000), "items": [
            {"sku": format!("sku-{}", i % 97), "quantity": 1 + i % 3, "unit_price": 10.25},
            {"sku": format!("sku-{}", (i + 1) % 97), "quantity": 2, "unit_price": 12.5}
        ]});
        let sent = Instant::now();
        let write = self
            .ask(
                &self.writes,
                self.client
                    .post(format!("{}/api/orders", self.base))
                    .json(&body),
            )
            .await?;
        if write.retry_after().is_some() {
            let shed_in = sent.elapsed();
            write.finish().await?;
            return Ok(Written::Shed(ms(shed_in)));
        }
        let status = write.status();
        if status != 202 {
            bail!("write answered {status}");
        }
        let accepted = write.json().await?;
        let acknowledged = Instant::now();
        let position = accepted["position"].as_u64().context("no position")?;
        let url = format!(
            "{}/api/orders/{id}/projection?min_position={position}&wait_ms=10000",
            self.read_base
        );
        loop {
            let read = self.ask(&self.reads, self.client.get(&url)).await?;
            let status = read.status();
            if status == 200 {
                if read.json().await?["status"] == "confirmed" {
                    break;
                }
            } else if let Some(wait) = read.retry_after() {
                read.finish().await?;
                // Asking again at once would add to the load a server at its limits sheds.
                tokio::time::sleep(wait).await;
            } else if status == 503 {
                // The position was not reached within the wait: ask again.
                read.finish().await?;
            } else {
                bail!("read answered {status}");
            }
        }
        Ok(Written::Read {
            write_ms: ms(acknowledged - sent),
            readable_ms: ms(acknowledged.elapsed()),
        })
    }

    /// Point reads of orders already `written`, at `rate` per second, until `stop`.
    pub(super) async fn point_reads(
        self,
        written: Arc<Mutex<Vec<String>>>,
        rate: u32,
        errors: Arc<Mutex<usize>>,
        stop: tokio_util::sync::CancellationToken,
    ) -> PointReads {
        let mut reads = PointReads::default();
        let period = Duration::from_secs_f64(1.0 / f64::from(rate));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut n = 0usize;
        loop {
            tokio::select! {
                () = stop.cancelled() => return reads,
                _ = tick.tick() => {}
            }
            let id = {
                let written = lock(&written);
                if written.is_empty() {
                    continue;
                }
                n = n
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                written[(n >> 33) % written.len()].clone()
            };
            let started = Instant::now();
            let request = self
                .client
                .get(format!("{}/api/orders/{id}/projection", self.read_base));
            match self.read_once(request).await {
                Ok(PointRead::Read) => reads.latencies.push(ms(started.elapsed())),
                Ok(PointRead::Shed) => reads.shed += 1,
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "a point read of {id} failed");
                    *lock(&errors) += 1;
                }
            }
        }
    }

    async fn read_once(&self, request: reqwest::RequestBuilder) -> anyhow::Result<PointRead> {
        let read = self.ask(&self.reads, request).await?;
        let (status, shed) = (read.status(), read.retry_after().is_some());
        read.finish().await?;
        match status {
            200 => Ok(PointRead::Read),
            _ if shed => Ok(PointRead::Shed),
            other => bail!("a point read answered {other}"),
        }
    }
}

/// What the point reads measured.
#[derive(Debug, Default)]
pub(super) struct PointReads {
    /// The latencies of those answered, in milliseconds.
    pub(super) latencies: Vec<f64>,
    /// Those turned away with `Retry-After`, not retried.
    pub(super) shed: usize,
}

enum PointRead {
    Read,
    Shed,
}

/// How long a `429` or `503` answer asks the client to wait (`Retry-After`, in seconds), if it
/// does: a request turned away at the server's limits, or a read whose position was not reached
/// within its wait.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    if !matches!(response.status().as_u16(), 429 | 503) {
        return None;
    }
    let seconds: u64 = response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::*;

    /// A server that turns every request away after 20 ms, keeping its connections; counts
    /// the connections it was opened.
    async fn slow_refusing_server() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let opened = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&opened);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(refuse_each_request(stream));
            }
        });
        (base, opened)
    }

    async fn refuse_each_request(mut stream: TcpStream) {
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            // A whole request: its head, then as many bytes as its Content-Length says.
            let request_end = received
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|head| {
                    let head_text = String::from_utf8_lossy(&received[..head]).to_lowercase();
                    let length = head_text
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    head + 4 + length
                })
                .filter(|end| received.len() >= *end);
            if let Some(end) = request_end {
                received.drain(..end);
                tokio::time::sleep(Duration::from_millis(20)).await;
                let answer = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n";
                if stream.write_all(answer).await.is_err() {
                    return;
                }
                continue;
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    }

    /// 32 writes at once over `connections`: how many connections the server was opened.
    async fn connections_opened_by(connections: usize) -> usize {
        let (base, opened) = slow_refusing_server().await;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(usize::MAX)
            .build()
            .expect("client");
        let servers = Servers::new(&client, &base, &base, connections);
        let writes: Vec<_> = (0..32)
            .map(|i| {
                let servers = servers.clone();
                tokio::spawn(async move { servers.write_and_read(i).await })
            })
            .collect();
        for write in writes {
            let outcome = write.await.expect("task").expect("answered");
            assert!(matches!(outcome, Written::Shed(_)), "turned away");
        }
        opened.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn writes_wait_for_one_of_the_client_s_connections_rather_than_open_more() {
        let bounded = connections_opened_by(4).await;
        assert!(
            (1..=6).contains(&bounded),
            "4 connections allowed, {bounded} opened"
        );
        let unbounded = connections_opened_by(32).await;
        assert!(unbounded > 6, "32 allowed at once, {unbounded} opened");
    }
}
