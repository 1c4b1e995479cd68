use std::net::{IpAddr, Ipv4Addr};

use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{parse_x509_certificate, parse_x509_crl, X509Certificate};
use x509_parser::x509::X509Name;

use super::*;

const NB: UnixTime = 1_700_000_000; // 2023-11-14
const NA: UnixTime = 1_900_000_000; // 2030-03-17
const CITY: &str = "420100";
const ORG: &str = "武汉市市场监督管理局";
const ORG_ID: &str = "11420100MB12345671";

fn parse(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = parse_x509_certificate(der).expect("certificate parses");
    assert!(rest.is_empty());
    cert
}

/// (value, tag) of the single attribute with dotted OID `oid`.
fn attr(name: &X509Name<'_>, oid: &str) -> Option<(String, Tag)> {
    let mut found = name
        .iter_attributes()
        .filter(|a| a.attr_type().to_id_string() == oid)
        .map(|a| {
            (
                a.as_str().expect("string attribute").to_owned(),
                a.attr_value().header.tag(),
            )
        });
    let first = found.next();
    assert!(found.next().is_none(), "attribute {oid} repeated");
    first
}

fn serial_u64(cert: &X509Certificate<'_>) -> u64 {
    cert.raw_serial()
        .iter()
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

fn root() -> Issued {
    Issued::self_signed(&CertSpec::root(CITY, "武汉市电子证照根CA", NB, NA)).expect("root")
}

#[test]
fn signer_subject_has_contract_attributes() {
    let root = root();
    let spec = CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, NB, NA);
    let signer = root.issue(&spec).expect("signer");
    let cert = parse(signer.cert_der());
    let subject = cert.subject();
    assert_eq!(
        attr(subject, "2.5.4.7"),
        Some((CITY.to_owned(), Tag::Utf8String))
    );
    assert_eq!(
        attr(subject, "2.5.4.11"),
        Some(("MARKET_REG".to_owned(), Tag::Utf8String))
    );
    assert_eq!(
        attr(subject, "2.5.4.10"),
        Some((ORG.to_owned(), Tag::Utf8String))
    );
    assert_eq!(
        attr(subject, "2.5.4.97"),
        Some((ORG_ID.to_owned(), Tag::Utf8String))
    );
    assert_eq!(
        attr(subject, "2.5.4.3"),
        Some(("420100-MARKET_REG-signer".to_owned(), Tag::Utf8String))
    );
    // one attribute per RDN
    assert!(subject.iter_rdn().all(|rdn| rdn.iter().count() == 1));
    assert_eq!(subject.iter_rdn().count(), 5);
}

#[test]
fn root_subject_has_no_department_attributes() {
    let root = root();
    let cert = parse(root.cert_der());
    assert_eq!(
        attr(cert.subject(), "2.5.4.7").map(|a| a.0),
        Some(CITY.into())
    );
    assert_eq!(attr(cert.subject(), "2.5.4.11"), None);
    assert_eq!(attr(cert.subject(), "2.5.4.97"), None);
    assert_eq!(cert.subject().as_raw(), cert.issuer().as_raw());
}

#[test]
fn basic_constraints_variants() {
    let root = root();
    let cases = [
        (CaKind::Ca { path_len: None }, Some((true, None))),
        (CaKind::Ca { path_len: Some(0) }, Some((true, Some(0)))),
        (CaKind::Ca { path_len: Some(3) }, Some((true, Some(3)))),
        (CaKind::EndEntity, Some((false, None))),
        (CaKind::NoBasicConstraints, None),
    ];
    for (kind, want) in cases {
        let mut spec = CertSpec::intermediate(CITY, "ca", NB, NA);
        spec.ca = kind;
        let child = root.issue(&spec).expect("child");
        let cert = parse(child.cert_der());
        let bc = cert.basic_constraints().expect("well-formed");
        let got = bc.map(|ext| {
            assert!(ext.critical);
            (ext.value.ca, ext.value.path_len_constraint)
        });
        assert_eq!(got, want, "{kind:?}");
    }
}

