//! Validating a JSON body field by field, collecting every error rather than stopping at the
//! first, so a client learns all that is wrong with a request at once.

use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};
use crate::limits::{AMOUNT_MAX, id_message, is_id};

/// Collects the errors of one request.
#[derive(Debug, Default)]
pub(crate) struct Checker {
    errors: Vec<FieldError>,
}

/// A JSON object being read, with the path that names its fields in errors.
pub(crate) struct Object<'v> {
    map: &'v Map<String, Value>,
    path: String,
}

/// How a text field is checked.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Text {
    /// An id: [`crate::limits::ID_PATTERN`].
    Id,
    /// Free text of 1 to `max` characters, without control characters.
    Free { max: usize },
    /// Prose of up to `max` characters: line breaks and tabs allowed, other control characters
    /// not; empty only if `allow_empty`.
    Prose { max: usize, allow_empty: bool },
    /// A user id: 1 to 128 visible ASCII characters.
    User,
    /// A slug of 1 to `max` characters: `projector_products::limits::SLUG_PATTERN`.
    Slug { max: usize },
    /// An email address, as the customer decider takes it
    /// (`projector_customers::limits::check_email`).
    Email,
}

impl Checker {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records an error.
    pub(crate) fn error(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// `value` as an object whose fields are among `allowed`; unknown fields are errors.
    pub(crate) fn object<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        allowed: &[&str],
    ) -> Option<Object<'v>> {
        let Some(map) = value.as_object() else {
            self.error(
                or_body(path),
                format!("must be a JSON object, not {}", kind(value)),
            );
            return None;
        };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                self.error(
                    unknown_member(path, key),
                    format!("is not a known field; expected {}", allowed.join(", ")),
                );
            }
        }
        Some(Object {
            map,
            path: path.to_owned(),
        })
    }

    /// The body as an object with no fields at all (or an empty body).
    pub(crate) fn empty_object(&mut self, value: Option<&Value>) {
        if let Some(value) = value {
            self.object(value, "", &[]);
        }
    }

    /// A required text field.
    pub(crate) fn text(&mut self, object: &Object<'_>, name: &str, rule: Text) -> Option<String> {
        let field = join(&object.path, name);
        match object.map.get(name) {
            None | Some(Value::Null) => {
                self.error(field, "is required");
                None
            }
            Some(value) => self.check_text(&field, value, rule),
        }
    }

    /// An optional text field: `Some(None)` when absent.
    pub(crate) fn optional_text(
        &mut self,
        object: &Object<'_>,
        name: &str,
        rule: Text,
    ) -> Option<Option<String>> {
        let field = join(&object.path, name);
        match object.map.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.check_text(&field, value, rule).map(Some),
        }
    }

    fn check_text(&mut self, field: &str, value: &Value, rule: Text) -> Option<String> {
        let Some(text) = value.as_str() else {
            self.error(field, format!("must be a string, not {}", kind(value)));
            return None;
        };
        let message = match rule {
            Text::Id if is_id(text) => return Some(text.to_owned()),
            Text::Id => id_message(),
            Text::User if projector_core::UserId::parse(text).is_ok() => {
                return Some(text.to_owned());
            }
            Text::User => "must be 1 to 128 visible ASCII characters (no spaces)".to_owned(),
            Text::Slug { max } if projector_products::limits::is_slug(text, max) => {
                return Some(text.to_owned());
            }
            Text::Slug { max } => projector_products::limits::slug_message(max),
            Text::Email => match projector_customers::limits::check_email(text) {
                Ok(()) => return Some(text.to_owned()),
                Err(message) => message,
            },
            Text::Prose { max, allow_empty } => {
                let length = text.chars().count();
                if length == 0 && !allow_empty {
                    "must not be empty".to_owned()
                } else if length > max {
                    format!("must be at most {max} characters, not {length}")
                } else if text
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
                {
                    "must not contain control characters other than line breaks and tabs".to_owned()
                } else {
                    return Some(text.to_owned());
                }
            }
            Text::Free { max } => match free_text_problem(text, max) {
                Some(problem) => problem,
                None => return Some(text.to_owned()),
            },
        };
        self.error(field, message);
        None
    }

    /// An optional field that may be set to null: absent is `None`, null is `Some(None)`.
    pub(crate) fn nullable_text(
        &mut self,
        object: &Object<'_>,
        name: &str,
        rule: Text,
    ) -> Option<Option<Option<String>>> {
        let field = join(&object.path, name);
        match object.map.get(name) {
            None => Some(None),
            Some(Value::Null) => Some(Some(None)),
            Some(value) => self
                .check_text(&field, value, rule)
                .map(|text| Some(Some(text))),
        }
    }

    /// An optional field that must be one of `choices`.
    pub(crate) fn optional_choice(
        &mut self,
        object: &Object<'_>,
        name: &str,
        choices: &[&str],
    ) -> Option<Option<String>> {
        let field = join(&object.path, name);
        match object.map.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) if choices.contains(&s.as_str()) => Some(Some(s.clone())),
            Some(value) => {
                self.error(
                    field,
                    format!(
                        "must be one of {}, not {}",
                        choices.join(", "),
                        describe(value)
                    ),
                );
                None
            }
        }
    }

    /// A required field that must be one of `choices`.
    pub(crate) fn choice(
        &mut self,
        object: &Object<'_>,
        name: &str,
        choices: &[&str],
    ) -> Option<String> {
        let field = join(&object.path, name);
        let value = self.required(object, name, &field)?;
        match value {
            Value::String(s) if choices.contains(&s.as_str()) => Some(s.clone()),
            value => {
                self.error(
                    field,
                    format!(
                        "must be one of {}, not {}",
                        choices.join(", "),
                        describe(value)
                    ),
                );
                None
            }
        }
    }

    /// A required whole number in `min..=max`.
    pub(crate) fn integer(
        &mut self,
        object: &Object<'_>,
        name: &str,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let field = join(&object.path, name);
        let value = self.required(object, name, &field)?;
        match whole_number(value) {
            Some(n) if (min..=max).contains(&n) => Some(n),
            Some(n) => {
                self.error(field, format!("must be between {min} and {max}, not {n}"));
                None
            }
            None => {
                let message = if value.is_number() {
                    format!("must be a whole number between {min} and {max}")
                } else {
                    format!("must be an integer, not {}", kind(value))
                };
                self.error(field, message);
                None
            }
        }
    }

    /// A required amount of money with at most two decimals, above zero if `positive`, at most
    /// [`AMOUNT_MAX`].
    pub(crate) fn amount(
        &mut self,
        object: &Object<'_>,
        name: &str,
        positive: bool,
    ) -> Option<projector_orders::Money> {
        self.amount_up_to(object, name, positive, AMOUNT_MAX)
    }

    /// A required amount of money with at most two decimals, above zero if `positive`, at most
    /// `max`.
    pub(crate) fn amount_up_to(
        &mut self,
        object: &Object<'_>,
        name: &str,
        positive: bool,
        max: f64,
    ) -> Option<projector_orders::Money> {
        let field = join(&object.path, name);
        let value = self.required(object, name, &field)?;
        let Some(number) = value.as_f64() else {
            self.error(field, format!("must be a number, not {}", kind(value)));
            return None;
        };
        if number > max {
            self.error(field, format!("must be at most {max}"));
            return None;
        }
        match projector_orders::Money::from_decimal(number) {
            Ok(money) if positive && money == projector_orders::Money::ZERO => {
                self.error(field, "must be greater than 0");
                None
            }
            Ok(money) => Some(money),
            Err(reason) => {
                self.error(field, reason.to_string());
                None
            }
        }
    }

    /// A required array of `min..=max` items.
    pub(crate) fn array<'v>(
        &mut self,
        object: &Object<'v>,
        name: &str,
        min: usize,
        max: usize,
    ) -> Option<&'v Vec<Value>> {
        let field = join(&object.path, name);
        let value = self.required(object, name, &field)?;
        let Some(items) = value.as_array() else {
            self.error(field, format!("must be an array, not {}", kind(value)));
            return None;
        };
        if items.len() < min || items.len() > max {
            self.error(
                field,
                format!("must hold {min} to {max} items, not {}", items.len()),
            );
            return None;
        }
        Some(items)
    }

    /// An optional array of at most `max` distinct texts, each checked by `rule` and named
    /// `name[i]`: `Some(None)` when absent.
    pub(crate) fn optional_distinct_texts(
        &mut self,
        object: &Object<'_>,
        name: &str,
        max: usize,
        rule: Text,
    ) -> Option<Option<Vec<String>>> {
        let field = join(&object.path, name);
        let value = match object.map.get(name) {
            None | Some(Value::Null) => return Some(None),
            Some(value) => value,
        };
        let Some(items) = value.as_array() else {
            self.error(field, format!("must be an array, not {}", kind(value)));
            return None;
        };
        if items.len() > max {
            self.error(
                field,
                format!("must hold 0 to {max} items, not {}", items.len()),
            );
            return None;
        }
        let mut texts = Vec::with_capacity(items.len());
        let mut valid = true;
        for (i, item) in items.iter().enumerate() {
            let path = format!("{field}[{i}]");
            match self.check_text(&path, item, rule) {
                Some(text) if texts.contains(&text) => {
                    self.error(path, format!("{text} is listed more than once"));
                    valid = false;
                }
                Some(text) => texts.push(text),
                None => valid = false,
            }
        }
        valid.then_some(Some(texts))
    }

    fn required<'v>(&mut self, object: &Object<'v>, name: &str, field: &str) -> Option<&'v Value> {
        match object.map.get(name) {
            None | Some(Value::Null) => {
                self.error(field, "is required");
                None
            }
            Some(value) => Some(value),
        }
    }

    /// The value if no error was recorded, or every error.
    pub(crate) fn finish<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ if self.errors.is_empty() => Err(ApiError::Validation(vec![FieldError::new(
                "body",
                "is invalid",
            )])),
            _ => Err(ApiError::Validation(self.errors)),
        }
    }
}

