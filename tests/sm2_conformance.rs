//! SM2 conformance: the published example signature of GB/T 32918.2 / GM/T 0003.5 on the
//! recommended curve, and OpenSSL's SM2 verification vectors, through tongban's own key reading
//! and signature check (`tongban::crypto`). See `tests/data/sm2/README.md`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sm2::dsa::signature::hazmat::PrehashVerifier;
use sm2::pkcs8::EncodePrivateKey;
use tongban::crypto::sm2::DEFAULT_DISTID;
use tongban::crypto::{decode_hex, verify, Algorithm, PrivateKey, PublicKey, Signature};

const D: &str = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8";
const X: &str = "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020";
const Y: &str = "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";
const R: &str = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3";
const S: &str = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA";
const MESSAGE: &[u8] = b"message digest";

fn hex(s: &str) -> Vec<u8> {
    decode_hex(s).unwrap()
}

/// DER `SEQUENCE { r INTEGER, s INTEGER }` of two 32-byte big-endian integers.
fn der_signature(r: &[u8], s: &[u8]) -> Vec<u8> {
    let int = |v: &[u8]| {
        let v = &v[v.iter().position(|b| *b != 0).unwrap_or(v.len() - 1)..];
        let mut out = vec![0x02];
        if v[0] & 0x80 != 0 {
            out.extend([u8::try_from(v.len() + 1).unwrap(), 0]);
        } else {
            out.push(u8::try_from(v.len()).unwrap());
        }
        out.extend_from_slice(v);
        out
    };
    let body = [int(r), int(s)].concat();
    [vec![0x30, u8::try_from(body.len()).unwrap()], body].concat()
}

/// The standard's key pair, read the way tongban reads keys (PKCS#8 as OpenSSL writes it).
fn standard_key() -> PrivateKey {
    let secret = sm2::SecretKey::from_slice(&hex(D)).unwrap();
    PrivateKey::from_pkcs8_der(secret.to_pkcs8_der().unwrap().as_bytes()).unwrap()
}

#[test]
fn the_standard_example_verifies_with_the_default_signer_id() {
    let key = standard_key().public_key();
    let PublicKey::Sm2(sm2_key) = &key else {
        panic!("an SM2 key: {key:?}")
    };
    // the private key gives the standard's public key
    assert_eq!(sm2_key.point(), [&[4u8][..], &hex(X), &hex(Y)].concat());
    let rs = [hex(R), hex(S)].concat();
    let jws = URL_SAFE_NO_PAD.encode(&rs);
    verify(Algorithm::Sm2Sm3, &key, MESSAGE, Signature::Jws(&jws)).expect("JWS r‖s form");
    let der = der_signature(&hex(R), &hex(S));
    verify(Algorithm::Sm2Sm3, &key, MESSAGE, Signature::X509(&der)).expect("X.509 DER form");
    // each form only where it belongs
    assert!(verify(Algorithm::Sm2Sm3, &key, MESSAGE, Signature::X509(&rs)).is_err());
    let der_b64 = URL_SAFE_NO_PAD.encode(&der);
    assert!(verify(Algorithm::Sm2Sm3, &key, MESSAGE, Signature::Jws(&der_b64)).is_err());
    // another message, or one changed bit of s, fails
    assert!(verify(
        Algorithm::Sm2Sm3,
        &key,
        b"message digesT",
        Signature::Jws(&jws)
    )
    .is_err());
    let mut bad = rs.clone();
    bad[63] ^= 1;
    let bad = URL_SAFE_NO_PAD.encode(&bad);
    assert!(verify(Algorithm::Sm2Sm3, &key, MESSAGE, Signature::Jws(&bad)).is_err());
}

#[test]
fn the_standard_example_was_made_with_1234567812345678_not_another_id() {
    use sm2::dsa::signature::Verifier;
    let point = [&[4u8][..], &hex(X), &hex(Y)].concat();
    let signature = sm2::dsa::Signature::from_slice(&[hex(R), hex(S)].concat()).unwrap();
    let verifies_with = |distid: &str| {
        sm2::dsa::VerifyingKey::from_sec1_bytes(distid, &point)
            .unwrap()
            .verify(MESSAGE, &signature)
            .is_ok()
    };
    assert_eq!(DEFAULT_DISTID, "1234567812345678");
    assert!(verifies_with(DEFAULT_DISTID));
    assert!(!verifies_with("ALICE123@YAHOO.COM"));
    assert!(!verifies_with(""));
}

#[test]
fn openssl_sm2_verification_vectors() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sm2/openssl-evppkey_sm2.txt"
    ))
    .unwrap();
    let pem_start = text.find("-----BEGIN PRIVATE KEY-----").unwrap();
    let pem_end = text.find("-----END PRIVATE KEY-----").unwrap() + 25;
    let key = PrivateKey::from_pkcs8_pem(&text[pem_start..pem_end]).expect("OpenSSL's PKCS#8");
    let PublicKey::Sm2(sm2_key) = key.public_key() else {
        panic!("an SM2 key")
    };
    let verifier =
        sm2::dsa::VerifyingKey::from_sec1_bytes(DEFAULT_DISTID, sm2_key.point()).unwrap();
    let field = |line: &str, name: &str| line.strip_prefix(name).map(|v| hex(v.trim()));
    let lines: Vec<&str> = text.lines().collect();
    let mut checked = 0;
    for pair in lines.windows(2) {
        let (Some(e), Some(der)) = (field(pair[0], "Input = "), field(pair[1], "Output = ")) else {
            continue;
        };
        let sig = sm2::dsa::Signature::from_der(&der).unwrap();
        verifier
            .verify_prehash(&e, &sig)
            .expect("OpenSSL vector verifies");
        let mut other = e.clone();
        other[0] ^= 1;
        assert!(verifier.verify_prehash(&other, &sig).is_err());
        checked += 1;
    }
    assert_eq!(checked, 2, "both vectors of the file were read");
}

#[test]
fn malformed_sm2_keys_and_signatures_never_panic() {
    let key = standard_key().public_key();
    for len in [0, 1, 31, 32, 33, 63, 64, 65, 72, 200] {
        for fill in [0x00, 0x01, 0x7f, 0x80, 0xff] {
            let sig = vec![fill; len];
            let b64 = URL_SAFE_NO_PAD.encode(&sig);
            assert!(verify(Algorithm::Sm2Sm3, &key, MESSAGE, Signature::Jws(&b64)).is_err());
            assert!(verify(Algorithm::Sm2Sm3, &key, MESSAGE, Signature::X509(&sig)).is_err());
        }
    }
    // SPKIs with broken points are errors, never panics
    for point in [vec![], vec![4], vec![4; 65], vec![2; 33], vec![0; 65]] {
        let mut spki = vec![
            0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
            0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d,
        ];
        spki.extend([0x03, u8::try_from(point.len() + 1).unwrap(), 0]);
        spki.extend(&point);
        let spki = [vec![0x30, u8::try_from(spki.len()).unwrap()], spki].concat();
        assert!(PublicKey::from_spki_der(&spki).is_err(), "{point:?}");
    }
}