#[test]
fn constructors_set_ca_and_key_usage() {
    let root = root();
    let rc = parse(root.cert_der());
    let bc = rc.basic_constraints().expect("ok").expect("present").value;
    assert!(bc.ca && bc.path_len_constraint.is_none());
    let ku = rc.key_usage().expect("ok").expect("present");
    assert!(ku.critical);
    assert!(ku.value.key_cert_sign() && ku.value.crl_sign() && !ku.value.digital_signature());

    let inter = root
        .issue(&CertSpec::intermediate(CITY, "中间CA", NB, NA))
        .expect("intermediate");
    let ic = parse(inter.cert_der());
    let bc = ic.basic_constraints().expect("ok").expect("present").value;
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(0));

    let signer = inter
        .issue(&CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, NB, NA))
        .expect("signer");
    let sc = parse(signer.cert_der());
    assert!(
        !sc.basic_constraints()
            .expect("ok")
            .expect("present")
            .value
            .ca
    );
    let ku = sc.key_usage().expect("ok").expect("present").value;
    assert!(ku.digital_signature() && ku.non_repudiation());
    assert!(!ku.key_cert_sign() && !ku.crl_sign() && !ku.key_encipherment());
    assert!(sc.extended_key_usage().expect("ok").is_none());
    assert_eq!(sc.issuer().as_raw(), ic.subject().as_raw());

    let client = inter
        .issue(&CertSpec::client(CITY, "MARKET_REG", ORG, None, NB, NA))
        .expect("client");
    let cc = parse(client.cert_der());
    let eku = cc.extended_key_usage().expect("ok").expect("present").value;
    assert!(eku.client_auth && !eku.server_auth);
    assert_eq!(attr(cc.subject(), "2.5.4.97"), None);

    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    let server = inter
        .issue(&CertSpec::server(
            &["gw.tongban.test", "localhost"],
            &[ip],
            NB,
            NA,
        ))
        .expect("server");
    let svc = parse(server.cert_der());
    let eku = svc
        .extended_key_usage()
        .expect("ok")
        .expect("present")
        .value;
    assert!(eku.server_auth && !eku.client_auth);
    let san = svc
        .subject_alternative_name()
        .expect("ok")
        .expect("present")
        .value;
    assert_eq!(
        san.general_names,
        vec![
            GeneralName::DNSName("gw.tongban.test"),
            GeneralName::DNSName("localhost"),
            GeneralName::IPAddress(&[127, 0, 0, 1]),
        ]
    );
    assert_eq!(
        attr(svc.subject(), "2.5.4.3").map(|a| a.0),
        Some("gw.tongban.test".into())
    );
}

#[test]
fn key_usage_variants() {
    let root = root();
    let mut spec = CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, NB, NA);
    spec.key_usage = Some(vec![KeyUsage::KeyEncipherment]);
    let c = root.issue(&spec).expect("ke only");
    let cert = parse(c.cert_der());
    let ku = cert.key_usage().expect("ok").expect("present").value.flags;
    assert_eq!(ku, 1 << 2);

    spec.key_usage = None;
    let c = root.issue(&spec).expect("no ku");
    assert!(parse(c.cert_der()).key_usage().expect("ok").is_none());

    spec.key_usage = Some(vec![KeyUsage::DigitalSignature]);
    let c = root.issue(&spec).expect("ds only");
    let cert = parse(c.cert_der());
    let ku = cert.key_usage().expect("ok").expect("present").value;
    assert!(ku.digital_signature() && !ku.non_repudiation());
}

