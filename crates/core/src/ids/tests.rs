use super::*;

#[test]
fn accepts_typical_ids() {
    for ok in [
        "order-1001",
        "a",
        "cust:42",
        "user@example.com",
        "x_y.z+1=2",
        "9lives",
    ] {
        assert_eq!(StreamId::parse(ok).expect(ok).as_str(), ok);
    }
    assert!(EventType::parse("OrderCreated").is_ok());
    assert!(EventType::parse("orders.v2.Created-x").is_ok());
    assert!(ProjectionName::parse("order_summary").is_ok());
    assert!(CorrelationId::parse("req-7f3a/9:x").is_ok());
}

#[test]
fn refuses_bad_ids_with_a_reason() {
    assert_eq!(
        StreamId::parse(""),
        Err(IdError::Empty { kind: "stream id" })
    );
    assert_eq!(
        StreamId::parse("a".repeat(129)),
        Err(IdError::TooLong {
            kind: "stream id",
            len: 129,
            max: 128
        })
    );
    assert!(StreamId::parse("a".repeat(128)).is_ok());
    assert!(matches!(
        StreamId::parse("-x"),
        Err(IdError::BadStart { .. })
    ));
    assert_eq!(
        StreamId::parse("order 1"),
        Err(IdError::BadChar {
            kind: "stream id",
            found: ' ',
            index: 5,
            allowed: "ASCII letters, digits and - _ . : @ + =",
        })
    );
    assert!(matches!(
        StreamId::parse("a/b"),
        Err(IdError::BadChar { found: '/', .. })
    ));
    assert!(matches!(
        StreamId::parse("ordé"),
        Err(IdError::BadChar {
            found: 'é',
            index: 3,
            ..
        })
    ));
    assert!(matches!(
        EventType::parse("1Order"),
        Err(IdError::BadStart { .. })
    ));
    assert!(matches!(
        ProjectionName::parse("Orders"),
        Err(IdError::BadStart { .. })
    ));
    assert!(matches!(
        ProjectionName::parse("order-summary"),
        Err(IdError::BadChar { found: '-', .. })
    ));
    assert!(matches!(
        CorrelationId::parse("a b"),
        Err(IdError::BadChar { found: ' ', .. })
    ));
    assert!(matches!(
        UserId::parse("a\u{7}"),
        Err(IdError::BadChar { .. })
    ));
}

#[test]
fn static_ids_are_checked_in_const_context() {
    const CREATED: EventType = EventType::from_static("OrderCreated");
    assert_eq!(CREATED, "OrderCreated");
    assert_eq!(CREATED, EventType::parse("OrderCreated").expect("valid"));
}

#[test]
#[should_panic(expected = "invalid EventType literal")]
fn static_ids_panic_on_bad_literals_at_run_time() {
    let name = String::from("Bad Type");
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    let _ = EventType::from_static(leaked);
}

#[test]
fn serde_round_trip_validates() {
    let id: StreamId = serde_json::from_str("\"order-1\"").expect("valid");
    assert_eq!(
        serde_json::to_string(&id).expect("serialize"),
        "\"order-1\""
    );
    let err = serde_json::from_str::<StreamId>("\"bad id\"").expect_err("must refuse");
    assert!(err.to_string().contains("stream id contains ' '"), "{err}");
}
