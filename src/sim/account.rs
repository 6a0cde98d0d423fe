//! Per-account constants: the account seed, its lists, tags and custom field definitions.
//! Built once per request (cheap), never stored.

use serde_json::{Value, json};

use super::clock;
use super::mix::{Stream, hash_str, mix2, uuid_from};
use super::pools;

pub const LIST_COUNT: usize = 8;
pub const TAG_COUNT: usize = 6;

/// What a custom field's values look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValues {
    Text(&'static [&'static str]),
    Choices(&'static [&'static str]),
    MultiChoices(&'static [&'static str]),
    Date,
}

struct Template {
    label: &'static str,
    name: &'static str,
    kind: &'static str,
    values: FieldValues,
}

const LEVELS: &[&str] = &["Gold", "Silver", "Bronze, classic"];
const INTERESTS: &[&str] = &["Cooking", "Travel", "Tech \"gadgets\""];

const TEMPLATES: [Template; 6] = [
    Template {
        label: "Favorite color",
        name: "Favorite_color",
        kind: "string",
        values: FieldValues::Text(pools::COLORS),
    },
    Template {
        label: "Vehicle make and model year",
        name: "Vehicle_make_and_model_year",
        kind: "string",
        values: FieldValues::Text(pools::VEHICLES),
    },
    Template {
        label: "Signup notes",
        name: "Signup_notes",
        kind: "string",
        values: FieldValues::Text(pools::SIGNUP_NOTES),
    },
    Template {
        label: "Membership level",
        name: "Membership_level",
        kind: "single_select",
        values: FieldValues::Choices(LEVELS),
    },
    Template {
        label: "Interests",
        name: "Interests",
        kind: "multi_select",
        values: FieldValues::MultiChoices(INTERESTS),
    },
    Template {
        label: "Signup date",
        name: "Signup_date",
        kind: "date",
        values: FieldValues::Date,
    },
];

/// One custom field definition of an account.
#[derive(Debug, Clone)]
pub struct FieldDef {
    pub id: String,
    pub values: FieldValues,
    template: usize,
    created: i64,
}

/// Everything about an account that its contacts refer to.
#[derive(Debug, Clone)]
pub struct Account {
    pub seed: u64,
    /// Share of contacts that are deleted, in thousandths.
    pub deleted_per_mille: u64,
    pub lists: Vec<String>,
    pub tags: Vec<String>,
    pub fields: Vec<FieldDef>,
}

/// Real accounts hold some deleted contacts, which a default query leaves out.
pub const DEFAULT_DELETED_PER_MILLE: u64 = 25;

impl Account {
    pub fn new(dataset_seed: u64, account_id: &str) -> Self {
        let seed = mix2(dataset_seed, hash_str(account_id));
        let id = |salt: u64, k: usize| {
            uuid_from(mix2(seed ^ salt, k as u64), mix2(seed ^ salt ^ 1, k as u64))
        };
        let lists = (0..LIST_COUNT).map(|k| id(0x4C49_5354, k)).collect();
        let tags = (0..TAG_COUNT).map(|k| id(0x5441_4753, k)).collect();
        // 4 or 5 of the 6 templates, in template order.
        let mut s = Stream::new(mix2(seed, 0x00F1_E1D5));
        let mut skip: Vec<usize> = vec![s.below(6) as usize];
        if s.chance(500) {
            skip.push((skip[0] + 1 + s.below(5) as usize) % 6);
        }
        let fields = (0..TEMPLATES.len())
            .filter(|t| !skip.contains(t))
            .map(|t| FieldDef {
                id: id(0x4346_4C44, t),
                values: TEMPLATES[t].values,
                template: t,
                created: 1_388_534_400 + (mix2(seed, t as u64) % 31_536_000) as i64,
            })
            .collect();
        Self {
            seed,
            deleted_per_mille: DEFAULT_DELETED_PER_MILLE,
            lists,
            tags,
            fields,
        }
    }

    /// The `CustomField` definitions, as `GET /v3/contact_custom_fields` lists them.
    pub fn custom_field_defs(&self) -> Vec<Value> {
        self.fields.iter().map(|f| f.definition()).collect()
    }
}

impl FieldDef {
    fn definition(&self) -> Value {
        let t = &TEMPLATES[self.template];
        let at = clock::date_time(self.created);
        let mut def = json!({
            "custom_field_id": self.id,
            "label": t.label,
            "name": t.name,
            "type": t.kind,
        });
        let extra = match self.values {
            FieldValues::Choices(labels) | FieldValues::MultiChoices(labels) => json!({
                "metadata": {"display_type": if t.kind == "single_select" { "dropdown" } else { "checkbox" }},
                "choices": labels.iter().enumerate().map(|(i, l)| json!({
                    "custom_field_id": self.id,
                    "choice_id": i + 1,
                    "choice_label": l,
                    "display_order": i + 1,
                    "created_at": at,
                    "updated_at": at,
                })).collect::<Vec<_>>(),
            }),
            FieldValues::Date => {
                json!({"metadata": {"display_format": "YYYY-MM-DD"}, "version": 2})
            }
            FieldValues::Text(_) => json!({}),
        };
        let obj = def.as_object_mut().expect("object literal");
        if let Value::Object(extra) = extra {
            obj.extend(extra);
        }
        obj.insert("updated_at".into(), Value::String(at.clone()));
        obj.insert("created_at".into(), Value::String(at));
        def
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_differ_and_have_four_or_five_fields() {
        let a = Account::new(42, "acct-1");
        let b = Account::new(42, "acct-2");
        assert_ne!(a.lists, b.lists);
        for id in ["a", "b", "c", "d", "e", "f", "g"] {
            let n = Account::new(7, id).fields.len();
            assert!((4..=5).contains(&n), "{n}");
        }
        assert_eq!(
            a.custom_field_defs(),
            Account::new(42, "acct-1").custom_field_defs()
        );
    }
}
