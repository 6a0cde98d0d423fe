//! `ContactsQuery` and the URLs of the v3 endpoints.

use serde::{Deserialize, Serialize};
use url::Url;

use super::error::CcError;

/// Most list ids one `lists` filter takes (the API's limit).
pub const MAX_LISTS: usize = 25;
pub const MAX_LIMIT: u16 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Include {
    CustomFields,
    ListMemberships,
    PhoneNumbers,
    StreetAddresses,
    Taggings,
    Notes,
}

impl Include {
    pub const ALL: [Include; 6] = [
        Include::CustomFields,
        Include::ListMemberships,
        Include::PhoneNumbers,
        Include::StreetAddresses,
        Include::Taggings,
        Include::Notes,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Include::CustomFields => "custom_fields",
            Include::ListMemberships => "list_memberships",
            Include::PhoneNumbers => "phone_numbers",
            Include::StreetAddresses => "street_addresses",
            Include::Taggings => "taggings",
            Include::Notes => "notes",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContactsQuery {
    /// Page size, 1..=500.
    pub limit: u16,
    pub include: Vec<Include>,
    /// List ids, at most 25.
    pub lists: Vec<String>,
    pub status: Vec<String>,
    pub updated_after: Option<String>,
    pub updated_before: Option<String>,
    pub created_after: Option<String>,
    pub created_before: Option<String>,
    pub include_count: bool,
}

impl Default for ContactsQuery {
    fn default() -> Self {
        Self {
            limit: MAX_LIMIT,
            include: Include::ALL.to_vec(),
            lists: Vec::new(),
            status: Vec::new(),
            updated_after: None,
            updated_before: None,
            created_after: None,
            created_before: None,
            include_count: false,
        }
    }
}

/// `{base}/{segment}`, keeping the base's own path (`/v3`).
pub(crate) fn endpoint(base: &Url, segment: &str) -> Result<Url, CcError> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| CcError::Config(format!("base URL cannot have a path: {base}")))?
        .pop_if_empty()
        .push(segment);
    Ok(url)
}

/// `GET {base}/contacts?limit=…&include=…` for the first page of `q`.
pub(crate) fn contacts_url(base: &Url, q: &ContactsQuery) -> Result<Url, CcError> {
    if !(1..=MAX_LIMIT).contains(&q.limit) {
        return Err(CcError::Config(format!(
            "limit must be 1..={MAX_LIMIT}, got {}",
            q.limit
        )));
    }
    if q.lists.len() > MAX_LISTS {
        return Err(CcError::Config(format!(
            "at most {MAX_LISTS} lists per query, got {}",
            q.lists.len()
        )));
    }
    let mut url = endpoint(base, "contacts")?;
    {
        let mut p = url.query_pairs_mut();
        p.append_pair("limit", &q.limit.to_string());
        if !q.include.is_empty() {
            let inc: Vec<&str> = q.include.iter().map(|i| i.as_str()).collect();
            p.append_pair("include", &inc.join(","));
        }
        if !q.lists.is_empty() {
            p.append_pair("lists", &q.lists.join(","));
        }
        if !q.status.is_empty() {
            p.append_pair("status", &q.status.join(","));
        }
        let dates = [
            ("updated_after", &q.updated_after),
            ("updated_before", &q.updated_before),
            ("created_after", &q.created_after),
            ("created_before", &q.created_before),
        ];
        for (name, value) in dates {
            if let Some(v) = value {
                p.append_pair(name, v);
            }
        }
        if q.include_count {
            p.append_pair("include_count", "true");
        }
    }
    Ok(url)
}

/// `GET {base}/contacts?cursor=…`: the cursor carries the original query.
pub(crate) fn cursor_url(base: &Url, cursor: &str) -> Result<Url, CcError> {
    if cursor.is_empty() {
        return Err(CcError::Config("empty cursor".into()));
    }
    let mut url = endpoint(base, "contacts")?;
    url.query_pairs_mut().append_pair("cursor", cursor);
    Ok(url)
}

/// Resolves a `_links.next.href` (relative to the API origin) and refuses any other origin,
/// which would otherwise receive the bearer token.
pub(crate) fn resolve_href(base: &Url, href: &str) -> Result<Url, CcError> {
    let url = base.join(href).map_err(|e| CcError::Malformed {
        detail: format!("next link is not a URL ({e})"),
    })?;
    if url.origin() != base.origin() {
        return Err(CcError::Malformed {
            detail: format!(
                "next link leaves the API origin: {}",
                url.origin().ascii_serialization()
            ),
        });
    }
    Ok(url)
}

