//! Mutual recognition of licences between the cities (`policies/recognition.toml`).
//!
//! Every city recognises every licence type issued in every city, except what an
//! `[[exclude]]` entry removes; `*` matches any city or any type. Lookups are O(1).

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::catalog::{write_problems, Catalog, Problem};

/// The wildcard matching any city or licence type.
pub const ANY: &str = "*";

/// The recognition policy file, relative to the policies directory.
pub const RECOGNITION_FILE: &str = "recognition.toml";
/// The shipped `policies/recognition.toml`, compiled into the binary.
pub const EMBEDDED_TEXT: &str = include_str!("../policies/recognition.toml");

/// One exclusion: `verifier` does not accept `types` issued in `issuer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exclusion {
    /// The verifying city code, or `*`.
    pub verifier: String,
    /// The issuing city code, or `*`.
    pub issuer: String,
    /// Licence type codes (catalog codes such as `BUSINESS_LICENCE`), or `*`.
    pub types: Vec<String>,
    /// Why, for operators and denial messages.
    pub reason: Option<String>,
    /// Line of the `[[exclude]]` entry in its file (0 if built in code).
    pub line: u64,
}

/// Every problem found in the recognition file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecognitionError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for RecognitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_problems(f, &self.problems)
    }
}

impl std::error::Error for RecognitionError {}

/// The mutual recognition policy.
#[derive(Debug, Clone, Default)]
pub struct Recognition {
    exclusions: Vec<Exclusion>,
    /// verifier -> issuer -> type -> index into `exclusions` (keys may be `*`).
    index: HashMap<String, HashMap<String, HashMap<String, usize>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    exclude: Vec<Spanned<RawExclusion>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExclusion {
    verifier: Spanned<String>,
    issuer: Spanned<String>,
    types: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    reason: Option<String>,
}

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> u64 {
    let before = text.get(..at).unwrap_or(text);
    let newlines = before.bytes().filter(|&b| b == b'\n').count();
    u64::try_from(newlines).map_or(u64::MAX, |n| n + 1)
}

fn span_line(text: &str, span: Range<usize>) -> u64 {
    line_of(text, span.start)
}

impl Recognition {
    /// No exclusions: everything is recognised.
    pub fn everything() -> Recognition {
        Recognition::default()
    }

    /// The shipped `policies/recognition.toml`, compiled into the binary.
    pub fn embedded(catalog: &Catalog) -> Result<Recognition, RecognitionError> {
        Recognition::parse(EMBEDDED_TEXT, "policies/recognition.toml", catalog)
    }

