//! The customers' current regions, as `order_summary` keeps them: its own `customer_regions`
//! table (so the read model is rebuilt from the events alone, never from another read model),
//! and what a batch learns and changes of it.
//!
//! A batch records each registration and move in memory, in feed order, so the region it ends
//! with is the last one. Rows written by the batch take the region as it stands at the end;
//! the customer's other rows take it from one `UPDATE ... WHERE customer_id = ?` per changed
//! customer (over an index), however many orders they have.

use std::collections::HashMap;
use std::sync::OnceLock;

use projector_core::{GlobalPosition, ProjectionError};
use projector_sql::{MultiRowInsert, SqlError, SqlParam, SqlRun, SqlTransaction};

/// Writes the batch's changed customers' regions.
static UPSERT: MultiRowInsert = MultiRowInsert::new(
    include_str!("../sql/order_summary_regions_insert.sql"),
    3,
    include_str!("../sql/order_summary_regions_on_conflict.sql"),
);

/// Gives every order of a changed customer their region: one statement per customer.
const MOVE_ORDERS: &str = include_str!("../sql/order_summary_move_orders.sql");

/// The most customers one lookup names; lookups name 1, 2, 4, ... of them (the last repeated
/// to fill the list), so a handful of statements serve any batch.
const LOOKUP_MAX: usize = 128;
const LOOKUP_SHIFT: usize = LOOKUP_MAX.trailing_zeros() as usize;

/// A customer whose region the batch set.
#[derive(Debug)]
struct Changed {
    customer_id: String,
    region: String,
    /// The last event that set it, named if writing it fails.
    position: GlobalPosition,
}

/// What a batch knows of customers' regions: those it set, and those it read from the table.
#[derive(Debug, Default)]
pub(super) struct CustomerRegions {
    /// In the order the batch first changed them.
    changed: Vec<Changed>,
    changed_index: HashMap<String, usize>,
    /// Read from the table for customers the batch did not change; `None`: not registered.
    stored: HashMap<String, Option<String>>,
}

impl CustomerRegions {
    pub(super) fn new() -> Self {
        Self::default()
    }

    /// The customer registered, or moved, to `region` at `position`.
    pub(super) fn set(&mut self, customer_id: &str, region: &str, position: GlobalPosition) {
        match self.changed_index.get(customer_id) {
            Some(&slot) => {
                let changed = &mut self.changed[slot];
                region.clone_into(&mut changed.region);
                changed.position = position;
            }
            None => {
                self.changed_index
                    .insert(customer_id.to_owned(), self.changed.len());
                self.changed.push(Changed {
                    customer_id: customer_id.to_owned(),
                    region: region.to_owned(),
                    position,
                });
            }
        }
    }

