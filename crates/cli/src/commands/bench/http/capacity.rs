//! `bench --http --capacity`: the highest rate of orders the service holds with every order
//! readable soon after its write. Rates are stepped up from `--rate` (doubling) until one is
//! not held, then bisected between the last held and the first not held; each step runs for
//! `--seconds` on a fresh service, after a second of warm-up, so none inherits another's
//! backlog.

use serde::Serialize;

use super::drive::{self, Step};
use super::service::Service;
use super::{client, workload};
use crate::opts::BenchArgs;

/// A rate is held when acknowledged-to-readable stays within this at p99...
const READABLE_P99_MS: f64 = 50.0;
/// ...at least this share of the rate is written and read back...
const HELD_SHARE: f64 = 0.97;
// ...and no write is turned away or fails.

/// The bisection stops once the bracket is narrower than this share of the rate held.
const PRECISION: f64 = 0.05;
/// No search steps above this rate.
const MAX_RATE: u32 = 100_000;

/// What the search found.
#[derive(Debug, Serialize)]
struct CapacityReport {
    workload: &'static str,
    backend: &'static str,
    /// The highest rate held (median over `--runs`).
    capacity_orders_per_s: u32,
    /// Each run's capacity.
    runs: Vec<u32>,
    criterion: Criterion,
    step_seconds: u32,
    /// Every step of the last run, in the order run.
    steps: Vec<StepOutcome>,
}

#[derive(Debug, Serialize)]
struct Criterion {
    ack_to_readable_p99_ms_at_most: f64,
    held_share_at_least: f64,
    shed: usize,
    errors: usize,
}

#[derive(Debug, Serialize)]
struct StepOutcome {
    /// Whether nothing was missed.
    held: bool,
    /// The parts of the criterion the step missed, empty when held: near the capacity a step
    /// often misses one alone (a few writes turned away while p99 was well within the bound),
    /// and which one it was says what stopped the service there.
    missed: Vec<Miss>,
    #[serde(flatten)]
    step: Step,
}

impl StepOutcome {
    /// How `step`, asked to run at `rate`, measured up to the criterion.
    fn judged(step: Step, rate: u32) -> Self {
        let missed = missed(&step, rate);
        Self {
            held: missed.is_empty(),
            missed,
            step,
        }
    }

    /// The parts missed, as the table and the progress line name them.
    fn missed_labels(&self) -> String {
        let labels: Vec<&str> = self.missed.iter().map(|miss| miss.label()).collect();
        labels.join(", ")
    }
}

/// A part of the criterion a step missed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Miss {
    /// Some request failed, or was answered neither accepted nor turned away.
    Errors,
    /// Some write was turned away.
    Shed,
    /// Acknowledged-to-readable p99 went past the bound.
    AckToReadableP99,
    /// The client kept up less than the share of the rate asked.
    HeldShare,
}

impl Miss {
    /// How the step's summary line names it.
    fn label(self) -> &'static str {
        match self {
            Miss::Errors => "errors",
            Miss::Shed => "shed",
            Miss::AckToReadableP99 => "ack->readable p99",
            Miss::HeldShare => "rate held",
        }
    }
}

/// The parts of the criterion `step`, asked to run at `rate`, missed.
fn missed(step: &Step, rate: u32) -> Vec<Miss> {
    [
        (step.errors > 0, Miss::Errors),
        // A read turned away is the server at its limits as much as a write turned away.
        (step.shed + step.reads_shed > 0, Miss::Shed),
        (
            step.ack_to_readable_p99_ms > READABLE_P99_MS,
            Miss::AckToReadableP99,
        ),
        (
            step.orders_per_s_held < f64::from(rate) * HELD_SHARE,
            Miss::HeldShare,
        ),
    ]
    .into_iter()
    .filter_map(|(missed, miss)| missed.then_some(miss))
    .collect()
}

pub(super) async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let client = client()?;
    let mut capacities = Vec::new();
    let mut steps = Vec::new();
    for run in 1..=args.runs.max(1) {
        steps.clear();
        let capacity = search(args, &client, run, &mut steps).await?;
        if !args.json {
            eprintln!("run {run}: capacity {capacity} orders/s");
        }
        capacities.push(capacity);
    }
    let mut sorted = capacities.clone();
    sorted.sort_unstable();
    let report = CapacityReport {
        workload: workload(args),
        backend: Service::backend(args),
        capacity_orders_per_s: sorted[(sorted.len() - 1) / 2],
        runs: capacities,
        criterion: Criterion {
            ack_to_readable_p99_ms_at_most: READABLE_P99_MS,
            held_share_at_least: HELD_SHARE,
            shed: 0,
            errors: 0,
        },
        step_seconds: args.seconds,
        steps,
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "workload {} on {} · steps of {} s · held: ack->readable p99 <= {} ms, >= {:.0}% of the rate, nothing shed or failed\n",
            report.workload,
            report.backend,
            report.step_seconds,
            READABLE_P99_MS,
            HELD_SHARE * 100.0
        );
        println!(
            "{:>8} {:>6} {:>9} {:>11} {:>11} {:>7} {:>7} {:>14}  missed",
            "rate/s", "held", "held/s", "write p99", "ready p99", "shed", "errors", "cpu µs/order"
        );
        for outcome in &report.steps {
            let step = &outcome.step;
            let cpu = step
                .cpu
                .server_cpu_us_per_order
                .map_or_else(|| "-".to_owned(), |us| format!("{us:.0}"));
            println!(
                "{:>8} {:>6} {:>9.0} {:>11.2} {:>11.2} {:>7} {:>7} {:>14}  {}",
                step.rate_target,
                if outcome.held { "yes" } else { "no" },
                step.orders_per_s_held,
                step.accepted_p99_ms,
                step.ack_to_readable_p99_ms,
                step.shed,
                step.errors,
                cpu,
                outcome.missed_labels()
            );
        }
        println!(
            "\ncapacity_orders_per_s {} (runs: {:?})",
            report.capacity_orders_per_s, report.runs
        );
    }
    Ok(())
}

