//! `customer_reviews`: each customer's reviews, one row per product. The decider records one
//! review per product; should a stream hold two, the later one is the row.

use std::collections::HashMap;

use projector_core::{GlobalPosition, ProjectionError};
use projector_customers::events::ReviewSubmitted;
use projector_sql::{MultiRowInsert, SqlParam, SqlTransaction, sql_time};

/// Writes `customer_reviews` rows.
static REVIEWS: MultiRowInsert = MultiRowInsert::new(
    "INSERT INTO customer_reviews (customer_id, product_id, rating, text, submitted_at)",
    5,
    "ON CONFLICT (customer_id, product_id) DO UPDATE SET rating = excluded.rating, \
     text = excluded.text, submitted_at = excluded.submitted_at",
);

/// One review of the batch.
struct ReviewRow {
    customer_id: String,
    product_id: String,
    rating: i64,
    text: String,
    submitted_at: String,
    position: GlobalPosition,
}

impl ReviewRow {
    fn params(&self) -> [SqlParam<'_>; 5] {
        [
            self.customer_id.as_str().into(),
            self.product_id.as_str().into(),
            self.rating.into(),
            self.text.as_str().into(),
            self.submitted_at.as_str().into(),
        ]
    }
}

/// The reviews of a batch, one per customer and product (a statement may not write a row
/// twice).
#[derive(Default)]
pub(super) struct BatchReviews {
    rows: Vec<ReviewRow>,
    index: HashMap<(String, String), usize>,
}

impl BatchReviews {
    /// Adds `review`, recorded at `position`; returns its time as SQL text.
    pub(super) fn add(&mut self, review: &ReviewSubmitted, position: GlobalPosition) -> &str {
        let row = ReviewRow {
            customer_id: review.customer_id.clone(),
            product_id: review.product_id.clone(),
            rating: i64::from(review.rating),
            text: review.text.clone(),
            submitted_at: sql_time(review.submitted_at),
            position,
        };
        let key = (row.customer_id.clone(), row.product_id.clone());
        let slot = match self.index.get(&key) {
            Some(&slot) => {
                self.rows[slot] = row;
                slot
            }
            None => {
                self.index.insert(key, self.rows.len());
                self.rows.push(row);
                self.rows.len() - 1
            }
        };
        &self.rows[slot].submitted_at
    }

    /// Writes the batch's reviews; returns how many rows it wrote.
    pub(super) async fn write(
        &self,
        tx: &mut dyn SqlTransaction,
    ) -> Result<usize, ProjectionError> {
        if self.rows.is_empty() {
            return Ok(0);
        }
        let params: Vec<[SqlParam<'_>; 5]> = self.rows.iter().map(ReviewRow::params).collect();
        let rows: Vec<&[SqlParam<'_>]> = params.iter().map(|p| &p[..]).collect();
        REVIEWS.execute(tx, &rows).await.map_err(|failed| {
            let position = self
                .rows
                .get(failed.index)
                .map_or(GlobalPosition::ZERO, |r| r.position);
            failed.error.at(position)
        })?;
        Ok(self.rows.len())
    }
}