#[test]
fn validity_and_serial_follow_spec() {
    let root = root();
    for (nb, na) in [
        (NB, NA),
        (946_684_800, 1_000_000_000),   // in the past (2000–2001)
        (2_500_000_000, 2_600_000_000), // in the future, GeneralizedTime (2049+)
        (NB + 1, NB + 2),
    ] {
        let spec = CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, nb, na);
        let c = root.issue(&spec).expect("signer");
        let cert = parse(c.cert_der());
        assert_eq!(cert.validity().not_before.timestamp(), nb);
        assert_eq!(cert.validity().not_after.timestamp(), na);
        assert_eq!(serial_u64(&cert), spec.serial);
    }
    // deterministic serials; explicit serials (high bit set, 1 and 0) survive
    let a = CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, NB, NA);
    let b = CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, NB, NA);
    let c = CertSpec::signer(CITY, "TAX", ORG, ORG_ID, NB, NA);
    assert_eq!(a, b);
    assert_ne!(a.serial, c.serial);
    for serial in [u64::MAX, 1, 0, 0x80] {
        let spec = a.clone().with_serial(serial);
        let cert_der = root.issue(&spec).expect("signer").cert_der().to_vec();
        assert_eq!(serial_u64(&parse(&cert_der)), serial);
    }
}

#[test]
fn each_key_alg_signs_with_its_algorithm() {
    for alg in KeyAlg::ALL {
        let parent = Issued::self_signed(&CertSpec::root(CITY, "root", NB, NA).with_key_alg(alg))
            .expect("root");
        assert_eq!(parent.key_alg(), alg);
        let pc = parse(parent.cert_der());
        assert_eq!(
            pc.signature_algorithm.algorithm.to_id_string(),
            alg.signature_oid()
        );
        // every child is signed with the parent's algorithm, whatever its own key
        for child_alg in [KeyAlg::P256, alg] {
            let child = parent
                .issue(
                    &CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, NB, NA)
                        .with_key_alg(child_alg),
                )
                .expect("child");
            let cc = parse(child.cert_der());
            assert_eq!(
                cc.signature_algorithm.algorithm.to_id_string(),
                alg.signature_oid(),
                "{alg:?}"
            );
            assert_eq!(cc.issuer().as_raw(), pc.subject().as_raw());
            assert_eq!(cc.public_key().raw, child.spki_der().as_slice());
            verify_with(
                &pc,
                cc.tbs_certificate.as_ref(),
                &cc.signature_value.data,
                alg,
            );
        }
        // the private key round-trips through PEM
        assert!(parent
            .key_pem()
            .starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let key =
            crate::crypto::PrivateKey::from_pkcs8_pem(&parent.key_pem()).expect("pem key parses");
        assert_eq!(key.pkcs8_der(), parent.key_pkcs8_der());
        assert_eq!(key.spki_der(), parent.spki_der().as_slice());
    }
}

/// Checks that `issuer`'s key signed `tbs` in `alg`'s algorithm.
fn verify_with(issuer: &X509Certificate<'_>, tbs: &[u8], sig: &[u8], alg: KeyAlg) {
    let key = crate::crypto::PublicKey::from_spki(issuer.public_key()).expect("key");
    crate::crypto::verify(
        alg.algorithm(),
        &key,
        tbs,
        crate::crypto::Signature::X509(sig),
    )
    .expect("signature verifies");
}

#[test]
fn rsa_keys_are_distinct_and_2048() {
    let a = Issued::self_signed(&CertSpec::root(CITY, "a", NB, NA).with_key_alg(KeyAlg::Rsa2048))
        .expect("a");
    let b = Issued::self_signed(&CertSpec::root(CITY, "b", NB, NA).with_key_alg(KeyAlg::Rsa2048B))
        .expect("b");
    assert_ne!(a.spki_der(), b.spki_der());
    for i in [&a, &b] {
        let cert = parse(i.cert_der());
        match cert.public_key().parsed().expect("rsa") {
            x509_parser::public_key::PublicKey::RSA(rsa) => assert_eq!(rsa.key_size(), 2048),
            other => panic!("not rsa: {other:?}"),
        }
    }
}

