//! What a customer's fields may hold, and how large a customer's stream may grow. The decider
//! refuses anything past these; an HTTP layer checks the same rules first (from these
//! constants and functions) to name each bad field.

/// Longest email address, in characters (the longest a mail system delivers to).
pub const EMAIL_MAX: usize = 254;
/// Longest part of an email address before the `@`, in characters.
pub const EMAIL_LOCAL_MAX: usize = 64;
/// Longest label of an email address's domain (`example` in `example.com`).
pub const EMAIL_LABEL_MAX: usize = 63;
/// Longest name, in characters.
pub const NAME_MAX: usize = 200;
/// Longest region (a state, province or similar), in characters.
pub const REGION_MAX: usize = 100;
/// Longest review text, in characters. A review may be a rating alone (empty text).
pub const REVIEW_TEXT_MAX: usize = 5_000;
/// The lowest rating.
pub const RATING_MIN: u8 = 1;
/// The highest rating.
pub const RATING_MAX: u8 = 5;
/// Most events in one customer's stream. Every command reads the stream whole (no snapshots),
/// so a cap keeps that read bounded: a customer's profile changes rarely, and reviews (one per
/// product) are what could grow it.
pub const EVENTS_MAX: u32 = 10_000;

/// The characters an email address's local part may hold besides ASCII letters and digits:
/// those of the WHATWG HTML form's "valid email address".
pub const EMAIL_LOCAL_SYMBOLS: &str = ".!#$%&'*+/=?^_`{|}~-";

/// What is wrong with `email`, if anything. An address is the WHATWG HTML form's "valid email
/// address" (a local part of letters, digits and [`EMAIL_LOCAL_SYMBOLS`], `@`, and domain
/// labels of letters, digits and inner hyphens) with a domain of at least two labels, within
/// [`EMAIL_MAX`], [`EMAIL_LOCAL_MAX`] and [`EMAIL_LABEL_MAX`].
///
/// # Errors
/// The reason, worded to follow a field name ("email must ...").
pub fn check_email(email: &str) -> Result<(), String> {
    let length = email.chars().count();
    if length > EMAIL_MAX {
        return Err(format!(
            "must be at most {EMAIL_MAX} characters, not {length}"
        ));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("must be an email address: local part, '@', domain".into());
    };
    let local_ok = |c: char| c.is_ascii_alphanumeric() || EMAIL_LOCAL_SYMBOLS.contains(c);
    if local.is_empty() || local.len() > EMAIL_LOCAL_MAX || !local.chars().all(local_ok) {
        return Err(format!(
            "must have 1 to {EMAIL_LOCAL_MAX} letters, digits or {EMAIL_LOCAL_SYMBOLS} before the '@'"
        ));
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= EMAIL_LABEL_MAX
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(format!(
            "must have a domain of two or more dot-separated labels after the '@', each 1 to \
             {EMAIL_LABEL_MAX} letters, digits or inner hyphens"
        ));
    }
    Ok(())
}

/// What is wrong with `text` as a one-line field of 1 to `max` characters (a name, a region):
/// empty or blank, too long, or holding control characters.
///
/// # Errors
/// The reason, worded to follow a field name.
pub fn check_line(text: &str, max: usize) -> Result<(), String> {
    let length = text.chars().count();
    if text.trim().is_empty() {
        Err("must not be empty".into())
    } else if length > max {
        Err(format!("must be at most {max} characters, not {length}"))
    } else if text.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok(())
    }
}

/// What is wrong with `text` as a review's text: longer than [`REVIEW_TEXT_MAX`], or holding
/// control characters other than line breaks and tabs. It may be empty.
///
/// # Errors
/// The reason, worded to follow a field name.
pub fn check_review_text(text: &str) -> Result<(), String> {
    let length = text.chars().count();
    if length > REVIEW_TEXT_MAX {
        Err(format!(
            "must be at most {REVIEW_TEXT_MAX} characters, not {length}"
        ))
    } else if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        Err("must not contain control characters other than line breaks and tabs".into())
    } else {
        Ok(())
    }
}

/// What is wrong with `rating`, if it is not from [`RATING_MIN`] to [`RATING_MAX`].
///
/// # Errors
/// The reason, worded to follow a field name.
pub fn check_rating(rating: u8) -> Result<(), String> {
    if (RATING_MIN..=RATING_MAX).contains(&rating) {
        Ok(())
    } else {
        Err(format!(
            "must be between {RATING_MIN} and {RATING_MAX}, not {rating}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for good in [
            "ada@example.com",
            "a.b+tag@mail.example.co.uk",
            "o'neil@x-y.io",
            "1@2.3",
            &format!("{}@example.com", "a".repeat(EMAIL_LOCAL_MAX)),
            &format!("a@{}.com", "b".repeat(EMAIL_LABEL_MAX)),
        ] {
            assert_eq!(check_email(good), Ok(()), "{good}");
        }
        for bad in [
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
            "ädä@example.com",
            "ada@exämple.com",
            "ada\n@example.com",
            &format!("{}@example.com", "a".repeat(EMAIL_LOCAL_MAX + 1)),
            &format!("a@{}.com", "b".repeat(EMAIL_LABEL_MAX + 1)),
            &format!("a@{}.com", "b.".repeat(130)),
        ] {
            assert!(check_email(bad).is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn lines_reviews_and_ratings() {
        assert_eq!(check_line("Ada Lovelace", NAME_MAX), Ok(()));
        assert_eq!(check_line(&"é".repeat(NAME_MAX), NAME_MAX), Ok(()));
        for bad in ["", "  ", "a\u{7}", &"a".repeat(NAME_MAX + 1)] {
            assert!(check_line(bad, NAME_MAX).is_err(), "{bad:?} was taken");
        }
        assert_eq!(check_review_text(""), Ok(()));
        assert_eq!(check_review_text("Good.\n\tWould buy again."), Ok(()));
        assert!(check_review_text("bell\u{7}").is_err());
        assert!(check_review_text(&"a".repeat(REVIEW_TEXT_MAX + 1)).is_err());
        assert_eq!(check_rating(RATING_MIN), Ok(()));
        assert_eq!(check_rating(RATING_MAX), Ok(()));
        assert!(check_rating(0).is_err());
        assert!(check_rating(6).is_err());
    }
}
