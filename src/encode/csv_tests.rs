//! CSV encoder tests: every row is read back with the `csv` crate's own Reader.

use super::*;
use crate::cc::model::CustomFieldDef;
use serde_json::{Value, json};

fn raw(v: &Value) -> Box<RawValue> {
    RawValue::from_string(v.to_string()).unwrap()
}

/// Encodes `contacts` both ways an export can: parsed raw then per contact (`encode_page`), and
/// read by the CSV reader in one pass over a page body (`encode_rows`); the bytes must agree.
fn encode(cols: &[Column], escape: bool, contacts: &[Value]) -> Vec<u8> {
    let mut enc = build_encoder(Format::Csv, cols, escape);
    let mut out = Vec::new();
    enc.header(&mut out);
    let page: Vec<_> = contacts.iter().map(raw).collect();
    assert_eq!(enc.encode_page(&page, &mut out).unwrap(), contacts.len());

    let mut one_pass = Vec::new();
    enc.header(&mut one_pass);
    let body = json!({ "contacts": contacts, "_links": {} }).to_string();
    let (rows, _) = (enc.reader())(bytes::Bytes::from(body.clone())).unwrap();
    assert!(
        matches!(rows, Rows::Encoded(_)),
        "the CSV reader made {rows:?}"
    );
    assert_eq!(
        enc.encode_rows(&rows, &mut one_pass).unwrap(),
        contacts.len()
    );
    assert_eq!(
        String::from_utf8_lossy(&one_pass),
        String::from_utf8_lossy(&out),
        "one pass and two passes disagree"
    );

    // The views a page the scanner hands on is read into, written by the lane.
    let mut from_views = Vec::new();
    enc.header(&mut from_views);
    let (views, _) = read_view_rows(bytes::Bytes::from(body)).unwrap();
    assert!(matches!(views, Rows::Views(_)), "{views:?}");
    enc.encode_rows(&views, &mut from_views).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&from_views),
        String::from_utf8_lossy(&out),
        "views and two passes disagree"
    );
    out
}

/// Header and rows as read back by an RFC 4180 reader.
fn read_back(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let header = rdr.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = rdr
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn cols(spec: &str) -> Vec<Column> {
    resolve_columns(Some(spec), &[]).unwrap()
}

const HOSTILE: &[&str] = &[
    "plain",
    "comma, inside",
    "quote \" inside",
    "\"starts and ends\"",
    "line\nfeed",
    "carriage\rreturn",
    "crlf\r\nin middle",
    "trailing newline\n",
    "Zoë Ünïcödé 中文 עברית",
    "emoji 😀👍🏽 family 👨‍👩‍👧",
    "",
    " leading and trailing space ",
    "=SUM(A1:A9)",
    "+1 555",
    "-2+3",
    "@cmd",
    "\ttab first",
    ";semi;colon",
];

#[test]
fn hostile_values_round_trip_exactly() {
    let spec =
        "First Name,Last Name,Email,Company Name,City,Work Phone,Custom_Field:cf1,Contact ID";
    let defs = [CustomFieldDef {
        custom_field_id: "cf1".into(),
        label: "Note, \"q\"".into(),
        ..Default::default()
    }];
    let columns = resolve_columns(Some(spec), &defs).unwrap();
    let contacts: Vec<Value> = HOSTILE
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({
                "contact_id": format!("id-{i}"),
                "first_name": v, "last_name": v, "company_name": v,
                "email_address": {"address": v},
                "street_addresses": [{"kind": "work", "city": v}],
                "phone_numbers": [{"kind": "work", "phone_number": v}],
                "custom_fields": [{"custom_field_id": "cf1", "value": v}],
            })
        })
        .collect();
    let mut all = contacts.clone();
    all.push(json!({"contact_id": "bare"})); // every value missing
    let out = encode(&columns, false, &all);
    let (header, rows) = read_back(&out);
    assert_eq!(
        header,
        [
            "First Name",
            "Last Name",
            "Email",
            "Company Name",
            "City",
            "Work Phone",
            "Note, \"q\"",
            "Contact ID"
        ]
    );
    assert_eq!(rows.len(), HOSTILE.len() + 1);
    for (i, (row, v)) in rows.iter().zip(HOSTILE).enumerate() {
        assert_eq!(row[..7], [*v; 7], "row {i}");
        assert_eq!(row[7], format!("id-{i}"));
    }
    assert_eq!(rows[HOSTILE.len()], ["", "", "", "", "", "", "", "bare"]);
    assert!(!out.starts_with(b"\xEF\xBB\xBF"), "no BOM");
    assert!(std::str::from_utf8(&out).is_ok());
}

