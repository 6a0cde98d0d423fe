//! Simulator over HTTP: pagination, filters, include_count, custom fields.

mod sim_common;

use std::collections::HashSet;

use sim_common::{ACCOUNT, Api, error_key, small, start};

#[tokio::test]
async fn pagination_covers_every_contact_exactly_once() {
    let sim = start(small(613)).await;
    let api = Api::new(&sim, ACCOUNT);
    let expected: Vec<String> = sim.dataset().expected_ids(ACCOUNT).collect();
    assert!(expected.len() < 613, "a few contacts are deleted");
    for limit in [1, 7, 50, 500] {
        let ids = api.all_ids(&format!("/v3/contacts?limit={limit}")).await;
        assert_eq!(ids, expected, "limit {limit}");
    }
    // status=all adds the deleted ones, still in index order.
    let all = api.all_ids("/v3/contacts?limit=100&status=all").await;
    let every: Vec<String> = (0..613)
        .map(|i| sim.dataset().contact_id(ACCOUNT, i))
        .collect();
    assert_eq!(all, every);
    assert_eq!(
        every.iter().collect::<HashSet<_>>().len(),
        613,
        "ids are unique"
    );
    let pages = api.all_pages("/v3/contacts?limit=50").await;
    assert!(
        pages
            .iter()
            .all(|p| p.json()["contacts"].as_array().unwrap().len() == 50 || p.next().is_none())
    );
    assert!(pages.last().unwrap().json().get("_links").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn default_limit_is_50_and_accounts_differ() {
    let sim = start(small(120)).await;
    let a = Api::new(&sim, "a");
    let b = Api::new(&sim, "b");
    let page = a.get("/v3/contacts").await;
    assert_eq!(page.ids().len(), 50);
    assert_ne!(page.ids(), b.get("/v3/contacts").await.ids());
    sim.shutdown().await;
}

#[tokio::test]
async fn filters_match_what_the_contacts_say() {
    let sim = start(small(800)).await;
    let api = Api::new(&sim, ACCOUNT);
    let everything: Vec<serde_json::Value> = api
        .all_pages("/v3/contacts?limit=500&status=all&include=list_memberships")
        .await
        .iter()
        .flat_map(|p| p.json()["contacts"].as_array().unwrap().clone())
        .collect();
    let ids_where = |f: &dyn Fn(&serde_json::Value) -> bool| -> Vec<String> {
        everything
            .iter()
            .filter(|c| f(c))
            .map(|c| c["contact_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = everything
        .iter()
        .find_map(|c| c["list_memberships"].as_array().unwrap().first().cloned())
        .unwrap();
    let list = list.as_str().unwrap();
    let in_list = api
        .all_ids(&format!("/v3/contacts?limit=37&lists={list}"))
        .await;
    let expected = ids_where(&|c| {
        c.get("deleted_at").is_none()
            && c["list_memberships"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l == list)
    });
    assert!(!expected.is_empty());
    assert_eq!(in_list, expected);

    let deleted = api.all_ids("/v3/contacts?status=deleted").await;
    assert_eq!(deleted, ids_where(&|c| c.get("deleted_at").is_some()));
    let unsub = api
        .all_ids("/v3/contacts?status=unsubscribed&limit=500")
        .await;
    assert_eq!(
        unsub,
        ids_where(&|c| c.get("deleted_at").is_none()
            && c["email_address"]["permission_to_send"] == "unsubscribed")
    );

    let mut updated: Vec<&str> = everything
        .iter()
        .map(|c| c["updated_at"].as_str().unwrap())
        .collect();
    updated.sort_unstable();
    let t = updated[updated.len() / 2];
    let after = api
        .all_ids(&format!(
            "/v3/contacts?limit=500&status=all&updated_after={t}"
        ))
        .await;
    assert_eq!(
        after,
        ids_where(&|c| c["updated_at"].as_str().unwrap() >= t)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn created_windows_partition_the_contacts() {
    let sim = start(small(500)).await;
    let api = Api::new(&sim, ACCOUNT);
    let c = |i| {
        sim.dataset().contact(ACCOUNT, i)["created_at"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (t1, t2) = (c(100), c(333));
    let mut joined = api
        .all_ids(&format!(
            "/v3/contacts?status=all&limit=500&created_before={t1}"
        ))
        .await;
    let middle = api
        .all_ids(&format!(
            "/v3/contacts?status=all&limit=70&created_after={t1}&created_before={t2}"
        ))
        .await;
    assert_eq!(middle.len(), 233);
    assert_eq!(
        middle[0],
        sim.dataset().contact_id(ACCOUNT, 100),
        "created_after is inclusive"
    );
    joined.extend(middle);
    joined.extend(
        api.all_ids(&format!(
            "/v3/contacts?status=all&limit=500&created_after={t2}"
        ))
        .await,
    );
    let every: Vec<String> = (0..500)
        .map(|i| sim.dataset().contact_id(ACCOUNT, i))
        .collect();
    assert_eq!(joined, every);
    sim.shutdown().await;
}

#[tokio::test]
async fn include_count_counts_every_match_on_every_page() {
    let sim = start(small(321)).await;
    let api = Api::new(&sim, ACCOUNT);
    let pages = api
        .all_pages("/v3/contacts?limit=40&include_count=true")
        .await;
    let total: usize = pages.iter().map(|p| p.ids().len()).sum();
    assert_eq!(
        total as u64,
        sim.dataset().expected_ids(ACCOUNT).count() as u64
    );
    assert!(
        pages
            .iter()
            .all(|p| p.json()["contacts_count"] == total as u64)
    );
    let plain = api.get("/v3/contacts").await.json();
    assert!(plain.get("contacts_count").is_none());
    let all = api
        .get("/v3/contacts?status=all&include_count=true&limit=1")
        .await
        .json();
    assert_eq!(all["contacts_count"], 321);
    sim.shutdown().await;
}

#[tokio::test]
async fn includes_appear_only_when_asked() {
    let sim = start(small(60)).await;
    let api = Api::new(&sim, ACCOUNT);
    let subs = [
        "custom_fields",
        "list_memberships",
        "phone_numbers",
        "street_addresses",
        "taggings",
        "notes",
    ];
    let bare = api.get("/v3/contacts?limit=60").await.json();
    for c in bare["contacts"].as_array().unwrap() {
        assert!(subs.iter().all(|s| c.get(*s).is_none()), "{c}");
    }
    let full = api
        .get(&format!("/v3/contacts?limit=60&include={}", subs.join(",")))
        .await
        .json();
    for (c, b) in full["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .zip(bare["contacts"].as_array().unwrap())
    {
        assert!(subs.iter().all(|s| c[*s].is_array()), "{c}");
        assert_eq!(
            c["first_name"], b["first_name"],
            "includes do not change the contact"
        );
    }
    let one = api.get("/v3/contacts?include=notes").await.json();
    assert!(one["contacts"][0]["notes"].is_array() && one["contacts"][0].get("taggings").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_parameters_are_400_in_the_array_shape() {
    let sim = start(small(10)).await;
    let api = Api::new(&sim, ACCOUNT);
    for bad in [
        "limit=0",
        "limit=501",
        "include=everything",
        "status=zombie",
        "lists=nope",
        "updated_after=last-week",
        "include_count=maybe",
    ] {
        let a = api.get(&format!("/v3/contacts?{bad}")).await;
        assert_eq!(a.status, 400, "{bad}");
        assert_eq!(error_key(&a, true), "contacts.api.bad.request");
    }
    assert_eq!(
        api.get("/v3/contact_custom_fields?limit=101").await.status,
        400
    );
    assert_eq!(sim.stats().bad_requests, 8);
    sim.shutdown().await;
}

#[tokio::test]
async fn custom_fields_page_and_match_the_dataset() {
    let sim = start(small(5)).await;
    let api = Api::new(&sim, ACCOUNT);
    let defs = sim.dataset().custom_fields(ACCOUNT);
    assert!((4..=5).contains(&defs.len()));
    let whole = api.get("/v3/contact_custom_fields").await;
    assert_eq!(whole.json()["custom_fields"].as_array().unwrap(), &defs);
    assert!(whole.next().is_none());
    let pages = api.all_pages("/v3/contact_custom_fields?limit=2").await;
    let paged: Vec<serde_json::Value> = pages
        .iter()
        .flat_map(|p| p.json()["custom_fields"].as_array().unwrap().clone())
        .collect();
    assert_eq!(paged, defs);
    let next = pages[0].next().unwrap();
    let cursor = next.split("cursor=").nth(1).unwrap();
    assert_eq!(
        api.get(&format!("/v3/contacts?cursor={cursor}"))
            .await
            .status,
        400,
        "cursor of another endpoint"
    );
    sim.shutdown().await;
}
