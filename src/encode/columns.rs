//! CSV columns: the design's default set (v2 bulk export names) and `--columns` resolution.

use super::EncodeError;
use crate::cc::model::CustomFieldDef;
use serde::{Deserialize, Serialize};

/// Headers of the default columns, in order (the v2 bulk export names users already map).
pub const DEFAULT_COLUMN_NAMES: &[&str] = &[
    "Email",
    "First Name",
    "Last Name",
    "Contact ID",
    "Job Title",
    "Company Name",
    "Work Phone",
    "Home Phone",
    "Mobile Phone",
    "Address Line 1",
    "City",
    "State",
    "Country",
    "Zip/Postal Code",
    "Birthday",
    "Anniversary",
    "Email Permission",
    "List Memberships",
    "Tags",
    "Created At",
    "Updated At",
];

/// Prefix of a custom field entry in `--columns`: `custom_field:<custom_field_id>`.
pub const CUSTOM_FIELD_PREFIX: &str = "custom_field:";

/// One CSV column. Stored in checkpoint state, so a resumed export writes the same columns.
/// What each column holds is documented on [`super::csv::CsvEncoder`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Column {
    Email,
    FirstName,
    LastName,
    ContactId,
    JobTitle,
    CompanyName,
    WorkPhone,
    HomePhone,
    MobilePhone,
    AddressLine1,
    City,
    State,
    Country,
    ZipPostalCode,
    Birthday,
    Anniversary,
    EmailPermission,
    ListMemberships,
    Tags,
    CreatedAt,
    UpdatedAt,
    /// The contact's value of custom field `id`; `header` is the field's label (or its id).
    CustomField {
        id: String,
        header: String,
    },
}

/// The fixed columns in `DEFAULT_COLUMN_NAMES` order.
const DEFAULT_COLUMNS: [Column; 21] = [
    Column::Email,
    Column::FirstName,
    Column::LastName,
    Column::ContactId,
    Column::JobTitle,
    Column::CompanyName,
    Column::WorkPhone,
    Column::HomePhone,
    Column::MobilePhone,
    Column::AddressLine1,
    Column::City,
    Column::State,
    Column::Country,
    Column::ZipPostalCode,
    Column::Birthday,
    Column::Anniversary,
    Column::EmailPermission,
    Column::ListMemberships,
    Column::Tags,
    Column::CreatedAt,
    Column::UpdatedAt,
];

/// How many fixed (not custom field) columns there are: every [`Column::fixed_index`] is below.
pub const FIXED_COLUMNS: usize = DEFAULT_COLUMNS.len();

impl Column {
    /// A fixed column's place in the default order; `None` for a custom field column.
    pub fn fixed_index(&self) -> Option<usize> {
        DEFAULT_COLUMNS.iter().position(|c| c == self)
    }

    /// The CSV header cell of this column.
    pub fn header(&self) -> &str {
        match self {
            Column::CustomField { header, .. } => header,
            fixed => {
                let i = fixed.fixed_index();
                DEFAULT_COLUMN_NAMES[i.expect("every fixed column is a default column")]
            }
        }
    }

    fn custom(def: &CustomFieldDef) -> Column {
        let header = if def.label.is_empty() {
            &def.custom_field_id
        } else {
            &def.label
        };
        Column::CustomField {
            id: def.custom_field_id.clone(),
            header: header.clone(),
        }
    }
}

/// Resolves `--columns`.
///
/// `None`: the default columns in order, then one column per custom field definition (header =
/// its label, or its id when the label is empty). `Some("Email,First Name,custom_field:<id>")`:
/// exactly those, in that order; names match case-insensitively, blanks around entries and
/// empty entries are ignored, repeats are kept. An unknown name or custom field id, or a spec
/// with no entry at all, is [`EncodeError::UnknownColumn`] listing every valid name.
pub fn resolve_columns(
    spec: Option<&str>,
    custom_fields: &[CustomFieldDef],
) -> Result<Vec<Column>, EncodeError> {
    let Some(spec) = spec else {
        let mut cols = DEFAULT_COLUMNS.to_vec();
        cols.extend(custom_fields.iter().map(Column::custom));
        return Ok(cols);
    };
    let unknown = |name: &str| EncodeError::UnknownColumn {
        name: name.to_owned(),
        valid: valid_names(custom_fields),
    };
    let mut cols = Vec::new();
    for name in spec.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        cols.push(resolve_one(name, custom_fields).ok_or_else(|| unknown(name))?);
    }
    if cols.is_empty() {
        return Err(unknown(spec));
    }
    Ok(cols)
}

