//! One step of phase C: orders written at a fixed rate for a few seconds, each read back once
//! its projection shows it `confirmed`, while another client does point reads of orders
//! already written.
//!
//! Each read after a write passes the write's position as `min_position`, so the server answers
//! as soon as the projection has applied it: the time from acknowledgement to that answer is
//! the time from "written" to "readable". A write the server turns away (503 or 429 with
//! `Retry-After`) is counted as shed, not as an error, and not retried.
//!
//! A step that follows a lower rate also gives its first second apart (the onset): past its
//! capacity a server takes a moment to settle after its load steps up, and the writes it takes
//! meanwhile are the step's slowest.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::super::report::percentile;
use super::cpu::{CpuTimes, StepCpu};
use super::requests::{Servers, Written, lock};
use super::service::Service;

/// What one step measured.
#[derive(Clone, Debug, Serialize)]
pub(super) struct Step {
    pub(super) rate_target: u32,
    pub(super) seconds: u32,
    /// Writes sent.
    pub(super) sent: usize,
    /// Orders written and read back.
    pub(super) orders: usize,
    pub(super) orders_per_s_held: f64,
    /// Writes turned away at once with `Retry-After`.
    pub(super) shed: usize,
    pub(super) shed_p99_ms: f64,
    pub(super) write_p50_ms: f64,
    /// The write latency of the writes the server accepted.
    pub(super) accepted_p99_ms: f64,
    pub(super) ack_to_readable_p50_ms: f64,
    pub(super) ack_to_readable_p99_ms: f64,
    pub(super) ack_to_readable_max_ms: f64,
    pub(super) read_p50_ms: f64,
    pub(super) read_p99_ms: f64,
    pub(super) reads: usize,
    /// Point reads turned away at once with `Retry-After`.
    pub(super) reads_shed: usize,
    /// Anything else: a failed request, an answer neither accepted nor shed.
    pub(super) errors: usize,
    /// What the step cost the server in CPU time.
    #[serde(flatten)]
    pub(super) cpu: StepCpu,
    /// The step's first seconds on their own, when asked for.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(super) onset: Option<Onset>,
}

/// A step's first seconds on their own, counted in its figures too: how the server met the
/// step up in load.
#[derive(Clone, Debug, Serialize)]
pub(super) struct Onset {
    pub(super) onset_seconds: u32,
    /// The write latency of the writes the server accepted in them.
    pub(super) onset_accepted_p99_ms: f64,
    /// Writes turned away in them.
    pub(super) onset_shed: usize,
}

/// Orders numbered from `first` written at `rate` per second for `seconds` on `servers`;
/// the first `onset` seconds are also given on their own.
pub(super) async fn step(
    servers: &Servers,
    rate: u32,
    onset: u32,
    seconds: u32,
    first: usize,
) -> anyhow::Result<Step> {
    let rate = rate.max(1);
    let total = (u64::from(rate) * u64::from(seconds.max(1))) as usize;
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let written: Arc<Mutex<Vec<String>>> = Arc::default();
    let errors = Arc::new(Mutex::new(0usize));

    let stop_reads = tokio_util::sync::CancellationToken::new();
    let reader = tokio::spawn(servers.clone().point_reads(
        Arc::clone(&written),
        rate,
        Arc::clone(&errors),
        stop_reads.clone(),
    ));
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        tokio::time::sleep_until(started + period * n as u32).await;
        let i = first + n;
        let (servers, written, errors) =
            (servers.clone(), Arc::clone(&written), Arc::clone(&errors));
        tasks.push(tokio::spawn(async move {
            match servers.write_and_read(i).await {
                Ok(outcome) => {
                    if matches!(outcome, Written::Read { .. }) {
                        lock(&written).push(format!("http-{i}"));
                    }
                    Some(outcome)
                }
                Err(error) => {
                    tracing::warn!(error = format!("{error:#}"), "order {i} failed");
                    *lock(&errors) += 1;
                    None
                }
            }
        }));
    }
    let sent_in = started.elapsed();
    let mut tally = Tally::new((u64::from(rate) * u64::from(onset)) as usize);
    for (n, task) in tasks.into_iter().enumerate() {
        if let Some(outcome) = task.await? {
            tally.add(n, outcome);
        }
    }
    stop_reads.cancel();
    let point_reads = reader.await?;
    let errors = *lock(&errors);
    Ok(Step {
        rate_target: rate,
        seconds,
        sent: total,
        orders: tally.writes.len(),
        orders_per_s_held: round(tally.writes.len() as f64 / sent_in.as_secs_f64().max(1e-9)),
        shed: tally.shed.len(),
        shed_p99_ms: percentile(&tally.shed, 99.0),
        write_p50_ms: percentile(&tally.writes, 50.0),
        accepted_p99_ms: percentile(&tally.writes, 99.0),
        ack_to_readable_p50_ms: percentile(&tally.readable, 50.0),
        ack_to_readable_p99_ms: percentile(&tally.readable, 99.0),
        ack_to_readable_max_ms: percentile(&tally.readable, 100.0),
        read_p50_ms: percentile(&point_reads.latencies, 50.0),
        read_p99_ms: percentile(&point_reads.latencies, 99.0),
        reads: point_reads.latencies.len(),
        reads_shed: point_reads.shed,
        errors,
        cpu: StepCpu::default(),
        onset: (onset > 0).then(|| Onset {
            onset_seconds: onset,
            onset_accepted_p99_ms: percentile(&tally.onset_writes, 99.0),
            onset_shed: tally.onset_shed,
        }),
    })
}

