//! Warnings of `tongban policy check`: grants a security team should look at twice.

use super::model::Day;
use super::model::{CallerPattern, FieldPath, Forbid, Item, Part, Permit};

/// Field names (last path segment, case-insensitive) taken as personal data in items that have
/// no `sensitive` list.
pub const PERSONAL_FIELD_NAMES: [&str; 24] = [
    "id_number",
    "id_no",
    "idcard",
    "id_card",
    "identity",
    "name",
    "full_name",
    "holder_name",
    "phone",
    "mobile",
    "telephone",
    "tel",
    "address",
    "home_address",
    "email",
    "birth_date",
    "birthday",
    "姓名",
    "公民身份号码",
    "身份证号",
    "电话",
    "手机号",
    "住址",
    "地址",
];

/// One warning, with where it points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub code: &'static str,
    pub file: String,
    pub line: u64,
    pub message: String,
}

/// Every warning code, for documentation and tests.
pub const WARNING_CODES: [&str; 7] = [
    "PERMIT_TO_EVERYONE",
    "PERSONAL_FIELD_UNMASKED",
    "PERMIT_EXPIRED",
    "PERMIT_SHADOWED_BY_FORBID",
    "FORBID_SHADOWS_ALL_PERMITS",
    "MISSING_LEGAL_BASIS",
    "SUSPICIOUS_UNICODE",
];

/// Lints items as of `today` (China Standard Time days).
pub fn lint(items: &[Item], today: Day) -> Vec<Warning> {
    let mut out = Vec::new();
    for item in items {
        let at = |line: u64| (item.origin.file.clone(), line);
        let mut warn = |code: &'static str, (file, line): (String, u64), message: String| {
            out.push(Warning {
                code,
                file,
                line,
                message,
            })
        };
        if item
            .legal_basis
            .as_deref()
            .is_none_or(|b| b.trim().is_empty())
        {
            warn(
                "MISSING_LEGAL_BASIS",
                at(item.origin.line),
                format!("item `{}` has no `legal_basis`", item.id),
            );
        }
        for (what, text) in [
            ("item id", item.id.as_str()),
            ("item name", item.name.as_str()),
            ("category", item.category.as_str()),
        ] {
            if let Some(why) = suspicious(text) {
                warn(
                    "SUSPICIOUS_UNICODE",
                    at(item.origin.line),
                    format!("{what} `{}` {why}", escape(text)),
                );
            }
        }
        for p in &item.permits {
            let line = at(p.origin.line);
            if let Some(why) = std::iter::once(&p.id)
                .chain(&p.purposes)
                .find_map(|t| suspicious(t).map(|w| (t, w)))
            {
                warn(
                    "SUSPICIOUS_UNICODE",
                    line.clone(),
                    format!(
                        "`{}` in permit `{}` {}",
                        escape(why.0),
                        escape(&p.id),
                        why.1
                    ),
                );
            }
            if p.callers.iter().any(CallerPattern::is_everyone) {
                warn(
                    "PERMIT_TO_EVERYONE",
                    line.clone(),
                    format!(
                        "permit `{}` of `{}` grants `*/*`: every department of every city",
                        p.id, item.id
                    ),
                );
            }
            if p.valid_until.is_some_and(|u| u < today) {
                warn(
                    "PERMIT_EXPIRED",
                    line.clone(),
                    format!(
                        "permit `{}` of `{}` ended; it can never match again",
                        p.id, item.id
                    ),
                );
            }
            if let Some(f) = item.forbids.iter().find(|f| covers(f, p)) {
                warn(
                    "PERMIT_SHADOWED_BY_FORBID",
                    line.clone(),
                    format!(
                        "permit `{}` of `{}` can never match: forbid `{}` covers it",
                        p.id, item.id, f.id
                    ),
                );
            }
            if p.require_licence.is_none()
                && p.callers
                    .iter()
                    .any(|c| outside_city(c, &item.provider.city))
            {
                let exposed: Vec<String> = p
                    .fields
                    .iter()
                    .filter(|f| personal(item, f) && !p.mask.iter().any(|(m, _)| f.within(m)))
                    .map(ToString::to_string)
                    .collect();
                if !exposed.is_empty() {
                    warn(
                        "PERSONAL_FIELD_UNMASKED",
                        line.clone(),
                        format!("permit `{}` of `{}` gives callers outside city {} unmasked personal field(s) {} without `require_licence`", p.id, item.id, item.provider.city, exposed.join(", ")),
                    );
                }
            }
        }
        for f in &item.forbids {
            if !item.permits.is_empty() && item.permits.iter().all(|p| covers(f, p)) {
                warn(
                    "FORBID_SHADOWS_ALL_PERMITS",
                    at(f.origin.line),
                    format!(
                        "forbid `{}` of `{}` denies every request any permit could allow",
                        f.id, item.id
                    ),
                );
            }
            if let Some(why) = suspicious(&f.id) {
                warn(
                    "SUSPICIOUS_UNICODE",
                    at(f.origin.line),
                    format!("forbid id `{}` {why}", escape(&f.id)),
                );
            }
        }
    }
    out
}

