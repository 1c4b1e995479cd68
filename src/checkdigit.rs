//! Check characters used by licence identifiers and the codes they carry.
//!
//! - ISO/IEC 7064 MOD 37,36 (hybrid system over `0-9A-Z`), the check of a GB/T 36904 licence id;
//! - GB 32100 unified social credit code (统一社会信用代码);
//! - GB 11643 resident identity number (公民身份号码).
//!
//! All functions are strict: they accept upper-case input only (a lower-case `x` in a
//! resident identity number is rejected; callers that accept user typing should upper-case
//! first) and never panic.

/// The alphabet of ISO/IEC 7064 MOD 37,36: `0-9` then `A-Z`, value = position.
const MOD37_36_ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The GB 32100 alphabet: digits and upper-case letters without I, O, S, V, Z.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// GB 32100 weights of positions 1..=17.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// GB 11643 weights of positions 1..=17.
const RESIDENT_ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// GB 11643 check characters, indexed by the weighted sum mod 11.
const RESIDENT_ID_CHECKS: &[u8; 11] = b"10X98765432";

/// Value of `c` in the MOD 37,36 alphabet (`0-9` = 0..9, `A-Z` = 10..35).
fn mod37_36_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(u32::from(c) - u32::from('0')),
        'A'..='Z' => Some(u32::from(c) - u32::from('A') + 10),
        _ => None,
    }
}

/// ISO/IEC 7064 MOD 37,36 (hybrid system, alphabet 0-9A-Z): the check character for `data`,
/// None if a char is outside 0-9A-Z.
///
/// The empty string has check character `1` (as the algorithm gives).
pub fn mod37_36_check(data: &str) -> Option<char> {
    let mut p: u32 = 36;
    for c in data.chars() {
        let mut s = (p + mod37_36_value(c)?) % 36;
        if s == 0 {
            s = 36;
        }
        p = (s * 2) % 37;
    }
    // The check value c satisfies (p + c) mod 36 == 1, with p in 0..=36.
    let c = (37 - p % 36) % 36;
    MOD37_36_ALPHABET
        .get(usize::try_from(c).ok()?)
        .map(|&b| char::from(b))
}

/// GB 32100 unified social credit code (18 chars, alphabet 0123456789ABCDEFGHJKLMNPQRTUWXY,
/// weights 1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28, check = 31 - sum mod 31, 31 -> 0).
///
/// Only the charset, the length and the check character are verified.
pub fn uscc_valid(code: &str) -> bool {
    code.len() == 18
        && code
            .get(..17)
            .and_then(uscc_check)
            .is_some_and(|c| code.ends_with(c))
}

/// The GB 32100 check character of the first 17 characters of a USCC.
pub fn uscc_check(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum: usize = 0;
    for (&b, &w) in bytes.iter().zip(USCC_WEIGHTS.iter()) {
        let v = USCC_ALPHABET.iter().position(|&a| a == b)?;
        sum += v * w as usize;
    }
    USCC_ALPHABET
        .get((31 - sum % 31) % 31)
        .map(|&b| char::from(b))
}

/// GB 11643 resident identity number (18 chars, weights 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2,
/// sum mod 11 -> "10X98765432").
///
/// Only the charset, the length and the check character are verified (not the region code
/// or the birth date). The check `X` must be upper-case.
pub fn resident_id_valid(id: &str) -> bool {
    id.len() == 18
        && id
            .get(..17)
            .and_then(resident_id_check)
            .is_some_and(|c| id.ends_with(c))
}

/// The GB 11643 check character of the first 17 digits of a resident identity number.
pub fn resident_id_check(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum: u32 = 0;
    for (&b, &w) in bytes.iter().zip(RESIDENT_ID_WEIGHTS.iter()) {
        if !b.is_ascii_digit() {
            return None;
        }
        sum += u32::from(b - b'0') * w;
    }
    RESIDENT_ID_CHECKS
        .get((sum % 11) as usize)
        .map(|&b| char::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mod37_36_vectors() {
        let cases: &[(&str, Option<char>)] = &[
            // GB/T 36904 example lid: type code + issuer + serial + version
            (
                "11100000000013338W03211220000013544541J2430599001",
                Some('F'),
            ),
            (
                "4200000000LOCAL00003411420100MB123456712025000123001",
                Some('9'),
            ),
            ("", Some('1')),
            ("abc", None),
            ("A-1", None),
            ("AB C", None),
            ("中", None),
        ];
        for &(data, want) in cases {
            assert_eq!(mod37_36_check(data), want, "data `{data}`");
        }
    }

    #[test]
    fn mod37_36_check_closes_the_hybrid_sum() {
        // Appending the check char must leave the running product at 1 (the hybrid system's
        // verification rule).
        for data in ["0", "Z", "ABC123", "11100000000013338W032"] {
            let check = mod37_36_check(data).unwrap_or('?');
            let mut p = 36u32;
            for c in format!("{data}{check}").chars() {
                let v = mod37_36_value(c).unwrap_or(99);
                let mut s = (p + v) % 36;
                if s == 0 {
                    s = 36;
                }
                p = (s * 2) % 37;
            }
            assert_eq!(p, 2, "data `{data}` check `{check}`");
        }
    }

    #[test]
    fn uscc_vectors() {
        let cases: &[(&str, bool)] = &[
            ("91512081MA62K0260E", true),
            ("91512081MA62K0260F", false),  // check char changed
            ("91512081MA62K0261E", false),  // data char changed
            ("81512081MA62K0260E", false),  // first char changed
            ("91512081MA62K0260", false),   // too short
            ("91512081MA62K0260EE", false), // too long
            ("", false),
            ("91512081ma62k0260e", false), // lower case
            ("91512081MI62K0260E", false), // I is not in the alphabet
            ("91512081MA62K026OE", false), // letter O instead of zero
            ("91512081MA62K0260Z", false), // Z is not in the alphabet
            ("91512081MA62K026中", false), // non-ASCII
        ];
        for &(code, want) in cases {
            assert_eq!(uscc_valid(code), want, "code `{code}`");
        }
    }

    #[test]
    fn resident_id_vectors() {
        let cases: &[(&str, bool)] = &[
            ("11010519491231002X", true),
            ("11010519491231002x", false), // lower-case x is rejected: GB 11643 prints `X`
            ("110105194912310021", false), // check changed
            ("11010519491231003X", false), // data digit changed
            ("21010519491231002X", false), // first digit changed
            ("11010519491231002", false),  // too short
            ("11010519491231002XX", false), // too long
            ("1101051949123100AX", false), // letter in the data part
            ("", false),
            ("11010519491231002Ｘ", false), // full-width X
        ];
        for &(id, want) in cases {
            assert_eq!(resident_id_valid(id), want, "id `{id}`");
        }
    }
}
