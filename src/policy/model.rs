//! Validated policy types: what a loaded policy file means (contract section 4).

use std::fmt;
use std::sync::Arc;

use super::plan::Plans;

/// One side of a caller pattern: a code, or `*` for any.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    Any,
    Is(String),
}

impl Part {
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Part::Any => true,
            Part::Is(v) => v == value,
        }
    }
}

/// `CITY/DEPT`, each part a code or `*`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallerPattern {
    pub city: Part,
    pub department: Part,
}

impl CallerPattern {
    pub fn matches(&self, caller: &Party) -> bool {
        self.city.matches(&caller.city) && self.department.matches(&caller.department)
    }

    /// `*/*`: every department of every city.
    pub fn is_everyone(&self) -> bool {
        self.city == Part::Any && self.department == Part::Any
    }
}

impl fmt::Display for CallerPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = |p: &Part| match p {
            Part::Any => "*".to_owned(),
            Part::Is(v) => v.clone(),
        };
        write!(f, "{}/{}", part(&self.city), part(&self.department))
    }
}

/// A department of a city (`CITY/DEPT`): the caller of a request, as its client certificate says,
/// or the provider of an item.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Party {
    pub city: String,
    pub department: String,
}

/// How a field is hidden (contract section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MaskMethod {
    /// First 3 and last 4 characters kept.
    Phone,
    /// First 6 and last 4 characters kept.
    IdNumber,
    /// First character kept.
    Name,
    /// Keyed HMAC-SHA256, 64 hex characters.
    Hash,
    /// Always `***`.
    Redact,
}

impl MaskMethod {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "redact" => Self::Redact,
            "id_number" => Self::IdNumber,
            "name" => Self::Name,
            "phone" => Self::Phone,
            "hash" => Self::Hash,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redact => "redact",
            Self::IdNumber => "id_number",
            Self::Name => "name",
            Self::Phone => "phone",
            Self::Hash => "hash",
        }
    }
}

/// A dot path with `[]` for every array element: `records[].amount` is
/// `["records", "[]", "amount"]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath {
    text: String,
    segments: Vec<String>,
}

impl FieldPath {
    /// Parses a path; `None` when a segment is empty or `[]` is misplaced.
    pub fn parse(text: &str) -> Option<Self> {
        let mut segments = Vec::new();
        for part in text.split('.') {
            let (name, arrays) = match part.find("[]") {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if name.is_empty()
                || name.contains(['[', ']'])
                || arrays.len() % 2 != 0
                || !arrays.replace("[]", "").is_empty()
            {
                return None;
            }
            segments.push(name.to_owned());
            segments.extend(std::iter::repeat_n("[]".to_owned(), arrays.len() / 2));
        }
        Some(Self {
            text: text.to_owned(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether `self` is `other` or lies inside its subtree.
    pub fn within(&self, other: &FieldPath) -> bool {
        self.segments.starts_with(&other.segments)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `N/s`, `N/min` or `N/h`: a token bucket of N refilled at that rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rate {
    pub count: u32,
    pub period_secs: u32,
}

impl Rate {
    pub fn parse(text: &str) -> Option<Self> {
        let (count, unit) = text.split_once('/')?;
        let count: u32 = count.trim().parse().ok().filter(|c| *c > 0)?;
        let period_secs = match unit.trim() {
            "s" | "sec" => 1,
            "min" | "m" => 60,
            "h" | "hour" => 3600,
            _ => return None,
        };
        Some(Self { count, period_secs })
    }

    /// Requests per second, for comparing rates of different periods.
    pub fn per_second(&self) -> f64 {
        f64::from(self.count) / f64::from(self.period_secs)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period_secs {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// A calendar date as days since 1970-01-01 (China Standard Time decides "today").
pub type Day = i32;

/// Where a rule was written, for messages and `policy explain`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: String,
    pub line: u64,
}

/// A permit rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Permit {
    pub id: String,
    pub callers: Vec<CallerPattern>,
    pub purposes: Vec<String>,
    /// Shared with the grants of the decisions it makes (no copy per request).
    pub fields: Arc<[FieldPath]>,
    pub mask: Arc<[(FieldPath, MaskMethod)]>,
    pub rate: Option<Rate>,
    pub require_licence: Option<String>,
    pub valid_from: Option<Day>,
    pub valid_until: Option<Day>,
    pub origin: Origin,
}

/// A forbid rule; without purposes it forbids every purpose.
#[derive(Clone, Debug, PartialEq)]
pub struct Forbid {
    pub id: String,
    pub callers: Vec<CallerPattern>,
    pub purposes: Option<Vec<String>>,
    pub origin: Origin,
}

/// A cross-city service item.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub id: String,
    pub name: String,
    pub category: String,
    pub provider: Party,
    pub upstream: String,
    pub methods: Vec<String>,
    pub fields: Vec<FieldPath>,
    pub legal_basis: Option<String>,
    /// Our extension: the fields the provider marks personal (for `policy check`); `Some(empty)`
    /// says "reviewed: nothing personal", `None` leaves it to the documented field names.
    pub sensitive: Option<Vec<FieldPath>>,
    pub permits: Vec<Permit>,
    pub forbids: Vec<Forbid>,
    pub origin: Origin,
    /// The field plans of its decisions, compiled once.
    pub plans: Plans,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths() {
        let p = FieldPath::parse("records[].amount").unwrap();
        assert_eq!(p.segments(), ["records", "[]", "amount"]);
        assert!(FieldPath::parse("matrix[][]").is_some());
        for bad in ["", "a..b", ".a", "a[", "a[]b", "[]", "a[x]"] {
            assert!(FieldPath::parse(bad).is_none(), "{bad}");
        }
        let holder = FieldPath::parse("holder").unwrap();
        assert!(FieldPath::parse("holder.name").unwrap().within(&holder));
        assert!(!FieldPath::parse("holders").unwrap().within(&holder));
    }

    #[test]
    fn rates() {
        assert_eq!(
            Rate::parse("600/min"),
            Some(Rate {
                count: 600,
                period_secs: 60
            })
        );
        assert_eq!(Rate::parse("5/s").unwrap().to_string(), "5/s");
        for bad in ["0/min", "x/min", "5/day", "5"] {
            assert!(Rate::parse(bad).is_none(), "{bad}");
        }
    }
}
