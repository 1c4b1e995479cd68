//! Licence verification beside the raw signature check it is built on, for ES256 (ring) and
//! SM2 (国密, RustCrypto `sm2`) alike:
//!
//! - `raw_<alg>`: one signature verification of the licence's own signing input, key prepared
//!   (for SM2: the `Z` hash of the signer ID and key computed beforehand, as the verifier does);
//! - `known_signer_<alg>`: a full `Verifier::verify` whose signer chain is already resolved;
//! - `cold_x5c_2cert_<alg>`: a fresh verifier (empty caches) and a licence whose `x5c` holds the
//!   signer and its intermediate (the intermediate is in the trust directory, checked at load);
//! - `cold_x5c_unknown_intermediate_<alg>`: the same with an intermediate only in `x5c`;
//! - `cache_hit_<alg>`: what the gateway does on a verdict-cache hit (look-up and reassembly).
//!
//! Run with `cargo bench --bench verify`; the ratios to `raw_<alg>` are the figures to watch.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use sm2::dsa::signature::Verifier as _;
use tongban::catalog::Catalog;
use tongban::crypto::sm2::DEFAULT_DISTID;
use tongban::crypto::PublicKey;
use tongban::licence::issue::SignerHeader;
use tongban::licence::Verifier;
use tongban::pki::KeyAlg;
use tongban::recognition::Recognition;
use tongban::server::cache::VerdictCache;
use tongban::server::config::CacheConfig;
use tongban::trust::cert::Cert;
use tongban::trust::TrustStore;

fn bench(c: &mut Criterion) {
    for (alg, name) in [(KeyAlg::P256, "es256"), (KeyAlg::Sm2, "sm2")] {
        scenarios(c, alg, name);
    }
}

fn scenarios(c: &mut Criterion, alg: KeyAlg, name: &str) {
    let world = World::with_alg(alg);
    let licence = world.business_licence(|_| {});
    let hidden = world
        .wuhan_root
        .issue(&world.intermediate_spec(WUHAN, "武汉 未登记CA", NB, NA))
        .unwrap();
    let hidden_signer = hidden
        .issue(&world.signer_spec(WUHAN, "MARKET_REG", 5))
        .unwrap();
    let unknown_intermediate = world.licence_with(
        &hidden_signer,
        &[&hidden],
        "BUSINESS_LICENCE",
        SignerHeader::X5c,
        |_| {},
    );

    let catalog = Arc::new(Catalog::embedded().unwrap());
    let trust = Arc::new(TrustStore::load(&world.trust_dir(), &catalog).unwrap());
    let recognition = Arc::new(Recognition::embedded(&catalog).unwrap());
    let fresh = || Verifier::new(catalog.clone(), trust.clone(), recognition.clone());
    let warm = fresh();
    let verdict = warm.verify(licence.as_bytes(), HUANGSHI, NOW);
    assert!(verdict.valid);
    assert!(
        warm.verify(unknown_intermediate.as_bytes(), HUANGSHI, NOW)
            .valid
    );
    let cache = VerdictCache::new(&CacheConfig {
        max_entries: 1000,
        ttl: Duration::from_secs(3600),
    });
    cache.insert(licence.as_bytes(), HUANGSHI, 1, &verdict, NOW);

    let (signing_input, signature_b64) = licence.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature_b64).unwrap();
    let key = Cert::from_der(world.market.cert_der())
        .unwrap()
        .key()
        .clone();

    let mut group = c.benchmark_group("licence_verify");
    match &key {
        PublicKey::P256(point) => {
            group.bench_function(format!("raw_{name}"), |b| {
                b.iter(|| {
                    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                        .verify(signing_input.as_bytes(), &signature)
                        .unwrap()
                })
            });
        }
        PublicKey::Sm2(sm2_key) => {
            let prepared =
                sm2::dsa::VerifyingKey::from_sec1_bytes(DEFAULT_DISTID, sm2_key.point()).unwrap();
            let sig = sm2::dsa::Signature::from_slice(&signature).unwrap();
            group.bench_function(format!("raw_{name}"), |b| {
                b.iter(|| prepared.verify(signing_input.as_bytes(), &sig).unwrap())
            });
        }
        other => panic!("unexpected signer key {other:?}"),
    }
    group.bench_function(format!("known_signer_{name}"), |b| {
        b.iter(|| warm.verify(licence.as_bytes(), HUANGSHI, NOW))
    });
    group.bench_function(format!("cold_x5c_2cert_{name}"), |b| {
        b.iter_batched_ref(
            fresh,
            |v| v.verify(licence.as_bytes(), HUANGSHI, NOW),
            BatchSize::SmallInput,
        )
    });
    group.bench_function(format!("cold_x5c_unknown_intermediate_{name}"), |b| {
        b.iter_batched_ref(
            fresh,
            |v| v.verify(unknown_intermediate.as_bytes(), HUANGSHI, NOW),
            BatchSize::SmallInput,
        )
    });
    group.bench_function(format!("cache_hit_{name}"), |b| {
        b.iter(|| {
            let judgement = cache.get(licence.as_bytes(), HUANGSHI, 1).unwrap();
            warm.reassemble(licence.as_bytes(), HUANGSHI, &judgement)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
