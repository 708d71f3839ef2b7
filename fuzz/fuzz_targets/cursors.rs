//! The page cursors clients send back ("my orders", the issue list): any text either is
//! refused or reads back as the same token, and never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use projector_issues::queries::IssuesCursor;
use projector_orders::queries::OrdersCursor;

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
});
