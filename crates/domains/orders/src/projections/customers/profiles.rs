//! `customer_profiles`: who each registered customer is, one whole row per customer. A row
//! starts from `CustomerRegistered`, or is loaded by the first later event of the batch; the
//! batch's events change it in memory and it is written once.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use projector_core::{DomainEvent, GlobalPosition, ProjectionError};
use projector_customers::{CustomerEvent, Tier};
use projector_sql::{
    MultiRowInsert, SqlError, SqlErrorKind, SqlParam, SqlTransaction, params, sql_time,
};

/// Writes whole `customer_profiles` rows.
static PROFILES: MultiRowInsert = MultiRowInsert::new(
    "INSERT INTO customer_profiles (customer_id, email, name, region, tier, registered_at, updated_at)",
    7,
    "ON CONFLICT (customer_id) DO UPDATE SET email = excluded.email, name = excluded.name, \
     region = excluded.region, tier = excluded.tier, registered_at = excluded.registered_at, \
     updated_at = excluded.updated_at",
);

/// One `customer_profiles` row while a batch is folded into it; times as SQL text.
struct ProfileRow {
    customer_id: String,
    email: String,
    name: String,
    region: String,
    tier: Tier,
    registered_at: String,
    updated_at: String,
    last_position: GlobalPosition,
}

impl ProfileRow {
    fn apply(&mut self, event: &CustomerEvent, position: GlobalPosition) {
        let changed_at = |at: &DateTime<Utc>| sql_time(*at);
        match event {
            CustomerEvent::Registered(e) => {
                self.email.clone_from(&e.email);
                self.name.clone_from(&e.name);
                self.region.clone_from(&e.region);
                self.tier = Tier::default();
                self.registered_at = changed_at(&e.registered_at);
                self.updated_at = self.registered_at.clone();
            }
            CustomerEvent::Updated(e) => {
                if let Some(email) = &e.email {
                    self.email.clone_from(email);
                }
                if let Some(name) = &e.name {
                    self.name.clone_from(name);
                }
                self.updated_at = changed_at(&e.updated_at);
            }
            CustomerEvent::Moved(e) => {
                self.region.clone_from(&e.region);
                self.updated_at = changed_at(&e.moved_at);
            }
            CustomerEvent::TierChanged(e) => {
                self.tier = e.to;
                self.updated_at = changed_at(&e.changed_at);
            }
            // Reviews are not part of the profile.
            CustomerEvent::ReviewSubmitted(_) => return,
        }
        self.last_position = position;
    }

    fn params(&self) -> [SqlParam<'_>; 7] {
        [
            self.customer_id.as_str().into(),
            self.email.as_str().into(),
            self.name.as_str().into(),
            self.region.as_str().into(),
            self.tier.as_str().into(),
            self.registered_at.as_str().into(),
            self.updated_at.as_str().into(),
        ]
    }

    async fn load(
        tx: &mut dyn SqlTransaction,
        customer_id: &str,
    ) -> Result<Option<Self>, SqlError> {
        let select = "SELECT email, name, region, tier, registered_at, updated_at \
            FROM customer_profiles WHERE customer_id = $1";
        let Some(row) = tx.query_opt(select, params![customer_id]).await? else {
            return Ok(None);
        };
        let tier: String = row.get("tier")?;
        Ok(Some(Self {
            customer_id: customer_id.to_owned(),
            email: row.get("email")?,
            name: row.get("name")?,
            region: row.get("region")?,
            tier: Tier::parse(&tier).ok_or_else(|| {
                SqlError::new(SqlErrorKind::Conversion, format!("unknown tier {tier}"))
            })?,
            registered_at: row.get("registered_at")?,
            updated_at: row.get("updated_at")?,
            last_position: GlobalPosition::ZERO,
        }))
    }
}

/// The profiles a batch changes, each read at most once.
#[derive(Default)]
pub(super) struct BatchProfiles {
    rows: Vec<ProfileRow>,
    index: HashMap<String, usize>,
}

impl BatchProfiles {
    /// Folds a profile event, recorded at `position`, into its customer's row: a new one for
    /// `CustomerRegistered`, else the batch's or the stored one. An event for a customer who
    /// never registered fails at that event (the decider records none).
    pub(super) async fn apply(
        &mut self,
        tx: &mut dyn SqlTransaction,
        event: &CustomerEvent,
        position: GlobalPosition,
    ) -> Result<(), ProjectionError> {
        let customer_id = event.customer_id();
        let slot = match self.index.get(customer_id) {
            Some(&slot) => slot,
            None => {
                let row = match event {
                    CustomerEvent::Registered(_) => ProfileRow {
                        customer_id: customer_id.to_owned(),
                        email: String::new(),
                        name: String::new(),
                        region: String::new(),
                        tier: Tier::default(),
                        registered_at: String::new(),
                        updated_at: String::new(),
                        last_position: position,
                    },
                    _ => ProfileRow::load(tx, customer_id)
                        .await
                        .map_err(|e| e.at(position))?
                        .ok_or_else(|| {
                            ProjectionError::at(
                                position,
                                format!(
                                    "{} for customer {customer_id}, who has not registered",
                                    event.event_type()
                                ),
                            )
                        })?,
                };
                self.index.insert(customer_id.to_owned(), self.rows.len());
                self.rows.push(row);
                self.rows.len() - 1
            }
        };
        self.rows[slot].apply(event, position);
        Ok(())
    }

    /// Writes the batch's profiles as whole rows; returns how many it wrote.
    pub(super) async fn write(
        &self,
        tx: &mut dyn SqlTransaction,
    ) -> Result<usize, ProjectionError> {
        if self.rows.is_empty() {
            return Ok(0);
        }
        let params: Vec<[SqlParam<'_>; 7]> = self.rows.iter().map(ProfileRow::params).collect();
        let rows: Vec<&[SqlParam<'_>]> = params.iter().map(|p| &p[..]).collect();
        PROFILES.execute(tx, &rows).await.map_err(|failed| {
            let position = self
                .rows
                .get(failed.index)
                .map_or(GlobalPosition::ZERO, |p| p.last_position);
            failed.error.at(position)
        })?;
        Ok(self.rows.len())
    }
}
