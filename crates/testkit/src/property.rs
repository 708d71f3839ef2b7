//! One policy for how hard a property test tries: every property test takes its configuration
//! from [`config`].
//!
//! A suite names the cases it runs on a developer's machine, sized to what one case costs. In
//! CI (`CI=true`, see [`in_ci`](crate::services::in_ci)) that count is multiplied by
//! [`CI_MULTIPLIER`]; `PROPTEST_CASES`, when set, overrides both, for a quick run or a long soak.
//!
//! Failures are not persisted: a failing case prints its shrunk input, and nothing is written
//! beside the sources (no `proptest-regressions` files appear in the checkout).

use proptest::test_runner::Config as ProptestConfig;

/// How many times more cases a property runs in CI than on a developer's machine.
pub const CI_MULTIPLIER: u32 = 4;

/// The number of cases for a property that runs `default_cases` on a developer's machine:
/// `PROPTEST_CASES` if set (and not empty), else `default_cases` times [`CI_MULTIPLIER`] in CI, else
/// `default_cases`.
///
/// # Panics
/// If `PROPTEST_CASES` is set but is not a positive whole number: a typo must not silently
/// fall back to another count.
pub fn cases(default_cases: u32) -> u32 {
    let variable = std::env::var("PROPTEST_CASES").ok();
    cases_from(
        variable.as_deref().filter(|v| !v.trim().is_empty()),
        crate::services::in_ci(),
        default_cases,
    )
}

fn cases_from(variable: Option<&str>, in_ci: bool, default_cases: u32) -> u32 {
    match variable {
        Some(value) => match value.trim().parse::<u32>() {
            Ok(cases) if cases > 0 => cases,
            _ => panic!("PROPTEST_CASES must be a positive whole number, not {value:?}"),
        },
        None if in_ci => default_cases.saturating_mul(CI_MULTIPLIER),
        None => default_cases,
    }
}

/// The configuration of a property test that runs `default_cases` cases on a developer's
/// machine (see [`cases`]), persisting no failures; everything else is proptest's default.
///
/// # Panics
/// As [`cases`].
pub fn config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default_cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::cases_from;

    #[test]
    fn the_variable_wins_then_ci_multiplies_then_the_default() {
        assert_eq!(cases_from(Some("7"), true, 32), 7);
        assert_eq!(cases_from(Some(" 7 "), false, 32), 7);
        assert_eq!(cases_from(None, true, 32), 128);
        assert_eq!(cases_from(None, false, 32), 32);
    }

    #[test]
    #[should_panic(expected = "PROPTEST_CASES must be a positive whole number")]
    fn a_mistyped_variable_is_refused() {
        cases_from(Some("lots"), false, 32);
    }

    #[test]
    #[should_panic(expected = "PROPTEST_CASES must be a positive whole number")]
    fn zero_cases_are_refused() {
        cases_from(Some("0"), false, 32);
    }

    #[test]
    fn no_failure_is_persisted() {
        assert!(super::config(1).failure_persistence.is_none());
    }
}
