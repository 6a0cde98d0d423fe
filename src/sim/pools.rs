//! Value pools for generated contacts. They deliberately hold what breaks naive exporters:
//! unicode, commas, double quotes, CR/LF inside values, leading `=`/`+`/`-`/`@` (spreadsheet
//! formula injection) and empty strings. Every entry respects the spec's `maxLength`.

pub const FIRST_NAMES: &[&str] = &[
    "José",
    "Zoë",
    "李雷",
    "Ñandú",
    "Debora",
    "Mary-Jane",
    "Oğuz",
    "Åsa",
    "Renée",
    "Siobhán",
    "Grace",
    "Mohammed",
    "Анна",
    "Yuki",
    "Chloé",
    "Tomás",
    "Ngozi",
    "Björn",
    "Priya",
    "😀 Sunny",
    "Liam",
    "Olivia",
    "",
    "=1+1",
    "+Plus",
    "-Minus",
    "@Ada",
    "D'Angelo",
    "Jean \"JJ\"",
    "Lê",
];

pub const LAST_NAMES: &[&str] = &[
    "García",
    "Müller",
    "李",
    "O'Brien",
    "Smith",
    "Lang",
    "Nguyễn",
    "Østergaard",
    "Kowalski",
    "Dubois",
    "Okafor",
    "Иванова",
    "Tanaka",
    "Fernández",
    "Smith, Jr.",
    "van der Berg",
    "",
    "=HYPERLINK(\"http://x\")",
    "-Dash",
    "@Home",
    "Zaïre",
    "Łukasiewicz",
    "🚀Rocket",
    "Brown",
];

pub const JOB_TITLES: &[&str] = &[
    "Musician",
    "CEO",
    "Head of Sales, EMEA",
    "Software Engineer",
    "\"Chief\" Happiness Officer",
    "Baker",
    "Director\r\nOperations",
    "",
    "Ingénieure",
    "マネージャー",
    "+Growth Lead",
    "Nurse",
];

pub const COMPANIES: &[&str] = &[
    "Acme Corp.",
    "Acme, Inc.",
    "The \"Best\" Bakery",
    "Smith & Sons",
    "Line one\r\nLine two LLC",
    "=SUM(A1:A9)",
    "+1 Solutions",
    "-Minus Corp",
    "@Home Ltd",
    "株式会社テスト",
    "Café Ñandú",
    "",
    "Zoë's Zebras",
    "Über GmbH",
    "Tab\tSeparated Co",
    "Multi\nLine\nCo",
    "🍕 Pizza Place",
];

pub const EMAIL_STEMS: &[&str] = &[
    "jose",
    "zoe",
    "lilei",
    "nandu",
    "dlang",
    "mj",
    "oguz",
    "asa",
    "renee",
    "grace",
    "mo",
    "anna",
    "yuki",
    "chloe",
    "tomas",
    "ngozi",
    "bjorn",
    "priya",
    "sunny",
    "liam",
    "o.brien",
    "first+tag",
    "a_b",
    "x-y",
];

pub const EMAIL_DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "mail.example.net",
    "example.co.uk",
    "sub.example.io",
];

pub const PHONES: &[&str] = &[
    "+1-555-555-5555",
    "(555) 555-0123",
    "+44 20 7946 0958",
    "555.555.0199 ext. 12",
    "+81-3-1234-5678",
    "0049 30 1234567",
    "",
    "+33 1 23 45 67 89",
    "=555-0100",
    "5555550000",
];

pub const PHONE_KINDS: &[&str] = &["home", "work", "mobile", "other"];
pub const ADDRESS_KINDS: &[&str] = &["home", "work", "other"];
pub const SOURCES: &[&str] = &["Account", "Contact"];

pub const STREETS: &[&str] = &[
    "123 Kashmir Valley Road",
    "12 Main St, Apt 4",
    "Calle Ñandú 5",
    "1 \"Quoted\" Lane",
    "Line 1\r\nLine 2",
    "Straße des 17. Juni 135",
    "北京市朝阳区建国路88号",
    "",
    "=2+3 Formula Ave",
    "PO Box 42",
    "-1 Negative Way",
    "@ The Corner, Unit 7",
];

pub const CITIES: &[&str] = &[
    "Chicago",
    "São Paulo",
    "Zürich",
    "北京",
    "Reykjavík",
    "Boston",
    "Kraków",
    "",
    "Montréal",
    "Winston-Salem",
    "Saint-Étienne, Loire",
];

pub const STATES: &[&str] = &[
    "Illinois",
    "MA",
    "Zürich",
    "",
    "Île-de-France",
    "NSW",
    "Ontario",
];

pub const POSTAL_CODES: &[&str] = &[
    "60609", "02108", "8001", "", "SW1A 1AA", "H2X 1Y4", "00-001",
];

pub const COUNTRIES: &[&str] = &[
    "United States",
    "Brazil",
    "Switzerland",
    "China",
    "Iceland",
    "Poland",
    "Canada",
    "",
    "Côte d'Ivoire",
    "United Kingdom",
];

pub const NOTES: &[&str] = &[
    "This contact resubscribed on 2021-05-12.",
    "Called twice, no answer.\r\nTry again next week.",
    "Prefers \"email\", not phone, please.",
    "=IMPORTXML(\"http://example.com\",\"//a\")",
    "Met at the trade show; wants a quote, 3 items.",
    "多言語のメモ — ok 👍",
    "",
    "+ follow up\n- send brochure\n@ sales team",
];

pub const OPT_OUT_REASONS: &[&str] = &[
    "I am no longer interested in this service.",
    "Too many emails, \"way\" too many.",
    "",
    "Moved away.\r\nPlease stop.",
];

pub const COLORS: &[&str] = &[
    "Blue",
    "Red, dark",
    "\"Green\"",
    "",
    "=Yellow",
    "Ünïcödé ✨",
];

pub const VEHICLES: &[&str] = &[
    "Tesla S 2017",
    "VW Golf, 2009",
    "Ford \"Model T\" 1925",
    "",
    "-none-",
    "Line\r\nBreak 2001",
];

pub const SIGNUP_NOTES: &[&str] = &[
    "Walk-in",
    "Referred by \"Ana\", via web",
    "=cmd|' /C calc'!A0",
    "",
    "@mention",
    "多行\n文本",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_fit_the_spec_max_lengths() {
        let short: [&[&str]; 9] = [
            FIRST_NAMES,
            LAST_NAMES,
            JOB_TITLES,
            COMPANIES,
            CITIES,
            STATES,
            POSTAL_CODES,
            COUNTRIES,
            COLORS,
        ];
        for pool in short {
            assert!(pool.iter().all(|s| s.chars().count() <= 50), "{pool:?}");
        }
        assert!(PHONES.iter().all(|s| s.chars().count() <= 25));
    }
}
