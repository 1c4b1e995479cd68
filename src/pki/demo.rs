//! The demo PKI of the nine cities and one demo licence of each of the 100 types, written by
//! `tongban pki demo` (committed under `certs/demo`). Demo keys are public: never use them for
//! anything but trying tongban out.

use std::collections::BTreeSet;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map};

use super::{CertSpec, Issued, KeyAlg, PkiError, TrustDirWriter, UnixTime};
use crate::catalog::{Catalog, City};
use crate::checkdigit::{resident_id_check, uscc_check};
use crate::licence::issue::{Draft, IssueError, LicenceSigner, SignerHeader};

/// 2025-01-01T00:00:00Z: demo certificates are valid from here…
pub const DEMO_NOT_BEFORE: UnixTime = 1_735_689_600;
/// …to 2045-01-01T00:00:00Z.
pub const DEMO_NOT_AFTER: UnixTime = 2_366_841_600;
/// 2025-06-01T00:00:00Z: when the demo licences were issued.
pub const DEMO_IAT: UnixTime = 1_748_736_000;
/// 2035-06-01T00:00:00Z: when most demo licences expire.
const DEMO_EXP: UnixTime = 2_064_355_200;
/// Department kinds that get a demo TLS client certificate in every city.
pub const DEMO_CLIENT_DEPTS: [&str; 7] = [
    "HOUSING_FUND",
    "MEDICAL_SECURITY",
    "MARKET_REG",
    "HRSS",
    "PUBLIC_SECURITY",
    "TAX",
    "GOV_SERVICE",
];

/// Cities whose licence PKI is wholly SM2 (国密): root, intermediate, licence signers and CRL.
/// rustls has no SM2, so their departments call the gateway with P-256 TLS client certificates
/// under a TLS root listed in the same `roots.pem` beside the SM2 root (the dual PKI of the
/// government networks).
pub const DEMO_SM2_CITIES: [&str; 2] = ["421100", "421200"];

/// Why the demo could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Issue(#[from] IssueError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not empty and not a demo PKI made by this command; refusing to replace it", .0.display())]
    NotADemo(PathBuf),
}

/// What was written.
#[derive(Debug, Default)]
pub struct DemoSummary {
    pub cities: usize,
    pub intermediates: usize,
    pub signers: usize,
    pub clients: usize,
    pub licences: usize,
    pub invalid_licences: usize,
}

