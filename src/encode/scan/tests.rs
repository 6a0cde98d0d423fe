//! The scanner against serde_json on the same bodies: whenever the scanner takes a page, serde
//! takes it too and makes the same views and fields; the simulator's pages (compact or pretty)
//! and ordinary edge cases must stay on the fast path.

use serde_json::{Value, json};

use super::read_page;
use crate::cc::page::PageBody;
use crate::encode::view::ContactView;
use crate::sim::Dataset;

fn by_serde(text: &str) -> Result<String, serde_json::Error> {
    let (views, fields) = serde_json::from_str::<PageBody<Vec<ContactView>>>(text)?.split();
    Ok(format!("{views:?} {fields:?}"))
}

/// `Some(true)` when the scanner took the text (and agreed with serde), `Some(false)` when it
/// handed it on; panics when it took a text serde refuses or read it differently.
fn agree(text: &str) -> bool {
    let Ok((views, fields)) = read_page(text) else {
        return false;
    };
    match by_serde(text) {
        Ok(want) => assert_eq!(format!("{views:?} {fields:?}"), want, "{text}"),
        Err(e) => panic!("the scanner took what serde refuses ({e}): {text}"),
    }
    true
}

fn page(contacts: &[Value]) -> String {
    json!({
        "contacts": contacts,
        "contacts_count": contacts.len(),
        "_links": {"next": {"href": "/v3/contacts?cursor=abc"}, "self": {"href": "/x"}},
    })
    .to_string()
}

fn sim_contacts(account: &str, n: u64) -> Vec<Value> {
    let ds = Dataset::new(7, 10_000);
    (0..n)
        .map(|i| {
            let mut c = ds.contact(account, i * 37);
            c.as_object_mut().unwrap().remove("notes");
            c
        })
        .collect()
}

#[test]
fn simulator_pages_take_the_fast_path_compact_and_pretty() {
    for account in ["a", "b", "c"] {
        let contacts = sim_contacts(account, 60);
        let compact = page(&contacts);
        assert!(agree(&compact), "compact page of {account} was handed on");
        let v: Value = serde_json::from_str(&compact).unwrap();
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        assert!(agree(&pretty), "pretty page of {account} was handed on");
        let (views, _) = read_page(&compact).unwrap();
        assert_eq!(views.len(), 60);
    }
}

#[test]
fn edge_cases_stay_on_the_fast_path_and_agree() {
    let fast = [
        r#"{"contacts":[]}"#,
        r#"{}"#,
        r#" { "contacts" : [ ] , "_links" : null , "contacts_count" : null } "#,
        r#"{"_links":{"next":null},"contacts":[{}]}"#,
        r#"{"_links":{"next":{"href":"/v3/contacts?cursor=a\u0062c","x":[1]}}}"#,
        r#"{"contacts":[{"first_name":"A\"b\\c\/d\b\f\n\r\t","last_name":"\u00e9\ud83d\ude00x"}]}"#,
        r#"{"contacts":[{"first_name":"\u0000\uDBFF\uDFFF\u00E9","last_name":"a\\u0041\\","job_title":"\"\"x"}]}"#,
        r#"{"contacts":[{"company_name":"\ud800\udc00 tail \u20ac\\\/ more than sixteen bytes \u00e9"}]}"#,
        r#"{"contacts":[{"contact_id":null,"email_address":null,"custom_fields":null,
            "phone_numbers":null,"street_addresses":null,"list_memberships":null,"taggings":null}]}"#,
        r#"{"contacts":[{"email_address":{"address":"a@b","permission_to_send":null,"x":{"y":[true,false,null,-1.5e+3]}}}]}"#,
        r#"{"contacts":[{"birthday_month":-3,"birthday_day":31,"x":0,"y":1E-9,"z":[[[]]]}]}"#,
        r#"{"contacts":[{"custom_fields":[{"custom_field_id":"f","value":"v"},{"custom_field_id":"g",
            "choice_ids":["1","2","3"]},{"value":null,"choice_ids":[]}]}]}"#,
        r#"{"contacts":[{"phone_numbers":[{"kind":"WORK","phone_number":"1"},{"kind":"work","phone_number":"2"},
            {"kind":null},{"kind":"mobile"},{"kind":"home","phone_number":null}]}]}"#,
        r#"{"contacts":[{"street_addresses":[{"kind":"work","city":"W"},{"kind":"Home","city":"H"},
            {"kind":"home","city":"H2"}]}]}"#,
        r#"{"contacts":[{"street_addresses":[{"city":"no kind"}],"list_memberships":["a"],"taggings":["x","y\u0041"]}]}"#,
        r#"{"contacts":[{"notes":[{"content":"a,b\"c"}],"first_name":"0123456789abcdef0123456789abcdef\"x"}]}"#,
        "{\"contacts\":[{\"first_name\":\"\u{e9}\u{1F600} tail that is longer than sixteen bytes\"}]}",
        r#"{"contacts_count":123456789012345678,"extra":{"contacts":5}}"#,
        r#"{"contacts":[{"list_memberships":["a","b,c","d"],"taggings":["x", "y"]}]}"#,
        r#"{"contacts":[{"list_memberships":["a","b\n","c"],"taggings":["\"x","y"],"custom_fields":[
            {"custom_field_id":"f","choice_ids":["1","2"]},{"custom_field_id":"g","choice_ids":[ "3" ,"4"]}]}]}"#,
        r#"{"contacts":[{"list_memberships":["",""],"taggings":[""]}]}"#,
    ];
    for text in fast {
        assert!(agree(text), "handed on: {text}");
    }
}

