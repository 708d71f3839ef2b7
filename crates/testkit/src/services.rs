//! The loopback services tests may use, and the rule for when a test may skip.
//!
//! Each service's URL comes from an environment variable with the loopback default. In CI
//! (`CI=true`) a missing service fails the test; elsewhere the test prints why and skips.

/// PostgreSQL: `PROJECTOR_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`.
pub fn postgres_url() -> String {
    std::env::var("PROJECTOR_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Whether the tests run in CI, where every service must be present.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Handles a service that could not be reached: panics in CI, otherwise prints the reason and
/// returns so the caller can skip.
///
/// # Panics
/// In CI, always.
pub fn unavailable(service: &str, reason: &dyn std::fmt::Display) {
    assert!(
        !in_ci(),
        "{service} is required in CI but unavailable: {reason}"
    );
    eprintln!("skipping: {service} unavailable ({reason}); set CI=true to make this a failure");
}

/// Redis: `PROJECTOR_TEST_REDIS_URL`, default `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var("PROJECTOR_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// NATS with JetStream: `PROJECTOR_TEST_NATS_URL`, default `nats://127.0.0.1:4222`.
pub fn nats_url() -> String {
    std::env::var("PROJECTOR_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}
