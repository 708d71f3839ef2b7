//! The document's patterns against the checks the server runs: for every sample, the
//! pattern and the check agree.

use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::json;
use utoipa::openapi::{ComponentsBuilder, OpenApiBuilder};

use super::*;
use crate::validate::{Checker, Text};

#[test]
fn a_document_without_the_bodies_is_left_as_it_is() {
    // The admin listener's document: no order or issue bodies (this panicked, and the
    // admin listener reset every connection).
    let mut document = OpenApiBuilder::new()
        .components(Some(ComponentsBuilder::new().build()))
        .build();
    state_body_limits(&mut document);
    let schemas = document.components.map(|c| c.schemas.len());
    assert_eq!(schemas, Some(0));
}

fn matches(pattern: &str, text: &str) -> bool {
    regex::Regex::new(pattern)
        .expect("a pattern")
        .is_match(text)
}

fn text_accepted(rule: Text, text: &str) -> bool {
    let body = json!({ "t": text });
    let mut checker = Checker::new();
    let object = checker.object(&body, "", &["t"]).expect("an object");
    checker.text(&object, "t", rule).is_some()
}

const SAMPLES: &[&str] = &[
    "a",
    "two words",
    " padded ",
    " ",
    "\t",
    "line\nbreak",
    "cr\r\n",
    "tab\there",
    "nul\u{0}",
    "bell\u{7}",
    "del\u{7f}",
    "c1\u{85}",
    "c1\u{9f}",
    "\u{a0}",
    "\u{a0}x",
    "\u{2003}",
    "\u{feff}",
    "caf\u{e9}",
    "\u{1f600}",
    "_\u{e}\u{a4}",
];

#[test]
fn free_text_pattern_is_the_check() {
    for sample in SAMPLES {
        assert_eq!(
            matches(FREE_TEXT_PATTERN, sample),
            text_accepted(Text::Free { max: 100 }, sample),
            "{sample:?}"
        );
    }
}

#[test]
fn prose_pattern_is_the_check() {
    for sample in SAMPLES {
        assert_eq!(
            matches(PROSE_PATTERN, sample),
            text_accepted(
                Text::Prose {
                    max: 100,
                    allow_empty: true
                },
                sample
            ),
            "{sample:?}"
        );
    }
}

#[test]
fn email_pattern_and_length_are_the_check() {
    let long_local = format!("{}@example.com", "a".repeat(64));
    let longer_local = format!("{}@example.com", "a".repeat(65));
    let long_label = format!("a@{}.com", "b".repeat(63));
    let longer_label = format!("a@{}.com", "b".repeat(64));
    let too_long = format!("a@{}com", "bcd.".repeat(63));
    let samples = [
        "ada@example.com",
        "a.b+tag@mail.example.co.uk",
        "o'neil@x-y.io",
        "!#$%&'*+/=?^_`{|}~-@a.b",
        "1@2.3",
        "",
        "ada",
        "@example.com",
        "ada@",
        "ada@localhost",
        "ada@@example.com",
        "ada@exa mple.com",
        "a da@example.com",
        "ada@-example.com",
        "ada@example-.com",
        "ada@example..com",
        "ada@example.com.",
        "ada@.example.com",
        "ädä@example.com",
        "ada@exämple.com",
        "ada\n@example.com",
        "ada@example.com\n",
        "(ada)@example.com",
        &long_local,
        &longer_local,
        &long_label,
        &longer_label,
        &too_long,
    ];
    let pattern = email_pattern();
    for sample in samples {
        let documented = matches(&pattern, sample) && sample.chars().count() <= EMAIL_MAX;
        assert_eq!(documented, text_accepted(Text::Email, sample), "{sample:?}");
    }
}

#[test]
fn if_match_pattern_is_the_check() {
    let samples = [
        "\"0\"",
        "\"3\"",
        "W/\"3\"",
        "*",
        "3",
        "\"\"",
        "\"+1\"",
        "\"-1\"",
        "w/\"3\"",
        "\"3\", \"4\"",
        "\"9999999999999999999\"",
        "\"18446744073709551615\"",
        "\"00000000000000000001\"",
    ];
    for sample in samples {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MATCH, HeaderValue::from_static(sample));
        assert_eq!(
            matches(IF_MATCH_PATTERN, sample),
            crate::extract::if_match(&headers).is_ok(),
            "{sample:?}"
        );
    }
}

#[test]
fn cursor_pattern_is_the_check() {
    let samples = [
        "2024-05-01T10:00:00.000000Z~ord-1",
        "2024-05-01T10:00:00Z~iss-0a1b",
        "2024-05-01T10:00:00+05:30~a",
        "2024-05-01T10:00:00.123456789-01:00~a.b:c_d-e",
        "2024-13-01T10:00:00Z~a",
        "2024-05-01t10:00:00Z~a",
        "2024-05-01T10:00:00Z~",
        "2024-05-01T10:00:00Z~-a",
        "2024-05-01T10:00:00Z~a~b",
        "2024-05-01T24:00:00Z~a",
        "2024-05-01 10:00:00Z~a",
        "2024-05-01T10:00:00z~a",
        "2024-06-30T23:59:60Z~a",
        "2024-05-01T10:00:00.1234567890Z~a",
        "2024-05-01T10:00:00.Z~a",
        "2024-05-01T10:00:00+0530~a",
        "0",
        "~a",
    ];
    for sample in samples {
        let decoded = projector_orders::queries::OrdersCursor::from_token(sample).is_some()
            && crate::limits::cursor_has_documented_form(sample);
        assert_eq!(matches(CURSOR_PATTERN, sample), decoded, "{sample:?}");
    }
}

#[test]
fn slug_pattern_is_the_check() {
    let samples = [
        "a",
        "garden-tools",
        "4k",
        "a-b-c",
        "-a",
        "a-",
        "a--b",
        "Garden",
        "a b",
        "a_b",
        "caf\u{e9}",
        "a.b",
        "",
    ];
    for sample in samples {
        assert_eq!(
            matches(SLUG_PATTERN, sample),
            text_accepted(Text::Slug { max: 100 }, sample),
            "{sample:?}"
        );
    }
}
