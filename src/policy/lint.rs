//! Warnings of `tongban policy check`: grants a security team should look at twice.

use super::model::Day;
use super::model::{Allow, CallerPattern, FieldPath, Forbid, Item, Part, Permit};

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
    /// The reason of the `allow` that acknowledges it on its item or rule, if one does: such a
    /// warning is reported, but does not fail `--deny-warnings`.
    pub acknowledged: Option<String>,
}

/// Every warning code, for documentation and tests.
pub const WARNING_CODES: [&str; 8] = [
    "PERMIT_TO_EVERYONE",
    "PERSONAL_FIELD_UNMASKED",
    "PERMIT_EXPIRED",
    "PERMIT_SHADOWED_BY_FORBID",
    "FORBID_SHADOWS_ALL_PERMITS",
    "MISSING_LEGAL_BASIS",
    "SUSPICIOUS_UNICODE",
    "ALLOW_UNUSED",
];

/// Lints items as of `today` (China Standard Time days). A warning on an item or rule whose
/// `allow` names its code is acknowledged; an `allow` that acknowledges nothing is itself a
/// warning (`ALLOW_UNUSED`: the grant it excused has changed).
pub fn lint(items: &[Item], today: Day) -> Vec<Warning> {
    let mut out = Vec::new();
    for item in items {
        let mut by_rule = Vec::new();
        lint_item(item, today, &mut by_rule);
        for (allows, line, warnings) in by_rule {
            settle(allows, &item.origin.file, line, warnings, &mut out);
        }
    }
    out
}

/// A rule's warnings (code, line, message), before acknowledgement.
type RuleWarnings = Vec<(&'static str, u64, String)>;

/// Marks the warnings `allows` acknowledges, and warns about allows that matched none.
fn settle(allows: &[Allow], file: &str, line: u64, warnings: RuleWarnings, out: &mut Vec<Warning>) {
    for allow in allows {
        // an expiry can be acknowledged ahead of its date: that allow is not unused
        let ahead = allow.warning == "PERMIT_EXPIRED";
        if !ahead && !warnings.iter().any(|(code, _, _)| *code == allow.warning) {
            out.push(Warning {
                code: "ALLOW_UNUSED",
                file: file.to_owned(),
                line,
                message: format!(
                    "`allow` of `{}` acknowledges no warning here; remove it",
                    allow.warning
                ),
                acknowledged: None,
            });
        }
    }
    for (code, line, message) in warnings {
        out.push(Warning {
            code,
            file: file.to_owned(),
            line,
            message,
            acknowledged: allows
                .iter()
                .find(|a| a.warning == code)
                .map(|a| a.reason.clone()),
        });
    }
}

/// The warnings of one item, grouped by the item or rule that can acknowledge them.
fn lint_item<'a>(item: &'a Item, today: Day, by_rule: &mut Vec<(&'a [Allow], u64, RuleWarnings)>) {
    let mut own: RuleWarnings = Vec::new();
    let line = item.origin.line;
    if item
        .legal_basis
        .as_deref()
        .is_none_or(|b| b.trim().is_empty())
    {
        own.push((
            "MISSING_LEGAL_BASIS",
            line,
            format!("item `{}` has no `legal_basis`", item.id),
        ));
    }
    for (what, text) in [
        ("item id", item.id.as_str()),
        ("item name", item.name.as_str()),
        ("category", item.category.as_str()),
    ] {
        if let Some(why) = suspicious(text) {
            own.push((
                "SUSPICIOUS_UNICODE",
                line,
                format!("{what} `{}` {why}", escape(text)),
            ));
        }
    }
    by_rule.push((&item.allow, line, own));
    for p in &item.permits {
        by_rule.push((&p.allow, p.origin.line, lint_permit(item, p, today)));
    }
    for f in &item.forbids {
        let mut own: RuleWarnings = Vec::new();
        let line = f.origin.line;
        if !item.permits.is_empty() && item.permits.iter().all(|p| covers(f, p)) {
            own.push((
                "FORBID_SHADOWS_ALL_PERMITS",
                line,
                format!(
                    "forbid `{}` of `{}` denies every request any permit could allow",
                    f.id, item.id
                ),
            ));
        }
        if let Some(why) = suspicious(&f.id) {
            own.push((
                "SUSPICIOUS_UNICODE",
                line,
                format!("forbid id `{}` {why}", escape(&f.id)),
            ));
        }
        by_rule.push((&f.allow, line, own));
    }
}

fn lint_permit(item: &Item, p: &Permit, today: Day) -> RuleWarnings {
    let mut own: RuleWarnings = Vec::new();
    let line = p.origin.line;
    if let Some(why) = std::iter::once(&p.id)
        .chain(&p.purposes)
        .find_map(|t| suspicious(t).map(|w| (t, w)))
    {
        own.push((
            "SUSPICIOUS_UNICODE",
            line,
            format!(
                "`{}` in permit `{}` {}",
                escape(why.0),
                escape(&p.id),
                why.1
            ),
        ));
    }
    if p.callers.iter().any(CallerPattern::is_everyone) {
        own.push((
            "PERMIT_TO_EVERYONE",
            line,
            format!(
                "permit `{}` of `{}` grants `*/*`: every department of every city",
                p.id, item.id
            ),
        ));
    }
    if p.valid_until.is_some_and(|u| u < today) {
        own.push((
            "PERMIT_EXPIRED",
            line,
            format!(
                "permit `{}` of `{}` ended; it can never match again",
                p.id, item.id
            ),
        ));
    }
    if let Some(f) = item.forbids.iter().find(|f| covers(f, p)) {
        own.push((
            "PERMIT_SHADOWED_BY_FORBID",
            line,
            format!(
                "permit `{}` of `{}` can never match: forbid `{}` covers it",
                p.id, item.id, f.id
            ),
        ));
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
            own.push((
                "PERSONAL_FIELD_UNMASKED",
                line,
                format!("permit `{}` of `{}` gives callers outside city {} unmasked personal field(s) {} without `require_licence`", p.id, item.id, item.provider.city, exposed.join(", ")),
            ));
        }
    }
    own
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