/// The `cursor` query parameter of a next link, what checkpoints store.
pub(crate) fn cursor_of(base: &Url, href: &str) -> Option<String> {
    let url = base.join(href).ok()?;
    url.query_pairs()
        .find(|(k, _)| k == "cursor")
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://127.0.0.1:8080/v3").unwrap()
    }

    #[test]
    fn endpoint_keeps_the_base_path() {
        assert_eq!(
            endpoint(&base(), "contacts").unwrap().as_str(),
            "http://127.0.0.1:8080/v3/contacts"
        );
        let slash = Url::parse("https://api.cc.email/v3/").unwrap();
        assert_eq!(
            endpoint(&slash, "contact_custom_fields").unwrap().as_str(),
            "https://api.cc.email/v3/contact_custom_fields"
        );
    }

    #[test]
    fn default_query() {
        let url = contacts_url(&base(), &ContactsQuery::default()).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/v3/contacts?limit=500&include=custom_fields%2Clist_memberships%2Cphone_numbers%2Cstreet_addresses%2Ctaggings%2Cnotes"
        );
    }

    #[test]
    fn full_query() {
        let q = ContactsQuery {
            limit: 50,
            include: vec![Include::Taggings],
            lists: vec!["a".into(), "b".into()],
            status: vec!["all".into()],
            updated_after: Some("2024-01-01T00:00:00+00:00".into()),
            created_before: Some("2025-01-01T00:00:00Z".into()),
            include_count: true,
            ..Default::default()
        };
        let url = contacts_url(&base(), &q).unwrap();
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("limit"), Some("50"));
        assert_eq!(get("include"), Some("taggings"));
        assert_eq!(get("lists"), Some("a,b"));
        assert_eq!(get("status"), Some("all"));
        assert_eq!(get("updated_after"), Some("2024-01-01T00:00:00+00:00"));
        assert_eq!(get("created_before"), Some("2025-01-01T00:00:00Z"));
        assert_eq!(get("include_count"), Some("true"));
        assert_eq!(get("updated_before"), None);
        assert!(
            url.as_str().contains("%2B00%3A00"),
            "plus sign must be escaped: {url}"
        );
    }

    #[test]
    fn limits_are_checked() {
        let too_many = ContactsQuery {
            lists: (0..26).map(|i| i.to_string()).collect(),
            ..Default::default()
        };
        assert!(matches!(
            contacts_url(&base(), &too_many),
            Err(CcError::Config(_))
        ));
        for limit in [0, 501] {
            let q = ContactsQuery {
                limit,
                ..Default::default()
            };
            assert!(matches!(contacts_url(&base(), &q), Err(CcError::Config(_))));
        }
        let no_count = contacts_url(&base(), &ContactsQuery::default()).unwrap();
        assert!(!no_count.as_str().contains("include_count"));
    }

    #[test]
    fn next_links_resolve_against_the_origin() {
        let href = "/v3/contacts?cursor=bGltaXQ9MSZuZXh0PTI%3D";
        let url = resolve_href(&base(), href).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/v3/contacts?cursor=bGltaXQ9MSZuZXh0PTI%3D"
        );
        assert_eq!(
            cursor_of(&base(), href).as_deref(),
            Some("bGltaXQ9MSZuZXh0PTI=")
        );
        assert!(resolve_href(&base(), "https://evil.example/v3/contacts?cursor=x").is_err());
        assert_eq!(cursor_of(&base(), "/v3/contacts?limit=5"), None);
    }

    #[test]
    fn cursor_url_escapes() {
        let url = cursor_url(&base(), "a+b/c=").unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/v3/contacts?cursor=a%2Bb%2Fc%3D"
        );
        assert!(cursor_url(&base(), "").is_err());
    }

    #[test]
    fn query_serde_defaults() {
        let q: ContactsQuery =
            serde_json::from_str(r#"{"limit":100,"include":["list_memberships"]}"#).unwrap();
        assert_eq!(q.limit, 100);
        assert_eq!(q.include, vec![Include::ListMemberships]);
        assert!(!q.include_count);
    }
}
