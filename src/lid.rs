//! GB/T 36904 e-licence identifiers (电子证照标识).
//!
//! `1.2.156.3005.2.<type_code>.<issuer>.<serial>.<version>.<check>`, where the check is the
//! ISO/IEC 7064 MOD 37,36 character over `type_code + issuer + serial + version`.
//! Whether the type code belongs to a known licence type is the catalog's business.

use std::fmt;

use crate::checkdigit::mod37_36_check;

/// The fixed root of every licence identifier.
pub const LID_ROOT: &str = "1.2.156.3005.2";

/// Longest accepted identifier, in bytes; longer input is rejected before it is scanned.
pub const LID_MAX_LEN: usize = 200;

/// Length of the issuer component (the issuing authority's unified social credit code).
const ISSUER_LEN: usize = 18;

/// Longest serial number.
const SERIAL_MAX_LEN: usize = 32;

/// A parsed licence identifier; every component is checked and the check character matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lid {
    /// The licence type code (`[0-9A-Z]+`).
    pub type_code: String,
    /// The issuing authority's unified social credit code (18 chars of `[0-9A-Z]`).
    pub issuer: String,
    /// The serial number (1 to 32 chars of `[0-9A-Z]`).
    pub serial: String,
    /// The version (exactly 3 digits).
    pub version: String,
    /// The MOD 37,36 check character.
    pub check: char,
}

/// Why a string is not a valid licence identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LidError {
    /// The input is longer than [`LID_MAX_LEN`] bytes.
    #[error("licence id is {len} bytes long, at most {max} allowed")]
    TooLong { len: usize, max: usize },
    /// The input does not start with [`LID_ROOT`] followed by a dot.
    #[error("licence id `{}` does not start with `{LID_ROOT}.`", .lid.escape_debug())]
    WrongRoot { lid: String },
    /// The wrong number of components after the root.
    #[error("licence id has {found} components after `{LID_ROOT}`, expected 5 (type code, issuer, serial, version, check)")]
    ComponentCount { found: usize },
    /// The type code is empty or not `[0-9A-Z]+`.
    #[error("type code `{}` must be one or more of 0-9A-Z", .value.escape_debug())]
    BadTypeCode { value: String },
    /// The issuer is not 18 chars of `[0-9A-Z]`.
    #[error("issuer `{}` must be 18 characters of 0-9A-Z", .value.escape_debug())]
    BadIssuer { value: String },
    /// The serial is not 1 to 32 chars of `[0-9A-Z]`.
    #[error("serial `{}` must be 1 to 32 characters of 0-9A-Z", .value.escape_debug())]
    BadSerial { value: String },
    /// The version is not exactly 3 digits.
    #[error("version `{}` must be exactly 3 digits", .value.escape_debug())]
    BadVersion { value: String },
    /// The check component is not a single char of `[0-9A-Z]`.
    #[error("check `{}` must be one character of 0-9A-Z", .value.escape_debug())]
    MalformedCheck { value: String },
    /// The check character does not match the other components.
    #[error("check character `{found}` is wrong, expected `{expected}`")]
    CheckMismatch { found: char, expected: char },
}

/// True if `s` is non-empty and only `[0-9A-Z]`.
fn is_upper_alnum(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

fn check_type_code(value: &str) -> Result<(), LidError> {
    if is_upper_alnum(value) {
        Ok(())
    } else {
        Err(LidError::BadTypeCode {
            value: value.to_owned(),
        })
    }
}

fn check_issuer(value: &str) -> Result<(), LidError> {
    if value.len() == ISSUER_LEN && is_upper_alnum(value) {
        Ok(())
    } else {
        Err(LidError::BadIssuer {
            value: value.to_owned(),
        })
    }
}

fn check_serial(value: &str) -> Result<(), LidError> {
    if value.len() <= SERIAL_MAX_LEN && is_upper_alnum(value) {
        Ok(())
    } else {
        Err(LidError::BadSerial {
            value: value.to_owned(),
        })
    }
}

fn check_version(value: &str) -> Result<(), LidError> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(LidError::BadVersion {
            value: value.to_owned(),
        })
    }
}

