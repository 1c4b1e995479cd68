//! Chain building: from a signer certificate through intermediates to an anchor of one city.
//!
//! Only structure is judged here (names, CA flags, keyCertSign, path length, signatures, depth);
//! validity at the licence's `iat` and revocation are judged per licence by the verifier.

use std::sync::Arc;

use super::cert::Cert;
use super::CityTrust;

/// A chain holds at most this many certificates, signer and anchor included (contract section 1).
pub const MAX_CHAIN_LEN: usize = 5;
/// Signature checks a single path search may spend; bounds work on hostile `x5c` bundles.
const MAX_SIGNATURE_CHECKS: usize = 32;

/// A chain from the signer (first) to an anchor of the city (last).
#[derive(Clone, Debug)]
pub struct Chain {
    pub certs: Vec<Arc<Cert>>,
}

/// Why no chain was found; the message names the deepest obstacle met.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ChainError(pub String);

/// Builds a chain for `signer` ending at one of `city`'s anchors, using `extra` (the `x5c`
/// intermediates) and the city's intermediates.
pub fn build(
    signer: &Arc<Cert>,
    extra: &[Arc<Cert>],
    city: &CityTrust,
) -> Result<Chain, ChainError> {
    let mut search = Search {
        city,
        extra,
        budget: MAX_SIGNATURE_CHECKS,
        obstacle: None,
    };
    let mut path = vec![signer.clone()];
    if search.extend(&mut path) {
        Ok(Chain { certs: path })
    } else {
        let (_, why) = search.obstacle.unwrap_or((
            0,
            format!(
                "no issuer `{}` among the city's anchors and intermediates",
                signer.issuer_text()
            ),
        ));
        Err(ChainError(why))
    }
}

struct Search<'a> {
    city: &'a CityTrust,
    extra: &'a [Arc<Cert>],
    budget: usize,
    /// The obstacle met at the greatest depth, with that depth.
    obstacle: Option<(usize, String)>,
}

impl Search<'_> {
    /// Depth-first: anchors before intermediates, no certificate twice.
    fn extend(&mut self, path: &mut Vec<Arc<Cert>>) -> bool {
        let Some(child) = path.last().cloned() else {
            return false;
        };
        let depth = path.len();
        let anchors = self.city.anchors.iter().map(|c| (c, true));
        let intermediates = self
            .extra
            .iter()
            .chain(&self.city.intermediates)
            .map(|c| (c, false));
        let candidates: Vec<(Arc<Cert>, bool)> = anchors
            .chain(intermediates)
            .filter(|(c, _)| c.subject() == child.issuer())
            .filter(|(c, _)| !path.iter().any(|p| p.fingerprint() == c.fingerprint()))
            .map(|(c, anchor)| (c.clone(), anchor))
            .collect();
        if candidates.is_empty() {
            self.note(
                depth,
                format!(
                    "no issuer `{}` among the city's anchors and intermediates",
                    child.issuer_text()
                ),
            );
        }
        for (issuer, is_anchor) in candidates {
            // an anchor repeated in x5c is used as the anchor, never as an intermediate
            if !is_anchor
                && self
                    .city
                    .anchors
                    .iter()
                    .any(|a| a.fingerprint() == issuer.fingerprint())
            {
                continue;
            }
            if depth + 1 > MAX_CHAIN_LEN {
                self.note(
                    depth,
                    format!("chain would exceed {MAX_CHAIN_LEN} certificates"),
                );
                continue;
            }
            if let Err(why) = can_issue(&issuer, depth) {
                self.note(depth, why);
                continue;
            }
            let known = self
                .city
                .verified_links
                .contains(&(*child.fingerprint(), *issuer.fingerprint()));
            if !known {
                if self.budget == 0 {
                    self.note(depth, "path search budget exhausted".into());
                    return false;
                }
                self.budget -= 1;
                if let Err(e) = child.verify_signed_by(issuer.key()) {
                    let why = format!(
                        "`{}` is not signed by `{}`: {e}",
                        child.subject_text(),
                        issuer.subject_text()
                    );
                    self.note(depth, why);
                    continue;
                }
            }
            path.push(issuer);
            if is_anchor || self.extend(path) {
                return true;
            }
            path.pop();
        }
        false
    }

    fn note(&mut self, depth: usize, why: String) {
        if self.obstacle.as_ref().is_none_or(|(d, _)| depth >= *d) {
            self.obstacle = Some((depth, why));
        }
    }
}

/// An issuing certificate must be a CA, may sign certificates, and its pathLenConstraint must
/// allow the `below - 1` CA certificates under it (`below` counts the signer too).
fn can_issue(issuer: &Cert, below: usize) -> Result<(), String> {
    let subject = issuer.subject_text();
    let Some(bc) = issuer.basic_constraints().filter(|b| b.ca) else {
        return Err(format!(
            "issuer `{subject}` is not a CA (basicConstraints CA=true missing)"
        ));
    };
    if issuer.key_usage().is_some_and(|ku| !ku.key_cert_sign) {
        return Err(format!(
            "issuer `{subject}` has a keyUsage without keyCertSign"
        ));
    }
    let cas_below = below.saturating_sub(1);
    if let Some(max) = bc.path_len {
        if cas_below > max as usize {
            return Err(format!(
                "issuer `{subject}` allows {max} CA(s) below it, the chain has {cas_below}"
            ));
        }
    }
    Ok(())
}
