//! One case (or more) per error and warning code of contract section 2, against a PKI made by
//! code. The negative certificates are named after what is wrong with them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::*;
use serde_json::{json, Value};
use tongban::licence::issue::SignerHeader;
use tongban::licence::{Code, Verdict};
use tongban::pki::{
    rsa1024_spki_der, CaKind, CertSpec, Issued, KeyAlg, KeyUsage, Reason, RevokedCert,
};

/// Every test of the verifier that is not about one algorithm runs twice: with international
/// (P-256) material and with national (SM2) material, so SM2 is not a side path.
macro_rules! in_both_algorithms {
    ($($name:ident),* $(,)?) => {
        mod p256 {
            $(#[test]
            fn $name() {
                super::$name(super::KeyAlg::P256)
            })*
        }
        mod sm2 {
            $(#[test]
            fn $name() {
                super::$name(super::KeyAlg::Sm2)
            })*
        }
    };
}

in_both_algorithms!(
    a_valid_licence_verifies_with_every_fact_filled,
    kid_resolves_against_known_signers,
    malformed_inputs_each_say_what_is_wrong,
    hostile_headers_are_malformed,
    unknown_signers,
    a_changed_payload_or_signature_is_invalid,
    signers_outside_the_signing_profile_are_not_eligible,
    untrusted_chains_name_the_obstacle,
    missing_intermediate_and_overlong_chains_are_untrusted,
    certificates_are_judged_at_issuance,
    the_anchor_must_be_valid_at_issuance_too,
    revoked_signers,
    revoked_intermediate_and_crl_checks,
    issuers_must_be_authorised_and_consistent,
    lids_types_and_schemas,
    validity_window_and_clock,
    revoked_licences_and_recognition,
    holder_check_digits_are_warnings,
    independent_errors_are_all_reported
);

/// Verifies, and checks on the way that the verdict cache's reassembly (the verdict rebuilt from
/// the licence and the judgement alone) gives the very same verdict, for every case here.
#[track_caller]
fn verify(w: &World, licence: &str) -> Verdict {
    let verifier = w.verifier();
    let verdict = verifier.verify(licence.as_bytes(), HUANGSHI, NOW);
    let again = verifier.reassemble(licence.as_bytes(), HUANGSHI, &verdict.judgement());
    assert_eq!(again, verdict, "reassembled from the cached judgement");
    verdict
}

#[track_caller]
fn assert_only(v: &Verdict, code: Code) {
    assert!(!v.valid, "expected {code:?}, got a valid verdict");
    assert_eq!(v.error_codes(), vec![code], "{:#?}", v.errors);
}

#[track_caller]
fn assert_has(v: &Verdict, code: Code) {
    assert!(v.has_error(code), "expected {code:?} among {:#?}", v.errors);
    assert!(!v.valid);
}

/// A compact JWS from raw header and payload JSON, with a junk signature.
fn raw_jws(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    )
}

fn header_of(w: &World) -> Value {
    json!({"alg": w.jws_alg(), "typ": "elicence+jws", "x5c": [STANDARD.encode(w.market.cert_der()), STANDARD.encode(w.wuhan_inter.cert_der())]})
}

/// Replaces the protected header of a signed licence (the signature then no longer matches).
fn with_header(licence: &str, header: &Value) -> String {
    let rest = licence.split_once('.').unwrap().1;
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
}

fn a_valid_licence_verifies_with_every_fact_filled(alg: KeyAlg) {
    let w = World::with_alg(alg);
    let v = verify(&w, &w.business_licence(|_| {}));
    assert!(v.valid, "{:#?}", v.errors);
    assert!(v.warnings.is_empty(), "{:#?}", v.warnings);
    assert_eq!(v.ltype.as_deref(), Some("BUSINESS_LICENCE"));
    assert_eq!(v.ltype_name.as_deref(), Some("营业执照"));
    let issuer = v.issuer.unwrap();
    assert_eq!(issuer.city.as_deref(), Some(WUHAN));
    assert_eq!(issuer.department.as_deref(), Some("MARKET_REG"));
    assert_eq!(issuer.org_id, Some(org_id_of(&w.market)));
    assert_eq!(v.verified_for_city, HUANGSHI);
    assert!(!v.cached);
    // the JSON shape of the contract
    let json = serde_json::to_value(verify(&w, &w.business_licence(|_| {}))).unwrap();
    for key in [
        "valid",
        "lid",
        "ltype",
        "ltype_name",
        "issuer",
        "holder",
        "errors",
        "warnings",
        "verified_for_city",
        "cached",
    ] {
        assert!(json.get(key).is_some(), "{key} missing");
    }
    // whitespace around the licence is ignored
    let padded = format!("  {}\n", w.business_licence(|_| {}));
    assert!(verify(&w, &padded).valid);
}