    /// Reads `<policies dir>/recognition.toml`; a missing file means no exclusions.
    pub fn load(policies_dir: &Path, catalog: &Catalog) -> Result<Recognition, RecognitionError> {
        let path = policies_dir.join(RECOGNITION_FILE);
        let shown = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => Recognition::parse(&text, &shown, catalog),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Recognition::everything()),
            Err(e) => Err(RecognitionError {
                problems: vec![Problem::new(&shown, 0, format!("cannot read: {e}"))],
            }),
        }
    }

    /// Parses and validates the text of a recognition file (`file` names it in errors).
    pub fn parse(
        text: &str,
        file: &str,
        catalog: &Catalog,
    ) -> Result<Recognition, RecognitionError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map_or(0, |s| span_line(text, s));
            // One problem per line: fold multi-line parser messages.
            let message = e
                .message()
                .lines()
                .map(|l| l.trim().trim_end_matches('.'))
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            RecognitionError {
                problems: vec![Problem::new(file, line, message)],
            }
        })?;

        let mut problems = Vec::new();
        let mut exclusions = Vec::new();
        for entry in raw.exclude {
            let entry_line = span_line(text, entry.span());
            let entry = entry.into_inner();
            let mut check_city = |what: &str, city: &Spanned<String>| {
                let code = city.get_ref();
                if code != ANY && catalog.city(code).is_none() {
                    problems.push(Problem::new(
                        file,
                        span_line(text, city.span()),
                        format!("unknown {what} city `{}`", code.escape_debug()),
                    ));
                }
            };
            check_city("verifier", &entry.verifier);
            check_city("issuer", &entry.issuer);

            let types_line = span_line(text, entry.types.span());
            let raw_types = entry.types.into_inner();
            if raw_types.is_empty() {
                problems.push(Problem::new(file, types_line, "types is empty"));
            }
            let mut types: Vec<String> = Vec::new();
            for t in raw_types {
                let line = span_line(text, t.span());
                let t = t.into_inner();
                if t != ANY && catalog.licence_type(&t).is_none() {
                    problems.push(Problem::new(
                        file,
                        line,
                        format!("unknown licence type `{}`", t.escape_debug()),
                    ));
                } else if types.contains(&t) {
                    problems.push(Problem::new(
                        file,
                        line,
                        format!("duplicate licence type `{}`", t.escape_debug()),
                    ));
                } else {
                    types.push(t);
                }
            }
            exclusions.push(Exclusion {
                verifier: entry.verifier.into_inner(),
                issuer: entry.issuer.into_inner(),
                types,
                reason: entry.reason,
                line: entry_line,
            });
        }
        if !problems.is_empty() {
            return Err(RecognitionError { problems });
        }
        Ok(Recognition::from_exclusions(exclusions))
    }

    /// Builds the policy from exclusions that are already validated.
    pub fn from_exclusions(exclusions: Vec<Exclusion>) -> Recognition {
        let mut index: HashMap<String, HashMap<String, HashMap<String, usize>>> = HashMap::new();
        for (i, e) in exclusions.iter().enumerate() {
            let by_type = index
                .entry(e.verifier.clone())
                .or_default()
                .entry(e.issuer.clone())
                .or_default();
            for t in &e.types {
                // The first matching entry in the file wins (its reason is reported).
                by_type.entry(t.clone()).or_insert(i);
            }
        }
        Recognition { exclusions, index }
    }

    /// Whether `verifier_city` accepts a licence of type `ltype` (catalog code) issued in
    /// `issuer_city`.
    pub fn recognises(&self, verifier_city: &str, issuer_city: &str, ltype: &str) -> bool {
        self.exclusion_for(verifier_city, issuer_city, ltype)
            .is_none()
    }

    /// The exclusion that stops `verifier_city` from accepting `ltype` from `issuer_city`, if
    /// any (the earliest in the file when several match).
    pub fn exclusion_for(
        &self,
        verifier_city: &str,
        issuer_city: &str,
        ltype: &str,
    ) -> Option<&Exclusion> {
        let mut best: Option<usize> = None;
        for v in [verifier_city, ANY] {
            let Some(by_issuer) = self.index.get(v) else {
                continue;
            };
            for i in [issuer_city, ANY] {
                let Some(by_type) = by_issuer.get(i) else {
                    continue;
                };
                for t in [ltype, ANY] {
                    if let Some(&at) = by_type.get(t) {
                        best = Some(best.map_or(at, |b| b.min(at)));
                    }
                }
            }
        }
        best.and_then(|at| self.exclusions.get(at))
    }

    /// All exclusions, in file order.
    pub fn exclusions(&self) -> &[Exclusion] {
        &self.exclusions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::embedded().unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse(text: &str) -> Result<Recognition, String> {
        Recognition::parse(text, "recognition.toml", &catalog()).map_err(|e| e.to_string())
    }

    #[test]
    fn everything_recognises_everything() {
        let r = Recognition::everything();
        assert!(r.recognises("420100", "429006", "BUSINESS_LICENCE"));
        assert!(r.exclusions().is_empty());
        let empty = parse("").unwrap_or_else(|e| panic!("{e}"));
        assert!(empty.recognises("420100", "429006", "ID_CARD"));
    }

    #[test]
    fn wildcards_match() {
        let text = r#"
[[exclude]]
verifier = "429006"
issuer = "*"
types = ["HK_MACAO_TRAVEL_PERMIT"]
reason = "no exit-entry counter"

[[exclude]]
verifier = "*"
issuer = "421100"
types = ["MINING_LICENCE", "WATER_ABSTRACTION_PERMIT"]

[[exclude]]
verifier = "420700"
issuer = "420200"
types = ["*"]

[[exclude]]
verifier = "429006"
issuer = "420100"
types = ["HK_MACAO_TRAVEL_PERMIT"]
reason = "shadowed by the first entry"
"#;
        let r = parse(text).unwrap_or_else(|e| panic!("{e}"));
        // (verifier, issuer, type, recognised)
        let cases = [
            ("429006", "420100", "HK_MACAO_TRAVEL_PERMIT", false),
            ("429006", "429006", "HK_MACAO_TRAVEL_PERMIT", false),
            ("429006", "420100", "ID_CARD", true),
            ("420100", "420100", "HK_MACAO_TRAVEL_PERMIT", true),
            ("420100", "421100", "MINING_LICENCE", false),
            ("429006", "421100", "WATER_ABSTRACTION_PERMIT", false),
            ("421100", "421100", "MINING_LICENCE", false),
            ("420100", "420100", "MINING_LICENCE", true),
            ("420700", "420200", "ID_CARD", false),
            ("420700", "420200", "BUSINESS_LICENCE", false),
            ("420200", "420700", "BUSINESS_LICENCE", true),
            ("420700", "420100", "BUSINESS_LICENCE", true),
            // lookups take what they are given literally: `*` is not a wildcard query
            ("*", "*", "BUSINESS_LICENCE", true),
        ];
        for (v, i, t, want) in cases {
            assert_eq!(r.recognises(v, i, t), want, "{v} {i} {t}");
        }
        let why = r.exclusion_for("429006", "420100", "HK_MACAO_TRAVEL_PERMIT");
        assert_eq!(
            why.and_then(|e| e.reason.as_deref()),
            Some("no exit-entry counter")
        );
        assert_eq!(why.map(|e| e.line), Some(2));
    }

    #[test]
    fn errors_have_lines() {
        let cases: &[(&str, &str)] = &[
            (
                "[[exclude]]\nverifier = \"429006\"\nissuer = \"*\"\ntypes = [\"ID_CARD\"]\nreasons = \"typo\"\n",
                "recognition.toml:5: unknown field `reasons`, expected one of `verifier`, `issuer`, `types`, `reason`",
            ),
            (
                "[[excludes]]\nverifier = \"429006\"\n",
                "recognition.toml:1: unknown field `excludes`, expected `exclude`",
            ),
            (
                "[[exclude]]\nverifier = \"429006\"\ntypes = [\"ID_CARD\"]\n",
                "recognition.toml:1: missing field `issuer`",
            ),
            (
                "[[exclude]]\nverifier = 429006\nissuer = \"*\"\ntypes = [\"ID_CARD\"]\n",
                "recognition.toml:2: invalid type: integer `429006`, expected a string",
            ),
            (
                "[[exclude]]\nverifier = \"429006\"\nissuer = \"*\"\ntypes = \"ID_CARD\"\n",
                "recognition.toml:4: invalid type: string \"ID_CARD\", expected a sequence",
            ),
            (
                "[[exclude]]\nverifier = \"429007\"\nissuer = \"*\"\ntypes = [\"ID_CARD\"]\n",
                "recognition.toml:2: unknown verifier city `429007`",
            ),
            (
                "[[exclude]]\nverifier = \"*\"\nissuer = \"Wuhan\"\ntypes = [\"ID_CARD\"]\n",
                "recognition.toml:3: unknown issuer city `Wuhan`",
            ),
            (
                "[[exclude]]\nverifier = \"*\"\nissuer = \"*\"\ntypes = [\n  \"ID_CARD\",\n  \"PASSPORT\",\n]\n",
                "recognition.toml:6: unknown licence type `PASSPORT`",
            ),
            (
                "[[exclude]]\nverifier = \"*\"\nissuer = \"*\"\ntypes = []\n",
                "recognition.toml:4: types is empty",
            ),
            (
                "[[exclude]]\nverifier = \"*\"\nissuer = \"*\"\ntypes = [\"ID_CARD\", \"ID_CARD\"]\n",
                "recognition.toml:4: duplicate licence type `ID_CARD`",
            ),
            (
                "[[exclude]\n",
                "recognition.toml:1: invalid table header: expected `.`, `]]`",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).err().as_deref(), Some(*want), "{text}");
        }
    }

    #[test]
    fn several_errors_at_once() {
        let text = r#"# header
[[exclude]]
verifier = "999999"
issuer = "*"
types = ["ID_CARD"]

[[exclude]]
verifier = "*"
issuer = "42010"
types = ["NOPE", "*", "id_card"]
"#;
        assert_eq!(
            parse(text).err().as_deref(),
            Some(
                "recognition.toml:3: unknown verifier city `999999`\n\
                 recognition.toml:9: unknown issuer city `42010`\n\
                 recognition.toml:10: unknown licence type `NOPE`\n\
                 recognition.toml:10: unknown licence type `id_card`"
            )
        );
    }

    #[test]
    fn shipped_policy_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let r = Recognition::load(&dir, &catalog()).unwrap_or_else(|e| panic!("{e}"));
        assert!(!r.exclusions().is_empty());
        assert!(r.recognises("420100", "429006", "BUSINESS_LICENCE"));
    }

    #[test]
    fn missing_file_means_everything() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("no-such-policies-dir");
        let r = Recognition::load(&dir, &catalog()).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.exclusions().is_empty());
    }
}