fn resolve_one(name: &str, custom_fields: &[CustomFieldDef]) -> Option<Column> {
    if let Some(i) = DEFAULT_COLUMN_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(name))
    {
        return Some(DEFAULT_COLUMNS[i].clone());
    }
    let prefix = name.get(..CUSTOM_FIELD_PREFIX.len())?;
    if !prefix.eq_ignore_ascii_case(CUSTOM_FIELD_PREFIX) {
        return None;
    }
    let id = name[CUSTOM_FIELD_PREFIX.len()..].trim();
    // Ids are UUIDs: an exact match first, then one that differs only in hex case.
    let def = custom_fields
        .iter()
        .find(|d| d.custom_field_id == id)
        .or_else(|| {
            custom_fields
                .iter()
                .find(|d| d.custom_field_id.eq_ignore_ascii_case(id))
        })?;
    Some(Column::custom(def))
}

fn valid_names(custom_fields: &[CustomFieldDef]) -> String {
    let mut names: Vec<String> = DEFAULT_COLUMN_NAMES.iter().map(|n| n.to_string()).collect();
    for def in custom_fields {
        let label = if def.label.is_empty() {
            String::new()
        } else {
            format!(" ({})", def.label)
        };
        names.push(format!(
            "{CUSTOM_FIELD_PREFIX}{}{label}",
            def.custom_field_id
        ));
    }
    if custom_fields.is_empty() {
        names.push(format!("{CUSTOM_FIELD_PREFIX}<custom_field_id>"));
    }
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> Vec<CustomFieldDef> {
        let def = |id: &str, label: &str| CustomFieldDef {
            custom_field_id: id.into(),
            label: label.into(),
            ..Default::default()
        };
        vec![def("1a2b-cf", "Shoe Size"), def("9f9f-cf", "")]
    }

    #[test]
    fn default_columns_then_custom_fields() {
        let cols = resolve_columns(None, &defs()).unwrap();
        let headers: Vec<&str> = cols.iter().map(Column::header).collect();
        let mut want = DEFAULT_COLUMN_NAMES.to_vec();
        want.extend(["Shoe Size", "9f9f-cf"]);
        assert_eq!(headers, want);
        assert_eq!(
            cols[21],
            Column::CustomField {
                id: "1a2b-cf".into(),
                header: "Shoe Size".into()
            }
        );
        assert_eq!(resolve_columns(None, &[]).unwrap().len(), 21);
    }

    #[test]
    fn selection_keeps_order_and_ignores_case() {
        let spec = " updated at,EMAIL , custom_field:1A2B-CF,first name,,Zip/postal code";
        let cols = resolve_columns(Some(spec), &defs()).unwrap();
        assert_eq!(
            cols,
            vec![
                Column::UpdatedAt,
                Column::Email,
                Column::CustomField {
                    id: "1a2b-cf".into(),
                    header: "Shoe Size".into()
                },
                Column::FirstName,
                Column::ZipPostalCode,
            ]
        );
        let cols = resolve_columns(Some("Custom_Field:9f9f-cf"), &defs()).unwrap();
        assert_eq!(cols[0].header(), "9f9f-cf");
    }

    #[test]
    fn unknown_names_list_the_valid_ones() {
        let err = resolve_columns(Some("Email,Shoe Size"), &defs()).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(&err, EncodeError::UnknownColumn { name, .. } if name == "Shoe Size"));
        assert!(msg.contains("unknown column \"Shoe Size\""), "{msg}");
        assert!(msg.contains("Email, First Name, Last Name"), "{msg}");
        assert!(msg.contains("custom_field:1a2b-cf (Shoe Size)"), "{msg}");
        assert!(msg.contains("custom_field:9f9f-cf"), "{msg}");

        let err = resolve_columns(Some("custom_field:nope"), &defs()).unwrap_err();
        assert!(
            matches!(&err, EncodeError::UnknownColumn { name, .. } if name == "custom_field:nope")
        );
        assert!(resolve_columns(Some(" , "), &defs()).is_err());
    }

    #[test]
    fn columns_survive_checkpoint_serialization() {
        let cols = resolve_columns(None, &defs()).unwrap();
        let text = serde_json::to_string(&cols).unwrap();
        assert_eq!(serde_json::from_str::<Vec<Column>>(&text).unwrap(), cols);
    }
}
