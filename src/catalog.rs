//! The catalog: the cities of the metropolitan area, the kinds of issuing department and the
//! licence types the gateway knows (`policies/catalog/*.csv`).
//!
//! Loading validates everything and reports every problem at once, each with its file and
//! line. A copy of the shipped files is compiled in ([`Catalog::embedded`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

/// A city (prefecture-level city or directly administered county-level city).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct City {
    /// Six-digit administrative division code, e.g. `420100`.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// Six-digit code of the parent division, e.g. `420000`.
    pub parent: String,
}

/// A kind of issuing department, e.g. `MARKET_REG`; every city has its own department of a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    /// `[A-Z_]+`.
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

/// A licence type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenceType {
    /// `[A-Z0-9_]+`, e.g. `BUSINESS_LICENCE`.
    pub code: String,
    /// GB/T 36904 type code (`[0-9A-Z]+`), the one carried in licence ids; `…LOCAL…` codes are local.
    pub type_code: String,
    pub name_zh: String,
    pub name_en: String,
    /// Department kinds that may issue this type (at least one).
    pub issuer_kinds: Vec<String>,
    /// Fields a licence of this type must carry (at least one, no duplicates).
    pub required_fields: Vec<String>,
}

/// One problem found in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as named to the loader.
    pub file: String,
    /// 1-based line; 0 when the problem concerns the whole file (e.g. it cannot be read).
    pub line: u64,
    /// Lowercase message, user input in backticks.
    pub message: String,
}

impl Problem {
    pub fn new(file: &str, line: u64, message: impl Into<String>) -> Problem {
        Problem {
            file: file.to_owned(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

/// Writes problems one per line.
pub fn write_problems(f: &mut fmt::Formatter<'_>, problems: &[Problem]) -> fmt::Result {
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            writeln!(f)?;
        }
        write!(f, "{p}")?;
    }
    Ok(())
}

/// Every problem found while loading the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, &self.problems)
    }
}

impl std::error::Error for CatalogError {}

/// The validated catalog with O(1) lookups by code.
#[derive(Debug, Clone)]
pub struct Catalog {
    cities: Vec<City>,
    departments: Vec<Department>,
    licence_types: Vec<LicenceType>,
    city_index: HashMap<String, usize>,
    department_index: HashMap<String, usize>,
    licence_type_index: HashMap<String, usize>,
}

const CITIES_FILE: &str = "cities.csv";
const DEPARTMENTS_FILE: &str = "departments.csv";
const LICENCE_TYPES_FILE: &str = "licence-types.csv";

const CITIES_HEADER: &[&str] = &["code", "name_zh", "name_en", "parent"];
const DEPARTMENTS_HEADER: &[&str] = &["code", "name_zh", "name_en"];
const LICENCE_TYPES_HEADER: &[&str] = &[
    "code",
    "type_code",
    "name_zh",
    "name_en",
    "issuer_kinds",
    "key_fields",
];

const EMBEDDED_CITIES: &str = include_str!("../policies/catalog/cities.csv");
const EMBEDDED_DEPARTMENTS: &str = include_str!("../policies/catalog/departments.csv");
const EMBEDDED_LICENCE_TYPES: &str = include_str!("../policies/catalog/licence-types.csv");

/// The catalog files compiled into the binary, by file name under `catalog/` (to write a
/// policies directory that loads like the shipped one).
pub const EMBEDDED_FILES: [(&str, &str); 3] = [
    ("cities.csv", EMBEDDED_CITIES),
    ("departments.csv", EMBEDDED_DEPARTMENTS),
    ("licence-types.csv", EMBEDDED_LICENCE_TYPES),
];

