//! The server's edges against one client pushing: hosts and origins a server without
//! authentication refuses, CORS for the origins configured, a rate per caller, a cap on
//! requests in flight and on connections, slow headers cut off, and a deadline on shutdown.

use std::time::{Duration, Instant};

use projector_testkit::wait::eventually;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Reply, Server, Storage};

fn order(id: &str) -> serde_json::Value {
    json!({"id": id, "customer_id": "c1", "items": [{"sku": "a", "quantity": 1, "unit_price": 1.5}]})
}

fn problem_type(reply: &Reply) -> String {
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{}",
        reply.text
    );
    reply.json()["type"].as_str().unwrap_or_default().to_owned()
}

fn authority(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// A connection to the server, for what an HTTP client will not do.
async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(authority(server))
        .await
        .expect("connect")
}

/// Whether the server closes `stream` within `within` (reads end or fail).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Everything `stream` sends until it closes, if it closes within `within`.
async fn answer_within(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(String::from_utf8_lossy(&answer).into_owned()),
            Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
        }
    }
}

#[tokio::test]
async fn without_authentication_other_hosts_and_cross_site_writes_are_refused() {
    let server = Server::start().await;
    let path = "/api/customers/c1/orders";
    // DNS rebinding: a page of evil.example resolved to 127.0.0.1 sends its own host name.
    let rebound = server
        .send(Method::GET, path, None, &[("Host", "evil.example:8080")])
        .await;
    assert_eq!(rebound.status, 403);
    assert_eq!(
        problem_type(&rebound),
        "urn:projector:problem:host-not-allowed"
    );
    let port = authority(&server)
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    for host in [format!("localhost:{port}"), authority(&server)] {
        let local = server
            .send(Method::GET, path, None, &[("Host", &host)])
            .await;
        assert_eq!(local.status, 200, "{host}: {}", local.text);
    }

    // A cross-site form POST, by Origin or by Sec-Fetch-Site, changes nothing.
    let before = server.head().await;
    let body = order("o1");
    for header in [
        ("Origin", "http://evil.example"),
        ("Sec-Fetch-Site", "cross-site"),
        ("Origin", "null"),
    ] {
        let refused = server
            .send(Method::POST, "/api/orders", Some(&body), &[header])
            .await;
        assert_eq!(refused.status, 403, "{header:?}: {}", refused.text);
        assert_eq!(problem_type(&refused), "urn:projector:problem:cross-origin");
    }
    assert_eq!(server.head().await, before, "a refused write appended");
    // The server's own pages (same origin) and clients that send no Origin may write.
    let same = server
        .send(
            Method::POST,
            "/api/orders",
            Some(&body),
            &[("Origin", &server.base)],
        )
        .await;
    assert_eq!(same.status, 202, "{}", same.text);
}

#[tokio::test]
async fn cors_lets_the_configured_origins_call_from_a_browser() {
    let server = Server::start_with_args(
        Storage::fresh().await,
        &["--cors-origins", "http://app.test"],
    )
    .await;
    let client = &server.client;
    let preflight = client
        .request(Method::OPTIONS, format!("{}/api/orders", server.base))
        .header("Origin", "http://app.test")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,idempotency-key",
        )
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("http://app.test")
    );
    let allowed = server
        .send(
            Method::POST,
            "/api/orders",
            Some(&order("o1")),
            &[("Origin", "http://app.test")],
        )
        .await;
    assert_eq!(allowed.status, 202, "{}", allowed.text);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://app.test")
    );
    assert!(
        allowed
            .header("access-control-expose-headers")
            .is_some_and(|h| h.contains("projection-position"))
    );
    let other = server
        .send(
            Method::GET,
            "/api/customers/c1/orders",
            None,
            &[("Origin", "http://other.test")],
        )
        .await;
    assert_eq!(other.status, 200);
    assert_eq!(
        other.header("access-control-allow-origin"),
        None,
        "no CORS for an origin not configured"
    );
}