#[test]
fn quoting_is_minimal_and_records_end_in_crlf() {
    let rows = [
        json!({"first_name": "a", "last_name": "b,c"}),
        json!({"first_name": "say \"hi\"", "last_name": "x\ny"}),
        json!({}),
    ];
    let out = encode(&cols("First Name,Last Name"), false, &rows);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "First Name,Last Name\r\na,\"b,c\"\r\n\"say \"\"hi\"\"\",\"x\ny\"\r\n,\r\n"
    );
}

#[test]
fn header_is_written_once_and_only_by_header() {
    let mut enc = build_encoder(Format::Csv, &cols("Email,Contact ID"), false);
    let mut out = Vec::new();
    let page = |n: usize| -> Vec<_> {
        (0..n)
            .map(|i| {
                raw(&json!({"contact_id": format!("c{i}"), "email_address": {"address": "Email"}}))
            })
            .collect()
    };
    assert_eq!(enc.encode_page(&page(2), &mut out).unwrap(), 2);
    assert_eq!(
        out, b"Email,c0\r\nEmail,c1\r\n",
        "no header from encode_page"
    );
    let mut file = Vec::new();
    enc.header(&mut file);
    assert_eq!(file, b"Email,Contact ID\r\n");
    enc.encode_page(&page(3), &mut file).unwrap();
    enc.encode_page(&page(0), &mut file).unwrap();
    enc.encode_page(&page(1), &mut file).unwrap();
    let text = String::from_utf8(file).unwrap();
    assert_eq!(text.matches("Contact ID").count(), 1);
    assert_eq!(text.matches("\r\n").count(), 5);
    assert_eq!(text.matches('\n').count(), 5, "every LF is part of a CRLF");
}

#[test]
fn default_columns_map_the_contact_resource() {
    let defs = [
        CustomFieldDef {
            custom_field_id: "cf-size".into(),
            label: "Shoe Size".into(),
            ..Default::default()
        },
        CustomFieldDef {
            custom_field_id: "cf-colors".into(),
            label: "".into(),
            ..Default::default()
        },
        CustomFieldDef {
            custom_field_id: "cf-none".into(),
            label: "Unset".into(),
            ..Default::default()
        },
    ];
    let contact = json!({
        "contact_id": "c-1", "first_name": "Ada", "last_name": "Lovelace", "job_title": "Analyst",
        "company_name": "Engines", "email_address": {"address": "ada@x.org", "permission_to_send": "implicit"},
        "phone_numbers": [
            {"kind": "other", "phone_number": "0"}, {"kind": "Home", "phone_number": "111"},
            {"kind": "home", "phone_number": "222"}, {"kind": "MOBILE", "phone_number": "333"}],
        "street_addresses": [
            {"kind": "work", "street": "1 Work St", "city": "Worktown"},
            {"kind": "HOME", "street": "2 Home Rd", "city": "London", "state": "LDN", "country": "GB", "postal_code": "N1 9GU"}],
        "birthday_month": 3, "birthday_day": 7, "anniversary": "2006-11-15",
        "list_memberships": ["l1", "l2", "l3"], "taggings": ["t1"],
        "custom_fields": [
            {"custom_field_id": "cf-colors", "choice_ids": ["red", "blue"]},
            {"custom_field_id": "cf-other", "value": "ignored"},
            {"custom_field_id": "cf-size", "value": "42"}],
        "created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-02-03T04:05:06.000Z",
        "future_field": {"kept": true}
    });
    let (header, rows) = read_back(&encode(
        &resolve_columns(None, &defs).unwrap(),
        false,
        &[contact],
    ));
    let mut want_header: Vec<&str> = DEFAULT_COLUMN_NAMES.to_vec();
    want_header.extend(["Shoe Size", "cf-colors", "Unset"]);
    assert_eq!(header, want_header);
    assert_eq!(
        rows[0],
        [
            "ada@x.org",
            "Ada",
            "Lovelace",
            "c-1",
            "Analyst",
            "Engines",
            "",
            "111",
            "333",
            "2 Home Rd",
            "London",
            "LDN",
            "GB",
            "N1 9GU",
            "03/07",
            "2006-11-15",
            "implicit",
            "l1;l2;l3",
            "t1",
            "2024-01-02T03:04:05Z",
            "2024-02-03T04:05:06.000Z",
            "42",
            "red;blue",
            ""
        ]
    );
}