#[test]
fn what_serde_refuses_or_reads_otherwise_is_handed_on() {
    let handed_on = [
        "",
        "[]",
        r#"{"contacts":null}"#,
        r#"{"contacts":[{"first_name":"a","first_name":"b"}]}"#,
        r#"{"contacts":[],"contacts":[]}"#,
        r#"{"contacts":[{"birthday_day":1.0}]}"#,
        r#"{"contacts":[{"birthday_day":1e1}]}"#,
        r#"{"contacts":[{"birthday_day":01}]}"#,
        r#"{"contacts":[{"birthday_day":-0}]}"#,
        r#"{"contacts":[{"first_name":5}]}"#,
        r#"{"contacts":[{"email_address":{"address":null}}]}"#,
        r#"{"contacts":[{"email_address":["a@b","x"]}]}"#,
        r#"{"contacts":[{"fir\u0073t_name":"a","first_name":"b"}]}"#,
        r#"{"contacts":[{"taggings":[null]}]}"#,
        r#"{"contacts":[{"custom_fields":[null]}]}"#,
        r#"{"contacts":[{"street_addresses":[{"kind":null}]}]}"#,
        r#"{"contacts_count":-1}"#,
        r#"{"contacts_count":9999999999999999999}"#,
        r#"{"contacts":[{"birthday_month":99999999999999999999999}]}"#,
        r#"{"_links":{"next":{}}}"#,
        r#"{"_links":{"next":{"href":null}}}"#,
        r#"{"contacts":[{"last_name":"\ud800"}]}"#,
        r#"{"contacts":[{"last_name":"\udc00"}]}"#,
        r#"{"contacts":[{"last_name":"\ud83d\u0041"}]}"#,
        r#"{"contacts":[{"last_name":"\ud83dx"}]}"#,
        r#"{"contacts":[{"last_name":"\ud83d\n"}]}"#,
        r#"{"contacts":[]} x"#,
        r#"{"contacts":[{"list_memberships":["a","b",]}]}"#,
        r#"{"contacts":[{"list_memberships":["a""b"]}]}"#,
        r#"{"contacts":[{"list_memberships":["a","b"}]}"#,
        r#"{"contacts":[{"list_memberships":["a",1]}]}"#,
        r#"{"contacts":[{"list_memberships":["a","b"]"#,
        r#"{"contacts":[],}"#,
        "{\"contacts\":[{\"first_name\":\"a\u{1}b\"}]}",
    ];
    for text in handed_on {
        assert!(!agree(text), "taken: {text}");
    }
}

/// Every cut and every one-byte change of a two-contact page: the scanner never takes what
/// serde refuses, and never reads a value differently.
#[test]
fn cut_and_mutated_pages_never_disagree() {
    let text = page(&sim_contacts("m", 2));
    let b = text.as_bytes();
    let mut taken = 0;
    for cut in 0..b.len() {
        if let Ok(t) = std::str::from_utf8(&b[..cut]) {
            assert!(!agree(t), "a cut page was taken: {t}");
        }
    }
    let swaps = b"\"\\,:{}[]0-.en \x01x";
    for at in 0..b.len() {
        for &with in swaps.iter().chain(std::iter::once(&b[at])) {
            let mut m = b.to_vec();
            m[at] = with;
            if let Ok(t) = std::str::from_utf8(&m) {
                taken += usize::from(agree(t));
            }
        }
        let mut dropped = b.to_vec();
        dropped.remove(at);
        if let Ok(t) = std::str::from_utf8(&dropped) {
            taken += usize::from(agree(t));
        }
    }
    // The unchanged page (once per position) and many harmless changes were taken.
    assert!(taken > b.len(), "only {taken} mutants taken");
}

