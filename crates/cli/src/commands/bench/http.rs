//! Phase C of the workload: a server on the embedded default, started as its own process, and
//! a client that writes orders at a fixed rate and reads each back once its projection shows
//! it `confirmed`, while another client does point reads of orders already written.
//!
//! Each read after a write passes the write's position as `min_position`, so the server answers
//! as soon as the projection has applied it: the time from acknowledgement to that answer is
//! the time from "written" to "readable".

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use serde_json::json;

use super::report::percentile;
use crate::opts::BenchArgs;

/// What phase C measured.
#[derive(Debug, Serialize)]
struct HttpReport {
    workload: &'static str,
    rate_target: u32,
    seconds: u32,
    orders: usize,
    orders_per_s_held: f64,
    write_p50_ms: f64,
    write_p99_ms: f64,
    ack_to_readable_p50_ms: f64,
    ack_to_readable_p99_ms: f64,
    ack_to_readable_max_ms: f64,
    read_p50_ms: f64,
    read_p99_ms: f64,
    reads: usize,
    errors: usize,
}

/// One order's timings, in milliseconds.
#[derive(Clone, Copy, Debug)]
struct OrderTiming {
    write_ms: f64,
    readable_ms: f64,
}

/// The server process, killed if the bench stops early.
struct ServerProcess(Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let dir = match &args.dir {
        Some(parent) => tempfile::tempdir_in(parent),
        None => tempfile::tempdir(),
    }
    .context("creating a temporary directory")?;
    let executable = std::env::current_exe().context("finding the projector executable")?;
    // With a broker: the writer publishes its feed, and the reads go to a read node.
    let broker: Vec<String> = match &args.nats_url {
        Some(_) => {
            let id = uuid::Uuid::now_v7().simple();
            vec![
                "--nats-stream".into(),
                format!("BENCH_HTTP_{id}"),
                "--nats-prefix".into(),
                format!("bench.http.{id}"),
            ]
        }
        None => Vec::new(),
    };
    let mut writer_args = vec![
        "--data".to_owned(),
        dir.path().join("data").display().to_string(),
    ];
    if let Some(url) = &args.nats_url {
        writer_args.extend(["--publish".to_owned(), url.clone()]);
        writer_args.extend(broker.iter().cloned());
    }
    let (_server, base) = start_server(&executable, &writer_args).await?;
    let (_node, read_base) = match &args.nats_url {
        Some(url) => {
            let mut node_args = vec![
                "--data".to_owned(),
                dir.path().join("node").display().to_string(),
                "--from".to_owned(),
                url.clone(),
            ];
            node_args.extend(broker.iter().cloned());
            let (node, node_base) = start_server(&executable, &node_args).await?;
            (Some(node), node_base)
        }
        None => (None, base.clone()),
    };

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;
    let rate = args.rate.max(1);
    let total = (u64::from(rate) * u64::from(args.seconds.max(1))) as usize;
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let written: Arc<Mutex<Vec<String>>> = Arc::default();
    let errors = Arc::new(Mutex::new(0usize));

    let stop_reads = tokio_util::sync::CancellationToken::new();
    let reader = tokio::spawn(point_reads(
        client.clone(),
        read_base.clone(),
        Arc::clone(&written),
        rate,
        Arc::clone(&errors),
        stop_reads.clone(),
    ));
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        tokio::time::sleep_until(started + period * i as u32).await;
        let (client, base, read_base, written, errors) = (
            client.clone(),
            base.clone(),
            read_base.clone(),
            Arc::clone(&written),
            Arc::clone(&errors),
        );
        tasks.push(tokio::spawn(async move {
            match write_and_read(&client, &base, &read_base, i).await {
                Ok(timing) => {
                    written
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(format!("http-{i}"));
                    Some(timing)
                }
                Err(error) => {
                    tracing::warn!(%error, "order {i} failed");
                    *errors
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
                    None
                }
            }
        }));
    }
    let sent_in = started.elapsed();
    let mut timings = Vec::with_capacity(total);
    for task in tasks {
        if let Some(timing) = task.await? {
            timings.push(timing);
        }
    }
    stop_reads.cancel();
    let read_latencies = reader.await?;
    if let (Some(url), Some(stream)) = (&args.nats_url, broker.get(1)) {
        // The run's stream goes with it.
        if let Ok(client) = async_nats::connect(url.as_str()).await {
            let _ = async_nats::jetstream::new(client)
                .delete_stream(stream)
                .await;
        }
    }
    if timings.is_empty() {
        bail!("no order was written and read back");
    }

    let writes: Vec<f64> = timings.iter().map(|t| t.write_ms).collect();
    let readable: Vec<f64> = timings.iter().map(|t| t.readable_ms).collect();
    let report = HttpReport {
        workload: if args.nats_url.is_some() {
            "orders-v1-http-read-node"
        } else {
            "orders-v1-http"
        },
        rate_target: rate,
        seconds: args.seconds,
        orders: timings.len(),
        orders_per_s_held: round(timings.len() as f64 / sent_in.as_secs_f64().max(1e-9)),
        write_p50_ms: percentile(&writes, 50.0),
        write_p99_ms: percentile(&writes, 99.0),
        ack_to_readable_p50_ms: percentile(&readable, 50.0),
        ack_to_readable_p99_ms: percentile(&readable, 99.0),
        ack_to_readable_max_ms: percentile(&readable, 100.0),
        read_p50_ms: percentile(&read_latencies, 50.0),
        read_p99_ms: percentile(&read_latencies, 99.0),
        reads: read_latencies.len(),
        errors: *errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "workload {} · {} orders at {} per second for {} s (held {:.0}/s) · {} errors\n",
            report.workload,
            report.orders,
            rate,
            args.seconds,
            report.orders_per_s_held,
            report.errors
        );
        println!("{:<32} {:>9} {:>9} {:>9}", "", "p50 ms", "p99 ms", "max ms");
        println!(
            "{:<32} {:>9.2} {:>9.2}",
            "write (POST to 202)", report.write_p50_ms, report.write_p99_ms
        );
        println!(
            "{:<32} {:>9.2} {:>9.2} {:>9.2}",
            "acknowledged to readable",
            report.ack_to_readable_p50_ms,
            report.ack_to_readable_p99_ms,
            report.ack_to_readable_max_ms
        );
        println!(
            "{:<32} {:>9.2} {:>9.2}   ({} reads)",
            "point read under load", report.read_p50_ms, report.read_p99_ms, report.reads
        );
    }
    Ok(())
}