/// One search: the highest rate held, with every step it ran pushed onto `steps`.
async fn search(
    args: &BenchArgs,
    client: &reqwest::Client,
    run: usize,
    steps: &mut Vec<StepOutcome>,
) -> anyhow::Result<u32> {
    let mut held = 0u32;
    let mut not_held: Option<u32> = None;
    let mut rate = args.rate.clamp(1, MAX_RATE);
    // Coarse: double while held; halve while not, until a rate is held or none is.
    loop {
        if try_rate(args, client, run, rate, steps).await? {
            held = rate;
            if not_held.is_some() || rate >= MAX_RATE {
                break;
            }
            rate = rate.saturating_mul(2).min(MAX_RATE);
        } else {
            not_held = Some(rate);
            if held > 0 || rate <= 1 {
                break;
            }
            rate /= 2;
        }
    }
    // Fine: bisect between the last rate held and the first not held.
    while let Some(bad) = not_held {
        let gap = f64::from(bad - held);
        if gap <= (f64::from(held) * PRECISION).max(1.0) {
            break;
        }
        let middle = held + (bad - held) / 2;
        if try_rate(args, client, run, middle, steps).await? {
            held = middle;
        } else {
            not_held = Some(middle);
        }
    }
    Ok(held)
}

/// Runs one step at `rate` on a fresh service; whether the rate was held.
async fn try_rate(
    args: &BenchArgs,
    client: &reqwest::Client,
    run: usize,
    rate: u32,
    steps: &mut Vec<StepOutcome>,
) -> anyhow::Result<bool> {
    let service = Service::start(args).await?;
    // A second at the rate first, not measured: a fresh server's first requests open
    // connections and warm caches, which would weigh on a short step's p99.
    let step = drive::step_after_warm_up(
        client,
        &service,
        drive::WarmedStep {
            warm_rate: rate,
            rate,
            onset: 0,
            seconds: args.seconds,
        },
    )
    .await;
    service.stop().await;
    let outcome = StepOutcome::judged(step?, rate);
    if !args.json {
        let verdict = if outcome.held {
            "held".to_owned()
        } else {
            format!("not held: {}", outcome.missed_labels())
        };
        let step = &outcome.step;
        eprintln!(
            "run {run} · {rate}/s: {verdict} (held {:.0}/s, ack->readable p99 {:.1} ms, {} shed, {} errors)",
            step.orders_per_s_held, step.ack_to_readable_p99_ms, step.shed, step.errors
        );
    }
    let held = outcome.held;
    steps.push(outcome);
    Ok(held)
}

#[cfg(test)]
mod tests {
    use super::super::cpu::StepCpu;
    use super::*;

    /// A step at `rate` that held it with every figure well within the criterion.
    fn held_step(rate: u32) -> Step {
        Step {
            rate_target: rate,
            seconds: 3,
            sent: rate as usize * 3,
            orders: rate as usize * 3,
            orders_per_s_held: f64::from(rate),
            shed: 0,
            shed_p99_ms: 0.0,
            write_p50_ms: 1.0,
            accepted_p99_ms: 5.0,
            ack_to_readable_p50_ms: 1.0,
            ack_to_readable_p99_ms: 10.0,
            ack_to_readable_max_ms: 20.0,
            read_p50_ms: 1.0,
            read_p99_ms: 5.0,
            reads: rate as usize * 3,
            reads_shed: 0,
            errors: 0,
            cpu: StepCpu::default(),
            onset: None,
        }
    }

    #[test]
    fn a_step_within_every_bound_misses_nothing() {
        let step = Step {
            ack_to_readable_p99_ms: READABLE_P99_MS,
            orders_per_s_held: 1_000.0 * HELD_SHARE,
            ..held_step(1_000)
        };
        assert_eq!(missed(&step, 1_000), Vec::<Miss>::new());
    }

    #[test]
    fn each_part_of_the_criterion_is_named_when_missed() {
        let step = Step {
            shed: 3,
            ..held_step(1_000)
        };
        assert_eq!(missed(&step, 1_000), vec![Miss::Shed]);
        let step = Step {
            reads_shed: 1,
            ..held_step(1_000)
        };
        assert_eq!(missed(&step, 1_000), vec![Miss::Shed], "a read turned away");
        let step = Step {
            errors: 1,
            ack_to_readable_p99_ms: READABLE_P99_MS + 0.1,
            orders_per_s_held: 900.0,
            ..held_step(1_000)
        };
        assert_eq!(
            missed(&step, 1_000),
            vec![Miss::Errors, Miss::AckToReadableP99, Miss::HeldShare]
        );
    }

    #[test]
    fn the_json_line_names_what_a_step_missed() {
        let step = Step {
            shed: 3,
            ack_to_readable_p99_ms: READABLE_P99_MS + 0.1,
            ..held_step(1_000)
        };
        let outcome = StepOutcome::judged(step, 1_000);
        assert_eq!(outcome.missed_labels(), "shed, ack->readable p99");
        let json = serde_json::to_value(&outcome).expect("a step serializes");
        assert_eq!(json["held"], false);
        assert_eq!(
            json["missed"],
            serde_json::json!(["shed", "ack_to_readable_p99"])
        );
        assert_eq!(json["rate_target"], 1_000);
    }
}