#[test]
fn every_algorithm_verifies() {
    let w = World::new();
    for (n, alg) in [
        KeyAlg::P256,
        KeyAlg::P384,
        KeyAlg::Ed25519,
        KeyAlg::Rsa2048,
        KeyAlg::Sm2,
    ]
    .into_iter()
    .enumerate()
    {
        let signer = w
            .wuhan_inter
            .issue(&signer_spec_alg(WUHAN, "MARKET_REG", 10 + n, alg))
            .unwrap();
        let licence = w.licence_with(
            &signer,
            &[&w.wuhan_inter],
            "BUSINESS_LICENCE",
            SignerHeader::X5c,
            |_| {},
        );
        let v = verify(&w, &licence);
        assert!(v.valid, "{alg:?}: {:#?}", v.errors);
    }
    // PS256 with an RSA key
    let rsa = w
        .wuhan_inter
        .issue(&signer_spec_alg(WUHAN, "MARKET_REG", 20, KeyAlg::Rsa2048B))
        .unwrap();
    let chain = vec![rsa.cert_der().to_vec(), w.wuhan_inter.cert_der().to_vec()];
    let s = tongban::licence::issue::LicenceSigner::new(
        &rsa.key_pem(),
        &chain,
        Some(tongban::crypto::Algorithm::RsaPssSha256),
        SignerHeader::X5c,
    )
    .unwrap();
    let claims = w
        .draft("BUSINESS_LICENCE")
        .claims(&w.catalog, &org_id_of(&rsa))
        .unwrap();
    let v = verify(&w, &s.sign(&claims).unwrap());
    assert!(v.valid, "PS256: {:#?}", v.errors);
}

#[test]
fn chains_may_mix_algorithms_link_by_link() {
    let w = World::new();
    // P-256 intermediate → SM2 signer
    let sm2_signer = w
        .wuhan_inter
        .issue(&signer_spec_alg(WUHAN, "MARKET_REG", 100, KeyAlg::Sm2))
        .unwrap();
    // P-256 root → SM2 intermediate (x5c only) → P-256 signer
    let sm2_inter = w
        .wuhan_root
        .issue(&CertSpec::intermediate(WUHAN, "武汉 国密签发CA", NB, NA).with_key_alg(KeyAlg::Sm2))
        .unwrap();
    let under_sm2 = sm2_inter
        .issue(&signer_spec(WUHAN, "MARKET_REG", 101))
        .unwrap();
    // a second, SM2 root of Wuhan beside its P-256 one (a dual PKI) → P-256 intermediate → SM2 signer
    let sm2_root = Issued::self_signed(
        &CertSpec::root(WUHAN, "武汉 国密根CA", NB, NA).with_key_alg(KeyAlg::Sm2),
    )
    .unwrap();
    w.trust.add_root(WUHAN, &sm2_root.cert_pem()).unwrap();
    let p256_inter = sm2_root
        .issue(&CertSpec::intermediate(WUHAN, "武汉 国际签发CA", NB, NA))
        .unwrap();
    let sm2_leaf = p256_inter
        .issue(&signer_spec_alg(WUHAN, "MARKET_REG", 102, KeyAlg::Sm2))
        .unwrap();
    for (name, signer, chain) in [
        ("SM2 signer, P-256 CAs", &sm2_signer, vec![&w.wuhan_inter]),
        (
            "P-256 signer, SM2 intermediate",
            &under_sm2,
            vec![&sm2_inter],
        ),
        ("SM2 root, P-256 intermediate", &sm2_leaf, vec![&p256_inter]),
    ] {
        let licence = w.licence_with(
            signer,
            &chain,
            "BUSINESS_LICENCE",
            SignerHeader::X5c,
            |_| {},
        );
        let v = verify(&w, &licence);
        assert!(v.valid, "{name}: {:#?}", v.errors);
    }
    // an SM2 intermediate of the same name but another key breaks the link
    let impostor = w
        .wuhan_root
        .issue(&CertSpec::intermediate(WUHAN, "武汉 国密签发CA", NB, NA).with_key_alg(KeyAlg::Sm2))
        .unwrap();
    let licence = w.licence_with(
        &under_sm2,
        &[&impostor],
        "BUSINESS_LICENCE",
        SignerHeader::X5c,
        |_| {},
    );
    assert_only(&verify(&w, &licence), Code::ChainUntrusted);
}

#[test]
fn sm2_algorithm_and_key_must_agree_both_ways() {
    // `SM2` over a P-256 key
    let w = World::new();
    let mut header = header_of(&w);
    header["alg"] = json!("SM2");
    let v = verify(&w, &with_header(&w.business_licence(|_| {}), &header));
    assert_only(&v, Code::UnsupportedAlgorithm);
    assert!(v.errors[0].message.contains("P-256"), "{:#?}", v.errors);
    // `ES256` over an SM2 key
    let w = World::with_alg(KeyAlg::Sm2);
    let mut header = header_of(&w);
    header["alg"] = json!("ES256");
    let v = verify(&w, &with_header(&w.business_licence(|_| {}), &header));
    assert_only(&v, Code::UnsupportedAlgorithm);
    assert!(v.errors[0].message.contains("SM2"), "{:#?}", v.errors);
}

/// The SM2 group order n.
const SM2_N: &str = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123";