#[test]
fn partial_values_fall_back_as_documented() {
    let defs = [CustomFieldDef {
        custom_field_id: "x".into(),
        label: "X".into(),
        ..Default::default()
    }];
    let spec = "Birthday,City,Work Phone,List Memberships,custom_field:x";
    let columns = resolve_columns(Some(spec), &defs).unwrap();
    let c = |v: Value| read_back(&encode(&columns, false, &[v])).1.remove(0);
    // Month without day: no birthday. No home address: the first one. Empty lists: empty.
    let row = c(
        json!({"birthday_month": 12, "street_addresses": [{"kind": "work", "city": "A"}, {"kind": "other", "city": "B"}],
        "phone_numbers": [{"kind": "work"}], "list_memberships": [], "custom_fields": [{"custom_field_id": "x", "value": "", "choice_ids": ["z"]}]}),
    );
    assert_eq!(row, ["", "A", "", "", ""]);
    let row = c(
        json!({"birthday_month": 1, "birthday_day": 31, "custom_fields": [{"custom_field_id": "x"}]}),
    );
    assert_eq!(row, ["01/31", "", "", "", ""]);
    let row = c(json!({"birthday_month": 10, "birthday_day": 0}));
    assert_eq!(row[0], "10/00");
    let row = c(json!({"birthday_month": 123, "birthday_day": -4}));
    assert_eq!(row[0], "123/-4", "out-of-range values are written as given");
    // The first phone of a kind decides, even when it has no number.
    let row =
        c(json!({"phone_numbers": [{"kind": "WORK"}, {"kind": "work", "phone_number": "2"}]}));
    assert_eq!(row[2], "");
}

#[test]
fn custom_field_ids_that_share_a_prefix_or_are_short_find_their_own_column() {
    // The lookup compares each id's first 8 bytes as an integer first: ids equal there, ids
    // shorter than 8 bytes (zero-padded), and one that is a prefix of another must still match
    // exactly their own column, whatever order the contact lists them in.
    let ids = [
        "abcdefgh-2",
        "abcdefgh-1",
        "abcdefgh",
        "abc",
        "ab",
        "",
        "abcdefgi",
    ];
    let defs: Vec<_> = ids
        .iter()
        .map(|id| CustomFieldDef {
            custom_field_id: (*id).into(),
            ..Default::default()
        })
        .collect();
    let spec: Vec<String> = ids.iter().map(|id| format!("custom_field:{id}")).collect();
    let columns = resolve_columns(Some(&spec.join(",")), &defs).unwrap();
    let field = |id: &str| json!({"custom_field_id": id, "value": format!("v[{id}]")});
    let mut listed: Vec<Value> = ids.iter().rev().map(|id| field(id)).collect();
    // Ids no column shows, next to ones that do.
    listed.extend(["abcdefgh-3", "abcdefg", "abd", "a"].map(field));
    listed.rotate_left(3);
    let (_, rows) = read_back(&encode(
        &columns,
        false,
        &[json!({"custom_fields": listed})],
    ));
    let want: Vec<String> = ids.iter().map(|id| format!("v[{id}]")).collect();
    assert_eq!(rows, [want]);
    // Absent ones stay empty; an unshown one with the same first 8 bytes does not fill them.
    let (_, rows) = read_back(&encode(
        &columns,
        false,
        &[json!({"custom_fields": [field("abcdefgh-3"), field("abcdefgh-1")]})],
    ));
    assert_eq!(rows, [["", "v[abcdefgh-1]", "", "", "", "", ""]]);
}

#[test]
fn column_selection_order_and_repeats() {
    let contact = json!({"contact_id": "c9", "first_name": "F", "last_name": "L", "email_address": {"address": "e@x"}});
    let (header, rows) = read_back(&encode(
        &cols("last NAME, email,CONTACT id,Email"),
        false,
        &[contact],
    ));
    assert_eq!(header, ["Last Name", "Email", "Contact ID", "Email"]);
    assert_eq!(rows, [["L", "e@x", "c9", "e@x"]]);
}