/// A city's demo organisation code: a valid USCC `11<city><MB + 7 digits><check>`.
pub fn demo_org_id(city: &str, index: usize) -> String {
    let first17 = format!("11{city}MB{index:07}");
    let check = uscc_check(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// A valid resident identity number born in `city` on 1990-01-01 with sequence `seq`.
pub fn demo_resident_id(city: &str, seq: u32) -> String {
    let first17 = format!("{city}19900101{:03}", seq % 1000);
    let check = resident_id_check(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// Writes the demo PKI and licences under `out`, replacing an earlier demo PKI there. A folder
/// that holds anything else is never touched.
pub fn generate(out: &Path, catalog: &Catalog) -> Result<DemoSummary, DemoError> {
    if out.exists() {
        let empty = fs::read_dir(out).map_err(io(out))?.next().is_none();
        let readme = fs::read_to_string(out.join("README.md")).unwrap_or_default();
        if !empty && !readme.starts_with(DEMO_README_TITLE) {
            return Err(DemoError::NotADemo(out.to_path_buf()));
        }
        fs::remove_dir_all(out).map_err(io(out))?;
    }
    let trust = TrustDirWriter::new(&out.join("trust"));
    let mut summary = DemoSummary::default();
    let issuer_depts: BTreeSet<&str> = catalog
        .licence_types()
        .iter()
        .flat_map(|t| t.issuer_kinds.iter().map(String::as_str))
        .collect();
    let mut signers: Vec<(String, String, LicenceSigner)> = Vec::new();
    for (ci, city) in catalog.cities().iter().enumerate() {
        let sm2 = DEMO_SM2_CITIES.contains(&city.code.as_str());
        let root_alg = match ci {
            _ if sm2 => KeyAlg::Sm2,
            2 => KeyAlg::P384,
            _ => KeyAlg::P256,
        };
        let root = Issued::self_signed(
            &CertSpec::root(
                &city.code,
                &format!("{} 电子证照根CA", city.name_zh),
                DEMO_NOT_BEFORE,
                DEMO_NOT_AFTER,
            )
            .with_key_alg(root_alg),
        )?;
        trust
            .add_root(&city.code, &root.cert_pem())
            .map_err(io(trust.root()))?;
        // the SM2 cities' TLS root (P-256) sits beside their SM2 root; the others' root does both
        let tls_root = if sm2 {
            let tls = Issued::self_signed(&CertSpec::root(
                &city.code,
                &format!("{} 政务外网TLS根CA", city.name_zh),
                DEMO_NOT_BEFORE,
                DEMO_NOT_AFTER,
            ))?;
            trust
                .add_root(&city.code, &tls.cert_pem())
                .map_err(io(trust.root()))?;
            Some(tls)
        } else {
            None
        };
        // Wuhan and the SM2 cities sign through an intermediate; the others with their root
        let intermediate = if ci == 0 || sm2 {
            let inter = root.issue(
                &CertSpec::intermediate(
                    &city.code,
                    &format!("{} 电子证照签发CA", city.name_zh),
                    DEMO_NOT_BEFORE,
                    DEMO_NOT_AFTER,
                )
                .with_key_alg(root_alg),
            )?;
            trust
                .add_intermediate(&city.code, "issuing-ca", &inter.cert_pem())
                .map_err(io(trust.root()))?;
            summary.intermediates += 1;
            Some(inter)
        } else {
            None
        };
        let issuing_ca = intermediate.as_ref().unwrap_or(&root);
        let crl = issuing_ca.crl(&[], DEMO_NOT_BEFORE, DEMO_NOT_AFTER, 1)?;
        trust
            .add_crl(&city.code, "issuing-ca", &crl.pem())
            .map_err(io(trust.root()))?;
        for (di, dept) in catalog.departments().iter().enumerate() {
            if !issuer_depts.contains(dept.code.as_str()) {
                continue;
            }
            let org = org_name(city, &dept.name_zh);
            let key_alg = match ci {
                _ if sm2 => KeyAlg::Sm2,
                1 => KeyAlg::Ed25519,
                _ => KeyAlg::P256,
            };
            let cert = issuing_ca.issue(
                &CertSpec::signer(
                    &city.code,
                    &dept.code,
                    &org,
                    &demo_org_id(&city.code, di),
                    DEMO_NOT_BEFORE,
                    DEMO_NOT_AFTER,
                )
                .with_key_alg(key_alg),
            )?;
            let mut chain = vec![cert.cert_der().to_vec()];
            let mut chain_pem = cert.cert_pem();
            if let Some(inter) = &intermediate {
                chain.push(inter.cert_der().to_vec());
                chain_pem.push_str(&inter.cert_pem());
            }
            let name = format!("{}-{}", city.code, dept.code);
            trust
                .add_signer(&city.code, &dept.code, &cert.cert_pem())
                .map_err(io(trust.root()))?;
            write(&out.join("signers").join(format!("{name}.pem")), &chain_pem)?;
            write(
                &out.join("signers").join(format!("{name}.key")),
                &cert.key_pem(),
            )?;
            // every third signer names itself by `kid`, the others by `x5c`
            let header = if signers.len() % 3 == 2 {
                SignerHeader::Kid
            } else {
                SignerHeader::X5c
            };
            signers.push((
                city.code.clone(),
                dept.code.clone(),
                LicenceSigner::new(&cert.key_pem(), &chain, None, header)?,
            ));
            summary.signers += 1;
        }
        if ci == 0 || city.code == DEMO_SM2_CITIES[0] {
            // the security team (政务服务和大数据管理局) signs policy sets: `tongban policy sign`
            let team = root.issue(
                &CertSpec::signer(
                    &city.code,
                    "GOV_SERVICE",
                    &org_name(city, "政务服务和大数据管理局"),
                    &demo_org_id(&city.code, 200),
                    DEMO_NOT_BEFORE,
                    DEMO_NOT_AFTER,
                )
                .with_key_alg(root_alg),
            )?;
            let name = format!("{}-GOV_SERVICE", city.code);
            write(
                &out.join("security").join(format!("{name}.pem")),
                &team.cert_pem(),
            )?;
            write(
                &out.join("security").join(format!("{name}.key")),
                &team.key_pem(),
            )?;
        }
        for (di, dept) in DEMO_CLIENT_DEPTS.iter().enumerate() {
            let dept_name = catalog
                .department(dept)
                .map(|d| d.name_zh.as_str())
                .unwrap_or(dept);
            let client = tls_root.as_ref().unwrap_or(&root).issue(&CertSpec::client(
                &city.code,
                dept,
                &org_name(city, dept_name),
                Some(&demo_org_id(&city.code, 100 + di)),
                DEMO_NOT_BEFORE,
                DEMO_NOT_AFTER,
            ))?;
            let name = format!("{}-{dept}", city.code);
            write(
                &out.join("clients").join(format!("{name}.pem")),
                &client.cert_pem(),
            )?;
            write(
                &out.join("clients").join(format!("{name}.key")),
                &client.key_pem(),
            )?;
            summary.clients += 1;
        }
        summary.cities += 1;
    }
    write_server(out)?;
    summary.licences = write_licences(out, catalog, &signers)?;
    summary.invalid_licences = write_invalid(out, catalog, &signers, &trust)?;
    write(&out.join("README.md"), DEMO_README)?;
    Ok(summary)
}

/// The gateway's own CA (not a city anchor: it cannot vouch for any department) and server cert.
fn write_server(out: &Path) -> Result<(), DemoError> {
    let ca = Issued::self_signed(&CertSpec::root(
        "420100",
        "tongban demo gateway CA",
        DEMO_NOT_BEFORE,
        DEMO_NOT_AFTER,
    ))?;
    let ips = [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    let server = ca.issue(&CertSpec::server(
        &["localhost"],
        &ips,
        DEMO_NOT_BEFORE,
        DEMO_NOT_AFTER,
    ))?;
    let dir = out.join("server");
    write(&dir.join("ca.pem"), &ca.cert_pem())?;
    write(
        &dir.join("server-chain.pem"),
        &format!("{}{}", server.cert_pem(), ca.cert_pem()),
    )?;
    write(&dir.join("server.key"), &server.key_pem())
}

/// One licence of each type, issued in turn by the nine cities.
fn write_licences(
    out: &Path,
    catalog: &Catalog,
    signers: &[(String, String, LicenceSigner)],
) -> Result<usize, DemoError> {
    let cities = catalog.cities();
    let mut count = 0;
    for (i, t) in catalog.licence_types().iter().enumerate() {
        let city = cities
            .get(i % cities.len().max(1))
            .map(|c| c.code.as_str())
            .unwrap_or_default();
        let dept = t
            .issuer_kinds
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        let Some((_, _, signer)) = signers.iter().find(|(c, d, _)| c == city && d == dept) else {
            continue;
        };
        let draft = demo_draft(&t.code, &t.required_fields, city, i);
        write(
            &out.join("licences").join(format!("{}.jws", t.code)),
            &draft.issue(catalog, signer)?,
        )?;
        count += 1;
    }
    Ok(count)
}

fn demo_draft(ltype: &str, required: &[String], city: &str, seq: usize) -> Draft {
    let organisation = required.iter().any(|f| f == "统一社会信用代码");
    let (holder_name, holder_id, id_type) = if organisation {
        (
            "湖北示例科技有限公司".to_owned(),
            demo_org_id(city, 5000 + seq),
            "USCC",
        )
    } else {
        (
            "张三".to_owned(),
            demo_resident_id(city, seq as u32),
            "ID_NUMBER",
        )
    };
    let mut fields = Map::new();
    if organisation {
        fields.insert("统一社会信用代码".into(), json!(holder_id));
    }
    for f in required.iter().filter(|f| f.contains("身份号码")) {
        fields.insert(f.clone(), json!(holder_id));
    }
    Draft {
        ltype: ltype.to_owned(),
        serial: format!("2025{seq:06}"),
        holder_name,
        holder_id,
        holder_id_type: id_type.to_owned(),
        iat: DEMO_IAT,
        nbf: None,
        exp: Some(DEMO_EXP),
        fields,
    }
}

/// Licences that must fail, each for one documented reason.
fn write_invalid(
    out: &Path,
    catalog: &Catalog,
    signers: &[(String, String, LicenceSigner)],
    trust: &TrustDirWriter,
) -> Result<usize, DemoError> {
    let find = |city: &str, dept: &str| {
        signers
            .iter()
            .find(|(c, d, _)| c == city && d == dept)
            .map(|(_, _, s)| s)
    };
    let (Some(market), Some(police)) = (
        find("420100", "MARKET_REG"),
        find("420200", "PUBLIC_SECURITY"),
    ) else {
        return Ok(0);
    };
    let business = |serial: &str| {
        let mut d = demo_draft("BUSINESS_LICENCE", &[], "420100", 900);
        d.serial = serial.to_owned();
        d
    };
    let dir = out.join("licences").join("invalid");
    let revoked = business("2025900001");
    let revoked_jws = revoked.issue(catalog, market)?;
    let lid = market
        .org_id()
        .map(|iss| revoked.claims(catalog, iss))
        .transpose()?;
    if let Some(lid) = lid
        .as_ref()
        .and_then(|c| c.get("lid"))
        .and_then(|l| l.as_str())
    {
        trust
            .add_revoked_licence("420100", lid, DEMO_IAT + 86_400, "营业执照已注销")
            .map_err(io(trust.root()))?;
    }
    write(&dir.join("revoked.jws"), &revoked_jws)?;
    let mut expired = business("2025900002");
    expired.exp = Some(DEMO_IAT + 86_400);
    write(&dir.join("expired.jws"), &expired.issue(catalog, market)?)?;
    // a market regulator may not issue identity cards
    let mut id_card = demo_draft("ID_CARD", &[], "420100", 901);
    id_card.serial = "2025900003".into();
    write(
        &dir.join("unauthorised-issuer.jws"),
        &id_card.issue(catalog, market)?,
    )?;
    // the holder's name changed after signing
    let good = demo_draft("ID_CARD", &[], "420200", 902).issue(catalog, police)?;
    let tampered = match good.split('.').collect::<Vec<_>>().as_slice() {
        [h, p, s] => {
            let payload = URL_SAFE_NO_PAD.decode(p).unwrap_or_default();
            let forged = String::from_utf8_lossy(&payload).replacen("张三", "李四", 1);
            format!("{h}.{}.{s}", URL_SAFE_NO_PAD.encode(forged))
        }
        _ => good,
    };
    write(&dir.join("tampered.jws"), &tampered)?;
    Ok(4)
}

fn org_name(city: &City, dept_name: &str) -> String {
    format!("{}{dept_name}", city.name_zh)
}

fn write(path: &Path, text: &str) -> Result<(), DemoError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    fs::write(path, text).map_err(io(path))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DemoError + '_ {
    move |source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

const DEMO_README_TITLE: &str = "# Demo PKI (generated — do not edit)";
const DEMO_README: &str = "# Demo PKI (generated — do not edit)

Made by `cargo run --release -- pki demo` (code: `src/pki/demo.rs`). Every private key here is
public: use them only to try tongban out.

| path | what |
|---|---|
| `trust/<city>/roots.pem` | each city's root CA; Huanggang 421100 and Xianning 421200 (national cryptography, SM2) have an SM2 licence root and, beside it, a P-256 TLS root for their departments' client certificates |
| `trust/<city>/intermediates/issuing-ca.pem` | the issuing CA of Wuhan 420100 (P-256) and of Huanggang and Xianning (SM2) |
| `trust/<city>/signers/` | licence-signing certificates, for `kid` look-up |
| `trust/<city>/crls/` | each issuing CA's CRL |
| `trust/420100/revoked-licences.json` | the licence revocation list (revokes `licences/invalid/revoked.jws`) |
| `signers/<city>-<DEPT>.pem`, `.key` | signing chain and PKCS#8 key of each department kind that issues licences |
| `clients/<city>-<DEPT>.pem`, `.key` | TLS client certificates of calling departments |
| `security/<city>-GOV_SERVICE.pem`, `.key` | the security teams' policy-set signing certificates (`tongban policy sign`): Wuhan 420100 (P-256) and Huanggang 421100 (SM2) |
| `server/` | the gateway's demo CA (`ca.pem`), server chain and key (localhost, 127.0.0.1, ::1) |
| `licences/<TYPE>.jws` | one valid licence of each of the 100 types, issued in turn by the nine cities |
| `licences/invalid/` | revoked, expired, unauthorised issuer, tampered |

Key algorithms: P-256 (Wuhan, Xiaogan, Xiantao, Qianjiang, Tianmen), P-384 roots and P-256 signers
(Ezhou), Ed25519 signers under a P-256 root (Huangshi), SM2 throughout the licence PKI (Huanggang,
Xianning). Certificates are valid 2025-01-01 to 2045-01-01; licences were issued 2025-06-01 and expire
2035-06-01. Regenerate with the command above (keys change; commit the result).
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_replaces_a_folder_it_did_not_make() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("precious.rs"), "fn main() {}").unwrap();
        let catalog = Catalog::embedded().unwrap();
        assert!(matches!(
            generate(dir.path(), &catalog),
            Err(DemoError::NotADemo(_))
        ));
        assert!(dir.path().join("precious.rs").exists());
        let out = dir.path().join("demo");
        let summary = generate(&out, &catalog).unwrap();
        assert_eq!((summary.cities, summary.licences), (9, 100));
        generate(&out, &catalog).unwrap();
    }
}
