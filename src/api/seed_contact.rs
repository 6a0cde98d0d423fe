//! A v3 `ContactResource` in the seed's contact shape (seed `000_5c96e4e5f1a6c292.txt`): its
//! fields, in its order, arrays present even when empty, absent scalars `null`. Fields the seed
//! does not show (sms_channel, ids of phone numbers and addresses, sources) are left out.

use serde::Serialize;
use serde_json::Value;

use crate::cc::model::{Contact, CustomField, EmailAddress, Note, PhoneNumber, StreetAddress};

#[derive(Debug, Serialize, PartialEq)]
pub struct SeedContact {
    pub contact_id: Option<String>,
    pub email_address: Option<SeedEmail>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<String>,
    pub company_name: Option<String>,
    pub phone_numbers: Vec<SeedPhone>,
    pub street_addresses: Vec<SeedAddress>,
    pub list_memberships: Vec<String>,
    pub taggings: Vec<String>,
    pub notes: Vec<Value>,
    pub custom_fields: Vec<SeedCustomField>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub birthday_month: Option<i64>,
    pub birthday_day: Option<i64>,
    pub anniversary: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct SeedEmail {
    pub address: String,
    pub permission_to_send: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub opt_in_source: Option<String>,
    pub opt_in_date: Option<String>,
    pub confirm_status: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct SeedPhone {
    pub phone_number: Option<String>,
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct SeedAddress {
    pub kind: String,
    pub street: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct SeedCustomField {
    pub custom_field_id: String,
    pub value: Option<String>,
}

impl From<Contact> for SeedContact {
    fn from(c: Contact) -> Self {
        SeedContact {
            contact_id: c.contact_id,
            email_address: c.email_address.map(SeedEmail::from),
            first_name: c.first_name,
            last_name: c.last_name,
            job_title: c.job_title,
            company_name: c.company_name,
            phone_numbers: each(c.phone_numbers, SeedPhone::from),
            street_addresses: each(c.street_addresses, SeedAddress::from),
            list_memberships: c.list_memberships.unwrap_or_default(),
            taggings: c.taggings.unwrap_or_default(),
            notes: each(c.notes, note),
            custom_fields: each(c.custom_fields, SeedCustomField::from),
            created_at: c.created_at,
            updated_at: c.updated_at,
            birthday_month: c.birthday_month,
            birthday_day: c.birthday_day,
            anniversary: c.anniversary,
        }
    }
}

fn each<T, U>(items: Option<Vec<T>>, f: impl Fn(T) -> U) -> Vec<U> {
    items.unwrap_or_default().into_iter().map(f).collect()
}

/// Notes as the API has them (the seed shows only `[]`).
fn note(n: Note) -> Value {
    serde_json::to_value(n).unwrap_or(Value::Null)
}

impl From<EmailAddress> for SeedEmail {
    fn from(e: EmailAddress) -> Self {
        SeedEmail {
            address: e.address,
            permission_to_send: e.permission_to_send,
            created_at: e.created_at,
            updated_at: e.updated_at,
            opt_in_source: e.opt_in_source,
            opt_in_date: e.opt_in_date,
            confirm_status: e.confirm_status,
        }
    }
}

impl From<PhoneNumber> for SeedPhone {
    fn from(p: PhoneNumber) -> Self {
        SeedPhone {
            phone_number: p.phone_number,
            kind: p.kind,
        }
    }
}

impl From<StreetAddress> for SeedAddress {
    fn from(a: StreetAddress) -> Self {
        SeedAddress {
            kind: a.kind,
            street: a.street,
            city: a.city,
            state: a.state,
            postal_code: a.postal_code,
            country: a.country,
        }
    }
}

impl From<CustomField> for SeedCustomField {
    fn from(f: CustomField) -> Self {
        SeedCustomField {
            custom_field_id: f.custom_field_id,
            value: f.value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_seed_example_maps_to_itself() {
        // The seed's example contact, as v3 sends it (plus fields the seed leaves out).
        let v3 = json!({
            "contact_id": "abc123-def456-ghi789",
            "email_address": {"address": "john.doe@example.com", "permission_to_send": "implicit",
                "created_at": "2020-06-12T01:49:23Z", "updated_at": "2023-10-10T12:00:00Z",
                "opt_in_source": "Contact", "opt_in_date": "2020-06-12T01:49:23Z",
                "confirm_status": "confirmed"},
            "first_name": "John", "last_name": "Doe", "job_title": "Marketing Manager",
            "company_name": "Acme Corporation",
            "phone_numbers": [{"phone_number_id": "p1", "phone_number": "+1-234-567-8900", "kind": "mobile"}],
            "street_addresses": [{"street_address_id": "s1", "kind": "home", "street": "123 Main St",
                "city": "San Francisco", "state": "CA", "postal_code": "94105", "country": "US"}],
            "list_memberships": ["list-abc123", "list-def456"],
            "custom_fields": [{"custom_field_id": "field-123", "value": "Premium Customer"}],
            "created_at": "2020-06-12T01:49:23Z", "updated_at": "2023-10-10T12:00:00Z",
            "birthday_month": 6, "birthday_day": 15, "anniversary": "2015-06-12",
            "create_source": "Account", "sms_channel": {"sms_address": "x"}
        });
        let contact: Contact = serde_json::from_value(v3).unwrap();
        let seed = serde_json::to_value(SeedContact::from(contact)).unwrap();
        let expected = json!({
            "contact_id": "abc123-def456-ghi789",
            "email_address": {"address": "john.doe@example.com", "permission_to_send": "implicit",
                "created_at": "2020-06-12T01:49:23Z", "updated_at": "2023-10-10T12:00:00Z",
                "opt_in_source": "Contact", "opt_in_date": "2020-06-12T01:49:23Z",
                "confirm_status": "confirmed"},
            "first_name": "John", "last_name": "Doe", "job_title": "Marketing Manager",
            "company_name": "Acme Corporation",
            "phone_numbers": [{"phone_number": "+1-234-567-8900", "kind": "mobile"}],
            "street_addresses": [{"kind": "home", "street": "123 Main St", "city": "San Francisco",
                "state": "CA", "postal_code": "94105", "country": "US"}],
            "list_memberships": ["list-abc123", "list-def456"],
            "taggings": [], "notes": [],
            "custom_fields": [{"custom_field_id": "field-123", "value": "Premium Customer"}],
            "created_at": "2020-06-12T01:49:23Z", "updated_at": "2023-10-10T12:00:00Z",
            "birthday_month": 6, "birthday_day": 15, "anniversary": "2015-06-12"
        });
        assert_eq!(seed, expected);
        let keys: Vec<&String> = seed.as_object().unwrap().keys().collect();
        let seed_order: Vec<&String> = expected.as_object().unwrap().keys().collect();
        assert_eq!(keys, seed_order, "fields in the seed's order");
    }
}
