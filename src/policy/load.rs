//! Reading policy files (`policies/items/**/*.toml`) into validated items, reporting every
//! problem with its file and line.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::model::{
    CallerPattern, Day, FieldPath, Forbid, Item, MaskMethod, Origin, Part, Party, Permit, Rate,
};
use super::plan::Plans;
use crate::catalog::{write_problems, Catalog, Problem};
use crate::toml_file;
pub use crate::toml_file::line_at;

/// Policy files are small; a larger one is a mistake (or an attack on the loader).
const MAX_POLICY_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// HTTP methods an item may list.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Every problem found while loading policy files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub problems: Vec<Problem>,
    /// Items that loaded without a problem (the set as a whole is still refused).
    pub items: usize,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, &self.problems)
    }
}

impl std::error::Error for PolicyError {}

/// Unknown keys are reported by [`toml_file::parse`].
#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    item: Vec<Spanned<RawItem>>,
}

#[derive(Deserialize)]
struct RawItem {
    id: Spanned<String>,
    name: String,
    category: String,
    provider: Spanned<String>,
    upstream: Spanned<String>,
    methods: Spanned<Vec<String>>,
    fields: Spanned<Vec<String>>,
    legal_basis: Option<String>,
    #[serde(default)]
    sensitive: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    permit: Vec<Spanned<RawPermit>>,
    #[serde(default)]
    forbid: Vec<Spanned<RawForbid>>,
}

#[derive(Deserialize)]
struct RawPermit {
    id: Spanned<String>,
    callers: Spanned<Vec<String>>,
    purposes: Spanned<Vec<String>>,
    fields: Spanned<Vec<String>>,
    #[serde(default)]
    mask: BTreeMap<String, Spanned<String>>,
    rate: Option<Spanned<String>>,
    require_licence: Option<Spanned<String>>,
    valid_from: Option<Spanned<toml::value::Datetime>>,
    valid_until: Option<Spanned<toml::value::Datetime>>,
}

#[derive(Deserialize)]
struct RawForbid {
    id: Spanned<String>,
    callers: Spanned<Vec<String>>,
    purposes: Option<Spanned<Vec<String>>>,
}