#[test]
fn sm2_signatures_are_64_byte_r_s_with_the_default_signer_id() {
    use ::sm2::dsa::signature::Signer as _;
    use ::sm2::pkcs8::DecodePrivateKey as _;
    let w = World::with_alg(KeyAlg::Sm2);
    let good = w.business_licence(|_| {});
    assert!(verify(&w, &good).valid);
    let (signing_input, _) = good.rsplit_once('.').unwrap();
    let secret = ::sm2::SecretKey::from_pkcs8_der(w.market.key_pkcs8_der()).unwrap();
    let sign_with = |distid: &str| -> ::sm2::dsa::Signature {
        ::sm2::dsa::SigningKey::new(distid, &secret)
            .unwrap()
            .sign(signing_input.as_bytes())
    };
    let with_sig = |sig: &[u8]| format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig));
    // the same key and ID through the sm2 crate directly: accepted
    let direct = sign_with("1234567812345678").to_bytes().to_vec();
    assert!(verify(&w, &with_sig(&direct)).valid);
    let n = tongban::crypto::decode_hex(SM2_N).unwrap();
    let r = &direct[..32];
    let s = &direct[32..];
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "empty signer ID (OpenSSL 3's default)",
            sign_with("").to_bytes().to_vec(),
        ),
        (
            "another signer ID",
            sign_with("ALICE123@YAHOO.COM").to_bytes().to_vec(),
        ),
        (
            "DER where r‖s belongs",
            sign_with("1234567812345678").to_der().to_vec(),
        ),
        ("63 bytes", direct[..63].to_vec()),
        ("65 bytes", [direct.as_slice(), &[0]].concat()),
        ("r = 0", [&[0u8; 32][..], s].concat()),
        ("s = 0", [r, &[0u8; 32][..]].concat()),
        ("r = n", [n.as_slice(), s].concat()),
        ("s = n", [r, n.as_slice()].concat()),
        ("r ≥ n", [&[0xffu8; 32][..], s].concat()),
    ];
    cases.push(("another s", [r, &[0x11u8; 32][..]].concat()));
    for (name, sig) in cases {
        let v = verify(&w, &with_sig(&sig));
        assert_only(&v, Code::SignatureInvalid);
        assert!(!v.valid, "{name}");
    }
}

/// A SubjectPublicKeyInfo for an SM2 point: `id-ecPublicKey` with the SM2 curve, or the SM2 OID
/// as the algorithm itself (with or without the curve as parameter).
fn sm2_spki(point: &[u8], form: &str) -> Vec<u8> {
    const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const SM2: &[u8] = &[0x06, 0x08, 0x2a, 0x81, 0x1c, 0xcf, 0x55, 0x01, 0x82, 0x2d];
    let algorithm = match form {
        "ecPublicKey" => [EC_PUBLIC_KEY, SM2].concat(),
        "sm2 with curve" => [SM2, SM2].concat(),
        _ => SM2.to_vec(),
    };
    let mut bits = vec![0x03, u8::try_from(point.len() + 1).unwrap(), 0x00];
    bits.extend_from_slice(point);
    let mut alg = vec![0x30, u8::try_from(algorithm.len()).unwrap()];
    alg.extend(algorithm);
    let mut spki = vec![0x30, u8::try_from(alg.len() + bits.len()).unwrap()];
    spki.extend(alg);
    spki.extend(bits);
    spki
}

#[test]
fn sm2_keys_are_read_in_both_spki_forms_and_broken_ones_reported() {
    let w = World::with_alg(KeyAlg::Sm2);
    let point = w.market.spki_der()[w.market.spki_der().len() - 65..].to_vec();
    assert_eq!(sm2_spki(&point, "ecPublicKey"), w.market.spki_der());
    for form in ["sm2", "sm2 with curve"] {
        let spec = w.signer_spec(WUHAN, "MARKET_REG", 1);
        let cert = w
            .wuhan_inter
            .issue_with_public_key(&spec, &sm2_spki(&point, form))
            .unwrap();
        let chain = vec![cert, w.wuhan_inter.cert_der().to_vec()];
        let signer = tongban::licence::issue::LicenceSigner::new(
            &w.market.key_pem(),
            &chain,
            None,
            SignerHeader::X5c,
        )
        .unwrap();
        let claims = w
            .draft("BUSINESS_LICENCE")
            .claims(&w.catalog, &org_id_of(&w.market))
            .unwrap();
        let v = verify(&w, &signer.sign(&claims).unwrap());
        assert!(v.valid, "{form}: {:#?}", v.errors);
    }
    // a point that is not on the curve: the intermediate holding it is reported with its file
    let mut off_curve = point.clone();
    off_curve[64] ^= 1;
    let broken = w
        .wuhan_root
        .issue_with_public_key(
            &w.intermediate_spec(WUHAN, "武汉 坏CA", NB, NA),
            &sm2_spki(&off_curve, "ecPublicKey"),
        )
        .unwrap();
    let pem = tongban::pki::pem_encode("CERTIFICATE", &broken);
    w.trust.add_intermediate(WUHAN, "broken-sm2", &pem).unwrap();
    let err = tongban::licence::Verifier::load(&w.trust_dir(), None)
        .err()
        .expect("broken SM2 material stops loading")
        .to_string();
    assert!(err.contains("broken-sm2"), "{err}");
    assert!(err.contains("not a point of the curve"), "{err}");
}

fn kid_resolves_against_known_signers(alg: KeyAlg) {
    let w = World::with_alg(alg);
    w.trust
        .add_signer(WUHAN, "market", &w.market.cert_pem())
        .unwrap();
    let licence = w.licence_with(
        &w.market,
        &[],
        "BUSINESS_LICENCE",
        SignerHeader::Kid,
        |_| {},
    );
    let v = verify(&w, &licence);
    assert!(v.valid, "{:#?}", v.errors);
}