/// Whether a forbid matches every request a permit could match.
fn covers(f: &Forbid, p: &Permit) -> bool {
    let purposes = f
        .purposes
        .as_ref()
        .is_none_or(|fp| p.purposes.iter().all(|x| fp.contains(x)));
    purposes
        && p.callers
            .iter()
            .all(|pc| f.callers.iter().any(|fc| pattern_covers(fc, pc)))
}

fn pattern_covers(outer: &CallerPattern, inner: &CallerPattern) -> bool {
    let part = |o: &Part, i: &Part| *o == Part::Any || o == i;
    part(&outer.city, &inner.city) && part(&outer.department, &inner.department)
}

fn outside_city(c: &CallerPattern, provider_city: &str) -> bool {
    match &c.city {
        Part::Any => true,
        Part::Is(city) => city != provider_city,
    }
}

fn personal(item: &Item, field: &FieldPath) -> bool {
    match &item.sensitive {
        Some(list) => list.iter().any(|s| s.within(field) || field.within(s)),
        None => field.segments().last().is_some_and(|seg| {
            PERSONAL_FIELD_NAMES
                .iter()
                .any(|n| seg.eq_ignore_ascii_case(n))
        }),
    }
}

/// Why a text is suspicious: bidirectional controls, invisible characters, or letters of
/// scripts that imitate Latin mixed with Latin.
pub fn suspicious(text: &str) -> Option<&'static str> {
    if text.chars().any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')) {
        return Some("holds a bidirectional control character");
    }
    if text.chars().any(|c| {
        matches!(
            c,
            '\u{200B}'..='\u{200D}' | '\u{FEFF}' | '\u{00AD}' | '\u{2060}'
        )
    }) {
        return Some("holds an invisible character");
    }
    let latin = text.chars().any(|c| c.is_ascii_alphabetic());
    let lookalike = text.chars().any(|c| matches!(c, '\u{0370}'..='\u{03FF}' | '\u{0400}'..='\u{04FF}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}'));
    if latin && lookalike {
        return Some("mixes Latin with Greek, Cyrillic or full-width letters (confusable)");
    }
    if lookalike && text.chars().all(|c| !c.is_ascii_alphabetic() && (c.is_ascii() || matches!(c, '\u{0370}'..='\u{03FF}' | '\u{0400}'..='\u{04FF}' | '\u{FF21}'..='\u{FF5A}'))) {
        return Some("is written in letters that imitate Latin (confusable)");
    }
    None
}

/// Shows invisible and control characters as `\u{…}`.
pub fn escape(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}' | '\u{00AD}') {
            format!("\\u{{{:04x}}}", c as u32)
        } else {
            c.to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspicious_text() {
        assert!(suspicious("hpf-withdrawal").is_none());
        assert!(suspicious("住房公积金").is_none());
        assert!(suspicious("hpf\u{202E}lawardhtiw").is_some());
        assert!(suspicious("hpf\u{200B}x").is_some());
        assert!(suspicious("hpf-withdrаwal").is_some(), "Cyrillic а");
        assert_eq!(escape("a\u{202E}b"), "a\\u{202e}b");
    }
}
