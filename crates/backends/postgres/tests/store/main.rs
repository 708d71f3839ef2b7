//! The PostgreSQL store beyond the shared conformance suite: losing and regaining the
//! database, and projection leases across sessions (also over a hung connection).

mod group;
mod hung_lease;
mod leases;
mod migrations;
mod recovery;
mod refused_values;
