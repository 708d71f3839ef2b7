//! [`Price`]: a product's price in whole cents, so it is exact; an API turns it into a decimal
//! only at its edge.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::limits::PRICE_MAX_CENTS;

/// A price in whole cents: more than zero, at most [`PRICE_MAX_CENTS`]. Stored in events as
/// the number of cents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Price(i64);

/// Why a number of cents is not a price.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidPrice {
    /// Zero or below.
    #[error("must be greater than 0")]
    NotPositive,
    /// Above [`PRICE_MAX_CENTS`].
    #[error("must be at most {}", Price::MAX)]
    TooLarge,
}

impl Price {
    /// The highest price there is.
    pub const MAX: Price = Price(PRICE_MAX_CENTS);

    /// A price of `cents`.
    ///
    /// # Errors
    /// When `cents` is not more than zero, or is above [`PRICE_MAX_CENTS`].
    pub const fn from_cents(cents: i64) -> Result<Self, InvalidPrice> {
        if cents <= 0 {
            Err(InvalidPrice::NotPositive)
        } else if cents > PRICE_MAX_CENTS {
            Err(InvalidPrice::TooLarge)
        } else {
            Ok(Self(cents))
        }
    }

    /// The price in cents.
    pub const fn cents(self) -> i64 {
        self.0
    }

    /// Whether the price keeps its limits: a price read from a stored event was not made by
    /// [`Price::from_cents`].
    pub const fn is_valid(self) -> bool {
        self.0 > 0 && self.0 <= PRICE_MAX_CENTS
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let cents = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", cents / 100, cents % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_positive_cents_up_to_the_limit() {
        assert_eq!(Price::from_cents(1234).map(Price::cents), Ok(1234));
        assert_eq!(Price::from_cents(PRICE_MAX_CENTS), Ok(Price::MAX));
        assert_eq!(Price::from_cents(0), Err(InvalidPrice::NotPositive));
        assert_eq!(Price::from_cents(-5), Err(InvalidPrice::NotPositive));
        assert_eq!(
            Price::from_cents(PRICE_MAX_CENTS + 1),
            Err(InvalidPrice::TooLarge)
        );
        assert_eq!(
            Price::from_cents(1205).expect("a price").to_string(),
            "12.05"
        );
        assert_eq!(Price::MAX.to_string(), "1000000.00");
        assert_eq!(
            serde_json::to_string(&Price::from_cents(999).expect("a price")).expect("json"),
            "999",
            "stored as whole cents"
        );
        let read: Price = serde_json::from_str("-3").expect("json");
        assert!(!read.is_valid());
        assert_eq!(read.to_string(), "-0.03");
    }
}
