//! Money as a whole number of cents, so sums are exact; written to JSON as a number with at
//! most two decimals (`45.5`, `10.25`).
//!
//! There is no `+`: each sum says what happens past `i64::MAX` cents. The decider adds with the
//! `checked_*` operations and refuses the command; read models and reports add with them too,
//! and fail at the event or report that would overflow. Only the decider's own state, whose
//! fold cannot fail and whose limits keep it far from the clamp, uses `saturating_add`.

use std::fmt;

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

    /// An amount of `cents` read back from storage, where a negative number means the row is
    /// not one this code wrote.
    ///
    /// # Errors
    /// [`MoneyError::Negative`] below zero.
    pub const fn try_from_cents(cents: i64) -> Result<Self, MoneyError> {
        if cents < 0 {
            Err(MoneyError::Negative)
        } else {
            Ok(Self(cents))
        }
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
        // A whole number of cents, give or take the rounding of the double itself (a few units
        // in its last place, so `0.1 + 0.2` is 30 cents): finer than that is finer than a cent,
        // however large the amount.
        let cents = amount * 100.0;
        let rounded = cents.round();
        if (cents - rounded).abs() > 1e-9 + rounded * 1e-15 {
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

    /// `self + rhs`, or `None` past `i64::MAX` cents.
    pub const fn checked_add(self, rhs: Money) -> Option<Money> {
        match self.0.checked_add(rhs.0) {
            Some(cents) => Some(Self(cents)),
            None => None,
        }
    }

    /// `self - rhs`, or `None` below zero: an amount is never negative.
    pub const fn checked_sub(self, rhs: Money) -> Option<Money> {
        match self.0.checked_sub(rhs.0) {
            Some(cents) if cents >= 0 => Some(Self(cents)),
            _ => None,
        }
    }

    /// `self * quantity`, or `None` past `i64::MAX` cents.
    pub const fn checked_times(self, quantity: u32) -> Option<Money> {
        match self.0.checked_mul(quantity as i64) {
            Some(cents) => Some(Self(cents)),
            None => None,
        }
    }

    /// `self + rhs`, clamped at `i64::MAX` cents: for the decider's state only, whose fold
    /// must take every event (commands add with [`Money::checked_add`]).
    pub const fn saturating_add(self, rhs: Money) -> Money {
        Self(self.0.saturating_add(rhs.0))
    }

    /// The sum of `amounts`, or `None` past `i64::MAX` cents: for totals over read models.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Money>) -> Option<Money> {
        amounts
            .into_iter()
            .try_fold(Money::ZERO, Money::checked_add)
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

/// Money stored as whole cents (`1025` for 10.25), as events keep it: `#[serde(with =
/// "crate::money::cents")]`. No stored amount then passes through a binary fraction; the
/// decimal is made only at the HTTP edge.
pub mod cents {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Money;

    /// Writes `money` as its cents.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(money: &Money, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(money.cents())
    }

    /// Reads a whole, non-negative number of cents.
    ///
    /// # Errors
    /// When it is not a whole number, or is negative.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
        let cents = i64::deserialize(deserializer)?;
        Money::try_from_cents(cents).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod properties;

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
        assert_eq!(
            Money::from_decimal(99_999_999_999.123),
            Err(MoneyError::TooPrecise),
            "a tenth of a cent on a large amount"
        );
        assert_eq!(
            Money::from_decimal(99_999_999_999.12),
            Ok(Money::from_cents(9_999_999_999_912))
        );
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
        assert_eq!(Money::from_cents(4550).to_string(), "45.50");
    }

    #[test]
    fn checked_ops_refuse_what_saturating_ops_clamp() {
        let top = Money::from_cents(i64::MAX);
        let cent = Money::from_cents(1);
        assert_eq!(
            Money::from_cents(1025).checked_times(3),
            Some(Money::from_cents(3075))
        );
        assert_eq!(top.checked_add(Money::ZERO), Some(top));
        assert_eq!(top.checked_add(cent), None);
        assert_eq!(top.saturating_add(cent), top);
        assert_eq!(
            Money::MAX.checked_times(10_000),
            Some(Money::from_cents(1_000_000_000_000_000_000))
        );
        assert_eq!(Money::MAX.checked_times(100_000), None);
        assert_eq!(cent.checked_sub(cent), Some(Money::ZERO));
        assert_eq!(Money::ZERO.checked_sub(cent), None);
        assert_eq!(Money::checked_sum([]), Some(Money::ZERO));
        assert_eq!(
            Money::checked_sum([Money::from_cents(10), Money::from_cents(20)]),
            Some(Money::from_cents(30))
        );
        assert_eq!(Money::checked_sum([top, cent, cent]), None);
        assert_eq!(Money::try_from_cents(-1), Err(MoneyError::Negative));
        assert_eq!(Money::try_from_cents(0), Ok(Money::ZERO));
    }

    #[test]
    fn sums_of_cents_read_as_the_decimals_people_wrote() {
        let cents = |a: f64| Money::from_decimal(a).expect("an amount");
        let sum = cents(0.1).checked_add(cents(0.2)).expect("in range");
        assert_eq!(serde_json::to_string(&sum).expect("json"), "0.3");
        assert_eq!(
            serde_json::to_string(&Money::ZERO).expect("json"),
            "0.0",
            "never -0.0"
        );
        assert_eq!(
            serde_json::to_string(&Money::checked_sum([])).expect("json"),
            "0.0"
        );
        assert_eq!(
            serde_json::to_string(&Money::from_cents(1999)).expect("json"),
            "19.99"
        );
    }
}