/// The policy files of a directory: `<dir>/items/**/*.toml`, sorted by path.
pub fn policy_files(dir: &Path) -> Result<Vec<PathBuf>, PolicyError> {
    let items = dir.join("items");
    let mut files = Vec::new();
    let mut stack = vec![items.clone()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| {
            single(
                &d.display().to_string(),
                format!("cannot read the directory: {e}"),
            )
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Reads every policy file of `dir` (see [`policy_files`]) as `(name, text)` pairs.
pub fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, PolicyError> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for path in policy_files(dir)? {
        let name = path.display().to_string();
        match std::fs::metadata(&path) {
            Ok(m) if m.len() > MAX_POLICY_FILE_BYTES => {
                problems.push(Problem::new(
                    &name,
                    0,
                    format!("larger than {MAX_POLICY_FILE_BYTES} bytes"),
                ));
                continue;
            }
            Err(e) => {
                problems.push(Problem::new(&name, 0, format!("cannot read: {e}")));
                continue;
            }
            Ok(_) => {}
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => out.push((name, text)),
            Err(e) => problems.push(Problem::new(&name, 0, format!("cannot read: {e}"))),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(PolicyError { problems, items: 0 })
    }
}

/// Parses and validates policy files. `upstreams`: the names the server configuration defines
/// (`None`: not checked).
pub fn parse_files(
    files: &[(String, String)],
    catalog: &Catalog,
    upstreams: Option<&HashSet<String>>,
) -> Result<Vec<Item>, PolicyError> {
    let mut items = Vec::new();
    let mut problems = Vec::new();
    let mut seen_ids: BTreeMap<String, Origin> = BTreeMap::new();
    for (name, text) in files {
        let mut ctx = Ctx {
            file: name,
            text,
            catalog,
            upstreams,
            problems: &mut problems,
        };
        let raw: RawFile = match toml_file::parse(text, name) {
            Ok(r) => r,
            Err(file_problems) => {
                ctx.problems.extend(file_problems);
                continue;
            }
        };
        for raw_item in raw.item {
            let line = ctx.line(raw_item.span().start);
            if let Some(item) = ctx.item(raw_item.into_inner(), line) {
                if let Some(first) = seen_ids.get(&item.id) {
                    let msg = format!(
                        "duplicate item id `{}` (first at {}:{})",
                        item.id, first.file, first.line
                    );
                    ctx.problems.push(Problem::new(name, line, msg));
                    continue;
                }
                seen_ids.insert(item.id.clone(), item.origin.clone());
                items.push(item);
            }
        }
    }
    if problems.is_empty() {
        Ok(items)
    } else {
        Err(PolicyError {
            problems,
            items: items.len(),
        })
    }
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    catalog: &'a Catalog,
    upstreams: Option<&'a HashSet<String>>,
    problems: &'a mut Vec<Problem>,
}

impl Ctx<'_> {
    fn line(&self, offset: usize) -> u64 {
        line_at(self.text, offset)
    }

    fn bad<T>(&mut self, span: &Spanned<T>, message: String) {
        let line = self.line(span.span().start);
        self.problems.push(Problem::new(self.file, line, message));
    }

    fn origin(&self, line: u64) -> Origin {
        Origin {
            file: self.file.to_owned(),
            line,
        }
    }

    fn item(&mut self, raw: RawItem, line: u64) -> Option<Item> {
        let before = self.problems.len();
        let id = raw.id.get_ref().clone();
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        {
            self.bad(&raw.id, format!("item id `{id}` must be [A-Z0-9-]+"));
        }
        let provider =
            self.caller_pattern(&raw.provider)
                .and_then(|p| match (p.city, p.department) {
                    (Part::Is(city), Part::Is(department)) => Some(Party { city, department }),
                    _ => {
                        self.bad(
                            &raw.provider,
                            format!(
                                "provider `{}` must name one city and one department",
                                raw.provider.get_ref()
                            ),
                        );
                        None
                    }
                });
        if let Some(known) = self.upstreams {
            if !known.contains(raw.upstream.get_ref()) {
                self.bad(
                    &raw.upstream,
                    format!(
                        "upstream `{}` is not defined in the server configuration",
                        raw.upstream.get_ref()
                    ),
                );
            }
        }
        for m in raw.methods.get_ref() {
            if !METHODS.contains(&m.as_str()) {
                self.bad(
                    &raw.methods,
                    format!("method `{m}` is not one of {}", METHODS.join(", ")),
                );
            }
        }
        if raw.methods.get_ref().is_empty() {
            self.bad(&raw.methods, "`methods` is empty".into());
        }
        let fields = self.paths(&raw.fields, None);
        let sensitive = raw.sensitive.as_ref().map(|list| {
            list.iter()
                .filter_map(|s| {
                    let p = FieldPath::parse(s.get_ref())
                        .filter(|p| fields.iter().any(|f| p.within(f)));
                    if p.is_none() {
                        self.bad(
                            s,
                            format!(
                                "sensitive field `{}` is not among the item's fields",
                                s.get_ref()
                            ),
                        );
                    }
                    p
                })
                .collect()
        });
        let mut rule_ids = HashSet::new();
        let mut permits = Vec::new();
        for raw_permit in raw.permit {
            let pline = self.line(raw_permit.span().start);
            let p = raw_permit.into_inner();
            self.rule_id(&p.id, &mut rule_ids);
            if let Some(permit) = self.permit(p, &fields, pline) {
                permits.push(permit);
            }
        }
        let mut forbids = Vec::new();
        for raw_forbid in raw.forbid {
            let fline = self.line(raw_forbid.span().start);
            let f = raw_forbid.into_inner();
            self.rule_id(&f.id, &mut rule_ids);
            let callers = self.callers(&f.callers);
            let purposes = f.purposes.as_ref().map(|p| self.purposes(p));
            forbids.push(Forbid {
                id: f.id.into_inner(),
                callers,
                purposes,
                origin: self.origin(fline),
            });
        }
        if self.problems.len() > before {
            return None;
        }
        Some(Item {
            id,
            name: raw.name,
            category: raw.category,
            provider: provider?,
            upstream: raw.upstream.into_inner(),
            methods: raw.methods.into_inner(),
            fields,
            legal_basis: raw.legal_basis,
            sensitive,
            permits,
            forbids,
            origin: self.origin(line),
            plans: Plans::default(),
        })
    }

    fn permit(&mut self, p: RawPermit, item_fields: &[FieldPath], line: u64) -> Option<Permit> {
        let callers = self.callers(&p.callers);
        let purposes = self.purposes(&p.purposes);
        let fields = self.paths(&p.fields, Some(item_fields));
        let mut mask = Vec::new();
        for (path, method) in &p.mask {
            let parsed = FieldPath::parse(path).filter(|f| item_fields.iter().any(|i| f.within(i)));
            if parsed.is_none() {
                self.bad(
                    method,
                    format!("mask path `{path}` is not among the item's fields"),
                );
            }
            let m = MaskMethod::parse(method.get_ref());
            if m.is_none() {
                self.bad(
                    method,
                    format!(
                        "mask method `{}` is not one of redact, id_number, name, phone, hash",
                        method.get_ref()
                    ),
                );
            }
            if let (Some(path), Some(m)) = (parsed, m) {
                mask.push((path, m));
            }
        }
        let rate = p.rate.as_ref().and_then(|r| {
            let rate = Rate::parse(r.get_ref());
            if rate.is_none() {
                self.bad(
                    r,
                    format!("rate `{}` is not N/s, N/min or N/h with N > 0", r.get_ref()),
                );
            }
            rate
        });
        if let Some(t) = &p.require_licence {
            if self.catalog.licence_type(t.get_ref()).is_none() {
                self.bad(
                    t,
                    format!("licence type `{}` is not in the catalog", t.get_ref()),
                );
            }
        }
        let valid_from = p.valid_from.as_ref().and_then(|d| self.day(d));
        let valid_until = p.valid_until.as_ref().and_then(|d| self.day(d));
        if let (Some(from), Some(until), Some(span)) =
            (valid_from, valid_until, p.valid_until.as_ref())
        {
            if until < from {
                self.bad(
                    span,
                    format!("permit `{}` ends before it starts", p.id.get_ref()),
                );
            }
        }
        Some(Permit {
            id: p.id.into_inner(),
            callers,
            purposes,
            fields: fields.into(),
            mask: mask.into(),
            rate,
            require_licence: p.require_licence.map(Spanned::into_inner),
            valid_from,
            valid_until,
            origin: self.origin(line),
        })
    }

    fn rule_id(&mut self, id: &Spanned<String>, seen: &mut HashSet<String>) {
        let text = id.get_ref();
        if text.is_empty() || text.chars().any(char::is_whitespace) {
            self.bad(
                id,
                format!("rule id `{text}` must be non-empty and without whitespace"),
            );
        } else if !seen.insert(text.clone()) {
            self.bad(id, format!("duplicate rule id `{text}` in this item"));
        }
    }

    fn purposes(&mut self, purposes: &Spanned<Vec<String>>) -> Vec<String> {
        if purposes.get_ref().is_empty() {
            self.bad(purposes, "`purposes` is empty".into());
        }
        for p in purposes.get_ref() {
            if p.is_empty() || p.chars().any(char::is_whitespace) {
                self.bad(
                    purposes,
                    format!("purpose `{p}` must be non-empty and without whitespace"),
                );
            }
        }
        purposes.get_ref().clone()
    }

    fn callers(&mut self, callers: &Spanned<Vec<String>>) -> Vec<CallerPattern> {
        if callers.get_ref().is_empty() {
            self.bad(callers, "`callers` is empty".into());
        }
        callers
            .get_ref()
            .iter()
            .filter_map(|c| self.caller_pattern(&Spanned::new(callers.span(), c.clone())))
            .collect()
    }

    fn caller_pattern(&mut self, text: &Spanned<String>) -> Option<CallerPattern> {
        let Some((city, dept)) = text.get_ref().split_once('/') else {
            self.bad(text, format!("`{}` is not CITY/DEPT", text.get_ref()));
            return None;
        };
        let city = match city {
            "*" => Part::Any,
            c if self.catalog.city(c).is_some() => Part::Is(c.to_owned()),
            c => {
                self.bad(text, format!("unknown city `{c}`"));
                return None;
            }
        };
        let department = match dept {
            "*" => Part::Any,
            d if self.catalog.department(d).is_some() => Part::Is(d.to_owned()),
            d => {
                self.bad(text, format!("unknown department kind `{d}`"));
                return None;
            }
        };
        Some(CallerPattern { city, department })
    }

    /// Parses field paths; with `within`, each must lie inside one of those paths.
    fn paths(
        &mut self,
        raw: &Spanned<Vec<String>>,
        within: Option<&[FieldPath]>,
    ) -> Vec<FieldPath> {
        if raw.get_ref().is_empty() {
            self.bad(raw, "`fields` is empty".into());
        }
        let mut out = Vec::new();
        for text in raw.get_ref() {
            match FieldPath::parse(text) {
                None => self.bad(
                    raw,
                    format!("`{text}` is not a field path (dot path, `[]` for array elements)"),
                ),
                Some(p) if within.is_some_and(|w| !w.iter().any(|i| p.within(i))) => self.bad(
                    raw,
                    format!("field `{text}` is not among the item's fields"),
                ),
                Some(p) => out.push(p),
            }
        }
        out
    }

    fn day(&mut self, d: &Spanned<toml::value::Datetime>) -> Option<Day> {
        let dt = d.get_ref();
        match (dt.date, dt.time) {
            (Some(date), None) => days_from_civil(
                i32::from(date.year),
                u32::from(date.month),
                u32::from(date.day),
            ),
            _ => {
                self.bad(d, format!("`{dt}` must be a date like 2025-01-01"));
                None
            }
        }
    }
}

fn single(file: &str, message: String) -> PolicyError {
    PolicyError {
        problems: vec![Problem::new(file, 0, message)],
        items: 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> Option<Day> {
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()?;
    Some(
        date.to_julian_day()
            - time::Date::from_calendar_date(1970, time::Month::January, 1)
                .ok()?
                .to_julian_day(),
    )
}
