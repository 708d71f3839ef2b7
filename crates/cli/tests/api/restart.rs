//! Durability across restarts: a clean restart keeps every order, and SIGTERM in the middle of
//! a write load loses no acknowledged write.

use std::sync::Arc;

use projector_testkit::wait::eventually_sync;
use serde_json::json;

use crate::helpers::Server;

pub async fn a_restart_keeps_every_order() {
    let mut server = Server::start().await;
    let mut last = 0;
    for i in 0..20 {
        last = server
            .place(&format!("o{i}"), "c", &[("a", i + 1, 1.5)])
            .await;
    }
    server
        .post("/api/orders/o3/ship", &json!({"tracking": "T"}))
        .await
        .expect(202);
    let storage = server.keep_storage();
    assert!(server.terminate(), "a clean exit on SIGTERM");

    let server = Server::start_with(storage).await;
    for i in 0..20 {
        let order = server.order(&format!("o{i}"), last).await;
        assert_eq!(order["item_count"], i + 1);
    }
    assert_eq!(server.order("o3", last).await["status"], "shipped");
    // New writes continue the same feed.
    let next = server.place("after", "c", &[("a", 1, 1.0)]).await;
    assert!(next > last);
}

pub async fn sigterm_under_load_loses_no_acknowledged_write() {
    let mut server = Server::start().await;
    let client = server.client.clone();
    let base = server.base.clone();
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (client, base, acknowledged) =
            (client.clone(), base.clone(), Arc::clone(&acknowledged));
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let id = format!("w{w}-{i}");
                let body = json!({"id": id, "customer_id": "load", "items": [{"sku": "a", "quantity": 1, "unit_price": 1}]});
                match client.post(format!("{base}/api/orders")).json(&body).send().await {
                    Ok(response) if response.status() == 202 => {
                        let accepted: serde_json::Value = match response.json().await {
                            Ok(v) => v,
                            Err(_) => break,
                        };
                        let position = accepted["position"].as_u64().unwrap_or(0);
                        acknowledged.lock().expect("lock").push((id, position));
                    }
                    // Refused or cut off while stopping: not acknowledged.
                    _ => break,
                }
            }
        }));
    }
    // Under load: the writers have been answered a good number of times, so more are in flight.
    eventually_sync("50 writes acknowledged", || {
        let count = acknowledged.lock().expect("lock").len();
        if count >= 50 { Ok(()) } else { Err(count) }
    })
    .await;
    let storage = server.keep_storage();
    let clean = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .expect("terminate");
    assert!(clean, "the server exits 0 on SIGTERM under load");
    for writer in writers {
        writer.await.expect("writer");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() > 20,
        "the load was real: {} writes acknowledged",
        acknowledged.len()
    );

    let server = Server::start_with(storage).await;
    let last = acknowledged.iter().map(|(_, p)| *p).max().unwrap_or(0);
    for (id, _) in &acknowledged {
        let order = server.order(id, last).await;
        assert_eq!(order["status"], "confirmed", "{id}");
    }
}