fn malformed_inputs_each_say_what_is_wrong(alg: KeyAlg) {
    let w = World::with_alg(alg);
    let good = w.business_licence(|_| {});
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "empty"),
        ("abc".into(), "3 dot-separated parts"),
        (format!("{h}.{p}"), "3 dot-separated parts"),
        (format!("{h}.{p}.{s}.x"), "3 dot-separated parts"),
        (format!("{h}.{p}.{s}通"), "ASCII"),
        (format!("{h}.{p}=.{s}"), "outside base64url"),
        (format!("{h}..{s}"), "payload part is empty"),
        (format!("A.{p}.{s}"), "not valid base64url"),
        (
            format!("{}.{p}.{s}", URL_SAFE_NO_PAD.encode("not json")),
            "not valid JSON",
        ),
        (
            format!("{}.{p}.{s}", URL_SAFE_NO_PAD.encode("[1]")),
            "not an object",
        ),
        (
            format!("{}.{p}.{s}", URL_SAFE_NO_PAD.encode(&deep)),
            "deeper than",
        ),
        (
            format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode("\"string\"")),
            "payload is JSON but not an object",
        ),
        ("a".repeat(70_000), "exceeds the limit"),
    ];
    for (input, message) in cases {
        let v = verify(&w, &input);
        assert!(v.has_error(Code::Malformed), "{message}: {:#?}", v.errors);
        assert!(
            v.errors.iter().any(|e| e.message.contains(message)),
            "want `{message}` in {:#?}",
            v.errors
        );
    }
}

fn hostile_headers_are_malformed(alg: KeyAlg) {
    let w = World::with_alg(alg);
    let good = w.business_licence(|_| {});
    let mut header = header_of(&w);
    header["crit"] = json!(["exp"]);
    assert_has(&verify(&w, &with_header(&good, &header)), Code::Malformed);
    for typ in [json!("JWT"), json!(1)] {
        let mut header = header_of(&w);
        header["typ"] = typ;
        assert_has(&verify(&w, &with_header(&good, &header)), Code::Malformed);
    }
    let mut header = header_of(&w);
    header.as_object_mut().unwrap().remove("typ");
    assert_has(&verify(&w, &with_header(&good, &header)), Code::Malformed);
    for x5c in [
        json!("abc"),
        json!([]),
        json!([1]),
        json!(["***"]),
        json!([STANDARD.encode(b"not a certificate")]),
    ] {
        let mut header = header_of(&w);
        header["x5c"] = x5c.clone();
        assert_has(&verify(&w, &with_header(&good, &header)), Code::Malformed);
    }
    let payload = json!({"lid": 1});
    let v = verify(&w, &raw_jws(&header_of(&w), &payload));
    for claim in [
        "`lid` is not a string",
        "`ltype` is missing",
        "`holder` is missing",
        "`iat` is missing",
        "`fields` is missing",
    ] {
        assert!(
            v.errors
                .iter()
                .any(|e| e.code == Code::Malformed && e.message.contains(claim)),
            "{claim}: {:#?}",
            v.errors
        );
    }
}

#[test]
fn unsupported_algorithms() {
    let w = World::new();
    let good = w.business_licence(|_| {});
    for alg in ["none", "HS256", "RS512", "ES512"] {
        let mut header = header_of(&w);
        header["alg"] = json!(alg);
        let v = verify(&w, &with_header(&good, &header));
        assert_has(&v, Code::UnsupportedAlgorithm);
        assert!(
            !v.has_error(Code::SignatureInvalid),
            "{alg}: no signature check without an algorithm"
        );
    }
    // a real ES384 header over a P-256 signer key: inconsistent with the key
    let mut header = header_of(&w);
    header["alg"] = json!("ES384");
    assert_only(
        &verify(&w, &with_header(&good, &header)),
        Code::UnsupportedAlgorithm,
    );
}

#[test]
fn alg_none_is_refused_as_an_algorithm_whatever_the_signature_part() {
    let w = World::new();
    let good = w.business_licence(|_| {});
    let mut header = header_of(&w);
    header["alg"] = json!("none");
    let unsigned = with_header(&good, &header);
    let (signed_part, _) = unsigned.rsplit_once('.').unwrap();
    // an unsecured JWS (RFC 7515 A.5) has an empty signature part; "x" is any other part
    for licence in [format!("{signed_part}."), format!("{signed_part}.eA")] {
        let v = verify(&w, &licence);
        assert_has(&v, Code::UnsupportedAlgorithm);
        assert!(!v.has_error(Code::Malformed), "{licence}: {:#?}", v.errors);
        assert!(!v.has_error(Code::SignatureInvalid), "{:#?}", v.errors);
    }
    // with a supported algorithm, an empty signature is one that does not verify
    let (good_signed_part, _) = good.rsplit_once('.').unwrap();
    assert_only(
        &verify(&w, &format!("{good_signed_part}.")),
        Code::SignatureInvalid,
    );
}

#[test]
fn rsa_keys_under_2048_bits_are_too_weak() {
    let w = World::new();
    let spec = signer_spec(WUHAN, "MARKET_REG", 30);
    let weak = w
        .wuhan_inter
        .issue_with_public_key(&spec, &rsa1024_spki_der())
        .unwrap();
    let header = json!({"alg": "RS256", "typ": "elicence+jws", "x5c": [STANDARD.encode(&weak), STANDARD.encode(w.wuhan_inter.cert_der())]});
    let claims = w
        .draft("BUSINESS_LICENCE")
        .claims(&w.catalog, &org_id_of(&w.market))
        .unwrap();
    let mut claims = claims;
    claims["iss"] = json!(spec.subject.org_id.clone().unwrap());
    let lid = tongban::lid::make_lid(
        "4200000000LOCAL000034",
        spec.subject.org_id.as_deref().unwrap(),
        "1",
        "001",
    )
    .unwrap();
    claims["lid"] = json!(lid);
    assert_only(&verify(&w, &raw_jws(&header, &claims)), Code::KeyTooWeak);
}

