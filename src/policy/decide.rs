//! The decision (contract section 4): deny by default, any matching forbid wins, fields are the
//! union of the matching permits, masked only where every granting permit masks, highest rate.

use std::sync::Arc;

use super::model::{Day, Forbid, Item, Party, Permit, Rate};
use super::plan::FieldPlan;

/// What the request says, with the caller taken from its certificate.
#[derive(Clone, Debug)]
pub struct AccessRequest<'a> {
    pub caller: &'a Party,
    pub item: &'a str,
    pub method: &'a str,
    pub purpose: &'a str,
    /// Today in China Standard Time, days since 1970-01-01.
    pub today: Day,
    /// The subject licence's type when `X-Subject-Licence` verified for the caller's city.
    pub licence: Option<&'a str>,
}

/// Why a request is refused; each maps to one problem code of contract section 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyReason {
    UnknownItem,
    MethodNotAllowed,
    ForbiddenByPolicy,
    /// A permit would match with a verified licence of its `require_licence` type.
    LicenceRequired,
    NoMatchingPermit,
}

impl DenyReason {
    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownItem => "UNKNOWN_ITEM",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::ForbiddenByPolicy => "FORBIDDEN_BY_POLICY",
            Self::LicenceRequired => "LICENCE_REQUIRED",
            Self::NoMatchingPermit => "NO_MATCHING_PERMIT",
        }
    }
}

/// A decision and the ids of the rules that determined it. It cannot fail.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Permit {
        rules: Vec<String>,
        /// What the caller may see of the answer.
        fields: Arc<FieldPlan>,
        rate: Option<Rate>,
    },
    Deny {
        reason: DenyReason,
        rules: Vec<String>,
    },
}

impl Decision {
    /// The decision on an item no policy defines.
    pub fn unknown_item() -> Self {
        Decision::Deny {
            reason: DenyReason::UnknownItem,
            rules: Vec::new(),
        }
    }

    pub fn is_permit(&self) -> bool {
        matches!(self, Decision::Permit { .. })
    }

    pub fn rules(&self) -> &[String] {
        match self {
            Decision::Permit { rules, .. } | Decision::Deny { rules, .. } => rules,
        }
    }
}

/// How each condition of a permit fared, for `policy explain`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PermitCheck {
    pub caller: bool,
    pub purpose: bool,
    pub window: bool,
    /// `None` when the permit requires no licence.
    pub licence: Option<bool>,
}

impl PermitCheck {
    pub fn matches(&self) -> bool {
        self.caller && self.purpose && self.window && self.licence != Some(false)
    }
}

pub fn check_permit(p: &Permit, req: &AccessRequest<'_>) -> PermitCheck {
    PermitCheck {
        caller: p.callers.iter().any(|c| c.matches(req.caller)),
        purpose: p.purposes.iter().any(|x| x == req.purpose),
        window: p.valid_from.is_none_or(|f| f <= req.today)
            && p.valid_until.is_none_or(|u| req.today <= u),
        licence: p
            .require_licence
            .as_ref()
            .map(|t| req.licence == Some(t.as_str())),
    }
}

pub fn forbid_matches(f: &Forbid, req: &AccessRequest<'_>) -> bool {
    f.callers.iter().any(|c| c.matches(req.caller))
        && f.purposes
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| p == req.purpose))
}

/// Decides a request against the item it names.
pub fn decide(item: &Item, req: &AccessRequest<'_>) -> Decision {
    if !item.methods.iter().any(|m| m == req.method) {
        return Decision::Deny {
            reason: DenyReason::MethodNotAllowed,
            rules: Vec::new(),
        };
    }
    let forbidding: Vec<String> = item
        .forbids
        .iter()
        .filter(|f| forbid_matches(f, req))
        .map(|f| f.id.clone())
        .collect();
    if !forbidding.is_empty() {
        return Decision::Deny {
            reason: DenyReason::ForbiddenByPolicy,
            rules: forbidding,
        };
    }
    let checks: Vec<PermitCheck> = item.permits.iter().map(|p| check_permit(p, req)).collect();
    let matching: Vec<usize> = (0..checks.len())
        .filter(|i| checks.get(*i).is_some_and(PermitCheck::matches))
        .collect();
    if matching.is_empty() {
        let wanting_licence: Vec<String> = item
            .permits
            .iter()
            .zip(&checks)
            .filter(|(_, c)| c.caller && c.purpose && c.window && c.licence == Some(false))
            .map(|(p, _)| p.id.clone())
            .collect();
        return if wanting_licence.is_empty() {
            Decision::Deny {
                reason: DenyReason::NoMatchingPermit,
                rules: Vec::new(),
            }
        } else {
            Decision::Deny {
                reason: DenyReason::LicenceRequired,
                rules: wanting_licence,
            }
        };
    }
    let fields = item.plans.of(&item.permits, &matching);
    let matching: Vec<&Permit> = matching
        .iter()
        .filter_map(|i| item.permits.get(*i))
        .collect();
    let rate = matching
        .iter()
        .filter_map(|p| p.rate)
        .max_by(|a, b| a.per_second().total_cmp(&b.per_second()));
    // no rate on any matching permit means no limit
    let rate = if matching.iter().any(|p| p.rate.is_none()) {
        None
    } else {
        rate
    };
    Decision::Permit {
        rules: matching.iter().map(|p| p.id.clone()).collect(),
        fields,
        rate,
    }
}
