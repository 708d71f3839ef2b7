//! Timestamps in event payloads: [`rfc3339`] reads them with chrono's strict RFC 3339 parser
//! first. chrono's own `Deserialize` sends every timestamp through its general parser, which
//! also takes near-RFC 3339 forms and costs several times more; each event decoded pays that.

/// `#[serde(with = "projector_core::time::rfc3339")]` on a `DateTime<Utc>` field: written as
/// chrono writes it, read by the strict RFC 3339 parser, and only when that refuses the text by
/// chrono's lenient one, so every timestamp chrono reads is still read.
pub mod rfc3339 {
    use chrono::{DateTime, FixedOffset, Utc};
    use serde::{Deserializer, Serialize, Serializer, de};

    /// Writes `time` as chrono does.
    ///
    /// # Errors
    /// The serializer's own.
    pub fn serialize<S: Serializer>(
        time: &DateTime<Utc>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        time.serialize(serializer)
    }

    /// Reads an RFC 3339 timestamp, in UTC.
    ///
    /// # Errors
    /// When the value is not a string, or no timestamp chrono can read.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        deserializer.deserialize_str(Timestamp)
    }

    struct Timestamp;

    impl de::Visitor<'_> for Timestamp {
        type Value = DateTime<Utc>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("an RFC 3339 timestamp")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            DateTime::parse_from_rfc3339(text)
                .or_else(|_| text.parse::<DateTime<FixedOffset>>())
                .map(|time| time.with_timezone(&Utc))
                .map_err(E::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Stamped {
        #[serde(with = "super::rfc3339")]
        at: DateTime<Utc>,
    }

    fn read(text: &str) -> Result<DateTime<Utc>, serde_json::Error> {
        serde_json::from_str::<Stamped>(&format!(r#"{{"at":"{text}"}}"#)).map(|s| s.at)
    }

    #[test]
    fn written_as_chrono_writes_and_read_back() {
        let at = Utc.with_ymd_and_hms(2026, 4, 1, 9, 30, 0).unwrap()
            + chrono::Duration::microseconds(1_250);
        let written = serde_json::to_string(&Stamped { at }).expect("json");
        assert_eq!(written, serde_json::json!({ "at": at }).to_string());
        assert_eq!(read(&at.to_rfc3339()).expect("strict"), at);
    }

    #[test]
    fn what_chrono_reads_is_read_and_the_rest_refused() {
        let nine = Utc.with_ymd_and_hms(2026, 4, 1, 9, 0, 0).unwrap();
        assert_eq!(read("2026-04-01T11:00:00+02:00").expect("offset"), nine);
        // Not RFC 3339 (a space for the `T`), but chrono's reader takes it, so this does.
        assert_eq!(read("2026-04-01 09:00:00Z").expect("lenient"), nine);
        let refused = read("yesterday").expect_err("not a time");
        assert!(refused.to_string().contains("input"), "{refused}");
        assert!(serde_json::from_str::<Stamped>(r#"{"at":5}"#).is_err());
    }
}