fn unknown_signers(alg: KeyAlg) {
    let w = World::with_alg(alg);
    let good = w.business_licence(|_| {});
    let cases = [
        json!({"alg": "ES256", "typ": "elicence+jws", "kid": URL_SAFE_NO_PAD.encode([1u8; 8])}),
        json!({"alg": "ES256", "typ": "elicence+jws", "kid": "not-a-kid"}),
        json!({"alg": "ES256", "typ": "elicence+jws"}),
    ];
    for header in cases {
        assert_only(
            &verify(&w, &with_header(&good, &header)),
            Code::UnknownSigner,
        );
    }
}

fn a_changed_payload_or_signature_is_invalid(alg: KeyAlg) {
    let w = World::with_alg(alg);
    let good = w.business_licence(|_| {});
    let (head, sig) = good.rsplit_once('.').unwrap();
    let mut sig_bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
    sig_bytes[5] ^= 1;
    assert_only(
        &verify(
            &w,
            &format!("{head}.{}", URL_SAFE_NO_PAD.encode(&sig_bytes)),
        ),
        Code::SignatureInvalid,
    );
    // same claims re-encoded with one holder character changed, signature kept
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(p).unwrap())
        .unwrap()
        .replace("益丰", "益丰丰");
    let v = verify(&w, &format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(payload)));
    assert_only(&v, Code::SignatureInvalid);
}

fn signers_outside_the_signing_profile_are_not_eligible(alg: KeyAlg) {
    let w = World::with_alg(alg);
    // a CA certificate used to sign licences
    let mut ca_signer = w.signer_spec(WUHAN, "MARKET_REG", 40);
    ca_signer.ca = CaKind::Ca { path_len: None };
    ca_signer.key_usage = Some(vec![KeyUsage::DigitalSignature, KeyUsage::KeyCertSign]);
    // keyUsage without digitalSignature or nonRepudiation
    let mut encipher_only = w.signer_spec(WUHAN, "MARKET_REG", 41);
    encipher_only.key_usage = Some(vec![KeyUsage::KeyEncipherment]);
    // no organizationIdentifier
    let mut no_org_id = w.signer_spec(WUHAN, "MARKET_REG", 42);
    no_org_id.subject.org_id = None;
    for (name, spec) in [
        ("ca signer", ca_signer),
        ("keyUsage without digitalSignature", encipher_only),
        ("no organizationIdentifier", no_org_id),
    ] {
        let signer = w.wuhan_inter.issue(&spec).unwrap();
        let licence = w.licence_with(
            &signer,
            &[&w.wuhan_inter],
            "BUSINESS_LICENCE",
            SignerHeader::X5c,
            |_| {},
        );
        let v = verify(&w, &licence);
        assert!(
            v.has_error(Code::SignerNotEligible),
            "{name}: {:#?}",
            v.errors
        );
    }
}

fn untrusted_chains_name_the_obstacle(alg: KeyAlg) {
    let w = World::with_alg(alg);
    // wrong-city root: a Wuhan department certified by the Huangshi root
    let wrong_city = w
        .huangshi_root
        .issue(&w.signer_spec(WUHAN, "MARKET_REG", 50))
        .unwrap();
    // same-name-different-key root: a root with the Wuhan root's name but another key
    let impostor = Issued::self_signed(&w.root_spec(WUHAN, "武汉 根CA", NB, NA)).unwrap();
    let impostor_signed = impostor
        .issue(&w.signer_spec(WUHAN, "MARKET_REG", 51))
        .unwrap();
    // end-entity used as CA: the market regulator's signing certificate issuing another
    let by_end_entity = w
        .market
        .issue(&w.signer_spec(WUHAN, "MARKET_REG", 52))
        .unwrap();
    // a city that does not exist
    let nowhere = w
        .wuhan_inter
        .issue(&w.signer_spec("999999", "MARKET_REG", 53))
        .unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "wrong-city root",
            w.licence_with(
                &wrong_city,
                &[],
                "BUSINESS_LICENCE",
                SignerHeader::X5c,
                |_| {},
            ),
            "no chain",
        ),
        (
            "same-name-different-key root",
            w.licence_with(
                &impostor_signed,
                &[],
                "BUSINESS_LICENCE",
                SignerHeader::X5c,
                |_| {},
            ),
            "not signed by",
        ),
        (
            "end-entity used as CA",
            w.licence_with(
                &by_end_entity,
                &[&w.market, &w.wuhan_inter],
                "BUSINESS_LICENCE",
                SignerHeader::X5c,
                |_| {},
            ),
            "not a CA",
        ),
        (
            "unknown city",
            w.licence_with(
                &nowhere,
                &[&w.wuhan_inter],
                "BUSINESS_LICENCE",
                SignerHeader::X5c,
                |_| {},
            ),
            "not a city",
        ),
    ];
    for (name, licence, why) in cases {
        let v = verify(&w, &licence);
        assert_has(&v, Code::ChainUntrusted);
        let msg = &v
            .errors
            .iter()
            .find(|e| e.code == Code::ChainUntrusted)
            .unwrap()
            .message;
        assert!(msg.contains(why), "{name}: `{why}` not in `{msg}`");
    }
}

