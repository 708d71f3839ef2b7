//! A value the database refuses in an append (a data exception) is the caller's error, told in
//! words of the event store's own: never the database's message or its DETAIL, which may quote
//! the row.

use projector_core::{EventAppender, ExpectedVersion, StoreError, StreamId};
use projector_postgres::{PgEventStore, PgEventStoreOptions};
use projector_testkit::events::event;
use projector_testkit::postgres::TestDatabase;
use tokio_postgres::NoTls;

/// A limit the operator put on the events table, refusing what it catches as PostgreSQL does a
/// value too long for its column, with the row in the DETAIL.
const OPERATORS_LIMIT: &str = r#"
CREATE FUNCTION refuse_card_numbers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'string_data_right_truncation',
        MESSAGE = 'value too long for type character varying(8)',
        DETAIL = format('Failing row contains (%s, %s).', NEW.stream_id, NEW.data);
END $$;
CREATE TRIGGER refuse_card_numbers BEFORE INSERT ON projector.events
    FOR EACH ROW WHEN (NEW.data::text LIKE '%4111%') EXECUTE FUNCTION refuse_card_numbers();
"#;

#[tokio::test]
async fn a_refused_value_is_named_without_the_databases_words() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = PgEventStore::connect(database.url(), PgEventStoreOptions::default())
        .await
        .expect("connect");
    let (client, connection) = tokio_postgres::connect(database.url(), NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(OPERATORS_LIMIT)
        .await
        .expect("the operator's limit");

    let stream = StreamId::parse("refused-1").expect("a stream id");
    let refused = store
        .append(
            &stream,
            ExpectedVersion::Any,
            vec![event(
                "Noted",
                serde_json::json!({"note": "card 4111-1111-1111-1111"}),
            )],
        )
        .await;
    let Err(StoreError::InvalidRequest(message)) = refused else {
        panic!("not an invalid request: {refused:?}");
    };
    assert!(message.contains("longer"), "{message}");
    for leak in ["4111", "Failing row", "refused-1", "varying", "ERROR"] {
        assert!(!message.contains(leak), "{leak:?} in {message:?}");
    }
    // The store goes on taking appends.
    store
        .append(
            &stream,
            ExpectedVersion::Any,
            vec![event("Noted", serde_json::json!({"note": "fine"}))],
        )
        .await
        .expect("a later append");
    store.close().await;
}