/// The check character of already validated components.
fn compute_check(
    type_code: &str,
    issuer: &str,
    serial: &str,
    version: &str,
) -> Result<char, LidError> {
    let data = [type_code, issuer, serial, version].concat();
    // The components are validated, so this cannot fail; map it to an error rather than panic.
    mod37_36_check(&data).ok_or_else(|| LidError::BadTypeCode {
        value: type_code.to_owned(),
    })
}

impl Lid {
    /// Parses and fully checks a licence identifier.
    pub fn parse(s: &str) -> Result<Lid, LidError> {
        if s.len() > LID_MAX_LEN {
            return Err(LidError::TooLong {
                len: s.len(),
                max: LID_MAX_LEN,
            });
        }
        let rest = s
            .strip_prefix(LID_ROOT)
            .and_then(|r| r.strip_prefix('.'))
            .ok_or_else(|| LidError::WrongRoot { lid: s.to_owned() })?;
        let parts: Vec<&str> = rest.split('.').collect();
        let [type_code, issuer, serial, version, check] = parts.as_slice() else {
            return Err(LidError::ComponentCount { found: parts.len() });
        };
        check_type_code(type_code)?;
        check_issuer(issuer)?;
        check_serial(serial)?;
        check_version(version)?;
        let mut chars = check.chars();
        let found = match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_digit() || c.is_ascii_uppercase() => c,
            _ => {
                return Err(LidError::MalformedCheck {
                    value: (*check).to_owned(),
                })
            }
        };
        let expected = compute_check(type_code, issuer, serial, version)?;
        if found != expected {
            return Err(LidError::CheckMismatch { found, expected });
        }
        Ok(Lid {
            type_code: (*type_code).to_owned(),
            issuer: (*issuer).to_owned(),
            serial: (*serial).to_owned(),
            version: (*version).to_owned(),
            check: found,
        })
    }
}

impl fmt::Display for Lid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{LID_ROOT}.{}.{}.{}.{}.{}",
            self.type_code, self.issuer, self.serial, self.version, self.check
        )
    }
}

impl std::str::FromStr for Lid {
    type Err = LidError;

    fn from_str(s: &str) -> Result<Lid, LidError> {
        Lid::parse(s)
    }
}