/// Starts `projector serve` on a free port with `args`; the process, killed when dropped, and
/// its base URL.
async fn start_server(
    executable: &std::path::Path,
    args: &[String],
) -> anyhow::Result<(ServerProcess, String)> {
    let mut child = Command::new(executable)
        .args(["serve", "--addr", "127.0.0.1:0", "--log-level", "warn"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the server")?;
    let stdout = child.stdout.take().context("the server's output")?;
    let server = ServerProcess(child);
    let base = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("projector listening on ")
                    .map(str::to_owned)
            })
    })
    .await?
    .context("the server did not say where it listens")?;
    Ok((server, base))
}

/// Writes order `i` on `base` and reads it on `read_base` until it is `confirmed`.
async fn write_and_read(
    client: &reqwest::Client,
    base: &str,
    read_base: &str,
    i: usize,
) -> anyhow::Result<OrderTiming> {
    let id = format!("http-{i}");
    let body = json!({"id": id, "customer_id": format!("cust-{}", i % 1000), "items": [
        {"sku": format!("sku-{}", i % 97), "quantity": 1 + i % 3, "unit_price": 10.25},
        {"sku": format!("sku-{}", (i + 1) % 97), "quantity": 2, "unit_price": 12.5}
    ]});
    let sent = Instant::now();
    let response = client
        .post(format!("{base}/api/orders"))
        .json(&body)
        .send()
        .await?;
    if response.status() != 202 {
        bail!("write answered {}", response.status());
    }
    let accepted: serde_json::Value = response.json().await?;
    let acknowledged = Instant::now();
    let position = accepted["position"].as_u64().context("no position")?;
    loop {
        let read = client
            .get(format!(
                "{read_base}/api/orders/{id}/projection?min_position={position}&wait_ms=10000"
            ))
            .send()
            .await?;
        if read.status() == 200 {
            let order: serde_json::Value = read.json().await?;
            if order["status"] == "confirmed" {
                break;
            }
        } else if read.status() != 503 {
            bail!("read answered {}", read.status());
        }
    }
    Ok(OrderTiming {
        write_ms: ms(acknowledged - sent),
        readable_ms: ms(acknowledged.elapsed()),
    })
}

/// Point reads of orders already written, at `rate` per second, until `stop`; returns their
/// latencies in milliseconds.
async fn point_reads(
    client: reqwest::Client,
    base: String,
    written: Arc<Mutex<Vec<String>>>,
    rate: u32,
    errors: Arc<Mutex<usize>>,
    stop: tokio_util::sync::CancellationToken,
) -> Vec<f64> {
    let mut latencies = Vec::new();
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0usize;
    loop {
        tokio::select! {
            () = stop.cancelled() => return latencies,
            _ = tick.tick() => {}
        }
        let id = {
            let written = written
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if written.is_empty() {
                continue;
            }
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            written[(n >> 33) % written.len()].clone()
        };
        let started = Instant::now();
        let read = match client
            .get(format!("{base}/api/orders/{id}/projection"))
            .send()
            .await
        {
            Ok(response) if response.status() == 200 => response.bytes().await.is_ok(),
            _ => false,
        };
        if read {
            latencies.push(ms(started.elapsed()));
        } else {
            *errors
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}
