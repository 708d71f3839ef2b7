//! What every store of projection controls must do: keep a pause where every process on the
//! storage sees it, keep the first pause when a second arrives, and lift it for all.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use projector_core::{Pause, ProjectionControls, ProjectionName};

/// `here` and `there` are two processes' controls on one storage.
pub async fn a_pause_is_seen_by_every_process_until_lifted(
    here: Arc<dyn ProjectionControls>,
    there: Arc<dyn ProjectionControls>,
) {
    let orders = ProjectionName::from_static("orders");
    let totals = ProjectionName::from_static("totals");
    assert_eq!(here.paused(&orders).await.expect("read"), None);
    let first = Pause {
        since: Utc
            .with_ymd_and_hms(2026, 11, 1, 8, 30, 0)
            .single()
            .expect("time"),
        by: "alice".into(),
    };
    here.set_paused(&orders, Some(first.clone()))
        .await
        .expect("pause");
    assert_eq!(
        there.paused(&orders).await.expect("read"),
        Some(first.clone())
    );
    assert_eq!(
        there.paused(&totals).await.expect("read"),
        None,
        "one projection's pause is its own"
    );

    let second = Pause {
        since: Utc::now(),
        by: "bob".into(),
    };
    there
        .set_paused(&orders, Some(second))
        .await
        .expect("pause again");
    assert_eq!(
        here.paused(&orders).await.expect("read"),
        Some(first),
        "the first pause stands"
    );

    there.set_paused(&orders, None).await.expect("lift");
    assert_eq!(here.paused(&orders).await.expect("read"), None);
    here.set_paused(&orders, None)
        .await
        .expect("lifting no pause changes nothing");
}