    /// Reads the stored regions of `customers` that the batch has not set nor read yet, a few
    /// statements for the lot.
    ///
    /// # Errors
    /// The failed query's.
    pub(super) async fn load<'c>(
        &mut self,
        tx: &mut dyn SqlTransaction,
        customers: impl IntoIterator<Item = &'c str>,
    ) -> Result<(), SqlError> {
        let mut wanted: Vec<&str> = Vec::new();
        for customer in customers {
            if !self.changed_index.contains_key(customer) && !self.stored.contains_key(customer) {
                self.stored.insert(customer.to_owned(), None);
                wanted.push(customer);
            }
        }
        for chunk in wanted.chunks(LOOKUP_MAX) {
            let size = chunk.len().next_power_of_two();
            let last = chunk[chunk.len() - 1];
            let params: Vec<SqlParam<'_>> = (0..size)
                .map(|i| chunk.get(i).copied().unwrap_or(last).into())
                .collect();
            for row in tx.query(lookup(size), &params).await? {
                let customer: String = row.get("customer_id")?;
                let region: String = row.get("region")?;
                self.stored.insert(customer, Some(region));
            }
        }
        Ok(())
    }

    /// The region of `customer_id` as it stands at the end of the batch: set by it, or read by
    /// [`load`](Self::load); `None` while the customer has not registered.
    pub(super) fn region(&self, customer_id: &str) -> Option<&str> {
        match self.changed_index.get(customer_id) {
            Some(&slot) => Some(&self.changed[slot].region),
            None => self.stored.get(customer_id).and_then(Option::as_deref),
        }
    }

    /// Stores the regions the batch set, and moves each changed customer's stored orders to
    /// theirs: one statement per customer, sent together. Returns how many orders moved.
    ///
    /// # Errors
    /// The failed statement's, at the last event that changed its customer.
    pub(super) async fn write(&self, tx: &mut dyn SqlTransaction) -> Result<u64, ProjectionError> {
        if self.changed.is_empty() {
            return Ok(0);
        }
        let params: Vec<[SqlParam<'_>; 3]> = self
            .changed
            .iter()
            .map(|c| {
                [
                    c.customer_id.as_str().into(),
                    c.region.as_str().into(),
                    i64::try_from(c.position.get()).unwrap_or(i64::MAX).into(),
                ]
            })
            .collect();
        let rows: Vec<&[SqlParam<'_>]> = params.iter().map(|p| &p[..]).collect();
        UPSERT
            .execute(tx, &rows)
            .await
            .map_err(|failed| failed.error.at(self.position_of(failed.index)))?;

        let params: Vec<[SqlParam<'_>; 2]> = self
            .changed
            .iter()
            .map(|c| [c.region.as_str().into(), c.customer_id.as_str().into()])
            .collect();
        let runs: Vec<SqlRun<'_, '_>> = params.iter().map(|p| (MOVE_ORDERS, &p[..])).collect();
        let moved = tx
            .execute_batch(&runs)
            .await
            .map_err(|failed| failed.error.at(self.position_of(failed.index)))?;
        for (changed, orders) in self.changed.iter().zip(&moved) {
            tracing::debug!(
                customer_id = %changed.customer_id,
                region = %changed.region,
                orders,
                "Moved the customer's orders to their region"
            );
        }
        Ok(moved.iter().sum())
    }

    fn position_of(&self, index: usize) -> GlobalPosition {
        self.changed
            .get(index)
            .map_or(GlobalPosition::ZERO, |c| c.position)
    }
}

/// `SELECT customer_id, region FROM customer_regions WHERE customer_id IN ($1, ..., $size)`,
/// `size` a power of two no larger than [`LOOKUP_MAX`].
fn lookup(size: usize) -> &'static str {
    static STATEMENTS: [OnceLock<String>; LOOKUP_SHIFT + 1] =
        [const { OnceLock::new() }; LOOKUP_SHIFT + 1];
    let shift = (size.trailing_zeros() as usize).min(LOOKUP_SHIFT);
    STATEMENTS[shift].get_or_init(|| {
        let list: Vec<String> = (1..=1usize << shift).map(|n| format!("${n}")).collect();
        format!(
            "{} ({})",
            include_str!("../sql/order_summary_regions_select.sql").trim_end(),
            list.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_list_a_power_of_two_of_numbered_placeholders() {
        assert!(
            lookup(1).ends_with("WHERE customer_id IN ($1)"),
            "{}",
            lookup(1)
        );
        assert!(lookup(4).ends_with("IN ($1, $2, $3, $4)"), "{}", lookup(4));
        assert!(lookup(LOOKUP_MAX).ends_with(&format!("${LOOKUP_MAX})")));
    }

    #[test]
    fn the_last_region_a_batch_sets_is_the_one_it_ends_with() {
        let mut regions = CustomerRegions::new();
        regions.set("c1", "north", GlobalPosition::new(3));
        regions.set("c2", "west", GlobalPosition::new(4));
        regions.set("c1", "south", GlobalPosition::new(9));
        assert_eq!(regions.region("c1"), Some("south"));
        assert_eq!(regions.region("c2"), Some("west"));
        assert_eq!(regions.region("c3"), None);
        assert_eq!(regions.changed.len(), 2, "one write per customer");
        assert_eq!(regions.position_of(0), GlobalPosition::new(9));
    }
}
