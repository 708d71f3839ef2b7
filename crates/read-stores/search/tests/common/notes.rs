//! A notes projection the search store's tests run: `Noted` puts a note, `Tagged` adds a tag
//! to a note (a partial update: the note as it was, changed), `Erased` deletes it. A tag for a
//! note that is not there fails the event.

use chrono::{DateTime, Utc};
use projector_core::{
    EventFilter, EventMetadata, EventType, GlobalPosition, JsonPayload, Projection,
    ProjectionError, ProjectionName, RecordedEvent, StreamId, StreamVersion,
};
use projector_search::tantivy::collector::TopDocs;
use projector_search::tantivy::query::QueryParser;
use projector_search::tantivy::schema::{STRING, SchemaBuilder, TEXT};
use projector_search::{DocumentBuilder, SearchBatch, SearchProjection, SearchRead};
use serde::{Deserialize, Serialize};

pub const NOTES: ProjectionName = ProjectionName::from_static("notes");

/// A note as the index keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub text: String,
    pub tags: Vec<String>,
}

pub struct Notes;

impl Projection for Notes {
    fn name(&self) -> ProjectionName {
        NOTES
    }

    fn handles(&self) -> EventFilter {
        EventFilter::types(&["Noted", "Tagged", "Erased"])
    }
}

#[derive(Deserialize)]
struct Payload {
    id: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    tag: String,
}

impl SearchProjection for Notes {
    type Document = Note;

    fn schema(&self, schema: &mut SchemaBuilder) {
        schema.add_text_field("text", TEXT);
        schema.add_text_field("tags", STRING);
    }

    fn index(&self, note: &Note, fields: &mut DocumentBuilder<'_>) -> Result<(), ProjectionError> {
        fields.text("text", &note.text)?;
        for tag in &note.tags {
            fields.text("tags", tag)?;
        }
        Ok(())
    }

    fn apply(
        &self,
        batch: &mut SearchBatch<Note>,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events {
            let payload: Payload = event.decode()?;
            match event.event_type.as_str() {
                "Noted" => batch.put(
                    payload.id,
                    Note {
                        text: payload.text,
                        tags: Vec::new(),
                    },
                ),
                "Tagged" => {
                    let Some(mut note) = batch.get(&payload.id)? else {
                        return Err(ProjectionError::at(
                            event.position,
                            format!("a tag for note {}, which is not there", payload.id),
                        ));
                    };
                    note.tags.push(payload.tag);
                    batch.put(payload.id, note);
                }
                _ => batch.delete(payload.id),
            }
        }
        Ok(())
    }
}

/// A recorded event at `position`.
pub fn recorded(position: u64, event_type: &str, data: serde_json::Value) -> RecordedEvent {
    RecordedEvent {
        event_id: uuid::Uuid::now_v7(),
        position: GlobalPosition::new(position),
        stream_id: StreamId::from_static("notes-1"),
        stream_version: StreamVersion::new(position),
        event_type: EventType::parse(event_type).expect("event type"),
        schema_version: 1,
        data: JsonPayload::encode(&data).expect("json"),
        metadata: EventMetadata::default(),
        recorded_at: DateTime::<Utc>::from_timestamp_micros(
            1_780_000_000_000_000 + position as i64,
        )
        .expect("time"),
    }
}

/// The ids of the notes `query` finds in its text and tags, sorted.
pub fn search(read: &SearchRead, query: &str) -> Vec<String> {
    let schema = read.schema();
    let fields = ["text", "tags"].map(|name| schema.get_field(name).expect("field"));
    let parser = QueryParser::for_index(read.searcher().index(), fields.to_vec());
    let (query, _) = parser.parse_query_lenient(query);
    let hits = read
        .searcher()
        .search(&query, &TopDocs::with_limit(100).order_by_score())
        .expect("search");
    let mut ids: Vec<String> = hits
        .into_iter()
        .map(|(_, address)| read.hit::<Note>(address).expect("hit").0)
        .collect();
    ids.sort();
    ids
}