#[test]
fn same_name_different_key() {
    let spec = CertSpec::root(CITY, "武汉市电子证照根CA", NB, NA);
    let genuine = Issued::self_signed(&spec).expect("genuine");
    let impostor = Issued::self_signed(&spec).expect("impostor");
    let (g, i) = (parse(genuine.cert_der()), parse(impostor.cert_der()));
    assert_eq!(g.subject().as_raw(), i.subject().as_raw());
    assert_eq!(g.raw_serial(), i.raw_serial());
    assert_ne!(g.public_key().raw, i.public_key().raw);

    // and for RSA, with the two committed keys
    let ra = Issued::self_signed(&spec.clone().with_key_alg(KeyAlg::Rsa2048)).expect("a");
    let rb = Issued::self_signed(&spec.with_key_alg(KeyAlg::Rsa2048B)).expect("b");
    let (a, b) = (parse(ra.cert_der()), parse(rb.cert_der()));
    assert_eq!(a.subject().as_raw(), b.subject().as_raw());
    assert_ne!(a.public_key().raw, b.public_key().raw);
}

#[test]
fn end_entity_can_issue() {
    let root = root();
    let ee = root
        .issue(&CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, NB, NA))
        .expect("ee");
    let mut spec = CertSpec::signer(CITY, "TAX", "武汉市税务局", "11420100MB00000000", NB, NA);
    spec.ca = CaKind::NoBasicConstraints;
    let grandchild = ee.issue(&spec).expect("issued by an end entity");
    let (e, g) = (parse(ee.cert_der()), parse(grandchild.cert_der()));
    assert_eq!(g.issuer().as_raw(), e.subject().as_raw());
    assert!(g.basic_constraints().expect("ok").is_none());
    // the CRL check refuses an issuer whose keyUsage lacks cRLSign…
    assert!(matches!(ee.crl(&[], NB, NA, 1), Err(PkiError::Crl(_))));
    // …crl_unchecked does not
    let crl = ee.crl_unchecked(&[], NB, NA, 1).expect("crl");
    let (_, parsed) = parse_x509_crl(crl.der()).expect("crl parses");
    assert_eq!(parsed.issuer().as_raw(), e.subject().as_raw());
}

#[test]
fn weak_rsa_public_key_child() {
    let spki = rsa1024_spki_der();
    assert!(!spki.is_empty());
    let root = root();
    let der = root
        .issue_with_public_key(
            &CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, NB, NA),
            &spki,
        )
        .expect("weak child");
    let cert = parse(&der);
    assert_eq!(cert.public_key().raw, spki.as_slice());
    match cert.public_key().parsed().expect("rsa") {
        x509_parser::public_key::PublicKey::RSA(rsa) => assert_eq!(rsa.key_size(), 1024),
        other => panic!("not rsa: {other:?}"),
    }
    assert_eq!(
        cert.issuer().as_raw(),
        parse(root.cert_der()).subject().as_raw()
    );
    // any generated key's SPKI round-trips too
    for alg in [KeyAlg::P256, KeyAlg::P384, KeyAlg::Ed25519] {
        let other = Issued::self_signed(&CertSpec::root(CITY, "x", NB, NA).with_key_alg(alg))
            .expect("other");
        let der = root
            .issue_with_public_key(
                &CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, NB, NA),
                &other.spki_der(),
            )
            .expect("child");
        assert_eq!(parse(&der).public_key().raw, other.spki_der().as_slice());
    }
    assert!(matches!(
        root.issue_with_public_key(&CertSpec::root(CITY, "x", NB, NA), b"junk"),
        Err(PkiError::Spki(_))
    ));
}