#[tokio::test]
async fn a_caller_past_its_rate_is_told_when_to_come_back() {
    let dir = projector_testkit::temp_dir();
    let keys = dir.path().join("keys");
    let mut tokens = Vec::new();
    for principal in ["hasty", "patient"] {
        let made = crate::helpers::projector(
            &[
                "api-key",
                "create",
                "--principal",
                principal,
                "--scopes",
                "read",
                "--file",
                keys.to_str().expect("path"),
            ],
            &[],
            Duration::from_secs(30),
        )
        .await;
        tokens.push(format!("Bearer {}", made.stdout.trim()));
    }
    let server = Server::start_with_args(
        Storage::fresh().await,
        &[
            "--api-keys",
            keys.to_str().expect("path"),
            "--rate-limit",
            "2",
            "--rate-limit-burst",
            "5",
        ],
    )
    .await;
    let path = "/api/customers/c1/orders";
    let mut limited = None;
    for _ in 0..30 {
        let reply = server
            .send(Method::GET, path, None, &[("Authorization", &tokens[0])])
            .await;
        if reply.status == 429 {
            limited = Some(reply);
            break;
        }
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let limited = limited.expect("the hasty caller was limited");
    assert_eq!(problem_type(&limited), "urn:projector:problem:rate-limited");
    let retry: u64 = limited
        .header("retry-after")
        .and_then(|r| r.parse().ok())
        .expect("Retry-After");
    assert!((1..=5).contains(&retry), "Retry-After {retry}");
    // Another caller has its own budget.
    let other = server
        .send(Method::GET, path, None, &[("Authorization", &tokens[1])])
        .await;
    assert_eq!(other.status, 200, "{}", other.text);
    // After the wait it names, the hasty caller is served again. This sleep stays: waiting
    // exactly the time Retry-After names is the claim under test.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    let again = server
        .send(Method::GET, path, None, &[("Authorization", &tokens[0])])
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
}

/// Starts a request that stays in flight: its headers promise a body that never comes.
async fn stalled_request(server: &Server) -> TcpStream {
    let mut stream = connect(server).await;
    let head = format!(
        "POST /api/orders HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        authority(server)
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream
}

#[tokio::test]
async fn requests_past_the_in_flight_cap_are_turned_away_at_once() {
    let server = Server::start_with_args(Storage::fresh().await, &["--max-in-flight", "2"]).await;
    let stalled = hold_the_cap(&server, 2).await;
    let started = Instant::now();
    let turned = server.get("/api/customers/c1/orders").await;
    assert_eq!(turned.status, 503, "{}", turned.text);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "it queued for {:?}",
        started.elapsed()
    );
    assert_eq!(problem_type(&turned), "urn:projector:problem:overloaded");
    assert_eq!(turned.header("retry-after"), Some("1"));
    drop(stalled);
    eventually(
        "a request served again once the stalled ones end",
        || async {
            match server.get("/api/customers/c1/orders").await.status.as_u16() {
                200 => Ok(()),
                other => Err(other),
            }
        },
    )
    .await;
}

/// Leaves `cap` requests stalled in flight, and waits until the server turns another away for
/// being at its cap: then they hold it. A stalled request the server answered (its probe took
/// the last place as it arrived) is replaced by a new one.
async fn hold_the_cap(server: &Server, cap: usize) -> Vec<TcpStream> {
    let mut stalled = Vec::new();
    for _ in 0..cap {
        stalled.push(stalled_request(server).await);
    }
    let stalled = tokio::sync::Mutex::new(stalled);
    eventually("the cap on requests in flight reached", || async {
        let mut stalled = stalled.lock().await;
        for stream in stalled.iter_mut() {
            let mut buffer = [0u8; 256];
            match stream.try_read(&mut buffer) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                _ => *stream = stalled_request(server).await,
            }
        }
        match server.get("/api/customers/c1/orders").await.status.as_u16() {
            503 => Ok(()),
            other => Err(other),
        }
    })
    .await;
    stalled.into_inner()
}

#[tokio::test]
async fn slow_headers_and_idle_connections_are_cut_off_and_connections_capped() {
    let server = Server::start_with_args(
        Storage::fresh().await,
        &["--header-read-timeout-ms", "500", "--max-connections", "4"],
    )
    .await;
    // Headers that never end.
    let mut slow = connect(&server).await;
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .expect("write");
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)).await,
        "slow headers were waited for"
    );
    // A connection that says nothing.
    let mut idle = connect(&server).await;
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)).await,
        "an idle connection was kept"
    );

    // Four connections are open, each partway through its headers; a fifth is answered 503
    // and closed at once.
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&server).await;
        stream.write_all(b"G").await.expect("write");
        open.push(stream);
    }
    // Once the server has taken the four, a fifth is turned away at once (a fifth tried before
    // it took them all is kept, and tried again).
    let answer = eventually("a fifth connection turned away at once", || async {
        let mut fifth = connect(&server).await;
        fifth
            .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("write");
        match answer_within(&mut fifth, Duration::from_millis(400)).await {
            Some(answer) if answer.starts_with("HTTP/1.1 503") => Ok(answer),
            other => Err(other),
        }
    })
    .await;
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let head = head.to_ascii_lowercase();
    assert!(head.contains("\r\nretry-after: 1"), "{head}");
    assert!(
        head.contains("\r\ncontent-type: application/problem+json"),
        "{head}"
    );
    let problem: serde_json::Value = serde_json::from_str(body).expect("a problem document");
    assert_eq!(
        problem["type"], "urn:projector:problem:overloaded",
        "{problem}"
    );
    assert_eq!(problem["status"], 503, "{problem}");
    drop(open);
    eventually("connections taken again once some close", || async {
        let health = server
            .client
            .get(format!("{}/health", server.base))
            .send()
            .await;
        match health {
            Ok(reply) if reply.status() == 200 => Ok(()),
            other => Err(other.map(|r| r.status())),
        }
    })
    .await;
}