#[test]
fn random_edits_never_disagree() {
    let text = page(&sim_contacts("r", 3));
    let mut rng = fastrand::Rng::with_seed(11);
    let pieces: [&[u8]; 12] = [
        b"\"",
        b"\\u0041",
        b"null",
        b"[]",
        b"{}",
        b",",
        b"\"k\":1,",
        b"1.5",
        b" ",
        b"\\",
        b"\"x\"",
        b"true",
    ];
    for _ in 0..3_000 {
        let mut m = text.as_bytes().to_vec();
        for _ in 0..rng.usize(1..4) {
            let at = rng.usize(0..m.len());
            match rng.u8(0..3) {
                0 => drop(m.splice(at..at, pieces[rng.usize(0..pieces.len())].iter().copied())),
                1 => drop(m.remove(at)),
                _ => {
                    let end = (at + rng.usize(1..12)).min(m.len());
                    m.splice(at..end, pieces[rng.usize(0..pieces.len())].iter().copied());
                }
            }
        }
        if let Ok(t) = std::str::from_utf8(&m) {
            agree(t);
        }
    }
}

/// Strings of random escapes (pairs, lone halves, every short escape, raw non-ASCII) in a field
/// a column reads: the scanner's unescaping is serde_json's, or the page is handed on.
#[test]
fn random_escapes_unescape_as_serde_does() {
    let mut rng = fastrand::Rng::with_seed(5);
    let pieces = [
        r"\n",
        r"\t",
        r"\b",
        r"\f",
        r"\r",
        r"\/",
        r"\\",
        r#"\""#,
        r"\u0041",
        r"\u00e9",
        r"\u20AC",
        r"\ud83d",
        r"\uDE00",
        r"\udbff\udfff",
        r"\u0000",
        "é",
        "€",
        "a",
        ",",
        "x\u{1F600}",
    ];
    let (mut taken, mut taken_unicode, mut handed_on) = (0, 0, 0);
    for _ in 0..4_000 {
        let value: String = (0..rng.usize(1..8))
            .map(|_| pieces[rng.usize(0..pieces.len())])
            .collect();
        let text =
            format!(r#"{{"contacts":[{{"first_name":"{value}","taggings":["{value}","t"]}}]}}"#);
        if agree(&text) {
            taken += 1;
            taken_unicode += usize::from(value.contains(r"\u"));
        } else {
            handed_on += 1;
        }
    }
    // Most strings with a `\u` escape are taken (a lone surrogate is what hands one on).
    assert!(
        taken_unicode > 1_000 && handed_on > 100,
        "{taken} taken ({taken_unicode} with a \\u escape), {handed_on} handed on"
    );
}

/// Key prediction: contacts whose keys change order, repeat, or only start like the key that
/// came last time read exactly as serde reads them.
#[test]
fn keys_in_changing_orders_agree_with_serde() {
    let fast = [
        // The second contact's keys come in another order, one is missing, one is new.
        r#"{"contacts":[{"first_name":"a","last_name":"b","job_title":"c"},
            {"last_name":"d","first_name":"e","x":1,"job_title":"f"},{"first_name":"g","last_name":"h"}]}"#,
        // Keys that begin like the predicted one, or that it begins like.
        r#"{"contacts":[{"first_name":"a","last_name":"b"},{"first_name_x":"c","last_nam":"d",
            "first_name":"e","last_name":"f"}]}"#,
        // Phones and addresses learn from the elements before them, in this contact or another.
        r#"{"contacts":[{"phone_numbers":[{"kind":"work","phone_number":"1"},{"phone_number":"2","kind":"home"}]},
            {"phone_numbers":[{"kind":"mobile","phone_number":"3"}],"street_addresses":[{"kind":"home","city":"X"}]}]}"#,
    ];
    for text in fast {
        assert!(agree(text), "handed on: {text}");
    }
    // A duplicate after a correctly predicted key is still a duplicate.
    let twice =
        r#"{"contacts":[{"first_name":"a","last_name":"b"},{"first_name":"c","first_name":"d"}]}"#;
    assert!(!agree(twice), "taken: {twice}");
    let twice = r#"{"contacts":[{"first_name":"a","last_name":"b"},{"first_name":"c","last_name":"d","last_name":"e"}]}"#;
    assert!(!agree(twice), "taken: {twice}");
}

/// Keys no shape knows, different in every contact: never predicted, read all the same.
#[test]
fn unknown_keys_different_in_every_contact_agree_with_serde() {
    let contacts: Vec<Value> = (0..40)
        .map(|i| {
            let mut c = serde_json::Map::new();
            for k in 0..5 {
                c.insert(format!("extra_{i}_{k}"), json!(k));
            }
            c.insert("first_name".into(), json!(format!("n{i}")));
            Value::Object(c)
        })
        .collect();
    let text = page(&contacts);
    assert!(agree(&text));
    let (views, _) = read_page(&text).unwrap();
    assert_eq!(views[39].first_name.as_ref().unwrap().as_str(), "n39");
}
