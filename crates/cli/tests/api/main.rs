//! End-to-end tests of the orders service and the issue tracker: the real `projector` binary on a free port with a
//! fresh data directory, and a real HTTP client.

mod helpers;

mod consistency;
mod idempotency;
mod issues;
mod lifecycle;
mod openapi;
mod operations;
mod reads;
mod restart;
mod seed;
mod validation;
