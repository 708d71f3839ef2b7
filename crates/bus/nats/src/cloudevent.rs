//! Events as CloudEvents 1.0 in structured JSON: what the relay publishes and the feed reads
//! back, so a consumer in any language reads the stream with a CloudEvents SDK.
//!
//! The context attributes: `id` (the event id), `source` (`projector`), `type` (the event
//! type), `subject` (the stream id), `time` (when the store recorded it), `datacontenttype`
//! and `data` (the payload as it was appended). projector's own attributes travel as extension
//! attributes, lower-case as the specification requires: `position` (the global position),
//! `streamversion`, `schemaversion`, and, when set, `correlationid`, `causationid` and
//! `userid`.

use chrono::{DateTime, Utc};
use projector_core::{
    CausationId, CorrelationId, EventMetadata, EventType, GlobalPosition, JsonPayload,
    RecordedEvent, StreamId, StreamVersion, UserId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::BusError;

/// The CloudEvents `source` of every event projector publishes.
pub const SOURCE: &str = "projector";

/// One event as a CloudEvent.
#[derive(Debug, Serialize, Deserialize)]
struct CloudEvent {
    specversion: String,
    id: Uuid,
    source: String,
    #[serde(rename = "type")]
    event_type: String,
    subject: String,
    time: DateTime<Utc>,
    datacontenttype: String,
    data: JsonPayload,
    position: u64,
    streamversion: u64,
    schemaversion: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    correlationid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    causationid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    userid: Option<String>,
}

/// `event` as CloudEvents structured JSON.
///
/// # Errors
/// [`BusError::Encode`] if the JSON cannot be written (it always can for a stored event).
pub fn encode(event: &RecordedEvent) -> Result<Vec<u8>, BusError> {
    let cloud = CloudEvent {
        specversion: "1.0".into(),
        id: event.event_id,
        source: SOURCE.into(),
        event_type: event.event_type.as_str().to_owned(),
        subject: event.stream_id.as_str().to_owned(),
        time: event.recorded_at,
        datacontenttype: "application/json".into(),
        data: event.data.clone(),
        position: event.position.get(),
        streamversion: event.stream_version.get(),
        schemaversion: event.schema_version,
        correlationid: event
            .metadata
            .correlation_id
            .as_ref()
            .map(|c| c.as_str().to_owned()),
        causationid: event
            .metadata
            .causation_id
            .as_ref()
            .map(|c| c.as_str().to_owned()),
        userid: event
            .metadata
            .user_id
            .as_ref()
            .map(|u| u.as_str().to_owned()),
    };
    serde_json::to_vec(&cloud).map_err(|e| BusError::Encode(e.to_string()))
}

/// The event a CloudEvent published by [`encode`] carries.
///
/// # Errors
/// [`BusError::Decode`] naming what is wrong: not JSON, not a CloudEvent of projector's, or an
/// attribute that is not what the event store would hold.
pub fn decode(bytes: &[u8]) -> Result<RecordedEvent, BusError> {
    let cloud: CloudEvent = serde_json::from_slice(bytes)
        .map_err(|e| BusError::Decode(format!("not a CloudEvent of projector's: {e}")))?;
    if cloud.specversion != "1.0" {
        return Err(BusError::Decode(format!(
            "CloudEvents version {}, not 1.0",
            cloud.specversion
        )));
    }
    let bad = |what: &str, e: &dyn std::fmt::Display| BusError::Decode(format!("{what}: {e}"));
    let metadata = EventMetadata {
        correlation_id: cloud
            .correlationid
            .map(CorrelationId::parse)
            .transpose()
            .map_err(|e| bad("correlationid", &e))?,
        causation_id: cloud
            .causationid
            .map(CausationId::parse)
            .transpose()
            .map_err(|e| bad("causationid", &e))?,
        user_id: cloud
            .userid
            .map(UserId::parse)
            .transpose()
            .map_err(|e| bad("userid", &e))?,
    };
    Ok(RecordedEvent {
        event_id: cloud.id,
        position: GlobalPosition::new(cloud.position),
        stream_id: StreamId::parse(cloud.subject).map_err(|e| bad("subject", &e))?,
        stream_version: StreamVersion::new(cloud.streamversion),
        event_type: EventType::parse(cloud.event_type).map_err(|e| bad("type", &e))?,
        schema_version: cloud.schemaversion,
        data: cloud.data,
        metadata,
        recorded_at: cloud.time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> RecordedEvent {
        RecordedEvent {
            event_id: Uuid::now_v7(),
            position: GlobalPosition::new(42),
            stream_id: StreamId::parse("order-7").expect("stream"),
            stream_version: StreamVersion::new(3),
            event_type: EventType::parse("OrderShipped").expect("type"),
            schema_version: 2,
            data: JsonPayload::from_json(r#"{"order_id":"7","tracking":"1Z"}"#).expect("json"),
            metadata: EventMetadata {
                correlation_id: Some(CorrelationId::parse("req-1").expect("id")),
                causation_id: None,
                user_id: Some(UserId::parse("ada").expect("user")),
            },
            recorded_at: Utc::now(),
        }
    }

    #[test]
    fn an_event_reads_back_as_it_was_published() {
        let event = event();
        let bytes = encode(&event).expect("encode");
        assert_eq!(decode(&bytes).expect("decode"), event);
        let json: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "OrderShipped");
        assert_eq!(json["subject"], "order-7");
        assert_eq!(json["source"], SOURCE);
        assert_eq!(json["position"], 42);
        assert_eq!(json["data"]["tracking"], "1Z");
        assert!(json.get("causationid").is_none());
    }

    #[test]
    fn what_is_not_a_cloudevent_of_projectors_is_named() {
        for bytes in [&b"not json"[..], b"{}", br#"{"specversion":"0.3"}"#] {
            let error = decode(bytes).expect_err("refused");
            assert!(matches!(error, BusError::Decode(_)), "{error}");
        }
        let mut json: serde_json::Value =
            serde_json::from_slice(&encode(&event()).expect("encode")).expect("json");
        json["subject"] = "".into();
        let error = decode(json.to_string().as_bytes()).expect_err("an empty stream id");
        assert!(error.to_string().contains("subject"), "{error}");
    }
}
