//! Licence verification beside the raw ring signature check it is built on.
//!
//! - `raw_ring_es256`: one ECDSA P-256 verification of the licence's own signing input;
//! - `known_signer_es256`: a full `Verifier::verify` whose signer chain is already resolved;
//! - `cold_x5c_2cert_es256`: a fresh verifier (empty caches) and a licence whose `x5c` holds the
//!   signer and its intermediate (the intermediate is in the trust directory, checked at load);
//! - `cold_x5c_unknown_intermediate_es256`: the same with an intermediate only in `x5c`.
//!
//! Run with `cargo bench --bench verify`; the ratios to `raw_ring_es256` are the figures to watch.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
use tongban::catalog::Catalog;
use tongban::crypto::PublicKey;
use tongban::licence::issue::SignerHeader;
use tongban::licence::Verifier;
use tongban::pki::CertSpec;
use tongban::recognition::Recognition;
use tongban::trust::cert::Cert;
use tongban::trust::TrustStore;

fn bench(c: &mut Criterion) {
    let world = World::new();
    let licence = world.business_licence(|_| {});
    let hidden = world
        .wuhan_root
        .issue(&CertSpec::intermediate(WUHAN, "武汉 未登记CA", NB, NA))
        .unwrap();
    let hidden_signer = hidden.issue(&signer_spec(WUHAN, "MARKET_REG", 5)).unwrap();
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
    assert!(warm.verify(licence.as_bytes(), HUANGSHI, NOW).valid);
    assert!(
        warm.verify(unknown_intermediate.as_bytes(), HUANGSHI, NOW)
            .valid
    );

    let (signing_input, signature_b64) = licence.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature_b64).unwrap();
    let PublicKey::P256(point) = Cert::from_der(world.market.cert_der())
        .unwrap()
        .key()
        .clone()
    else {
        panic!("the market regulator signs with P-256");
    };

    let mut group = c.benchmark_group("licence_verify");
    group.bench_function("raw_ring_es256", |b| {
        b.iter(|| {
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
                .verify(signing_input.as_bytes(), &signature)
                .unwrap()
        })
    });
    group.bench_function("known_signer_es256", |b| {
        b.iter(|| warm.verify(licence.as_bytes(), HUANGSHI, NOW))
    });
    group.bench_function("cold_x5c_2cert_es256", |b| {
        b.iter_batched_ref(
            fresh,
            |v| v.verify(licence.as_bytes(), HUANGSHI, NOW),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("cold_x5c_unknown_intermediate_es256", |b| {
        b.iter_batched_ref(
            fresh,
            |v| v.verify(unknown_intermediate.as_bytes(), HUANGSHI, NOW),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
