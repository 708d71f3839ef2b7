//! Serving a router on a TCP listener within limits no client can push past: a connection
//! must send its request headers (or, kept alive, its next request) within a timeout, the
//! number of open connections is capped (past it a new one is answered `503` with
//! `Retry-After` and closed, its request never handled), and shutdown waits for requests in
//! flight only up to a deadline.
//!
//! [`bind`] makes the listener, with an accept queue deep enough for a burst of new
//! connections.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream, ToSocketAddrs};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::error::ApiError;

/// How long a connection turned away may go on sending its request after its answer: reading
/// it before closing lets the client read the `503` instead of a reset.
const TURNED_AWAY_GRACE: Duration = Duration::from_millis(500);
/// The most bytes read and thrown away from a connection turned away.
const TURNED_AWAY_READ: usize = 64 * 1024;

/// How many connections the kernel may hold for the listener before it accepts them. Linux
/// caps it at `net.core.somaxconn`.
const ACCEPT_QUEUE: u32 = 4096;

/// A listener on the first of `addr`'s addresses that binds, with a deep accept queue.
///
/// A client past the server's capacity opens connections in bursts: each request that finds
/// none idle opens one. With the usual queue of 1 024, a burst overflows it, the kernel drops
/// the handshakes past it, and their clients wait a whole second to try again.
///
/// # Errors
/// An address that does not resolve, or none that binds.
pub async fn bind(addr: impl ToSocketAddrs) -> std::io::Result<TcpListener> {
    let mut last = None;
    for address in tokio::net::lookup_host(addr).await? {
        let socket = if address.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // As std and tokio do on Unix: a restarted server may bind while old connections of
        // its previous run linger in TIME_WAIT.
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket
            .bind(address)
            .and_then(|()| socket.listen(ACCEPT_QUEUE))
        {
            Ok(listener) => return Ok(listener),
            Err(error) => last = Some(error),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to listen on")
    }))
}

/// The limits of one listener.
#[derive(Clone, Copy, Debug)]
pub struct ListenerLimits {
    /// How long a connection may take to send a request's headers, and how long a kept-alive
    /// connection may stay idle before its next request.
    pub header_read_timeout: Duration,
    /// The most connections open at once; past it, a new connection is answered `503` with
    /// `Retry-After` and closed, its request never handled.
    pub max_connections: usize,
    /// How long shutdown waits for requests in flight before closing their connections.
    pub shutdown_grace: Duration,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets the
/// requests in flight finish for at most [`ListenerLimits::shutdown_grace`], and returns.
/// Each request carries its peer's address as [`ConnectInfo`].
pub(crate) async fn serve_within(
    listener: TcpListener,
    router: Router,
    limits: ListenerLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // HTTP/1.1 only: telling HTTP/2 apart first means reading the connection's first bytes
    // with no timeout, so a client that connects and says nothing would be kept for ever. The
    // API has no TLS of its own, and browsers speak HTTP/2 only over TLS.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Connections being turned away are bounded too; past that they are closed at once.
    let turning_away = Arc::new(Semaphore::new((limits.max_connections / 4).max(16)));
    let turned_away = Arc::new(turned_away_answer());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&open).try_acquire_owned() else {
            metrics::counter!("http_connections_refused_total").increment(1);
            tracing::debug!(%peer, "turning a connection away: too many are open");
            if let Ok(slot) = Arc::clone(&turning_away).try_acquire_owned() {
                tokio::spawn(turn_away(stream, Arc::clone(&turned_away), slot));
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            router.clone().oneshot(request.map(Body::new))
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "a connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(grace_ms = limits.shutdown_grace.as_millis() as u64,
                "requests still running when the shutdown grace ran out; closing their connections");
        }
    }
    Ok(())
}

/// The whole HTTP answer to a connection past the cap: `503` with `Retry-After` and the
/// `overloaded` problem, as any request turned away gets.
fn turned_away_answer() -> Vec<u8> {
    let body = serde_json::to_vec(&ApiError::Overloaded.problem()).unwrap_or_default();
    let mut answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend(body);
    answer
}

/// Answers `stream` with `answer` once its request begins, and closes it, reading what the
/// client sends meanwhile, all within [`TURNED_AWAY_GRACE`]. An answer sent before the request
/// would be taken for a broken connection by a client that has not yet written it, and
/// closing with the request unread would reset the connection before the answer is read.
async fn turn_away(mut stream: TcpStream, answer: Arc<Vec<u8>>, _slot: OwnedSemaphorePermit) {
    let answered = async {
        let mut buffer = [0u8; 4096];
        let mut read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        stream.write_all(&answer).await?;
        stream.shutdown().await?;
        while read < TURNED_AWAY_READ {
            match stream.read(&mut buffer).await? {
                0 => break,
                n => read += n,
            }
        }
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(TURNED_AWAY_GRACE, answered).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_a_name_and_refuses_what_names_no_address() {
        let listener = bind("localhost:0").await.expect("localhost binds");
        assert!(listener.local_addr().expect("bound").ip().is_loopback());
        assert!(bind("not an address").await.is_err());
    }

    /// More connections than the usual accept queue of 1 024 holds, none of them accepted yet,
    /// as a burst of clients opening connections at once leaves them.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_kernel_holds_a_burst_of_connections_past_the_usual_accept_queue() {
        const BURST: u32 = 1_100;
        let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0);
        if somaxconn < BURST {
            eprintln!(
                "skipped: net.core.somaxconn is {somaxconn}, below {BURST}, so the kernel caps \
                 any listener's accept queue under the burst"
            );
            return;
        }
        let listener = bind("127.0.0.1:0").await.expect("loopback binds");
        let addr = listener.local_addr().expect("bound");
        let mut waiting = Vec::new();
        for n in 0..BURST {
            // A handshake past a full accept queue is dropped, and its client tries again
            // only a second later.
            let connected =
                tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr))
                    .await
                    .unwrap_or_else(|_| panic!("connection {n} found the accept queue full"));
            // Kept open, so each connection still holds its place in the queue.
            waiting.push(connected.expect("connecting"));
        }
    }
}
