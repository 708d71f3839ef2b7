//! `#[derive(DomainEvent)]`: type names without an instance, versions per variant, payloads
//! that round-trip through the store's shape, upcasters on the way back, and streams of
//! another category refused.

use projector_core::{
    DomainEvent, EventFilter, EventMetadata, EventSet, EventType, GlobalPosition, JsonPayload,
    RecordedEvent, StoredType, StreamId, StreamVersion, Upcaster, Upcasters,
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Opened {
    owner: String,
}

static UPCASTERS: Upcasters = Upcasters::new(&[Upcaster {
    event_type: "AccountOpened",
    from_version: 1,
    upcast: |mut v| {
        let owner = v.get("name").cloned().ok_or("no name")?;
        v["owner"] = owner;
        Ok(v)
    },
}]);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(crate = "projector_core", category = "account", upcasters = UPCASTERS)]
enum AccountEvent {
    #[event(name = "AccountOpened", version = 2)]
    Opened(Opened),
    Deposited {
        cents: i64,
        #[serde(default)]
        memo: Option<String>,
    },
    #[serde(rename = "moved")]
    Moved(String, u32),
    Closed,
}

fn recorded(stream: &'static str, event: &impl DomainEvent) -> RecordedEvent {
    let new = event
        .to_new_event(&EventMetadata::default())
        .expect("encodes");
    stored(
        stream,
        new.event_type.as_str().to_owned(),
        new.schema_version,
        new.data,
    )
}

fn stored(stream: &'static str, ty: String, version: u32, data: JsonPayload) -> RecordedEvent {
    RecordedEvent {
        event_id: uuid::Uuid::now_v7(),
        position: GlobalPosition::new(7),
        stream_id: StreamId::from_static(stream),
        stream_version: StreamVersion::new(1),
        event_type: EventType::parse(ty).expect("type"),
        schema_version: version,
        data,
        metadata: EventMetadata::default(),
        recorded_at: chrono::Utc::now(),
    }
}

#[test]
fn names_versions_and_filter_come_without_an_instance() {
    assert_eq!(AccountEvent::CATEGORY, Some("account"));
    let names: Vec<(&str, u32)> = AccountEvent::TYPES
        .iter()
        .map(
            |StoredType {
                 name,
                 schema_version,
             }| (*name, *schema_version),
        )
        .collect();
    assert_eq!(
        names,
        [
            ("AccountOpened", 2),
            ("Deposited", 1),
            ("Moved", 1),
            ("Closed", 1)
        ]
    );
    assert_eq!(
        AccountEvent::filter(),
        EventFilter::category(
            "account",
            &["AccountOpened", "Deposited", "Moved", "Closed"]
        )
    );
    assert_eq!(
        AccountEvent::stream(42).expect("stream").as_str(),
        "account-42"
    );
}

#[test]
fn every_shape_round_trips_with_plain_payloads() {
    let events = [
        AccountEvent::Opened(Opened {
            owner: "ann".into(),
        }),
        AccountEvent::Deposited {
            cents: 250,
            memo: None,
        },
        AccountEvent::Moved("b".into(), 3),
        AccountEvent::Closed,
    ];
    let payloads = [
        r#"{"owner":"ann"}"#,
        r#"{"cents":250,"memo":null}"#,
        r#"["b",3]"#,
        "{}",
    ];
    for (event, payload) in events.iter().zip(payloads) {
        let stored = recorded("account-1", event);
        assert_eq!(stored.data.as_str(), payload);
        assert_eq!(stored.schema_version, event.schema_version());
        assert_eq!(&AccountEvent::decode(&stored).expect("decodes"), event);
    }
}

#[test]
fn old_versions_are_upcast_and_strangers_refused() {
    let v1 = JsonPayload::from_json(r#"{"name":"bo"}"#).expect("json");
    let old = stored("account-2", "AccountOpened".into(), 1, v1);
    assert_eq!(
        AccountEvent::decode(&old).expect("upcast"),
        AccountEvent::Opened(Opened { owner: "bo".into() })
    );

    let elsewhere = recorded("ledger-1", &AccountEvent::Closed);
    let error = AccountEvent::decode(&elsewhere).expect_err("another category");
    assert!(
        error
            .to_string()
            .contains("stream ledger-1 is not in category account"),
        "{error}"
    );

    let unknown = stored(
        "account-3",
        "Frozen".into(),
        1,
        JsonPayload::from_json("{}").expect("json"),
    );
    let error = AccountEvent::decode(&unknown).expect_err("unknown type");
    assert!(
        error
            .to_string()
            .contains("Frozen is not one of AccountEvent"),
        "{error}"
    );
    assert_eq!(error.position, GlobalPosition::new(7));
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(crate = "projector_core", category = "card")]
enum CardEvent {
    Issued { limit_cents: i64 },
    Closed,
}

#[test]
fn either_reads_two_domains_each_by_its_own_category() {
    use projector_core::{Either, Envelope, ProjectedEvents, type_name_collisions};

    let filter = <Either<AccountEvent, CardEvent>>::selects();
    let account = recorded("account-1", &AccountEvent::Closed);
    let card = recorded("card-1", &CardEvent::Closed);
    let stray = recorded("loan-1", &CardEvent::Closed);
    assert!(filter.accepts(&account) && filter.accepts(&card));
    assert!(!filter.accepts(&stray), "a third category is not read");

    let read = |event| Envelope::<Either<AccountEvent, CardEvent>>::decode(event).map(|e| e.event);
    assert_eq!(
        read(&account).ok(),
        Some(Either::First(AccountEvent::Closed))
    );
    assert_eq!(read(&card).ok(), Some(Either::Second(CardEvent::Closed)));
    let issued = recorded("card-2", &CardEvent::Issued { limit_cents: 500 });
    assert_eq!(
        read(&issued).ok(),
        Some(Either::Second(CardEvent::Issued { limit_cents: 500 }))
    );

    // Each set tells its own events without building its filter, and says what it says.
    let other_type = recorded("account-3", &CardEvent::Issued { limit_cents: 1 });
    for event in [&account, &card, &stray, &issued, &other_type] {
        assert_eq!(
            AccountEvent::takes(event),
            AccountEvent::selects().accepts(event),
            "{}",
            event.stream_id
        );
        assert_eq!(
            <Either<AccountEvent, CardEvent>>::takes(event),
            filter.accepts(event),
            "{}",
            event.stream_id
        );
    }
    assert!(AccountEvent::takes(&account) && CardEvent::takes(&card));
    assert!(
        !AccountEvent::takes(&other_type),
        "a card event in an account stream"
    );

    // `Closed` by category in both sets, and from every stream in a third projection.
    let by_type = EventFilter::types(&["Closed"]);
    let found = type_name_collisions(&[
        (projector_core::ProjectionName::from_static("both"), filter),
        (projector_core::ProjectionName::from_static("any"), by_type),
    ]);
    assert_eq!(found.len(), 2, "{found:?}");
}
