//! One group of appends decided as if they came one after another: the append function is
//! called with a crafted group (the writer forms such groups under load).

use projector_postgres::{PgEventStore, PgEventStoreOptions};
use projector_testkit::postgres::TestDatabase;
use tokio_postgres::NoTls;
use uuid::Uuid;

/// One append's answer: outcome, version, first position, duplicate id.
type Answer = (i16, Option<i64>, Option<i64>, Option<Uuid>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_append_of_a_group_is_decided_after_the_ones_before_it() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    // Connecting runs the migrations.
    let _store = PgEventStore::connect(database.url(), PgEventStoreOptions::default())
        .await
        .expect("connect");
    let (client, connection) = tokio_postgres::connect(database.url(), NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);

    let ids: Vec<Uuid> = (0..7).map(|_| Uuid::now_v7()).collect();
    // 1: s, no stream, 2 events        -> appended, s at 2
    // 2: s, no stream, 1 event         -> conflict at 2 (sees append 1)
    // 3: s, exact 2, 1 event           -> appended, s at 3
    // 4: t, any, reuses append 1's id  -> duplicate
    // 5: t, no stream, 1 event         -> appended, t at 1 (append 4 wrote nothing)
    // 6: s, stream exists, repeats an id within itself -> duplicate
    let streams = vec!["s", "s", "s", "t", "t", "s"];
    let kinds: Vec<i16> = vec![1, 1, 3, 0, 1, 2];
    let versions: Vec<i64> = vec![0, 0, 2, 0, 0, 0];
    let counts: Vec<i32> = vec![2, 1, 1, 1, 1, 2];
    let events = vec![
        ids[0], ids[1], ids[2], ids[3], ids[0], ids[4], ids[5], ids[5],
    ];
    let n = events.len();
    let rows = client
        .query(
            "SELECT o_outcome, o_version, o_first_position, o_duplicate FROM projector.append_group(\
             $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                &streams,
                &kinds,
                &versions,
                &counts,
                &events,
                &vec!["E"; n],
                &vec![1i32; n],
                &vec!["{}"; n],
                &vec![None::<&str>; n],
                &vec![None::<&str>; n],
                &vec![None::<&str>; n],
            ],
        )
        .await
        .expect("append group");
    let answers: Vec<Answer> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        answers,
        [
            (0, Some(2), Some(1), None),
            (1, Some(2), None, None),
            (0, Some(3), Some(3), None),
            (2, None, None, Some(ids[0])),
            (0, Some(1), Some(4), None),
            (2, None, None, Some(ids[5])),
        ]
    );
    let feed: Vec<(i64, String, i64, Uuid)> = client
        .query(
            "SELECT position, stream_id, stream_version, event_id FROM projector.events ORDER BY position",
            &[],
        )
        .await
        .expect("feed")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        feed,
        [
            (1, "s".to_owned(), 1, ids[0]),
            (2, "s".to_owned(), 2, ids[1]),
            (3, "s".to_owned(), 3, ids[3]),
            (4, "t".to_owned(), 1, ids[4]),
        ]
    );
    let head: i64 = client
        .query_one("SELECT head FROM projector.feed_head", &[])
        .await
        .expect("head")
        .get(0);
    assert_eq!(head, 4);
}