fn is_city_code(s: &str) -> bool {
    s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_department_code(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

fn is_licence_code(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn is_type_code(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Reads the rows of one CSV file after checking its header; every row has exactly the
/// header's number of columns (other rows are reported and skipped).
fn rows(
    file: &str,
    text: &str,
    header: &[&str],
    problems: &mut Vec<Problem>,
) -> Vec<(u64, Vec<String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    let mut seen_header = false;
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                problems.push(Problem::new(file, line, format!("unreadable csv: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let fields: Vec<String> = record.iter().map(str::to_owned).collect();
        if !seen_header {
            seen_header = true;
            if fields != header {
                problems.push(Problem::new(
                    file,
                    line,
                    format!(
                        "header is `{}`, expected `{}`",
                        fields.join(",").escape_debug(),
                        header.join(",")
                    ),
                ));
            }
            continue;
        }
        if fields.len() != header.len() {
            problems.push(Problem::new(
                file,
                line,
                format!(
                    "{} columns, expected {} ({})",
                    fields.len(),
                    header.len(),
                    header.join(",")
                ),
            ));
            continue;
        }
        out.push((line, fields));
    }
    if !seen_header {
        problems.push(Problem::new(
            file,
            1,
            format!("missing header row `{}`", header.join(",")),
        ));
    } else if out.is_empty() && !problems.iter().any(|p| p.file == file) {
        problems.push(Problem::new(file, 0, "no rows"));
    }
    out
}

/// Reports an empty name column.
fn check_name(file: &str, line: u64, column: &str, value: &str, problems: &mut Vec<Problem>) {
    if value.trim().is_empty() {
        problems.push(Problem::new(file, line, format!("{column} is empty")));
    }
}

/// Records `code` at `line` in `index`; reports a duplicate with the line of the first one.
fn register(
    file: &str,
    line: u64,
    what: &str,
    code: &str,
    seen: &mut HashMap<String, u64>,
    problems: &mut Vec<Problem>,
) {
    if let Some(first) = seen.get(code) {
        problems.push(Problem::new(
            file,
            line,
            format!(
                "duplicate {what} `{}`, first on line {first}",
                code.escape_debug()
            ),
        ));
    } else {
        seen.insert(code.to_owned(), line);
    }
}

/// Splits a `sep`-separated list, reporting an empty list, empty entries and duplicates.
fn split_list(
    file: &str,
    line: u64,
    column: &str,
    value: &str,
    sep: char,
    problems: &mut Vec<Problem>,
) -> Vec<String> {
    if value.is_empty() {
        problems.push(Problem::new(file, line, format!("{column} is empty")));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for (i, entry) in value.split(sep).enumerate() {
        if entry.trim().is_empty() {
            problems.push(Problem::new(
                file,
                line,
                format!(
                    "{column} entry {} is empty in `{}`",
                    i + 1,
                    value.escape_debug()
                ),
            ));
        } else if out.iter().any(|e| e == entry) {
            problems.push(Problem::new(
                file,
                line,
                format!("duplicate {column} entry `{}`", entry.escape_debug()),
            ));
        } else {
            out.push(entry.to_owned());
        }
    }
    out
}

/// Destructures a row whose length `rows` already checked.
fn take<const N: usize>(fields: Vec<String>) -> Option<[String; N]> {
    fields.try_into().ok()
}

impl Catalog {
    /// The copy compiled into the binary (include_str! of policies/catalog/*.csv).
    pub fn embedded() -> Result<Catalog, CatalogError> {
        Catalog::parse_named(
            ("policies/catalog/cities.csv", EMBEDDED_CITIES),
            ("policies/catalog/departments.csv", EMBEDDED_DEPARTMENTS),
            ("policies/catalog/licence-types.csv", EMBEDDED_LICENCE_TYPES),
        )
    }

    /// Loads `<policies dir>/catalog/{cities,departments,licence-types}.csv`.
    pub fn load(policies_dir: &Path) -> Result<Catalog, CatalogError> {
        let dir = policies_dir.join("catalog");
        let mut problems = Vec::new();
        let mut read = |name: &str| -> (String, String) {
            let path = dir.join(name);
            let shown = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(text) => (shown, text),
                Err(e) => {
                    problems.push(Problem::new(&shown, 0, format!("cannot read: {e}")));
                    (shown, String::new())
                }
            }
        };
        let cities = read(CITIES_FILE);
        let departments = read(DEPARTMENTS_FILE);
        let licence_types = read(LICENCE_TYPES_FILE);
        if !problems.is_empty() {
            return Err(CatalogError { problems });
        }
        Catalog::parse_named(
            (&cities.0, &cities.1),
            (&departments.0, &departments.1),
            (&licence_types.0, &licence_types.1),
        )
    }

    /// From the three CSV texts (file names used in error messages).
    pub fn parse(
        cities: &str,
        departments: &str,
        licence_types: &str,
    ) -> Result<Catalog, CatalogError> {
        Catalog::parse_named(
            (CITIES_FILE, cities),
            (DEPARTMENTS_FILE, departments),
            (LICENCE_TYPES_FILE, licence_types),
        )
    }

    /// Parses `(file name, text)` pairs.
    fn parse_named(
        (cities_file, cities_text): (&str, &str),
        (departments_file, departments_text): (&str, &str),
        (types_file, types_text): (&str, &str),
    ) -> Result<Catalog, CatalogError> {
        let mut problems = Vec::new();

        let mut cities = Vec::new();
        let mut seen = HashMap::new();
        for (line, fields) in rows(cities_file, cities_text, CITIES_HEADER, &mut problems) {
            let Some([code, name_zh, name_en, parent]) = take(fields) else {
                continue;
            };
            let f = cities_file;
            if !is_city_code(&code) {
                let msg = format!("city code `{}` must be 6 digits", code.escape_debug());
                problems.push(Problem::new(f, line, msg));
            }
            if !is_city_code(&parent) {
                let msg = format!("parent code `{}` must be 6 digits", parent.escape_debug());
                problems.push(Problem::new(f, line, msg));
            }
            check_name(f, line, "name_zh", &name_zh, &mut problems);
            check_name(f, line, "name_en", &name_en, &mut problems);
            register(f, line, "city code", &code, &mut seen, &mut problems);
            cities.push(City {
                code,
                name_zh,
                name_en,
                parent,
            });
        }

        let mut departments = Vec::new();
        let mut seen = HashMap::new();
        for (line, fields) in rows(
            departments_file,
            departments_text,
            DEPARTMENTS_HEADER,
            &mut problems,
        ) {
            let Some([code, name_zh, name_en]) = take(fields) else {
                continue;
            };
            let f = departments_file;
            if !is_department_code(&code) {
                let msg = format!(
                    "department code `{}` must be one or more of A-Z and _",
                    code.escape_debug()
                );
                problems.push(Problem::new(f, line, msg));
            }
            check_name(f, line, "name_zh", &name_zh, &mut problems);
            check_name(f, line, "name_en", &name_en, &mut problems);
            register(f, line, "department code", &code, &mut seen, &mut problems);
            departments.push(Department {
                code,
                name_zh,
                name_en,
            });
        }
        let department_codes: HashSet<&str> = departments.iter().map(|d| d.code.as_str()).collect();

        let mut licence_types = Vec::new();
        let mut seen_codes = HashMap::new();
        let mut seen_type_codes = HashMap::new();
        for (line, fields) in rows(types_file, types_text, LICENCE_TYPES_HEADER, &mut problems) {
            let Some([code, type_code, name_zh, name_en, issuers, key_fields]) = take(fields)
            else {
                continue;
            };
            let f = types_file;
            if !is_licence_code(&code) {
                let msg = format!(
                    "licence code `{}` must be one or more of A-Z, 0-9 and _",
                    code.escape_debug()
                );
                problems.push(Problem::new(f, line, msg));
            }
            if !is_type_code(&type_code) {
                let msg = format!(
                    "type code `{}` must be one or more of 0-9 and A-Z",
                    type_code.escape_debug()
                );
                problems.push(Problem::new(f, line, msg));
            }
            check_name(f, line, "name_zh", &name_zh, &mut problems);
            check_name(f, line, "name_en", &name_en, &mut problems);
            register(
                f,
                line,
                "licence code",
                &code,
                &mut seen_codes,
                &mut problems,
            );
            register(
                f,
                line,
                "type code",
                &type_code,
                &mut seen_type_codes,
                &mut problems,
            );
            let issuer_kinds = split_list(f, line, "issuer_kinds", &issuers, '|', &mut problems);
            for kind in &issuer_kinds {
                if !department_codes.contains(kind.as_str()) {
                    let msg = format!("unknown issuer kind `{}`", kind.escape_debug());
                    problems.push(Problem::new(f, line, msg));
                }
            }
            let required_fields =
                split_list(f, line, "key_fields", &key_fields, ';', &mut problems);
            licence_types.push(LicenceType {
                code,
                type_code,
                name_zh,
                name_en,
                issuer_kinds,
                required_fields,
            });
        }

        if !problems.is_empty() {
            return Err(CatalogError { problems });
        }
        let index = |codes: Vec<&String>| -> HashMap<String, usize> {
            codes
                .into_iter()
                .enumerate()
                .map(|(i, c)| (c.clone(), i))
                .collect()
        };
        Ok(Catalog {
            city_index: index(cities.iter().map(|c| &c.code).collect()),
            department_index: index(departments.iter().map(|d| &d.code).collect()),
            licence_type_index: index(licence_types.iter().map(|t| &t.code).collect()),
            cities,
            departments,
            licence_types,
        })
    }

    /// The city with this six-digit code.
    pub fn city(&self, code: &str) -> Option<&City> {
        self.city_index.get(code).and_then(|&i| self.cities.get(i))
    }

    /// The department kind with this code.
    pub fn department(&self, code: &str) -> Option<&Department> {
        self.department_index
            .get(code)
            .and_then(|&i| self.departments.get(i))
    }

    /// The licence type with this code (e.g. `BUSINESS_LICENCE`, not the GB/T type code).
    pub fn licence_type(&self, code: &str) -> Option<&LicenceType> {
        self.licence_type_index
            .get(code)
            .and_then(|&i| self.licence_types.get(i))
    }

    /// All cities, in file order.
    pub fn cities(&self) -> &[City] {
        &self.cities
    }

    /// All department kinds, in file order.
    pub fn departments(&self) -> &[Department] {
        &self.departments
    }

    /// All licence types, in file order.
    pub fn licence_types(&self) -> &[LicenceType] {
        &self.licence_types
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CITIES: &str = "code,name_zh,name_en,parent\n\
                          420100,武汉市,Wuhan,420000\n\
                          429006,天门市,Tianmen,429000\n";
    const DEPARTMENTS: &str = "code,name_zh,name_en\n\
                               PUBLIC_SECURITY,公安局,Public Security Bureau\n\
                               MARKET_REG,市场监督管理局,Market Regulation Administration\n";
    const TYPES: &str = "code,type_code,name_zh,name_en,issuer_kinds,key_fields\n\
                         ID_CARD,4200000000LOCAL000001,居民身份证,Resident Identity Card,PUBLIC_SECURITY,公民身份号码;姓名\n\
                         BUSINESS_LICENCE,4200000000LOCAL000034,营业执照,Business Licence,MARKET_REG|PUBLIC_SECURITY,统一社会信用代码;名称\n";

    #[test]
    fn embedded_catalog_loads() {
        let catalog = Catalog::embedded().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(catalog.cities().len(), 9);
        assert_eq!(catalog.departments().len(), 25);
        assert_eq!(catalog.licence_types().len(), 100);
        let bl = catalog.licence_type("BUSINESS_LICENCE");
        assert_eq!(
            bl.map(|t| t.type_code.as_str()),
            Some("4200000000LOCAL000034")
        );
        assert_eq!(
            bl.map(|t| t.issuer_kinds.clone()),
            Some(vec!["MARKET_REG".to_owned()])
        );
        assert_eq!(
            catalog.city("420100").map(|c| c.name_en.as_str()),
            Some("Wuhan")
        );
        assert_eq!(
            catalog.department("MARKET_REG").map(|d| d.name_zh.as_str()),
            Some("市场监督管理局")
        );
        assert!(catalog.city("420000").is_none());
        assert!(catalog.licence_type("business_licence").is_none());
        let drug = catalog.licence_type("DRUG_BUSINESS_LICENCE");
        assert_eq!(
            drug.map(|t| t.issuer_kinds.clone()),
            Some(vec!["DRUG_ADMIN".to_owned(), "MARKET_REG".to_owned()])
        );
    }

    #[test]
    fn load_reads_the_policies_dir() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let catalog = Catalog::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(catalog.licence_types().len(), 100);
    }

    #[test]
    fn load_reports_missing_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-policies-dir");
        let err = Catalog::load(&dir)
            .err()
            .map(|e| e.problems)
            .unwrap_or_default();
        assert_eq!(err.len(), 3);
        assert!(err
            .iter()
            .all(|p| p.line == 0 && p.message.starts_with("cannot read: ")));
    }

    #[test]
    fn small_catalog_parses() {
        let catalog = Catalog::parse(CITIES, DEPARTMENTS, TYPES).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(catalog.cities().len(), 2);
        assert_eq!(
            catalog
                .licence_type("ID_CARD")
                .map(|t| t.required_fields.clone()),
            Some(vec!["公民身份号码".to_owned(), "姓名".to_owned()])
        );
    }

    /// Replaces `from` with `to` once in `text`.
    fn edit(text: &str, from: &str, to: &str) -> String {
        assert!(text.contains(from), "`{from}` not in test text");
        text.replacen(from, to, 1)
    }

    #[test]
    fn broken_files_report_file_line_and_message() {
        // (cities, departments, types, expected display)
        let cases: Vec<(String, String, String, &str)> = vec![
            (
                edit(CITIES, "429006", "420100"),
                DEPARTMENTS.into(),
                TYPES.into(),
                "cities.csv:3: duplicate city code `420100`, first on line 2",
            ),
            (
                edit(CITIES, "429006", "42900"),
                DEPARTMENTS.into(),
                TYPES.into(),
                "cities.csv:3: city code `42900` must be 6 digits",
            ),
            (
                edit(CITIES, "429006", "42900A"),
                DEPARTMENTS.into(),
                TYPES.into(),
                "cities.csv:3: city code `42900A` must be 6 digits",
            ),
            (
                edit(CITIES, ",Tianmen,", ","),
                DEPARTMENTS.into(),
                TYPES.into(),
                "cities.csv:3: 3 columns, expected 4 (code,name_zh,name_en,parent)",
            ),
            (
                edit(CITIES, "name_en,parent", "name_en"),
                DEPARTMENTS.into(),
                TYPES.into(),
                "cities.csv:1: header is `code,name_zh,name_en`, expected `code,name_zh,name_en,parent`",
            ),
            (
                CITIES.into(),
                edit(DEPARTMENTS, "MARKET_REG", "PUBLIC_SECURITY"),
                edit(TYPES, "MARKET_REG|", ""),
                "departments.csv:3: duplicate department code `PUBLIC_SECURITY`, first on line 2",
            ),
            (
                CITIES.into(),
                edit(DEPARTMENTS, "MARKET_REG", "MARKET-REG"),
                edit(TYPES, "MARKET_REG|", ""),
                "departments.csv:3: department code `MARKET-REG` must be one or more of A-Z and _",
            ),
            (
                CITIES.into(),
                DEPARTMENTS.into(),
                edit(TYPES, "BUSINESS_LICENCE", "ID_CARD"),
                "licence-types.csv:3: duplicate licence code `ID_CARD`, first on line 2",
            ),
            (
                CITIES.into(),
                DEPARTMENTS.into(),
                edit(TYPES, "LOCAL000034", "LOCAL000001"),
                "licence-types.csv:3: duplicate type code `4200000000LOCAL000001`, first on line 2",
            ),
            (
                CITIES.into(),
                DEPARTMENTS.into(),
                edit(TYPES, "MARKET_REG|", "MARKET_REGULATION|"),
                "licence-types.csv:3: unknown issuer kind `MARKET_REGULATION`",
            ),
            (
                CITIES.into(),
                DEPARTMENTS.into(),
                edit(TYPES, "MARKET_REG|PUBLIC_SECURITY", ""),
                "licence-types.csv:3: issuer_kinds is empty",
            ),
            (
                CITIES.into(),
                DEPARTMENTS.into(),
                edit(TYPES, "MARKET_REG|PUBLIC_SECURITY", "MARKET_REG||PUBLIC_SECURITY"),
                "licence-types.csv:3: issuer_kinds entry 2 is empty in `MARKET_REG||PUBLIC_SECURITY`",
            ),
            (
                CITIES.into(),
                DEPARTMENTS.into(),
                edit(TYPES, "统一社会信用代码;名称", "名称;;统一社会信用代码;名称"),
                "licence-types.csv:3: key_fields entry 2 is empty in `名称;;统一社会信用代码;名称`\n\
                 licence-types.csv:3: duplicate key_fields entry `名称`",
            ),
            (
                CITIES.into(),
                DEPARTMENTS.into(),
                edit(TYPES, "ID_CARD,", "id-card,"),
                "licence-types.csv:2: licence code `id-card` must be one or more of A-Z, 0-9 and _",
            ),
            (
                CITIES.into(),
                DEPARTMENTS.into(),
                edit(TYPES, "4200000000LOCAL000001", "4200000000local000001"),
                "licence-types.csv:2: type code `4200000000local000001` must be one or more of 0-9 and A-Z",
            ),
            (
                CITIES.into(),
                DEPARTMENTS.into(),
                edit(TYPES, ",公民身份号码;姓名", ""),
                "licence-types.csv:2: 5 columns, expected 6 (code,type_code,name_zh,name_en,issuer_kinds,key_fields)",
            ),
            (
                CITIES.into(),
                DEPARTMENTS.into(),
                String::new(),
                "licence-types.csv:1: missing header row `code,type_code,name_zh,name_en,issuer_kinds,key_fields`",
            ),
            (
                "code,name_zh,name_en,parent\n".into(),
                DEPARTMENTS.into(),
                TYPES.into(),
                "cities.csv: no rows",
            ),
            // several problems in several files at once, in file then line order
            (
                edit(&edit(CITIES, "429006", "420100"), "420000", "4200"),
                edit(DEPARTMENTS, "PUBLIC_SECURITY,公安局", "PUBLIC_SECURITY,"),
                edit(&edit(TYPES, "ID_CARD", "BUSINESS_LICENCE"), "MARKET_REG|", "TAX|"),
                "cities.csv:2: parent code `4200` must be 6 digits\n\
                 cities.csv:3: duplicate city code `420100`, first on line 2\n\
                 departments.csv:2: name_zh is empty\n\
                 licence-types.csv:3: duplicate licence code `BUSINESS_LICENCE`, first on line 2\n\
                 licence-types.csv:3: unknown issuer kind `TAX`",
            ),
        ];
        for (cities, departments, types, want) in cases {
            match Catalog::parse(&cities, &departments, &types) {
                Ok(_) => panic!("parsed, expected:\n{want}"),
                Err(e) => assert_eq!(e.to_string(), want),
            }
        }
    }

    #[test]
    fn quoted_fields_and_line_numbers_follow_the_file() {
        // A quoted field spanning two lines: the next record's line is 4, not 3.
        let types = "code,type_code,name_zh,name_en,issuer_kinds,key_fields\n\
                     ID_CARD,4200000000LOCAL000001,居民身份证,\"Resident\nIdentity Card\",PUBLIC_SECURITY,姓名\n\
                     BUSINESS_LICENCE,4200000000LOCAL000034,营业执照,Business Licence,NOPE,名称\n";
        let err = Catalog::parse(CITIES, DEPARTMENTS, types)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("licence-types.csv:4: unknown issuer kind `NOPE`")
        );
    }
}