fn missing_intermediate_and_overlong_chains_are_untrusted(alg: KeyAlg) {
    let w = World::with_alg(alg);
    // an intermediate in neither x5c nor the trust directory
    let hidden = w
        .wuhan_root
        .issue(&w.intermediate_spec(WUHAN, "武汉 未登记CA", NB, NA))
        .unwrap();
    let signer = hidden
        .issue(&w.signer_spec(WUHAN, "MARKET_REG", 60))
        .unwrap();
    let v = verify(
        &w,
        &w.licence_with(&signer, &[], "BUSINESS_LICENCE", SignerHeader::X5c, |_| {}),
    );
    assert_only(&v, Code::ChainUntrusted);
    // with the intermediate in x5c, it verifies
    let v = verify(
        &w,
        &w.licence_with(
            &signer,
            &[&hidden],
            "BUSINESS_LICENCE",
            SignerHeader::X5c,
            |_| {},
        ),
    );
    assert!(v.valid, "{:#?}", v.errors);
    // root → 4 intermediates → signer = 6 certificates: one too many
    let mut parent = w
        .wuhan_root
        .issue(&with_path_len(w.intermediate_spec(WUHAN, "L1", NB, NA)))
        .unwrap();
    let mut chain = vec![];
    for i in 2..=4 {
        let next = parent
            .issue(&with_path_len(w.intermediate_spec(
                WUHAN,
                &format!("L{i}"),
                NB,
                NA,
            )))
            .unwrap();
        chain.insert(0, parent);
        parent = next;
    }
    chain.insert(0, parent);
    let deep_signer = chain[0]
        .issue(&w.signer_spec(WUHAN, "MARKET_REG", 61))
        .unwrap();
    let refs: Vec<&Issued> = chain.iter().collect();
    let v = verify(
        &w,
        &w.licence_with(
            &deep_signer,
            &refs,
            "BUSINESS_LICENCE",
            SignerHeader::X5c,
            |_| {},
        ),
    );
    assert_only(&v, Code::ChainUntrusted);
    assert!(v.errors[0].message.contains("exceed 5"), "{:#?}", v.errors);
    // one intermediate less: 5 certificates, accepted
    let signer5 = chain[1]
        .issue(&w.signer_spec(WUHAN, "MARKET_REG", 62))
        .unwrap();
    let refs: Vec<&Issued> = chain[1..].iter().collect();
    let v = verify(
        &w,
        &w.licence_with(
            &signer5,
            &refs,
            "BUSINESS_LICENCE",
            SignerHeader::X5c,
            |_| {},
        ),
    );
    assert!(v.valid, "{:#?}", v.errors);
}

fn with_path_len(mut spec: CertSpec) -> CertSpec {
    spec.ca = CaKind::Ca { path_len: None };
    spec
}

fn certificates_are_judged_at_issuance(alg: KeyAlg) {
    let w = World::with_alg(alg);
    // expired before iat
    let expired = w
        .wuhan_inter
        .issue(&CertSpec {
            not_after: IAT - DAY,
            ..signer_spec(WUHAN, "MARKET_REG", 70)
        })
        .unwrap();
    // not yet valid at iat
    let early = w
        .wuhan_inter
        .issue(&CertSpec {
            not_before: IAT + DAY,
            ..signer_spec(WUHAN, "MARKET_REG", 71)
        })
        .unwrap();
    for (name, signer) in [("expired", &expired), ("not yet valid at iat", &early)] {
        let v = verify(
            &w,
            &w.licence_with(
                signer,
                &[&w.wuhan_inter],
                "BUSINESS_LICENCE",
                SignerHeader::X5c,
                |_| {},
            ),
        );
        assert_only(&v, Code::CertNotValidAtIssuance);
        assert!(v.errors[0].message.contains("not at issuance"), "{name}");
    }
    // valid at iat but expired now: a long-lived licence stays valid
    let retired = w
        .wuhan_inter
        .issue(&CertSpec {
            not_after: IAT + DAY,
            ..signer_spec(WUHAN, "MARKET_REG", 72)
        })
        .unwrap();
    let v = verify(
        &w,
        &w.licence_with(
            &retired,
            &[&w.wuhan_inter],
            "BUSINESS_LICENCE",
            SignerHeader::X5c,
            |_| {},
        ),
    );
    assert!(v.valid, "{:#?}", v.errors);
}

fn the_anchor_must_be_valid_at_issuance_too(alg: KeyAlg) {
    let w = World::with_alg(alg);
    let young_root =
        Issued::self_signed(&w.root_spec(HUANGSHI, "黄石 新根CA", IAT + DAY, NA)).unwrap();
    w.trust.add_root(HUANGSHI, &young_root.cert_pem()).unwrap();
    let signer = young_root
        .issue(&CertSpec {
            not_before: NB,
            ..signer_spec(HUANGSHI, "MARKET_REG", 73)
        })
        .unwrap();
    let v = verify(
        &w,
        &w.licence_with(&signer, &[], "BUSINESS_LICENCE", SignerHeader::X5c, |_| {}),
    );
    assert_only(&v, Code::CertNotValidAtIssuance);
    assert!(v.errors[0].message.contains("新根CA"));
}

fn revoke(
    w: &World,
    ca: &Issued,
    victim: &Issued,
    revoked_at: i64,
    reason: Option<Reason>,
    name: &str,
) {
    let crl = ca
        .crl(
            &[RevokedCert {
                serial: victim.spec().serial,
                revoked_at,
                reason,
            }],
            NB,
            NA,
            1,
        )
        .unwrap();
    w.trust.add_crl(WUHAN, name, &crl.pem()).unwrap();
}

