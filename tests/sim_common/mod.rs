//! Helpers shared by the simulator's integration tests.
#![allow(dead_code)]

use std::net::SocketAddr;

use cc_export::sim::{SimConfig, Simulator};
use serde_json::Value;

pub const ACCOUNT: &str = "acct-1";

pub async fn start(cfg: SimConfig) -> Simulator {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    Simulator::start(cfg, addr).await.expect("simulator starts")
}

pub fn small(contacts: u64) -> SimConfig {
    SimConfig {
        contacts,
        ..SimConfig::default()
    }
}

/// A connection to one simulator as one account.
pub struct Api {
    pub http: reqwest::Client,
    pub origin: String,
    pub token: String,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    /// `_links.next.href`, if any.
    pub fn next(&self) -> Option<String> {
        self.json()["_links"]["next"]["href"]
            .as_str()
            .map(str::to_owned)
    }

    pub fn ids(&self) -> Vec<String> {
        let page = self.json();
        let contacts = page["contacts"].as_array().expect("contacts array");
        contacts
            .iter()
            .map(|c| c["contact_id"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Api {
    pub fn new(sim: &Simulator, account: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            origin: format!("http://{}", sim.addr()),
            token: sim.issue_tokens(account).access_token,
        }
    }

    /// GET a path such as `/v3/contacts?limit=5` (or an `_links.next.href`).
    pub async fn get(&self, path_and_query: &str) -> Answer {
        let resp = self
            .http
            .get(format!("{}{path_and_query}", self.origin))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("body").to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Follows `_links.next` from `first` to the end; returns every page.
    pub async fn all_pages(&self, first: &str) -> Vec<Answer> {
        let mut pages = vec![self.get(first).await];
        while let Some(next) = pages.last().unwrap().next() {
            let page = self.get(&next).await;
            assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
            pages.push(page);
        }
        pages
    }

    pub async fn all_ids(&self, first: &str) -> Vec<String> {
        self.all_pages(first)
            .await
            .iter()
            .flat_map(Answer::ids)
            .collect()
    }
}

/// The one error item of a v3 error body; `array` tells which shape is expected.
pub fn error_key(answer: &Answer, array: bool) -> String {
    let body = answer.json();
    let item = if array {
        assert!(body.is_array(), "expected the array error shape: {body}");
        body[0].clone()
    } else {
        assert!(
            body.is_object(),
            "expected the single-object error shape: {body}"
        );
        body
    };
    assert!(item["error_message"].is_string(), "{item}");
    item["error_key"].as_str().unwrap().to_owned()
}