/// Builds a lid with its check character (used by the demo licence generator).
pub fn make_lid(
    type_code: &str,
    issuer: &str,
    serial: &str,
    version: &str,
) -> Result<String, LidError> {
    check_type_code(type_code)?;
    check_issuer(issuer)?;
    check_serial(serial)?;
    check_version(version)?;
    let check = compute_check(type_code, issuer, serial, version)?;
    let lid = format!("{LID_ROOT}.{type_code}.{issuer}.{serial}.{version}.{check}");
    if lid.len() > LID_MAX_LEN {
        return Err(LidError::TooLong {
            len: lid.len(),
            max: LID_MAX_LEN,
        });
    }
    Ok(lid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STANDARD: &str = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F";
    const LOCAL: &str = "1.2.156.3005.2.4200000000LOCAL000034.11420100MB12345671.2025000123.001.9";

    #[test]
    fn good_lids() {
        let cases: &[(&str, &str, &str, &str, &str, char)] = &[
            (
                STANDARD,
                "11100000000013338W032",
                "11220000013544541J",
                "2430599",
                "001",
                'F',
            ),
            (
                LOCAL,
                "4200000000LOCAL000034",
                "11420100MB12345671",
                "2025000123",
                "001",
                '9',
            ),
        ];
        for &(s, type_code, issuer, serial, version, check) in cases {
            let lid = Lid::parse(s).unwrap_or_else(|e| panic!("`{s}`: {e}"));
            assert_eq!(lid.type_code, type_code);
            assert_eq!(lid.issuer, issuer);
            assert_eq!(lid.serial, serial);
            assert_eq!(lid.version, version);
            assert_eq!(lid.check, check);
            assert_eq!(lid.to_string(), s);
            assert_eq!(
                make_lid(type_code, issuer, serial, version).as_deref(),
                Ok(s)
            );
        }
    }

    #[test]
    fn bad_lids() {
        let long = format!("{STANDARD}{}", "0".repeat(200));
        let serial33 = format!(
            "1.2.156.3005.2.11100000000013338W032.11220000013544541J.{}.001.F",
            "1".repeat(33)
        );
        let cases: Vec<(&str, LidError, &str)> = vec![
            (
                &long,
                LidError::TooLong { len: long.len(), max: 200 },
                "licence id is 269 bytes long, at most 200 allowed",
            ),
            (
                "",
                LidError::WrongRoot { lid: String::new() },
                "licence id `` does not start with `1.2.156.3005.2.`",
            ),
            (
                "1.2.156.3005.3.11100000000013338W032.11220000013544541J.2430599.001.F",
                LidError::WrongRoot {
                    lid: "1.2.156.3005.3.11100000000013338W032.11220000013544541J.2430599.001.F"
                        .into(),
                },
                "licence id `1.2.156.3005.3.11100000000013338W032.11220000013544541J.2430599.001.F` does not start with `1.2.156.3005.2.`",
            ),
            (
                "1.2.156.3005.2",
                LidError::WrongRoot { lid: "1.2.156.3005.2".into() },
                "licence id `1.2.156.3005.2` does not start with `1.2.156.3005.2.`",
            ),
            (
                "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001",
                LidError::ComponentCount { found: 4 },
                "licence id has 4 components after `1.2.156.3005.2`, expected 5 (type code, issuer, serial, version, check)",
            ),
            (
                "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F.",
                LidError::ComponentCount { found: 6 },
                "licence id has 6 components after `1.2.156.3005.2`, expected 5 (type code, issuer, serial, version, check)",
            ),
            (
                "1.2.156.3005.2..11220000013544541J.2430599.001.F",
                LidError::BadTypeCode { value: String::new() },
                "type code `` must be one or more of 0-9A-Z",
            ),
            (
                "1.2.156.3005.2.11100000000013338w032.11220000013544541J.2430599.001.F",
                LidError::BadTypeCode { value: "11100000000013338w032".into() },
                "type code `11100000000013338w032` must be one or more of 0-9A-Z",
            ),
            (
                "1.2.156.3005.2.11100000000013338W032.11220000013544541.2430599.001.F",
                LidError::BadIssuer { value: "11220000013544541".into() },
                "issuer `11220000013544541` must be 18 characters of 0-9A-Z",
            ),
            (
                "1.2.156.3005.2.11100000000013338W032.11220000013544541-.2430599.001.F",
                LidError::BadIssuer { value: "11220000013544541-".into() },
                "issuer `11220000013544541-` must be 18 characters of 0-9A-Z",
            ),
            (
                "1.2.156.3005.2.11100000000013338W032.11220000013544541J..001.F",
                LidError::BadSerial { value: String::new() },
                "serial `` must be 1 to 32 characters of 0-9A-Z",
            ),
            (
                &serial33,
                LidError::BadSerial { value: "1".repeat(33) },
                "serial `111111111111111111111111111111111` must be 1 to 32 characters of 0-9A-Z",
            ),
            (
                "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.01.F",
                LidError::BadVersion { value: "01".into() },
                "version `01` must be exactly 3 digits",
            ),
            (
                "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.00A.F",
                LidError::BadVersion { value: "00A".into() },
                "version `00A` must be exactly 3 digits",
            ),
            (
                "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.f",
                LidError::MalformedCheck { value: "f".into() },
                "check `f` must be one character of 0-9A-Z",
            ),
            (
                "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.FF",
                LidError::MalformedCheck { value: "FF".into() },
                "check `FF` must be one character of 0-9A-Z",
            ),
            (
                "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.",
                LidError::MalformedCheck { value: String::new() },
                "check `` must be one character of 0-9A-Z",
            ),
            (
                "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.E",
                LidError::CheckMismatch { found: 'E', expected: 'F' },
                "check character `E` is wrong, expected `F`",
            ),
            (
                "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430598.001.F",
                LidError::CheckMismatch { found: 'F', expected: 'V' },
                "check character `F` is wrong, expected `V`",
            ),
            (
                "1.2.156.3005.2.4200000000LOCAL000034.11420100MB12345671.2025000123.001.8",
                LidError::CheckMismatch { found: '8', expected: '9' },
                "check character `8` is wrong, expected `9`",
            ),
        ];
        for (s, want, message) in cases {
            let got = Lid::parse(s);
            assert_eq!(got, Err(want), "lid `{s}`");
            if let Err(e) = got {
                assert_eq!(e.to_string(), message, "lid `{s}`");
            }
        }
    }

    #[test]
    fn control_characters_are_escaped_in_messages() {
        let e = Lid::parse("x\ny").err();
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("licence id `x\\ny` does not start with `1.2.156.3005.2.`")
        );
    }

    #[test]
    fn make_lid_rejects_bad_components() {
        let cases: &[(&str, &str, &str, &str, LidError)] = &[
            (
                "",
                "11220000013544541J",
                "1",
                "001",
                LidError::BadTypeCode {
                    value: String::new(),
                },
            ),
            (
                "A.B",
                "11220000013544541J",
                "1",
                "001",
                LidError::BadTypeCode {
                    value: "A.B".into(),
                },
            ),
            (
                "A",
                "1122000001354454",
                "1",
                "001",
                LidError::BadIssuer {
                    value: "1122000001354454".into(),
                },
            ),
            (
                "A",
                "11220000013544541J",
                "",
                "001",
                LidError::BadSerial {
                    value: String::new(),
                },
            ),
            (
                "A",
                "11220000013544541J",
                "1",
                "1",
                LidError::BadVersion { value: "1".into() },
            ),
        ];
        for (type_code, issuer, serial, version, want) in cases {
            assert_eq!(
                make_lid(type_code, issuer, serial, version),
                Err(want.clone())
            );
        }
        let long_type = "A".repeat(150); // 192 bytes in all
        assert!(make_lid(&long_type, "11220000013544541J", "1", "001").is_ok());
        let too_long_type = "A".repeat(160);
        assert!(matches!(
            make_lid(&too_long_type, "11220000013544541J", "1", "001"),
            Err(LidError::TooLong { .. })
        ));
    }

    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    proptest! {
        #[test]
        fn made_lids_parse(
            type_code in "[0-9A-Z]{1,40}",
            issuer in "[0-9A-Z]{18}",
            serial in "[0-9A-Z]{1,32}",
            version in "[0-9]{3}",
        ) {
            let s = make_lid(&type_code, &issuer, &serial, &version);
            prop_assert!(s.is_ok(), "{:?}", s);
            let s = s.unwrap_or_default();
            let lid = Lid::parse(&s);
            prop_assert!(lid.is_ok(), "{:?}", lid);
            let lid = lid.unwrap_or_else(|_| unreachable!());
            prop_assert_eq!(&lid.type_code, &type_code);
            prop_assert_eq!(&lid.issuer, &issuer);
            prop_assert_eq!(&lid.serial, &serial);
            prop_assert_eq!(&lid.version, &version);
            prop_assert_eq!(lid.to_string(), s);
        }

        #[test]
        fn any_single_substitution_is_rejected(
            type_code in "[0-9A-Z]{1,40}",
            issuer in "[0-9A-Z]{18}",
            serial in "[0-9A-Z]{1,32}",
            version in "[0-9]{3}",
            position in any::<prop::sample::Index>(),
            replacement in any::<prop::sample::Index>(),
        ) {
            let s = make_lid(&type_code, &issuer, &serial, &version).unwrap_or_default();
            let mut bytes = s.clone().into_bytes();
            let at = position.index(bytes.len());
            let original = bytes[at];
            let candidates: Vec<u8> = ALPHABET.iter().copied().filter(|&b| b != original).collect();
            bytes[at] = candidates[replacement.index(candidates.len())];
            let mutated = String::from_utf8(bytes).unwrap_or_default();
            prop_assert!(Lid::parse(&mutated).is_err(), "`{}` (from `{}`) parsed", mutated, s);
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,300}") {
            let _ = Lid::parse(&s);
        }

        #[test]
        fn lid_shaped_strings_never_panic(s in "1\\.2\\.156\\.3005\\.2\\.[0-9A-Za-z.\\-]{0,200}") {
            let _ = Lid::parse(&s);
        }
    }
}