/// `value` as a whole number: JSON Schema's `integer`, which `50.0` is too (a number whose
/// fraction is zero), within `i64`.
fn whole_number(value: &Value) -> Option<i64> {
    if let Some(n) = value.as_i64() {
        return Some(n);
    }
    let n = value.as_f64()?;
    // Exactly representable and inside i64: the cast is then exact.
    (n.fract() == 0.0 && n.abs() < 9.0e15).then_some(n as i64)
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The name of a member nobody asked for: `path.key` when the key is a plain name, else the
/// key quoted (`body[""]`, `items[0]["a b"]`), so every error names a field, even an empty
/// key.
fn unknown_member(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if plain {
        join(path, key)
    } else {
        format!("{}[{key:?}]", or_body(path))
    }
}

fn or_body(path: &str) -> &str {
    if path.is_empty() { "body" } else { path }
}

/// A value for messages: strings quoted, other types named.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => kind(other).to_owned(),
    }
}

/// What is wrong with `text` as free text of 1 to `max` characters (not blank, no control
/// characters), if anything: the rule of bodies' free text, also used for query parameters.
pub(crate) fn free_text_problem(text: &str, max: usize) -> Option<String> {
    let length = text.chars().count();
    if length == 0 || text.trim().is_empty() {
        Some("must not be empty".to_owned())
    } else if length > max {
        Some(format!("must be at most {max} characters, not {length}"))
    } else if text.chars().any(char::is_control) {
        Some("must not contain control characters".to_owned())
    } else {
        None
    }
}