#[test]
fn crl_entries_reasons_and_dates() {
    let root = root();
    let revoked = [
        RevokedCert {
            serial: 0x1234,
            revoked_at: NB + 10,
            reason: Some(Reason::KeyCompromise),
        },
        RevokedCert {
            serial: u64::MAX,
            revoked_at: NB + 20,
            reason: Some(Reason::Superseded),
        },
        RevokedCert {
            serial: 7,
            revoked_at: NB + 30,
            reason: None,
        },
        RevokedCert {
            serial: 8,
            revoked_at: NB + 40,
            reason: Some(Reason::Unspecified),
        },
        RevokedCert {
            serial: 9,
            revoked_at: NB + 50,
            reason: Some(Reason::CertificateHold),
        },
    ];
    let crl = root.crl(&revoked, NB + 100, NB + 86_400, 42).expect("crl");
    assert!(crl.pem().starts_with("-----BEGIN X509 CRL-----\n"));
    let (rest, parsed) = parse_x509_crl(crl.der()).expect("crl parses");
    assert!(rest.is_empty());
    assert_eq!(parsed.version(), Some(x509_parser::x509::X509Version::V2));
    assert_eq!(
        parsed.issuer().as_raw(),
        parse(root.cert_der()).subject().as_raw()
    );
    assert_eq!(parsed.last_update().timestamp(), NB + 100);
    assert_eq!(
        parsed.next_update().map(|t| t.timestamp()),
        Some(NB + 86_400)
    );
    assert_eq!(
        parsed.crl_number().map(|n| n.to_string()),
        Some("42".into())
    );
    assert_eq!(
        parsed.signature_algorithm.algorithm.to_id_string(),
        KeyAlg::P256.signature_oid()
    );
    let entries: Vec<_> = parsed
        .iter_revoked_certificates()
        .map(|r| {
            let serial = r
                .raw_serial()
                .iter()
                .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
            (
                serial,
                r.revocation_date.timestamp(),
                r.reason_code().map(|(_, code)| code.0),
            )
        })
        .collect();
    let want: Vec<_> = revoked
        .iter()
        .map(|r| {
            (
                r.serial,
                r.revoked_at,
                r.reason
                    .filter(|r| *r != Reason::Unspecified)
                    .map(Reason::code),
            )
        })
        .collect();
    assert_eq!(entries, want);
    assert_eq!(Reason::KeyCompromise.code(), 1);
    assert_eq!(Reason::Superseded.code(), 4);

    // empty CRL, RSA issuer
    let rsa =
        Issued::self_signed(&CertSpec::root(CITY, "rsa", NB, NA).with_key_alg(KeyAlg::Rsa2048))
            .expect("rsa root");
    let crl = rsa.crl(&[], NB, NA, 1).expect("empty crl");
    let (_, parsed) = parse_x509_crl(crl.der()).expect("parses");
    assert_eq!(parsed.iter_revoked_certificates().count(), 0);
    assert_eq!(
        parsed.signature_algorithm.algorithm.to_id_string(),
        KeyAlg::Rsa2048.signature_oid()
    );
    // nextUpdate must follow thisUpdate
    assert!(root.crl(&[], NA, NB, 2).is_err());
}

#[test]
fn pem_outputs() {
    let root = root();
    let pem = root.cert_pem();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
    assert!(pem.lines().all(|l| l.len() <= 64));
    assert_eq!(pem_decode(&pem).expect("decodes"), root.cert_der());
}