#[tokio::test]
async fn shutdown_waits_for_requests_in_flight_only_up_to_its_deadline() {
    // With room for one request in flight, a refused second shows the stalled one in flight.
    let server = Server::start_with_args(
        Storage::fresh().await,
        &["--shutdown-grace-ms", "500", "--max-in-flight", "1"],
    )
    .await;
    let _stalled = hold_the_cap(&server, 1).await;
    let asked = Instant::now();
    exits_cleanly_within_10_s_of(server, asked).await;
}

/// A read waiting for a position (here for as long as `wait_ms` allows) is answered at once
/// when the server is asked to stop: a 503 problem to retry elsewhere, not an answer after
/// `wait_ms`; and the server then exits within its grace. The projection is held still by a
/// lock on its checkpoint, so the position is committed but never reached.
pub async fn a_waiting_read_is_answered_at_once_on_sigterm() {
    let server =
        Server::start_with_args(Storage::fresh().await, &["--shutdown-grace-ms", "2000"]).await;
    server.ready().await;
    let first = server.place("w-1", "c1", &[("a", 1, 1.0)]).await;
    server.order("w-1", first).await;
    let held = server.storage().hold_projection("order_summary").await;
    let position = server.place("w-2", "c1", &[("a", 1, 1.0)]).await;
    let waiting = {
        let (client, url) = (
            server.client.clone(),
            format!(
                "{}/api/orders/w-2/projection?min_position={position}&wait_ms=30000",
                server.base
            ),
        );
        tokio::spawn(async move {
            let response = client.get(url).send().await.expect("an answer");
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (
                status,
                kind,
                response.text().await.expect("a body"),
                Instant::now(),
            )
        })
    };
    // The read is waiting: it has not been answered after a while. This sleep stays: nothing
    // outside the server shows a read waiting for its position (it is not seen by the cap on
    // requests in flight), so being still unanswered after a while is the claim itself.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "the read did not wait");

    let asked = Instant::now();
    server.ask_to_stop();
    let (status, kind, body, answered) = waiting.await.expect("the read ran");
    let answered_after = answered.duration_since(asked);
    held.release().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(kind.as_deref(), Some("application/problem+json"));
    let problem: serde_json::Value = serde_json::from_str(&body).expect("a problem");
    assert_eq!(problem["status"], 503, "{problem}");
    assert!(problem["correlation_id"].is_string(), "{problem}");
    assert!(
        answered_after < Duration::from_secs(2),
        "answered {answered_after:?} after SIGTERM"
    );
    exits_cleanly_within_10_s_of(server, asked).await;
}

/// A kept-alive connection idle past `--header-read-timeout-ms` after its last answer is
/// closed, as one that never sent a request is.
#[tokio::test]
async fn a_kept_alive_connection_idle_past_the_timeout_is_closed() {
    let server =
        Server::start_with_args(Storage::fresh().await, &["--header-read-timeout-ms", "500"]).await;
    let mut stream = connect(&server).await;
    let request = format!(
        "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n\r\n",
        authority(&server)
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !String::from_utf8_lossy(&answer).contains("\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("an answer in time")
            .expect("read");
        assert!(read > 0, "closed before answering");
        answer.extend_from_slice(&buffer[..read]);
    }
    let answer = String::from_utf8_lossy(&answer).to_string();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("connection: close"),
        "the connection was not kept alive: {answer}"
    );
    // Kept alive, then idle: closed after the timeout, not kept for ever.
    let idle = Instant::now();
    assert!(
        closed_within(&mut stream, Duration::from_secs(5)).await,
        "an idle kept-alive connection was kept"
    );
    assert!(
        idle.elapsed() >= Duration::from_millis(300),
        "closed at once ({:?}), not for idling",
        idle.elapsed()
    );
}

/// Waits for `server`, asked to stop at `asked`, to exit: cleanly, and within 10 s of the ask.
async fn exits_cleanly_within_10_s_of(server: Server, asked: Instant) {
    let exited = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("joined");
    assert!(exited, "the server exited cleanly");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        asked.elapsed()
    );
}