fn revoked_signers(alg: KeyAlg) {
    // (name, revoked at, reason, revoked?)
    let cases = [
        (
            "revoked keyCompromise after iat",
            IAT + DAY,
            Some(Reason::KeyCompromise),
            true,
        ),
        ("revoked without a reason after iat", IAT + DAY, None, true),
        (
            "revoked superseded before iat",
            IAT - DAY,
            Some(Reason::Superseded),
            true,
        ),
        (
            "revoked superseded at iat",
            IAT,
            Some(Reason::Superseded),
            true,
        ),
        (
            "revoked superseded after iat",
            IAT + DAY,
            Some(Reason::Superseded),
            false,
        ),
        (
            "revoked cessationOfOperation after iat",
            IAT + DAY,
            Some(Reason::CessationOfOperation),
            false,
        ),
    ];
    for (name, at, reason, revoked) in cases {
        let w = World::with_alg(alg);
        revoke(&w, &w.wuhan_inter, &w.market, at, reason, "issuing");
        let v = verify(&w, &w.business_licence(|_| {}));
        if revoked {
            assert_only(&v, Code::CertRevoked);
        } else {
            assert!(v.valid, "{name}: {:#?}", v.errors);
        }
    }
}

fn revoked_intermediate_and_crl_checks(alg: KeyAlg) {
    let w = World::with_alg(alg);
    revoke(
        &w,
        &w.wuhan_root,
        &w.wuhan_inter,
        IAT - DAY,
        Some(Reason::KeyCompromise),
        "root",
    );
    assert_only(&verify(&w, &w.business_licence(|_| {})), Code::CertRevoked);

    // a CRL signed by a same-name impostor is not used, and loading says so
    let w = World::with_alg(alg);
    let impostor = Issued::self_signed(&w.intermediate_spec(WUHAN, "武汉 签发CA", NB, NA)).unwrap();
    revoke(
        &w,
        &impostor,
        &w.market,
        IAT - DAY,
        Some(Reason::KeyCompromise),
        "forged",
    );
    let verifier = w.verifier();
    assert!(
        verifier
            .trust()
            .notices()
            .iter()
            .any(|n| n.contains("does not verify")),
        "{:?}",
        verifier.trust().notices()
    );
    assert!(
        verifier
            .verify(w.business_licence(|_| {}).as_bytes(), HUANGSHI, NOW)
            .valid
    );

    // a stale CRL still counts, with a warning
    let w = World::with_alg(alg);
    let stale = w.wuhan_inter.crl(&[], NB, NOW - DAY, 1).unwrap();
    w.trust.add_crl(WUHAN, "stale", &stale.pem()).unwrap();
    let v = verify(&w, &w.business_licence(|_| {}));
    assert!(v.valid);
    assert_eq!(
        v.warnings.iter().map(|f| f.code).collect::<Vec<_>>(),
        vec![Code::CrlStale]
    );
}

fn issuers_must_be_authorised_and_consistent(alg: KeyAlg) {
    let w = World::with_alg(alg);
    // a market regulator issuing identity cards
    let v = verify(
        &w,
        &w.licence_with(
            &w.market,
            &[&w.wuhan_inter],
            "ID_CARD",
            SignerHeader::X5c,
            |_| {},
        ),
    );
    assert_only(&v, Code::IssuerNotAuthorized);
    // iss differs from the signer's organizationIdentifier (lid issuer follows iss)
    let other = "11420100MB99999990";
    let v = verify(
        &w,
        &w.business_licence(|c| {
            c["iss"] = json!(other);
            c["lid"] =
                json!(tongban::lid::make_lid("4200000000LOCAL000034", other, "1", "001").unwrap());
        }),
    );
    assert_only(&v, Code::IssuerMismatch);
    // lid issuer differs from iss
    let v = verify(
        &w,
        &w.business_licence(|c| {
            c["lid"] =
                json!(tongban::lid::make_lid("4200000000LOCAL000034", other, "1", "001").unwrap());
        }),
    );
    assert_only(&v, Code::IssuerMismatch);
}

fn lids_types_and_schemas(alg: KeyAlg) {
    let w = World::with_alg(alg);
    let v = verify(
        &w,
        &w.business_licence(|c| {
            let lid = c["lid"].as_str().unwrap().to_owned();
            let last = lid.chars().last().unwrap();
            let other = if last == '0' { '1' } else { '0' };
            c["lid"] = json!(format!("{}{other}", &lid[..lid.len() - 1]));
        }),
    );
    assert_only(&v, Code::LidInvalid);
    // the lid of another type
    let iss = org_id_of(&w.market);
    let v = verify(
        &w,
        &w.business_licence(|c| {
            c["lid"] =
                json!(tongban::lid::make_lid("4200000000LOCAL000001", &iss, "1", "001").unwrap());
        }),
    );
    assert_only(&v, Code::LidInvalid);
    let v = verify(
        &w,
        &w.business_licence(|c| c["ltype"] = json!("FISHING_PERMIT")),
    );
    assert_only(&v, Code::UnknownLicenceType);
    let v = verify(
        &w,
        &w.business_licence(|c| {
            let fields = c["fields"].as_object_mut().unwrap();
            fields.remove("名称");
            fields.insert("住所".into(), json!(42));
        }),
    );
    assert_only(&v, Code::SchemaViolation);
    assert!(
        v.errors[0].message.contains("`名称`") && v.errors[0].message.contains("`住所`"),
        "{}",
        v.errors[0].message
    );
}

