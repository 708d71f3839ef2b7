//! `customer_activity`: each customer's changes over a batch, summed in memory and added to
//! their row by one multi-row upsert. Orders and reviews count whether or not the customer has
//! registered, so the order in which a customer's and their orders' events arrive does not
//! matter.

use std::collections::HashMap;

use projector_core::{GlobalPosition, ProjectionError};
use projector_sql::{MultiRowInsert, SqlParam, SqlTransaction};

use crate::sum::{self, OutOfRange};

/// Adds a batch's changes to `customer_activity` rows.
static ACTIVITY: MultiRowInsert = MultiRowInsert::new(
    include_str!("../sql/customers_activity_insert.sql"),
    11,
    include_str!("../sql/customers_activity_on_conflict.sql"),
);

/// A customer's changes over a batch.
pub(super) struct Activity {
    customer_id: String,
    pub(super) placed: i64,
    pub(super) completed: i64,
    pub(super) cancelled: i64,
    pub(super) spent_cents: i64,
    pub(super) refunded_cents: i64,
    first_order_at: Option<String>,
    last_order_at: Option<String>,
    pub(super) reviews_written: i64,
    last_review_at: Option<String>,
    last_activity_at: String,
    last_position: GlobalPosition,
}

impl Activity {
    fn new(customer_id: String) -> Self {
        Self {
            customer_id,
            placed: 0,
            completed: 0,
            cancelled: 0,
            spent_cents: 0,
            refunded_cents: 0,
            first_order_at: None,
            last_order_at: None,
            reviews_written: 0,
            last_review_at: None,
            last_activity_at: String::new(),
            last_position: GlobalPosition::ZERO,
        }
    }

    /// Notes an event of the customer's, recorded at `recorded_at` (SQL time) at `position`.
    pub(super) fn touched(&mut self, recorded_at: String, position: GlobalPosition) {
        self.last_activity_at = recorded_at;
        self.last_position = position;
    }

    /// Counts an order placed at `created_at` (SQL time).
    ///
    /// # Errors
    /// [`OutOfRange`] past `i64::MAX` orders.
    pub(super) fn order_placed(&mut self, created_at: &str) -> Result<(), OutOfRange> {
        self.placed = sum::add("orders placed", self.placed, 1)?;
        self.first_order_at = earliest(self.first_order_at.take(), created_at);
        self.last_order_at = latest(self.last_order_at.take(), created_at);
        Ok(())
    }

    /// Counts a review submitted at `submitted_at` (SQL time).
    ///
    /// # Errors
    /// [`OutOfRange`] past `i64::MAX` reviews.
    pub(super) fn review_written(&mut self, submitted_at: &str) -> Result<(), OutOfRange> {
        self.reviews_written = sum::add("reviews written", self.reviews_written, 1)?;
        self.last_review_at = latest(self.last_review_at.take(), submitted_at);
        Ok(())
    }

    fn params(&self) -> [SqlParam<'_>; 11] {
        [
            self.customer_id.as_str().into(),
            self.placed.into(),
            self.completed.into(),
            self.cancelled.into(),
            self.spent_cents.into(),
            self.refunded_cents.into(),
            self.first_order_at.as_deref().into(),
            self.last_order_at.as_deref().into(),
            self.reviews_written.into(),
            self.last_review_at.as_deref().into(),
            self.last_activity_at.as_str().into(),
        ]
    }
}

fn earliest(current: Option<String>, candidate: &str) -> Option<String> {
    match current {
        Some(current) if current.as_str() <= candidate => Some(current),
        _ => Some(candidate.to_owned()),
    }
}

fn latest(current: Option<String>, candidate: &str) -> Option<String> {
    match current {
        Some(current) if current.as_str() >= candidate => Some(current),
        _ => Some(candidate.to_owned()),
    }
}

/// The activity of every customer a batch touches, in the order it first touched them.
#[derive(Default)]
pub(super) struct BatchActivity {
    rows: Vec<Activity>,
    index: HashMap<String, usize>,
}

impl BatchActivity {
    /// The changes of `customer_id` so far in the batch.
    pub(super) fn of(&mut self, customer_id: &str) -> &mut Activity {
        let slot = match self.index.get(customer_id) {
            Some(&slot) => slot,
            None => {
                self.index.insert(customer_id.to_owned(), self.rows.len());
                self.rows.push(Activity::new(customer_id.to_owned()));
                self.rows.len() - 1
            }
        };
        &mut self.rows[slot]
    }

    /// Adds every customer's changes to their row; returns how many rows it wrote.
    pub(super) async fn write(
        &self,
        tx: &mut dyn SqlTransaction,
    ) -> Result<usize, ProjectionError> {
        if self.rows.is_empty() {
            return Ok(0);
        }
        let params: Vec<[SqlParam<'_>; 11]> = self.rows.iter().map(Activity::params).collect();
        let rows: Vec<&[SqlParam<'_>]> = params.iter().map(|p| &p[..]).collect();
        ACTIVITY.execute(tx, &rows).await.map_err(|failed| {
            let position = self
                .rows
                .get(failed.index)
                .map_or(GlobalPosition::ZERO, |c| c.last_position);
            sum::refused(failed.error, "a customer's activity").or_at(position)
        })?;
        Ok(self.rows.len())
    }
}
