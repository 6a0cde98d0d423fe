//! CPU cost per contact, for the benchmark budget (CSV without gzip: <= 2 us per ~1 KB contact).
//!
//! `cargo test --release --lib encode::speed_tests -- --ignored --nocapture`; debug builds are
//! ~10x slower. Measured out of tree at opt-level 3 on the shared dev VM (1.4 KB sample, min of
//! 40 runs): CSV ~2.5 us (parse of the borrowed view ~1.9 us, csv writer ~0.3 us; the full
//! `Contact` parse alone was ~3.5 us), NDJSON ~0.05 us.

use super::*;
use crate::cc::model::CustomFieldDef;
use serde_json::{Value, json};

/// A realistic ~1 KB contact, for the speed check below.
fn sample_contact(i: usize) -> Value {
    json!({
        "contact_id": format!("1618ae62-4752-11e9-9c8a-fa163e6b{i:04x}"),
        "email_address": {"address": format!("person{i}@example.com"), "permission_to_send": "implicit",
            "created_at": "2019-03-15T18:23:08Z", "updated_at": "2019-03-15T18:23:08Z", "opt_in_source": "Contact",
            "opt_in_date": "2019-03-15T18:23:08Z", "confirm_status": "off"},
        "first_name": "Jonathan", "last_name": "Smith-Ågren", "job_title": "Musician", "company_name": "Acme, Inc.",
        "birthday_month": 11, "birthday_day": 24, "anniversary": "2006-11-15",
        "create_source": "Account", "update_source": "Contact",
        "created_at": "2019-03-15T18:23:08Z", "updated_at": "2023-08-01T10:00:00Z",
        "custom_fields": [{"custom_field_id": "1618ae62-4752-11e9-9c8a-fa163e6b01c1", "value": "Jazz"}],
        "phone_numbers": [{"phone_number_id": "e5e8c4a6-4752-11e9-9c8a-fa163e6b01c1", "phone_number": "+1-555-555-5555",
            "kind": "home", "created_at": "2019-03-15T18:23:08Z", "updated_at": "2019-03-15T18:23:08Z"}],
        "street_addresses": [{"street_address_id": "ee2d8a48-4752-11e9-9c8a-fa163e6b01c1", "kind": "home",
            "street": "123 Kashmir Valley Road", "city": "Chicago", "state": "Illinois", "postal_code": "60609",
            "country": "United States", "created_at": "2019-03-15T18:23:08Z", "updated_at": "2019-03-15T18:23:08Z"}],
        "list_memberships": ["07936f78-662a-11eb-af0a-fa163e56c9b0", "7f1e8a1e-662a-11eb-af0a-fa163e56c9b0"],
        "taggings": ["1bdc8eb0-4752-11e9-9c8a-fa163e6b01c1"],
        "notes": [{"note_id": "26b4a2d4-4752-11e9-9c8a-fa163e6b01c1", "created_at": "2019-03-15T18:23:08Z", "content": "Met at the show."}]
    })
}

#[test]
#[ignore]
fn speed() {
    let page: Vec<_> = (0..500)
        .map(|i| RawValue::from_string(sample_contact(i).to_string()).unwrap())
        .collect();
    let bytes: usize = page.iter().map(|r| r.get().len()).sum();
    let defs = [CustomFieldDef {
        custom_field_id: "1618ae62-4752-11e9-9c8a-fa163e6b01c1".into(),
        label: "Genre".into(),
        ..Default::default()
    }];
    let columns = resolve_columns(None, &defs).unwrap();
    for format in [Format::Csv, Format::Ndjson] {
        let mut enc = build_encoder(format, &columns, false);
        let mut out = Vec::new();
        // The fastest of 40 runs: the VM is shared, the minimum is the least disturbed.
        let per = (0..40)
            .map(|_| {
                let start = std::time::Instant::now();
                out.clear();
                assert_eq!(enc.encode_page(&page, &mut out).unwrap(), page.len());
                start.elapsed() / page.len() as u32
            })
            .min()
            .unwrap();
        println!(
            "{format:?}: {per:?}/contact ({} B JSON avg, {} B out avg)",
            bytes / page.len(),
            out.len() / page.len()
        );
    }
}
