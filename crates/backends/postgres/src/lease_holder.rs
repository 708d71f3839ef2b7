//! Who holds a projection's lease: read from `pg_locks`, where PostgreSQL lists every advisory
//! lock and the session holding it, joined with `pg_stat_activity` for that session's
//! `application_name` (set by [`PgLeases::with_label`]), address and start.
//!
//! It is what an operator needs when a projection runs elsewhere: `projector status` names the
//! holder, and a `projector rebuild` that finds the lease taken says which server to ask.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use projector_core::ProjectionName;

use crate::lease::{LeaseError, PgLeases, lease_key};

/// The session holding a projection's lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolder {
    /// The PostgreSQL backend process of the lease's session.
    pub backend_pid: i32,
    /// The session's `application_name`: the holder's label, e.g.
    /// `projector serve http://10.0.0.5:8080 pid 4242`. `None` when the role may not see it.
    pub application_name: Option<String>,
    /// The holder's address, `None` over a Unix socket or when the role may not see it.
    pub client_addr: Option<String>,
    /// When the session started: about when the lease was taken.
    pub since: Option<DateTime<Utc>>,
}

impl std::fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.application_name {
            Some(name) if !name.is_empty() => write!(f, "'{name}'")?,
            _ => f.write_str("an unnamed session")?,
        }
        write!(f, " (PostgreSQL backend {}", self.backend_pid)?;
        if let Some(addr) = &self.client_addr {
            write!(f, ", from {addr}")?;
        }
        if let Some(since) = &self.since {
            write!(f, ", since {}", since.format("%Y-%m-%d %H:%M:%S UTC"))?;
        }
        f.write_str(")")
    }
}

impl PgLeases {
    /// The holders of the leases of `projections` that are held now; a free lease is absent.
    ///
    /// # Errors
    /// [`LeaseError::Unavailable`] when the database cannot be reached.
    pub async fn holders(
        &self,
        projections: &[ProjectionName],
    ) -> Result<BTreeMap<ProjectionName, LeaseHolder>, LeaseError> {
        let (client, connection) = self.config().connect(self.tls().0.clone()).await?;
        let driver = tokio::spawn(connection.map(|_| ()));
        let rows = client
            .query(include_str!("sql/lease_holders.sql"), &[])
            .await;
        drop(client);
        let _ = driver.await;
        let mut by_key = BTreeMap::new();
        for row in rows? {
            let (high, low): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
            let holder = LeaseHolder {
                backend_pid: row.try_get(2)?,
                application_name: row.try_get(3)?,
                client_addr: row.try_get(4)?,
                since: row.try_get(5)?,
            };
            by_key.insert(advisory_key(high, low), holder);
        }
        Ok(projections
            .iter()
            .filter_map(|p| {
                by_key
                    .get(&lease_key(p))
                    .map(|holder| (p.clone(), holder.clone()))
            })
            .collect())
    }
}

/// The bigint key of an advisory lock from its `pg_locks` halves.
pub(crate) fn advisory_key(classid: i64, objid: i64) -> i64 {
    let bits = ((classid as u64 & 0xffff_ffff) << 32) | (objid as u64 & 0xffff_ffff);
    i64::from_ne_bytes(bits.to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::advisory_key;

    #[test]
    fn keys_are_put_back_together_from_their_halves() {
        for key in [0_i64, 1, -1, i64::MIN, i64::MAX, 0x7072_6f6a_6361_7461] {
            let bits = u64::from_ne_bytes(key.to_ne_bytes());
            let (high, low) = ((bits >> 32) as i64, (bits & 0xffff_ffff) as i64);
            assert_eq!(advisory_key(high, low), key);
        }
    }
}
