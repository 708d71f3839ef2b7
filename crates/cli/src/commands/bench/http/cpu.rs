//! The CPU time the server's processes used during a step: the work the step cost them. On a
//! machine shared with other work, latencies and the rates held move with the neighbours'
//! load; the CPU time an order costs moves far less, so it is the figure to compare builds by.
//! The bench's own CPU time is reported beside it: the load generator shares the machine, and
//! what it takes is not left to the server.

use std::time::Duration;

use serde::Serialize;

use super::drive::round;

/// What a step cost the server's processes, and the bench itself, in CPU time.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub(super) struct StepCpu {
    /// CPU time over the step's wall time, in percent of one core; `None` where the operating
    /// system does not say (it is read from Linux's `/proc`).
    pub(super) server_cpu_percent: Option<f64>,
    /// CPU time per order written and read back, in microseconds.
    pub(super) server_cpu_us_per_order: Option<f64>,
    /// The bench's own CPU time per order, in microseconds: the client's share of the machine.
    pub(super) client_cpu_us_per_order: Option<f64>,
}

/// The CPU time used so far by the server's processes and by the bench itself.
#[derive(Clone, Copy, Debug)]
pub(super) struct CpuTimes {
    pub(super) server: Option<Duration>,
    pub(super) client: Option<Duration>,
}

impl CpuTimes {
    /// The bench's own CPU time now, with the server's given.
    pub(super) fn now(server: Option<Duration>) -> Self {
        Self {
            server,
            client: own_cpu(),
        }
    }
}

impl StepCpu {
    /// The figures of a step that used `before` to `after` of CPU time in `wall`, for `orders`.
    pub(super) fn between(
        before: CpuTimes,
        after: CpuTimes,
        wall: Duration,
        orders: usize,
    ) -> Self {
        let used = |before: Option<Duration>, after: Option<Duration>| {
            before.zip(after).map(|(b, a)| a.saturating_sub(b))
        };
        let per_order = |used: Option<Duration>| {
            used.filter(|_| orders > 0)
                .map(|used| round(used.as_secs_f64() * 1e6 / orders as f64))
        };
        let server = used(before.server, after.server);
        Self {
            server_cpu_percent: server
                .filter(|_| !wall.is_zero())
                .map(|used| round(used.as_secs_f64() / wall.as_secs_f64() * 100.0)),
            server_cpu_us_per_order: per_order(server),
            client_cpu_us_per_order: per_order(used(before.client, after.client)),
        }
    }
}

/// The user and system CPU time process `pid` has used, all its threads together.
#[cfg(target_os = "linux")]
pub(super) fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = cpu_ticks(&stat)?;
    let per_second = rustix::param::clock_ticks_per_second();
    (per_second > 0).then(|| Duration::from_secs_f64(ticks as f64 / per_second as f64))
}

/// The CPU time this process has used, all its threads together, to the nanosecond: a short
/// step at a low rate costs the bench less than the clock tick `/proc` counts in.
#[cfg(target_os = "linux")]
fn own_cpu() -> Option<Duration> {
    use rustix::time::{ClockId, clock_gettime};
    let now = clock_gettime(ClockId::ProcessCPUTime);
    Some(Duration::new(
        u64::try_from(now.tv_sec).ok()?,
        u32::try_from(now.tv_nsec).ok()?,
    ))
}

/// Elsewhere the bench reports no CPU figures.
#[cfg(not(target_os = "linux"))]
fn own_cpu() -> Option<Duration> {
    None
}

/// Elsewhere the bench reports no CPU figures.
#[cfg(not(target_os = "linux"))]
pub(super) fn process_cpu(_pid: u32) -> Option<Duration> {
    None
}

/// The user and system time, in clock ticks, in the text of `/proc/<pid>/stat`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn cpu_ticks(stat: &str) -> Option<u64> {
    // The command name, in parentheses, may itself hold spaces and parentheses: the fields
    // that follow it start after the last `)`, with the state (the third field).
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    // `utime` and `stime` are the 14th and 15th fields.
    let user: u64 = fields.get(14 - 3)?.parse().ok()?;
    let system: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(user + system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_system_ticks_past_an_awkward_command_name() {
        let stat = "4242 (pro) jector (x)) S 1 4242 4242 0 -1 4194560 905 0 0 0 \
                    1700 251 0 0 20 0 9 0 123 456 789";
        assert_eq!(cpu_ticks(stat), Some(1951));
        assert_eq!(cpu_ticks("4242 (projector) S 1 2"), None);
        assert_eq!(cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn figures_per_order_and_per_core() {
        let times = |server: u64, client: u64| CpuTimes {
            server: Some(Duration::from_secs(server)),
            client: Some(Duration::from_secs(client)),
        };
        let cpu = StepCpu::between(times(10, 4), times(13, 5), Duration::from_secs(2), 6_000);
        assert_eq!(cpu.server_cpu_percent, Some(150.0));
        assert_eq!(cpu.server_cpu_us_per_order, Some(500.0));
        assert_eq!(cpu.client_cpu_us_per_order, Some(166.7));
        let unknown = StepCpu::between(
            CpuTimes {
                server: None,
                client: None,
            },
            times(1, 1),
            Duration::ZERO,
            1,
        );
        assert_eq!(unknown.server_cpu_percent, None);
        assert_eq!(unknown.server_cpu_us_per_order, None);
        assert_eq!(unknown.client_cpu_us_per_order, None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_used_some_cpu() {
        let busy = (0..2_000_000u64).fold(0u64, |a, n| a.wrapping_add(n * n));
        assert!(busy > 0);
        assert!(process_cpu(std::process::id()).is_some_and(|t| t > Duration::ZERO));
        let before = own_cpu().expect("this process's CPU time");
        let busy = (0..2_000_000u64).fold(busy, |a, n| a.wrapping_add(n ^ a));
        assert!(busy > 0);
        assert!(own_cpu().is_some_and(|after| after > before));
    }
}
