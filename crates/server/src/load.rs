//! Load a client cannot push past: a rate per caller, and a cap on requests in flight, both
//! answered at once (429 or 503 with `Retry-After`) instead of queueing.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use utoipa::openapi::{OpenApi as Document, Type};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::gate::Gate;

/// Requests per second allowed to each caller (a principal, or an address without
/// authentication), with a burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// The sustained rate.
    pub per_second: NonZeroU32,
    /// How many may come at once after a quiet spell.
    pub burst: NonZeroU32,
}

/// The limits the server enforces on callers.
#[derive(Debug)]
pub(crate) struct Load {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    in_flight: Arc<Semaphore>,
}

impl Load {
    pub(crate) fn new(rate: Option<RateLimit>, max_in_flight: usize) -> Arc<Self> {
        let load = Arc::new(Self {
            limiter: rate.map(|rate| {
                DefaultKeyedRateLimiter::keyed(
                    Quota::per_second(rate.per_second).allow_burst(rate.burst),
                )
            }),
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
        });
        if load.limiter.is_some() {
            // Forget callers who have been quiet, so the table does not grow with every
            // address that ever called.
            let weak = Arc::downgrade(&load);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(60));
                loop {
                    every.tick().await;
                    let Some(load) = weak.upgrade() else { break };
                    if let Some(limiter) = &load.limiter {
                        limiter.retain_recent();
                        limiter.shrink_to_fit();
                    }
                }
            });
        }
        load
    }
}

/// Refuses a caller over its rate (429), and any request while the server already runs as
/// many as it may (503), each with `Retry-After`; a request let through holds its place among
/// those in flight until its response is made.
impl Gate for Arc<Load> {
    type Pass = OwnedSemaphorePermit;

    fn check(&self, request: &Request) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Some(limiter) = &self.limiter {
            let caller = match request.extensions().get::<Principal>() {
                Some(principal) => format!("principal:{}", principal.id),
                None => request
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .map_or_else(
                        || "unknown".to_owned(),
                        |info| format!("address:{}", info.0.ip()),
                    ),
            };
            if let Err(not_until) = limiter.check_key(&caller) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                metrics::counter!("http_requests_rate_limited_total").increment(1);
                return Err(ApiError::RateLimited {
                    retry_after_seconds: wait.as_secs_f64().ceil().max(1.0) as u64,
                });
            }
        }
        Arc::clone(&self.in_flight)
            .try_acquire_owned()
            .map_err(|_| {
                metrics::counter!("http_requests_shed_total").increment(1);
                ApiError::Overloaded
            })
    }
}

/// Documents the answers the load [`Gate`] gives any operation: `429` past the caller's rate
/// (with `--rate-limit`) and `503` while the server runs all it may, each with `Retry-After`.
/// An operation that documents a `503` of its own keeps its description.
pub(crate) fn document_load_refusals(document: &mut Document) {
    for item in document.paths.paths.values_mut() {
        for operation in crate::auth::operations_of_mut(item) {
            for (status, description) in [
                (
                    "429",
                    "Past the caller's rate (with a rate limit set); retry after Retry-After seconds",
                ),
                (
                    "503",
                    "The server runs as many requests as it may; retry after Retry-After seconds",
                ),
            ] {
                crate::openapi::document_problem(
                    operation,
                    status,
                    description,
                    ("Retry-After", Type::Integer),
                );
            }
        }
    }
}
