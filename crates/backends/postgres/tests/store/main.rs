//! The PostgreSQL store beyond the shared conformance suite: losing and regaining the
//! database, projection leases across sessions (also over a hung connection), and the recent
//! events it keeps in memory beside other processes' appends.

mod group;
mod hung_lease;
mod leases;
mod migrations;
mod recent;
mod recovery;
mod refused_values;
