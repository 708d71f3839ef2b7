//! Money against exact arithmetic: amounts written as decimals read as their exact cents, and
//! sums and products equal the exact (`i128`) results, or are refused past the range.

use proptest::prelude::*;

use super::Money;

/// Amounts in cents, weighted towards the edges: small ones, and ones near the maximum.
fn cents() -> impl Strategy<Value = i64> {
    prop_oneof![
        0i64..1_000,
        0i64..=Money::MAX.cents(),
        (Money::MAX.cents() - 1_000)..=Money::MAX.cents(),
    ]
}

/// `cents` written as a person writes it, with two decimals.
fn written(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

proptest! {
    // Each case takes microseconds: 512 here, more in CI (see `projector_testkit::property`).
    #![proptest_config(projector_testkit::property::config(512))]

    #[test]
    fn a_written_decimal_reads_as_its_exact_cents(cents in cents()) {
        let read: Money = serde_json::from_str(&written(cents)).expect("a valid amount");
        prop_assert_eq!(read.cents(), cents);
        prop_assert_eq!(read.to_string(), written(cents));
        let json = serde_json::to_string(&read).expect("json");
        let again: Money = serde_json::from_str(&json).expect("read back");
        prop_assert_eq!(again, read);
    }

    #[test]
    fn sums_equal_exact_arithmetic(
        amounts in prop::collection::vec(
            prop_oneof![8 => cents(), 1 => (i64::MAX / 8)..=i64::MAX],
            0..40,
        ),
    ) {
        let exact: i128 = amounts.iter().map(|c| i128::from(*c)).sum();
        // Amounts within the range as a client writes them; larger ones (totals of totals)
        // as cents.
        let summed = Money::checked_sum(amounts.iter().map(|c| {
            if *c <= Money::MAX.cents() {
                serde_json::from_str::<Money>(&written(*c)).expect("valid")
            } else {
                Money::from_cents(*c)
            }
        }));
        match i64::try_from(exact) {
            Ok(exact) => {
                prop_assert_eq!(summed.map(Money::cents), Some(exact));
                // A sum within the range reads back from its decimal exactly.
                if exact <= Money::MAX.cents() {
                    let json = serde_json::to_string(&Money::from_cents(exact)).expect("json");
                    let back: Money = serde_json::from_str(&json).expect("read back");
                    prop_assert_eq!(back.cents(), exact);
                }
            }
            Err(_) => prop_assert_eq!(summed, None),
        }
    }

    #[test]
    fn products_and_differences_equal_exact_arithmetic(
        a in cents(),
        b in cents(),
        quantity in prop_oneof![0u32..10_001, any::<u32>()],
    ) {
        let product = i128::from(a) * i128::from(quantity);
        prop_assert_eq!(
            Money::from_cents(a).checked_times(quantity).map(|m| i128::from(m.cents())),
            i64::try_from(product).ok().map(i128::from)
        );
        let difference = a - b;
        prop_assert_eq!(
            Money::from_cents(a).checked_sub(Money::from_cents(b)).map(Money::cents),
            (difference >= 0).then_some(difference)
        );
    }
}
