//! Money as a whole number of cents, so sums are exact; written to JSON as a number with at
//! most two decimals (`45.5`, `10.25`).

use std::fmt;
use std::ops::{Add, Sub};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative amount in cents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// Why a number is not an amount of money.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// NaN or infinite.
    #[error("must be a finite number")]
    NotFinite,
    /// Below zero.
    #[error("must not be negative")]
    Negative,
    /// Finer than a cent.
    #[error("must have at most two decimal places")]
    TooPrecise,
    /// Above [`Money::MAX`].
    #[error("must be at most 1000000000000")]
    TooLarge,
}

impl Money {
    /// Nothing.
    pub const ZERO: Self = Self(0);
    /// The largest amount accepted: a trillion (in whole units).
    pub const MAX: Self = Self(100_000_000_000_000);

    /// An amount of `cents`.
    pub const fn from_cents(cents: i64) -> Self {
        Self(cents)
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.0
    }

    /// Reads a decimal amount such as `10.25`.
    ///
    /// # Errors
    /// When it is not finite, negative, finer than a cent, or above [`Money::MAX`].
    pub fn from_decimal(amount: f64) -> Result<Self, MoneyError> {
        if !amount.is_finite() {
            return Err(MoneyError::NotFinite);
        }
        if amount < 0.0 {
            return Err(MoneyError::Negative);
        }
        let cents = amount * 100.0;
        let rounded = cents.round();
        if (cents - rounded).abs() > 1e-6 * rounded.max(1.0) {
            return Err(MoneyError::TooPrecise);
        }
        if rounded > Money::MAX.0 as f64 {
            return Err(MoneyError::TooLarge);
        }
        Ok(Self(rounded as i64))
    }

    /// The amount as a decimal number, e.g. for JSON and SQL.
    pub fn to_decimal(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// `self * quantity`, saturating.
    pub fn times(self, quantity: u32) -> Self {
        Self(self.0.saturating_mul(i64::from(quantity)))
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.to_decimal())
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let amount = f64::deserialize(deserializer)?;
        Money::from_decimal(amount).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_two_decimals() {
        assert_eq!(Money::from_decimal(10.25), Ok(Money::from_cents(1025)));
        assert_eq!(Money::from_decimal(45.5), Ok(Money::from_cents(4550)));
        assert_eq!(Money::from_decimal(0.1 + 0.2), Ok(Money::from_cents(30)));
        assert_eq!(Money::from_decimal(19.99), Ok(Money::from_cents(1999)));
        assert_eq!(Money::from_decimal(1.005), Err(MoneyError::TooPrecise));
        assert_eq!(Money::from_decimal(-1.0), Err(MoneyError::Negative));
        assert_eq!(Money::from_decimal(f64::NAN), Err(MoneyError::NotFinite));
        assert_eq!(Money::from_decimal(1e13), Err(MoneyError::TooLarge));
        assert_eq!(
            serde_json::to_string(&Money::from_cents(4550)).expect("json"),
            "45.5"
        );
        assert_eq!(
            serde_json::from_str::<Money>("12.5").expect("json"),
            Money::from_cents(1250)
        );
        assert!(serde_json::from_str::<Money>("-3").is_err());
        assert_eq!(Money::from_cents(1025).times(3), Money::from_cents(3075));
        assert_eq!(Money::from_cents(4550).to_string(), "45.50");
    }
}