/// A step's writes gathered into its figures, in the order they were sent.
#[derive(Debug)]
struct Tally {
    /// How many of the first writes fall in the onset.
    in_onset: usize,
    writes: Vec<f64>,
    readable: Vec<f64>,
    shed: Vec<f64>,
    onset_writes: Vec<f64>,
    onset_shed: usize,
}

impl Tally {
    fn new(in_onset: usize) -> Self {
        Self {
            in_onset,
            writes: Vec::new(),
            readable: Vec::new(),
            shed: Vec::new(),
            onset_writes: Vec::new(),
            onset_shed: 0,
        }
    }

    /// Counts the `n`th write sent, and in the onset too if it is one of its.
    fn add(&mut self, n: usize, outcome: Written) {
        let in_onset = n < self.in_onset;
        match outcome {
            Written::Read {
                write_ms,
                readable_ms,
            } => {
                if in_onset {
                    self.onset_writes.push(write_ms);
                }
                self.writes.push(write_ms);
                self.readable.push(readable_ms);
            }
            Written::Shed(ms) => {
                self.onset_shed += usize::from(in_onset);
                self.shed.push(ms);
            }
        }
    }
}

/// How a step after a warm-up goes: a second at `warm_rate`, not measured, then `seconds` at
/// `rate`, the first `onset` of them also given on their own.
#[derive(Clone, Copy, Debug)]
pub(super) struct WarmedStep {
    pub(super) warm_rate: u32,
    pub(super) rate: u32,
    pub(super) onset: u32,
    pub(super) seconds: u32,
}

/// The step `plan` describes on `service`, its orders numbered on from the warm-up's.
///
/// Each step's writes use at most the connections its rate needs ([`connections_for`]), and
/// its reads as many. Between the two, the client opens those of the measured rate
/// ([`open_connections`]): a client whose load steps up already holds its connections, as a
/// load generator's fixed set of connections does; opening them while the server is past its
/// capacity would measure the handshakes rather than the writes.
pub(super) async fn step_after_warm_up(
    client: &reqwest::Client,
    service: &Service,
    plan: WarmedStep,
) -> anyhow::Result<Step> {
    let (base, read_base) = (service.base.as_str(), service.read_base.as_str());
    let warm_up = Servers::new(client, base, read_base, connections_for(plan.warm_rate));
    step(&warm_up, plan.warm_rate, 0, 1, 0).await?;
    let connections = connections_for(plan.rate);
    // Writes go to one server and their reads to another when a read node serves them.
    let bases = if base == read_base {
        vec![base]
    } else {
        vec![base, read_base]
    };
    for base in bases {
        open_connections(client, base, connections).await;
    }
    let servers = Servers::new(client, base, read_base, connections);
    let (cpu_before, started) = (CpuTimes::now(service.cpu_time()), Instant::now());
    let mut measured = step(
        &servers,
        plan.rate,
        plan.onset,
        plan.seconds,
        plan.warm_rate as usize,
    )
    .await?;
    measured.cpu = StepCpu::between(
        cpu_before,
        CpuTimes::now(service.cpu_time()),
        started.elapsed(),
        measured.orders,
    );
    Ok(measured)
}

/// The connections a rate needs: as many as its requests in flight if each took 100 ms, the
/// most a write the server takes should, and at least [`FEWEST_CONNECTIONS`]. At most half of
/// what a server allows by default: the reads may use as many again.
fn connections_for(rate: u32) -> usize {
    (rate as usize / 10).clamp(FEWEST_CONNECTIONS, 2048)
}

/// The fewest connections a step holds: at a low rate a read that waits for its projection
/// holds one for longer than the rate's share.
const FEWEST_CONNECTIONS: usize = 16;

/// Has `client`'s pool hold at least `count` connections to `base`, by asking for its health
/// that many times at once; a failure is left to the step to meet.
async fn open_connections(client: &reqwest::Client, base: &str, count: usize) {
    let asks: Vec<_> = (0..count)
        .map(|_| {
            let (client, url) = (client.clone(), format!("{base}/health"));
            tokio::spawn(async move {
                if let Ok(response) = client.get(url).send().await {
                    // Read to the end, so the connection goes back to the pool.
                    let _ = response.bytes().await;
                }
            })
        })
        .collect();
    for ask in asks {
        let _ = ask.await;
    }
}

/// `v` to one decimal place, as the figures are printed.
pub(super) fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(write_ms: f64) -> Written {
        Written::Read {
            write_ms,
            readable_ms: 1.0,
        }
    }

    #[test]
    fn the_onset_counts_its_own_writes_and_the_step_counts_them_all() {
        let mut tally = Tally::new(3);
        for (n, outcome) in [read(90.0), Written::Shed(1.0), read(80.0), read(5.0)]
            .into_iter()
            .enumerate()
        {
            tally.add(n, outcome);
        }
        tally.add(4, Written::Shed(2.0));
        assert_eq!(tally.onset_writes, [90.0, 80.0]);
        assert_eq!(tally.onset_shed, 1);
        assert_eq!(tally.writes, [90.0, 80.0, 5.0]);
        assert_eq!(tally.shed, [1.0, 2.0]);
        assert_eq!(tally.readable.len(), 3);
    }
}
