//! A test world: a small PKI made by code at a fixed clock, in one key algorithm (P-256 by
//! default; SM2 for the national-cryptography runs of the same tests), a trust directory in a
//! temporary folder and helpers to sign licences. Certificates never expire under the tests:
//! everything is judged at `NOW`.
#![allow(dead_code)]

use serde_json::Value;
use tempfile::TempDir;
use tongban::catalog::Catalog;
use tongban::licence::issue::{Draft, LicenceSigner, SignerHeader};
use tongban::licence::Verifier;
use tongban::pki::demo::{demo_org_id, demo_resident_id};
use tongban::pki::{CertSpec, Issued, KeyAlg, TrustDirWriter};
use tongban::time::UnixTime;

/// 2025-06-15T00:00:00Z: "now" in every test.
pub const NOW: UnixTime = 1_749_945_600;
pub const DAY: i64 = 86_400;
/// Licences are issued ten days before now.
pub const IAT: UnixTime = NOW - 10 * DAY;
/// Certificates are valid from a year before now to five years after.
pub const NB: UnixTime = NOW - 365 * DAY;
pub const NA: UnixTime = NOW + 5 * 365 * DAY;

pub const WUHAN: &str = "420100";
pub const HUANGSHI: &str = "420200";
pub const TIANMEN: &str = "429006";

pub struct World {
    /// The key algorithm of every certificate the world makes.
    pub alg: KeyAlg,
    pub dir: TempDir,
    pub trust: TrustDirWriter,
    pub catalog: Catalog,
    pub wuhan_root: Issued,
    pub wuhan_inter: Issued,
    pub huangshi_root: Issued,
    /// Wuhan market regulator, issued by the Wuhan intermediate.
    pub market: Issued,
    /// Huangshi public security, issued by the Huangshi root.
    pub police: Issued,
}

impl World {
    /// A P-256 world.
    pub fn new() -> Self {
        Self::with_alg(KeyAlg::P256)
    }

    /// A world whose every certificate has an `alg` key (and so signs in `alg`).
    pub fn with_alg(alg: KeyAlg) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let trust = TrustDirWriter::new(&dir.path().join("trust"));
        let spec = |s: CertSpec| s.with_key_alg(alg);
        let wuhan_root =
            Issued::self_signed(&spec(CertSpec::root(WUHAN, "武汉 根CA", NB, NA))).unwrap();
        let wuhan_inter = wuhan_root
            .issue(&spec(CertSpec::intermediate(WUHAN, "武汉 签发CA", NB, NA)))
            .unwrap();
        let huangshi_root =
            Issued::self_signed(&spec(CertSpec::root(HUANGSHI, "黄石 根CA", NB, NA))).unwrap();
        let market = wuhan_inter
            .issue(&signer_spec_alg(WUHAN, "MARKET_REG", 1, alg))
            .unwrap();
        let police = huangshi_root
            .issue(&signer_spec_alg(HUANGSHI, "PUBLIC_SECURITY", 2, alg))
            .unwrap();
        trust.add_root(WUHAN, &wuhan_root.cert_pem()).unwrap();
        trust
            .add_intermediate(WUHAN, "issuing", &wuhan_inter.cert_pem())
            .unwrap();
        trust.add_root(HUANGSHI, &huangshi_root.cert_pem()).unwrap();
        let catalog = Catalog::embedded().unwrap();
        World {
            alg,
            dir,
            trust,
            catalog,
            wuhan_root,
            wuhan_inter,
            huangshi_root,
            market,
            police,
        }
    }

    /// A licence-signing certificate spec in the world's algorithm.
    pub fn signer_spec(&self, city: &str, dept: &str, n: usize) -> CertSpec {
        signer_spec_alg(city, dept, n, self.alg)
    }

    /// A root CA spec in the world's algorithm.
    pub fn root_spec(&self, city: &str, cn: &str, nb: UnixTime, na: UnixTime) -> CertSpec {
        CertSpec::root(city, cn, nb, na).with_key_alg(self.alg)
    }

    /// An intermediate CA spec in the world's algorithm.
    pub fn intermediate_spec(&self, city: &str, cn: &str, nb: UnixTime, na: UnixTime) -> CertSpec {
        CertSpec::intermediate(city, cn, nb, na).with_key_alg(self.alg)
    }

    /// The JWS `alg` the world's keys sign licences with.
    pub fn jws_alg(&self) -> &'static str {
        self.alg.algorithm().jws_name().unwrap_or_default()
    }

    pub fn trust_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("trust")
    }

    /// A verifier over the trust directory as it is now, with the shipped policies.
    pub fn verifier(&self) -> Verifier {
        Verifier::load(&self.trust_dir(), None).unwrap()
    }

    /// A valid draft of `ltype` for the signer's organisation.
    pub fn draft(&self, ltype: &str) -> Draft {
        let organisation = ltype == "BUSINESS_LICENCE";
        Draft {
            ltype: ltype.into(),
            serial: "2025000123".into(),
            holder_name: if organisation {
                "湖北益丰大药房连锁有限公司"
            } else {
                "张三"
            }
            .into(),
            holder_id: if organisation {
                demo_org_id(WUHAN, 77)
            } else {
                demo_resident_id(WUHAN, 7)
            },
            holder_id_type: if organisation { "USCC" } else { "ID_NUMBER" }.into(),
            iat: IAT,
            nbf: None,
            exp: Some(NOW + 365 * DAY),
            fields: Default::default(),
        }
    }

    /// Signs `ltype` with `signer` (chain: signer then `intermediates` in x5c), after `edit`
    /// has changed the claims.
    pub fn licence_with(
        &self,
        signer: &Issued,
        intermediates: &[&Issued],
        ltype: &str,
        header: SignerHeader,
        edit: impl FnOnce(&mut Value),
    ) -> String {
        let mut chain = vec![signer.cert_der().to_vec()];
        chain.extend(intermediates.iter().map(|i| i.cert_der().to_vec()));
        let s = LicenceSigner::new(&signer.key_pem(), &chain, None, header).unwrap();
        // a signer without organizationIdentifier issues under the market regulator's id
        let iss = signer
            .spec()
            .subject
            .org_id
            .clone()
            .unwrap_or_else(|| org_id_of(&self.market));
        let mut claims = self.draft(ltype).claims(&self.catalog, &iss).unwrap();
        edit(&mut claims);
        s.sign(&claims).unwrap()
    }

    /// A valid business licence of the Wuhan market regulator.
    pub fn business_licence(&self, edit: impl FnOnce(&mut Value)) -> String {
        self.licence_with(
            &self.market,
            &[&self.wuhan_inter],
            "BUSINESS_LICENCE",
            SignerHeader::X5c,
            edit,
        )
    }
}

/// A licence-signing certificate spec of a demo organisation.
pub fn signer_spec(city: &str, dept: &str, n: usize) -> CertSpec {
    CertSpec::signer(
        city,
        dept,
        &format!("{city}{dept}局"),
        &demo_org_id(city, n),
        NB,
        NA,
    )
}

pub fn signer_spec_alg(city: &str, dept: &str, n: usize, alg: KeyAlg) -> CertSpec {
    signer_spec(city, dept, n).with_key_alg(alg)
}

pub fn org_id_of(cert: &Issued) -> String {
    cert.spec().subject.org_id.clone().unwrap_or_default()
}
