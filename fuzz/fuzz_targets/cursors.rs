//! The page cursors clients send back ("my orders", the issue list, the product search): any
//! text either is refused or reads back as the same cursor, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use projector_issues::queries::IssuesCursor;
use projector_orders::queries::OrdersCursor;
use projector_products::search::{Cursor, CursorError, DEPTH_MAX, ProductSearch, ProductSort};

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(cursor) = OrdersCursor::from_token(token) {
        assert_eq!(
            cursor.to_token(),
            token,
            "an orders cursor reads back as another token"
        );
        assert_eq!(OrdersCursor::from_token(&cursor.to_token()), Some(cursor));
    }
    if let Some(cursor) = IssuesCursor::from_token(token) {
        assert_eq!(
            cursor.to_token(),
            token,
            "an issues cursor reads back as another token"
        );
        assert_eq!(IssuesCursor::from_token(&cursor.to_token()), Some(cursor));
    }
    product_cursor(token);
});

/// A product search cursor: the input's first line is the search's text (so a fuzzer can
/// reach a cursor of the search it names), the rest the cursor. An accepted cursor pages
/// within the depth limit and reads back as itself; a refused one that is well-formed is
/// refused as another search's, never as malformed.
fn product_cursor(input: &str) {
    let (text, token) = input.split_once('\n').unwrap_or(("", input));
    for sort in ProductSort::ALL {
        let search = ProductSearch {
            text: (!text.is_empty()).then(|| text.to_owned()),
            sort,
            ..ProductSearch::default()
        };
        match Cursor::decode(token, &search) {
            Ok(cursor) => {
                assert!((1..=DEPTH_MAX).contains(&cursor.offset()), "offset");
                assert_eq!(Cursor::decode(&cursor.encode(), &search), Ok(cursor));
                assert_eq!(Cursor::at(&search, cursor.offset()), cursor);
            }
            Err(CursorError::OtherSearch) => {
                let again = Cursor::at(&search, 1).encode();
                assert_ne!(token, again, "its own cursor refused as another search's");
            }
            Err(_) => {}
        }
    }
}
