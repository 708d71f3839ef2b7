//! How long each field of a product may be, and the form of its category and tags. The decider
//! refuses a command past any of these, so every product it records keeps them; an API states
//! the same constants in its schema and checks them before the decider does.

/// Longest product id, in characters.
pub const ID_MAX: usize = 64;
/// Longest name, in characters.
pub const NAME_MAX: usize = 200;
/// Longest description, in characters.
pub const DESCRIPTION_MAX: usize = 5_000;
/// Longest category, in characters.
pub const CATEGORY_MAX: usize = 100;
/// Most tags on one product.
pub const TAGS_MAX: usize = 20;
/// Longest tag, in characters.
pub const TAG_MAX: usize = 50;
/// The highest price, in cents: a million in whole units.
pub const PRICE_MAX_CENTS: i64 = 100_000_000;
/// Most events in one product's stream, besides the delete that may end it. Every command reads
/// the stream whole (no snapshots: a cap keeps each command's read bounded at no cost to real
/// products, which change tens of times); without it, changing a price back and forth would
/// grow a product without end.
pub const EVENTS_MAX: u32 = 10_000;
/// The form of a category and of a tag: lowercase letters and digits, in words joined by
/// single hyphens (`garden-tools`), so they can be matched exactly in filters and URLs.
pub const SLUG_PATTERN: &str = "^[a-z0-9]+(-[a-z0-9]+)*$";

/// Whether `text` is a slug ([`SLUG_PATTERN`]) of at most `max` characters, checked without a
/// regex engine.
pub fn is_slug(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--")
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What is wrong with a name, if anything: it must have 1 to [`NAME_MAX`] characters, not all
/// white space, and no control characters.
pub fn name_problem(name: &str) -> Option<String> {
    let length = name.chars().count();
    if name.trim().is_empty() {
        Some("must not be empty".into())
    } else if length > NAME_MAX {
        Some(format!(
            "must be at most {NAME_MAX} characters, not {length}"
        ))
    } else if name.chars().any(char::is_control) {
        Some("must not contain control characters".into())
    } else {
        None
    }
}

/// What is wrong with a description, if anything: up to [`DESCRIPTION_MAX`] characters, line
/// breaks and tabs allowed, no other control characters.
pub fn description_problem(description: &str) -> Option<String> {
    let length = description.chars().count();
    if length > DESCRIPTION_MAX {
        Some(format!(
            "must be at most {DESCRIPTION_MAX} characters, not {length}"
        ))
    } else if description
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        Some("must not contain control characters other than line breaks and tabs".into())
    } else {
        None
    }
}

/// Ids no product may take: the static segments of the catalogue's routes beside the product's
/// own (`/api/products/search`), which would hide the product.
pub const RESERVED_IDS: [&str; 1] = ["search"];

/// What is wrong with a category, if anything: a slug of at most [`CATEGORY_MAX`] characters.
pub fn category_problem(category: &str) -> Option<String> {
    (!is_slug(category, CATEGORY_MAX)).then(|| slug_message(CATEGORY_MAX))
}

/// What is wrong with a list of tags, if anything, and the field that is wrong (`tags` or
/// `tags[i]`): at most [`TAGS_MAX`] distinct slugs of at most [`TAG_MAX`] characters.
pub fn tags_problem(tags: &[String]) -> Option<(String, String)> {
    if tags.len() > TAGS_MAX {
        return Some((
            "tags".into(),
            format!("must hold 0 to {TAGS_MAX} items, not {}", tags.len()),
        ));
    }
    for (i, tag) in tags.iter().enumerate() {
        if !is_slug(tag, TAG_MAX) {
            return Some((format!("tags[{i}]"), slug_message(TAG_MAX)));
        }
        if tags[..i].contains(tag) {
            return Some((
                format!("tags[{i}]"),
                format!("{tag} is listed more than once"),
            ));
        }
    }
    None
}

/// What a text that is not a slug of at most `max` characters is told.
pub fn slug_message(max: usize) -> String {
    format!(
        "must be 1 to {max} characters: lowercase letters and digits, in words joined by single '-'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for good in ["a", "garden-tools", "4k", "a-b-c", "x1-2y"] {
            assert!(is_slug(good, 20), "{good}");
        }
        for bad in ["", "-a", "a-", "a--b", "Garden", "a b", "a_b", "é", "a.b"] {
            assert!(!is_slug(bad, 20), "{bad}");
        }
        assert!(is_slug(&"a".repeat(20), 20));
        assert!(!is_slug(&"a".repeat(21), 20));
    }

    #[test]
    fn fields_past_their_limits_are_named() {
        assert_eq!(name_problem("Lamp"), None);
        assert!(name_problem(" ").is_some());
        assert!(name_problem(&"n".repeat(NAME_MAX + 1)).is_some());
        assert!(name_problem("a\u{7}").is_some());
        assert_eq!(description_problem(""), None);
        assert_eq!(description_problem("two\nlines\twith a tab"), None);
        assert!(description_problem("nul\u{0}").is_some());
        assert!(description_problem(&"d".repeat(DESCRIPTION_MAX + 1)).is_some());
        assert_eq!(category_problem("lighting"), None);
        assert!(category_problem("Lighting").is_some());
        let tags = |list: &[&str]| list.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>();
        assert_eq!(tags_problem(&tags(&["led", "desk"])), None);
        assert_eq!(
            tags_problem(&tags(&["led", "Desk"])).map(|(field, _)| field),
            Some("tags[1]".into())
        );
        assert_eq!(
            tags_problem(&tags(&["led", "desk", "led"])).map(|(field, _)| field),
            Some("tags[2]".into())
        );
        let many: Vec<String> = (0..=TAGS_MAX).map(|i| format!("t{i}")).collect();
        assert_eq!(
            tags_problem(&many).map(|(field, _)| field),
            Some("tags".into())
        );
    }
}