fn validity_window_and_clock(alg: KeyAlg) {
    let w = World::with_alg(alg);
    let v = verify(&w, &w.business_licence(|c| c["nbf"] = json!(NOW + DAY)));
    assert_only(&v, Code::LicenceNotYetValid);
    let v = verify(&w, &w.business_licence(|c| c["exp"] = json!(NOW)));
    assert_only(&v, Code::LicenceExpired);
    let v = verify(
        &w,
        &w.business_licence(|c| {
            c.as_object_mut()
                .unwrap()
                .remove("exp")
                .map(drop)
                .unwrap_or(())
        }),
    );
    assert!(v.valid, "no exp = no expiry: {:#?}", v.errors);
    // issued an hour from now, valid from now on: only the issuance is in the future
    let v = w.verifier().verify(
        w.business_licence(|c| {
            c["nbf"] = json!(NOW - DAY);
        })
        .as_bytes(),
        HUANGSHI,
        IAT - 3600,
    );
    assert!(v.has_error(Code::IssuedInFuture), "{:#?}", v.errors);
    // within the 5-minute skew: fine
    let v = w.verifier().verify(
        w.business_licence(|c| c["nbf"] = json!(NOW - DAY))
            .as_bytes(),
        HUANGSHI,
        IAT - 299,
    );
    assert!(!v.has_error(Code::IssuedInFuture), "{:#?}", v.errors);
}

fn revoked_licences_and_recognition(alg: KeyAlg) {
    let w = World::with_alg(alg);
    let iss = org_id_of(&w.market);
    let with_serial = |serial: &str| {
        let lid = tongban::lid::make_lid("4200000000LOCAL000034", &iss, serial, "001").unwrap();
        (w.business_licence(|c| c["lid"] = json!(lid)), lid)
    };
    let (later, later_lid) = with_serial("1");
    let (revoked, revoked_lid) = with_serial("2");
    w.trust
        .add_revoked_licence(WUHAN, &later_lid, NOW + DAY, "not yet")
        .unwrap();
    w.trust
        .add_revoked_licence(WUHAN, &revoked_lid, NOW - DAY, "注销")
        .unwrap();
    assert!(
        verify(&w, &later).valid,
        "a revocation in the future does not count yet"
    );
    assert_only(&verify(&w, &revoked), Code::LicenceRevoked);

    // Tianmen does not recognise Hong Kong/Macao travel permits (shipped recognition.toml)
    let w = World::with_alg(alg);
    let police = w
        .wuhan_inter
        .issue(&w.signer_spec(WUHAN, "PUBLIC_SECURITY", 80))
        .unwrap();
    let permit = w.licence_with(
        &police,
        &[&w.wuhan_inter],
        "HK_MACAO_TRAVEL_PERMIT",
        SignerHeader::X5c,
        |_| {},
    );
    let verifier = w.verifier();
    assert!(verifier.verify(permit.as_bytes(), HUANGSHI, NOW).valid);
    assert_only(
        &verifier.verify(permit.as_bytes(), TIANMEN, NOW),
        Code::NotRecognized,
    );
}

fn holder_check_digits_are_warnings(alg: KeyAlg) {
    let w = World::with_alg(alg);
    let v = verify(
        &w,
        &w.business_licence(|c| c["holder"]["id"] = json!("91512081MA62K0260F")),
    );
    assert!(v.valid);
    assert_eq!(
        v.warnings.iter().map(|f| f.code).collect::<Vec<_>>(),
        vec![Code::HolderIdCheck]
    );
    assert!(
        !v.warnings[0].message.contains("91512081"),
        "no personal identifier in messages"
    );
    let v = verify(
        &w,
        &w.business_licence(|c| {
            c["holder"] =
                json!({"name": "张三", "id": "11010519491231002X", "id_type": "ID_NUMBER"});
        }),
    );
    assert!(v.valid && v.warnings.is_empty(), "{:#?}", v.warnings);
}

fn independent_errors_are_all_reported(alg: KeyAlg) {
    let w = World::with_alg(alg);
    let expired = w
        .wuhan_inter
        .issue(&CertSpec {
            not_after: IAT - DAY,
            ..signer_spec(WUHAN, "MARKET_REG", 90)
        })
        .unwrap();
    let licence = w.licence_with(
        &expired,
        &[&w.wuhan_inter],
        "ID_CARD",
        SignerHeader::X5c,
        |c| {
            c["exp"] = json!(NOW - DAY);
            c["fields"] = json!({});
        },
    );
    let v = verify(&w, &licence);
    for code in [
        Code::CertNotValidAtIssuance,
        Code::IssuerNotAuthorized,
        Code::SchemaViolation,
        Code::LicenceExpired,
    ] {
        assert!(v.has_error(code), "{code:?} missing from {:#?}", v.errors);
    }
    assert!(!v.has_error(Code::SignatureInvalid));
}

#[test]
fn trust_directories_that_cannot_be_used_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = tongban::licence::Verifier::load(dir.path(), None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no trust anchor"), "{err}");
    std::fs::create_dir_all(dir.path().join("123456")).unwrap();
    std::fs::create_dir_all(dir.path().join(WUHAN)).unwrap();
    std::fs::write(
        dir.path().join(WUHAN).join("roots.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let err = tongban::licence::Verifier::load(dir.path(), None)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("`123456` is not a city"), "{err}");
    assert!(err.contains("roots.pem"), "{err}");
}
