//! Table-driven vectors for the identifiers a licence carries.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

use tongban::checkdigit::{mod37_36_check, resident_id_valid, uscc_valid};
use tongban::lid::Lid;

#[test]
fn licence_ids() {
    let cases = [
        // the contract's vector (GB/T 36904)
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F", true),
        ("1.2.156.3005.2.4200000000LOCAL000034.11420100MB12345671.2025000123.001.9", true),
        // wrong check character
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.G", false),
        // wrong root
        ("1.2.156.3005.3.11100000000013338W032.11220000013544541J.2430599.001.F", false),
        // version of two digits
        ("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.01.F", false),
        // lower case
        ("1.2.156.3005.2.11100000000013338w032.11220000013544541J.2430599.001.F", false),
        // serial too long (33)
        ("1.2.156.3005.2.4200000000LOCAL000034.11420100MB12345671.123456789012345678901234567890123.001.9", false),
        // issuer of 17 characters
        ("1.2.156.3005.2.4200000000LOCAL000034.11420100MB1234567.2025000123.001.9", false),
        ("", false),
        ("1.2.156.3005.2", false),
    ];
    for (lid, ok) in cases {
        assert_eq!(Lid::parse(lid).is_ok(), ok, "{lid}");
    }
    let lid = Lid::parse(cases[0].0).unwrap();
    assert_eq!(lid.type_code, "11100000000013338W032");
    assert_eq!(lid.issuer, "11220000013544541J");
    assert_eq!(
        mod37_36_check("11100000000013338W03211220000013544541J2430599001"),
        Some('F')
    );
}

#[test]
fn unified_social_credit_codes() {
    for (code, ok) in [
        ("91512081MA62K0260E", true),
        ("91512081MA62K0260F", false),
        ("91512081MA62K026", false),
        ("91512081MA62K0260EE", false),
        ("91512081MA62K0I60E", false), // I is not in the GB 32100 alphabet
        ("", false),
    ] {
        assert_eq!(uscc_valid(code), ok, "{code}");
    }
}

#[test]
fn resident_identity_numbers() {
    for (id, ok) in [
        ("11010519491231002X", true),
        ("110105194912310021", false),
        ("11010519491231002x", false), // GB 11643 prints an upper-case X
        ("1101051949123100", false),
        ("A1010519491231002X", false),
    ] {
        assert_eq!(resident_id_valid(id), ok, "{id}");
    }
}
