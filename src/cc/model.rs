//! Typed view of the v3 `Contacts` / `ContactResource` shapes (official spec, `definitions`).
//!
//! Every struct keeps the fields it does not know in `extra`, so nothing the API sends is lost;
//! NDJSON output goes further and writes each contact's raw JSON text as it came.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PagingLinks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Link {
    pub href: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ContactResource`, every property of the spec, plus whatever else the API sends.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Contact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_address: Option<EmailAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday_month: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday_day: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anniversary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Vec<CustomField>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_numbers: Option<Vec<PhoneNumber>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_addresses: Option<Vec<StreetAddress>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_memberships: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taggings: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<Vec<Note>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_channel: Option<SmsChannel>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `EmailAddress`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct EmailAddress {
    #[serde(default)]
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_to_send: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_in_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_in_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_status: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ContactCustomField`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CustomField {
    #[serde(default)]
    pub custom_field_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice_ids: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `PhoneNumber`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct PhoneNumber {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_source: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `StreetAddress`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct StreetAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address_id: Option<String>,
    #[serde(default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `Note`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct Note {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ContactResource.sms_channel`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct SmsChannel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_channel_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dial_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_channel_consents: Option<Vec<SmsChannelConsent>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `SmsChannelConsentDetails`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct SmsChannelConsent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_consent_permission: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_in_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_out_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertised_frequency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertised_interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One contact as the pipeline carries it: the exact JSON text the API sent and its typed view.
#[derive(Debug, Clone)]
pub struct ContactRecord {
    pub raw: Box<RawValue>,
    pub contact: Contact,
}

impl ContactRecord {
    pub fn parse(raw: Box<RawValue>) -> Result<Self, serde_json::Error> {
        let contact = serde_json::from_str(raw.get())?;
        Ok(Self { raw, contact })
    }
}

/// A v3 error body: `[{"error_key","error_message"}]` or one such object (401, 429).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ApiErrorItem {
    #[serde(default)]
    pub error_key: String,
    #[serde(default)]
    pub error_message: String,
}

impl ApiErrorItem {
    /// Parses either error shape; `None` when the body is neither.
    pub fn parse_body(body: &[u8]) -> Option<Vec<ApiErrorItem>> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shape {
            Many(Vec<ApiErrorItem>),
            One(ApiErrorItem),
        }
        match serde_json::from_slice::<Shape>(body).ok()? {
            Shape::Many(v) => Some(v),
            Shape::One(e) => Some(vec![e]),
        }
    }
}

/// `CustomField` from `GET /v3/contact_custom_fields`: the account's custom field definitions,
/// which give the CSV its custom field columns.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct CustomFieldDef {
    #[serde(default)]
    pub custom_field_id: String,
    #[serde(default)]
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub field_type: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `CustomFields`: one page of `GET /v3/contact_custom_fields`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct CustomFieldsPage {
    #[serde(default)]
    pub custom_fields: Vec<CustomFieldDef>,
    #[serde(default, rename = "_links", skip_serializing_if = "Option::is_none")]
    pub links: Option<PagingLinks>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let text = r#"{"contact_id":"c1","email_address":{"address":"a@b.c","x_new":1},"future_field":{"k":[1,2]}}"#;
        let c: Contact = serde_json::from_str(text).unwrap();
        assert_eq!(c.extra["future_field"]["k"][1], 2);
        assert_eq!(c.email_address.as_ref().unwrap().extra["x_new"], 1);
        let back: Value = serde_json::to_value(&c).unwrap();
        assert_eq!(back, serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn both_error_shapes_parse() {
        let many = br#"[{"error_key":"contacts.api.bad.request","error_message":"bad cursor"}]"#;
        let one = br#"{"error_key":"throttled","error_message":"slow down"}"#;
        assert_eq!(
            ApiErrorItem::parse_body(many).unwrap()[0].error_key,
            "contacts.api.bad.request"
        );
        assert_eq!(
            ApiErrorItem::parse_body(one).unwrap()[0].error_key,
            "throttled"
        );
        assert!(ApiErrorItem::parse_body(b"<html>").is_none());
    }
}