#[test]
fn single_empty_column_rows_stay_visible() {
    let out = encode(&cols("Job Title"), false, &[json!({})]);
    assert_eq!(out, b"Job Title\r\n\"\"\r\n");
}

#[test]
fn formula_escaping_is_opt_in() {
    let defs = [CustomFieldDef {
        custom_field_id: "f".into(),
        label: "=HYPERLINK(\"x\")".into(),
        ..Default::default()
    }];
    let columns = resolve_columns(Some("First Name,custom_field:f"), &defs).unwrap();
    let values = [
        "=1+2", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "a=b", "", "'quoted", " =spaced",
    ];
    let contacts: Vec<Value> = values
        .iter()
        .map(|v| json!({"first_name": v, "custom_fields": [{"custom_field_id": "f", "value": v}]}))
        .collect();

    let (header, rows) = read_back(&encode(&columns, false, &contacts));
    assert_eq!(header[1], "=HYPERLINK(\"x\")");
    for (row, v) in rows.iter().zip(values) {
        assert_eq!(row, &[v, v], "off: values stay exact");
    }

    let (header, rows) = read_back(&encode(&columns, true, &contacts));
    assert_eq!(header, ["First Name", "'=HYPERLINK(\"x\")"]);
    let want = [
        "'=1+2",
        "'+1",
        "'-1",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "a=b",
        "",
        "'quoted",
        " =spaced",
    ];
    for (row, w) in rows.iter().zip(want) {
        assert_eq!(row, &[w, w]);
    }
}

#[test]
fn malformed_contact_reports_index_and_id_and_leaks_nothing() {
    let mut enc = build_encoder(Format::Csv, &cols("Contact ID"), false);
    let page = [
        raw(&json!({"contact_id": "ok-0"})),
        raw(&json!({"contact_id": "bad-1", "birthday_month": "June"})),
    ];
    let mut out = Vec::new();
    let err = enc.encode_page(&page, &mut out).unwrap_err();
    match &err {
        EncodeError::MalformedContact {
            index, contact_id, ..
        } => {
            assert_eq!((*index, contact_id.as_deref()), (1, Some("bad-1")));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("contact #1") && err.to_string().contains("bad-1"),
        "{err}"
    );
    assert!(out.is_empty(), "nothing of a failed page is appended");
    let page = [raw(
        &json!({"contact_id": 7, "email_address": "not an object"}),
    )];
    match enc.encode_page(&page, &mut out).unwrap_err() {
        EncodeError::MalformedContact {
            index: 0,
            contact_id: None,
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    enc.encode_page(&[raw(&json!({"contact_id": "next"}))], &mut out)
        .unwrap();
    assert_eq!(
        out, b"next\r\n",
        "rows of the failed pages never show up later"
    );
}

#[test]
fn ndjson_through_build_encoder() {
    let mut enc = build_encoder(Format::Ndjson, &cols("Email"), true);
    let mut out = Vec::new();
    enc.header(&mut out);
    let text = r#"{"contact_id":"c1","first_name":"=x"}"#;
    let n = enc
        .encode_page(&[RawValue::from_string(text.into()).unwrap()], &mut out)
        .unwrap();
    assert_eq!((n, out), (1, format!("{text}\n").into_bytes()));
}

#[test]
fn each_encoder_reads_its_own_rows() {
    let body = bytes::Bytes::from_static(br#"{"contacts":[{"contact_id":"a"}]}"#);
    let mut ndjson = build_encoder(Format::Ndjson, &[], false);
    let (raw, _) = (ndjson.reader())(body.clone()).unwrap();
    assert!(matches!(raw, Rows::Raw(_)), "{raw:?}");
    let mut out = Vec::new();
    assert_eq!(ndjson.encode_rows(&raw, &mut out).unwrap(), 1);
    assert_eq!(out, b"{\"contact_id\":\"a\"}\n");
    // Views carry no raw text: handing them to NDJSON is a wiring bug, refused, not written.
    let (views, _) = read_view_rows(body).unwrap();
    out.clear();
    assert!(matches!(
        ndjson.encode_rows(&views, &mut out),
        Err(EncodeError::RowsNotRead)
    ));
    assert!(out.is_empty());
}
