//! The PostgreSQL store beyond the shared conformance suite: losing and regaining the
//! database, and projection leases across sessions.

mod group;
mod leases;
mod recovery;
