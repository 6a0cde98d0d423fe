//! Simulator over HTTP: cursor validation, resuming across processes, determinism.

mod sim_common;

use cc_export::sim::SimConfig;
use sim_common::{ACCOUNT, Api, error_key, small, start};

#[tokio::test]
async fn cursors_reject_tampering_other_accounts_invalidation_and_expiry() {
    let cfg = SimConfig {
        contacts: 100,
        cursor_ttl: Some(std::time::Duration::from_millis(300)),
        ..SimConfig::default()
    };
    let sim = start(cfg).await;
    let api = Api::new(&sim, ACCOUNT);
    let next = api.get("/v3/contacts?limit=10").await.next().unwrap();
    assert_eq!(
        api.get(&next).await.status,
        200,
        "a cursor can be replayed (retries)"
    );
    let cursor = next.split("cursor=").nth(1).unwrap();
    let mut tampered = cursor.as_bytes().to_vec();
    tampered[3] = if tampered[3] == b'x' { b'y' } else { b'x' };
    let tampered = String::from_utf8(tampered).unwrap();
    for bad in [
        format!("/v3/contacts?cursor={tampered}"),
        "/v3/contacts?cursor=abc".into(),
    ] {
        let a = api.get(&bad).await;
        assert_eq!(
            (a.status, error_key(&a, true).as_str()),
            (400, "contacts.api.bad.request")
        );
    }
    assert_eq!(
        Api::new(&sim, "someone-else").get(&next).await.status,
        400,
        "foreign account"
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(api.get(&next).await.status, 400, "expired");
    let fresh = api.get("/v3/contacts?limit=10").await.next().unwrap();
    sim.invalidate_cursors();
    assert_eq!(api.get(&fresh).await.status, 400, "invalidated");
    assert_eq!(
        api.get(&api.get("/v3/contacts?limit=10").await.next().unwrap())
            .await
            .status,
        200
    );
    assert_eq!(sim.stats().invalid_cursors, 5);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_cursor_resumes_on_another_process_with_the_same_seed() {
    let a = start(small(90)).await;
    let b = start(small(90)).await;
    let (api_a, api_b) = (Api::new(&a, ACCOUNT), Api::new(&b, ACCOUNT));
    let first = api_a.get("/v3/contacts?limit=30&include=taggings").await;
    let next = first.next().unwrap();
    let on_a = api_a.get(&next).await;
    let on_b = api_b.get(&next).await;
    assert_eq!(on_b.status, 200);
    assert_eq!(on_a.body, on_b.body);
    assert!(
        on_b.json()["contacts"][0]["taggings"].is_array(),
        "the cursor carries the include"
    );
    let other = start(SimConfig {
        seed: 7,
        ..small(90)
    })
    .await;
    assert_eq!(
        Api::new(&other, ACCOUNT).get(&next).await.status,
        400,
        "another seed rejects it"
    );
    for s in [a, b, other] {
        s.shutdown().await;
    }
}

#[tokio::test]
async fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, b) = (start(small(300)).await, start(small(300)).await);
    let c = start(SimConfig {
        seed: 43,
        ..small(300)
    })
    .await;
    let q = "/v3/contacts?limit=120&include=custom_fields,list_memberships,phone_numbers,street_addresses,taggings,notes&include_count=true";
    let pa: Vec<Vec<u8>> = Api::new(&a, ACCOUNT)
        .all_pages(q)
        .await
        .into_iter()
        .map(|p| p.body)
        .collect();
    let pb: Vec<Vec<u8>> = Api::new(&b, ACCOUNT)
        .all_pages(q)
        .await
        .into_iter()
        .map(|p| p.body)
        .collect();
    assert_eq!(pa, pb);
    assert_ne!(pa[0], Api::new(&c, ACCOUNT).get(q).await.body);
    let cf = "/v3/contact_custom_fields";
    assert_eq!(
        Api::new(&a, ACCOUNT).get(cf).await.body,
        Api::new(&b, ACCOUNT).get(cf).await.body
    );
    for s in [a, b, c] {
        s.shutdown().await;
    }
}
