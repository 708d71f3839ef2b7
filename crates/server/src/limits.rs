//! The validation limits of the API, in one place. The OpenAPI document states the same limits
//! (a test compares them), so what is documented is what is enforced.

/// The largest request body, in bytes (64 KiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Longest id (order, customer, SKU), in characters.
pub const ID_MAX: usize = 64;
/// The pattern ids follow: a letter or digit, then letters, digits and `_ . : -`.
pub const ID_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$";
/// Most items in one order request: as many as an order may hold.
pub const ITEMS_MAX: usize = projector_orders::limits::LINES_MAX;
/// Largest quantity of one item in a request: as many as a line may hold. Adding more to a
/// line later is bounded by the order's decider, which also bounds the order's total.
pub const QUANTITY_MAX: i64 = projector_orders::limits::LINE_QUANTITY_MAX as i64;
/// Longest customer email address: as many characters as the customer decider takes.
pub const EMAIL_MAX: usize = projector_customers::limits::EMAIL_MAX;
/// Longest customer name.
pub const NAME_MAX: usize = projector_customers::limits::NAME_MAX;
/// Longest customer region.
pub const REGION_MAX: usize = projector_customers::limits::REGION_MAX;
/// Longest review text (a review may have none).
pub const REVIEW_TEXT_MAX: usize = projector_customers::limits::REVIEW_TEXT_MAX;
/// The lowest rating of a review.
pub const RATING_MIN: i64 = projector_customers::limits::RATING_MIN as i64;
/// The highest rating of a review.
pub const RATING_MAX: i64 = projector_customers::limits::RATING_MAX as i64;
/// Largest amount of money (in whole units).
pub const AMOUNT_MAX: f64 = 1_000_000_000_000.0;
/// Longest tracking number.
pub const TRACKING_MAX: usize = 64;
/// Longest cancellation reason.
pub const REASON_MAX: usize = 500;
/// Longest product name.
pub const PRODUCT_NAME_MAX: usize = projector_products::limits::NAME_MAX;
/// Longest product description.
pub const PRODUCT_DESCRIPTION_MAX: usize = projector_products::limits::DESCRIPTION_MAX;
/// Longest product category (a slug).
pub const CATEGORY_MAX: usize = projector_products::limits::CATEGORY_MAX;
/// Most tags on a product.
pub const TAGS_MAX: usize = projector_products::limits::TAGS_MAX;
/// Longest tag (a slug).
pub const TAG_MAX: usize = projector_products::limits::TAG_MAX;
/// Highest product price (in whole units).
pub const PRICE_MAX: f64 = projector_products::limits::PRICE_MAX_CENTS as f64 / 100.0;
/// Longest issue title.
pub const TITLE_MAX: usize = 200;
/// Longest issue description or comment.
pub const PROSE_MAX: usize = 10_000;
/// Largest page of a list.
pub const PAGE_MAX: u32 = 100;
/// Default page size of a list.
pub const PAGE_DEFAULT: u32 = 20;
/// Longest search text (`q`), in characters.
pub const SEARCH_TEXT_MAX: usize = 200;
/// The longest a read may wait for its `min_position`, in milliseconds.
pub const WAIT_MS_MAX: u64 = 30_000;
/// The most entries of an audit log (an order's events, an issue's changes) per page.
pub const HISTORY_PAGE_MAX: u32 = 1000;
/// Entries of an audit log per page when the request does not say.
pub const HISTORY_PAGE_DEFAULT: u32 = 100;
/// Longest `Idempotency-Key`.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;
/// What `If-Match` must look like: a stream version in quotes (also weak), or `*`. At most 19
/// digits, so every value the pattern allows fits in 64 bits (20 digits would not).
pub const IF_MATCH_PATTERN: &str = r#"^((W/)?"[0-9]{1,19}"|\*)$"#;
/// What a page cursor looks like: the time its page ended at (RFC 3339, as the read models
/// store it) and the id of the last item, joined by `~`. The server also refuses a cursor of
/// this form whose time is not a real one (`02-30`): it cannot have issued it.
pub const CURSOR_PATTERN: &str = "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])~[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$";
/// Longest page cursor: the longest time, `~`, the longest id.
pub const CURSOR_MAX: usize = 35 + 1 + ID_MAX;

/// Whether a cursor has the form [`CURSOR_PATTERN`] states, where the cursor's own decoder
/// (RFC 3339, which also takes `t`, `z`, a space, leap seconds and long fractions) is more
/// lenient: an uppercase `T`, seconds below 60, 1 to 9 decimals, `Z` or `±hh:mm`, and an id
/// after the `~`. Whether the time is a real one is left to the decoder.
pub(crate) fn cursor_has_documented_form(token: &str) -> bool {
    let Some((time, id)) = token.split_once('~') else {
        return false;
    };
    let bytes = time.as_bytes();
    if token.len() > CURSOR_MAX || !is_id(id) || bytes.len() < 20 || bytes[10] != b'T' {
        return false;
    }
    if bytes[17] > b'5' {
        return false;
    }
    let mut rest = &time[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=9).contains(&digits) {
            return false;
        }
        rest = &fraction[digits..];
    }
    rest == "Z" || (rest.len() == 6 && matches!(rest.as_bytes()[0], b'+' | b'-'))
}

/// Longest date range of a report, in days.
pub const REPORT_DAYS_MAX: i64 = 366;

/// What a bad id is told.
pub(crate) fn id_message() -> String {
    format!(
        "must be 1 to {ID_MAX} characters: a letter or digit, then letters, digits, '_', '.', ':' or '-'"
    )
}

/// Whether `s` is a valid id: the ID_PATTERN, checked without a regex engine.
pub fn is_id(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= ID_MAX
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_pattern_states_the_longest_id() {
        assert!(ID_PATTERN.ends_with(&format!("{{0,{}}}$", ID_MAX - 1)));
    }

    #[test]
    fn product_ids_are_the_ids_of_the_api() {
        assert_eq!(projector_products::limits::ID_MAX, ID_MAX);
        for sample in [
            "order-1001",
            "a",
            "A.b:c_d-e",
            "",
            "-a",
            "a b",
            "a/b",
            "ä",
            "a@b",
            &"a".repeat(64),
            &"a".repeat(65),
        ] {
            assert_eq!(
                projector_products::ProductId::parse(sample).is_ok(),
                is_id(sample),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn ids() {
        assert!(is_id("order-1001"));
        assert!(is_id("a"));
        assert!(is_id(&"a".repeat(64)));
        assert!(!is_id(&"a".repeat(65)));
        assert!(!is_id(""));
        assert!(!is_id("-a"));
        assert!(!is_id("a b"));
        assert!(!is_id("a/b"));
        assert!(!is_id("ä"));
    }
}