/// The JSON type of a value, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_error() {
        let body = json!({"customer_id": "bad id", "items": [], "extra": 1, "n": 1.5});
        let mut checker = Checker::new();
        let object = checker
            .object(&body, "", &["customer_id", "items", "n"])
            .expect("object");
        assert!(checker.text(&object, "customer_id", Text::Id).is_none());
        assert!(checker.array(&object, "items", 1, 100).is_none());
        assert!(checker.integer(&object, "n", 1, 10).is_none());
        assert!(
            checker
                .text(&object, "missing", Text::Free { max: 5 })
                .is_none()
        );
        let Err(ApiError::Validation(errors)) = checker.finish(Some(())) else {
            panic!("expected validation errors");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["extra", "customer_id", "items", "n", "missing"]);
    }

    #[test]
    fn an_unknown_member_is_named_even_when_its_key_is_empty() {
        // Found by the write_bodies fuzz target: the error named the field "".
        let body = json!({"": 1, "a b": 2, "x": 3, "items": [{"": 4}]});
        let mut checker = Checker::new();
        let object = checker.object(&body, "", &["items"]).expect("object");
        let items = checker.array(&object, "items", 1, 10).expect("items");
        checker.object(&items[0], "items[0]", &[]);
        let fields: Vec<&str> = checker.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["body[\"\"]", "body[\"a b\"]", "x", "items[0][\"\"]"]
        );
    }

    #[test]
    fn integers_may_be_written_with_a_zero_fraction() {
        let body = json!({"a": 50.0, "b": 50.5, "c": 1e300, "d": -0.0, "e": 7});
        let mut checker = Checker::new();
        let object = checker
            .object(&body, "", &["a", "b", "c", "d", "e"])
            .expect("object");
        assert_eq!(checker.integer(&object, "a", 1, 100), Some(50));
        assert_eq!(checker.integer(&object, "b", 1, 100), None);
        assert_eq!(checker.integer(&object, "c", 1, 100), None);
        assert_eq!(checker.integer(&object, "d", 0, 100), Some(0));
        assert_eq!(checker.integer(&object, "e", 1, 100), Some(7));
        let fields: Vec<&str> = checker.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["b", "c"]);
    }

    #[test]
    fn distinct_texts_name_each_bad_item() {
        let body = json!({
            "good": ["led", "desk"],
            "none": null,
            "bad": ["led", "Desk", "led", 3],
            "many": ["a", "b", "c"],
            "not": "led",
        });
        let mut checker = Checker::new();
        let object = checker
            .object(&body, "", &["good", "none", "bad", "many", "not"])
            .expect("object");
        let slug = Text::Slug { max: 10 };
        assert_eq!(
            checker.optional_distinct_texts(&object, "good", 2, slug),
            Some(Some(vec!["led".to_owned(), "desk".to_owned()]))
        );
        assert_eq!(
            checker.optional_distinct_texts(&object, "none", 2, slug),
            Some(None)
        );
        assert_eq!(
            checker.optional_distinct_texts(&object, "absent", 2, slug),
            Some(None)
        );
        assert_eq!(
            checker.optional_distinct_texts(&object, "bad", 5, slug),
            None
        );
        assert_eq!(
            checker.optional_distinct_texts(&object, "many", 2, slug),
            None
        );
        assert_eq!(
            checker.optional_distinct_texts(&object, "not", 2, slug),
            None
        );
        let fields: Vec<&str> = checker.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["bad[1]", "bad[2]", "bad[3]", "many", "not"]);
    }

    #[test]
    fn amounts_up_to_a_limit() {
        let body = json!({"a": 10.25, "b": 10.26});
        let mut checker = Checker::new();
        let object = checker.object(&body, "", &["a", "b"]).expect("object");
        assert_eq!(
            checker.amount_up_to(&object, "a", true, 10.25),
            Some(projector_orders::Money::from_cents(1025))
        );
        assert!(checker.amount_up_to(&object, "b", true, 10.25).is_none());
        assert_eq!(checker.errors[0].message, "must be at most 10.25");
    }

    #[test]
    fn amounts() {
        let body = json!({"a": 10.25, "b": -1, "c": 0.001, "d": "1", "e": 0});
        let mut checker = Checker::new();
        let object = checker
            .object(&body, "", &["a", "b", "c", "d", "e"])
            .expect("object");
        assert_eq!(
            checker.amount(&object, "a", true),
            Some(projector_orders::Money::from_cents(1025))
        );
        assert!(checker.amount(&object, "b", false).is_none());
        assert!(checker.amount(&object, "c", false).is_none());
        assert!(checker.amount(&object, "d", false).is_none());
        assert!(checker.amount(&object, "e", true).is_none());
        assert_eq!(checker.errors.len(), 4);
    }
}