#[test]
fn trust_dir_layout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let w = TrustDirWriter::new(tmp.path());
    let root = root();
    let other_root = Issued::self_signed(&CertSpec::root(CITY, "second root", NB, NA)).expect("r2");
    let inter = root
        .issue(&CertSpec::intermediate(CITY, "inter", NB, NA))
        .expect("inter");
    let signer = inter
        .issue(&CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, NB, NA))
        .expect("signer");
    let crl = inter.crl(&[], NB, NA, 1).expect("crl");
    w.add_root(CITY, &root.cert_pem()).expect("root");
    w.add_root(CITY, &other_root.cert_pem()).expect("root 2");
    w.add_intermediate(CITY, "inter", &inter.cert_pem())
        .expect("inter");
    w.add_signer(CITY, "market-reg", &signer.cert_pem())
        .expect("signer");
    w.add_crl(CITY, "inter", &crl.pem()).expect("crl");
    w.add_revoked_licence(CITY, "L-1", 1_700_000_000, "revoked by issuer")
        .expect("lic 1");
    w.add_revoked_licence(CITY, "L-2", 1_700_000_060, "superseded")
        .expect("lic 2");

    let city = tmp.path().join(CITY);
    let roots = std::fs::read_to_string(city.join("roots.pem")).expect("roots");
    assert_eq!(
        roots,
        format!("{}{}", root.cert_pem(), other_root.cert_pem())
    );
    assert_eq!(
        std::fs::read_to_string(city.join("intermediates/inter.pem")).expect("i"),
        inter.cert_pem()
    );
    assert_eq!(
        std::fs::read_to_string(city.join("signers/market-reg.pem")).expect("s"),
        signer.cert_pem()
    );
    assert_eq!(
        std::fs::read_to_string(city.join("crls/inter.pem")).expect("c"),
        crl.pem()
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(city.join("revoked-licences.json")).expect("json"),
    )
    .expect("valid json");
    assert_eq!(
        json,
        serde_json::json!([
            {"lid": "L-1", "revoked_at": "2023-11-14T22:13:20Z", "reason": "revoked by issuer"},
            {"lid": "L-2", "revoked_at": "2023-11-14T22:14:20Z", "reason": "superseded"},
        ])
    );
    assert!(w.add_signer(CITY, "../escape", "x").is_err());
    assert!(w.add_root("..", "x").is_err());
}

#[test]
fn key_identifiers_chain() {
    use x509_parser::extensions::ParsedExtension;
    let ski = |c: &X509Certificate<'_>| {
        c.extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0.to_vec()),
                _ => None,
            })
    };
    let aki = |c: &X509Certificate<'_>| {
        c.extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(k) => {
                    k.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            })
    };
    let root = root();
    let inter = root
        .issue(&CertSpec::intermediate(CITY, "inter", NB, NA))
        .expect("inter");
    let signer = inter
        .issue(&CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, NB, NA))
        .expect("signer");
    let (r, i, s) = (
        parse(root.cert_der()),
        parse(inter.cert_der()),
        parse(signer.cert_der()),
    );
    assert!(ski(&r).is_some());
    assert_eq!(aki(&r), None, "self-signed root carries no AKI");
    assert_eq!(aki(&i), ski(&r));
    assert_eq!(aki(&s), ski(&i));
    assert!(ski(&s).is_some());
    // every certificate carries its SKI, with or without basicConstraints
    let mut spec = CertSpec::signer(CITY, "MARKET_REG", ORG, ORG_ID, NB, NA);
    spec.ca = CaKind::NoBasicConstraints;
    let nobc_issued = inter.issue(&spec).expect("no bc");
    let nobc = parse(nobc_issued.cert_der());
    assert!(ski(&nobc).is_some());
    assert_eq!(aki(&nobc), ski(&i));
}

#[test]
fn signatures_verify() {
    for alg in KeyAlg::ALL {
        let root =
            Issued::self_signed(&CertSpec::root(CITY, "r", NB, NA).with_key_alg(alg)).expect("r");
        let rc = parse(root.cert_der());
        verify_with(
            &rc,
            rc.tbs_certificate.as_ref(),
            &rc.signature_value.data,
            alg,
        );
        let crl = root
            .crl(
                &[RevokedCert {
                    serial: 5,
                    revoked_at: NB,
                    reason: Some(Reason::CessationOfOperation),
                }],
                NB,
                NA,
                3,
            )
            .expect("crl");
        let (_, parsed) = parse_x509_crl(crl.der()).expect("crl parses");
        assert_eq!(
            parsed.signature_algorithm.algorithm.to_id_string(),
            alg.signature_oid()
        );
        verify_with(
            &rc,
            parsed.tbs_cert_list.as_ref(),
            &parsed.signature_value.data,
            alg,
        );
    }
}
