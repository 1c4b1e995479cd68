//! Properties of the verifier: any change to the signed part of a valid licence is rejected,
//! and no input, however hostile, makes it panic, with international (P-256) and national (SM2)
//! material alike.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

mod common;

use common::*;
use proptest::prelude::*;
use std::sync::OnceLock;
use tongban::licence::Verifier;
use tongban::pki::KeyAlg;

struct Fixture {
    _world: World,
    verifier: Verifier,
    licence: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture::new(KeyAlg::P256))
}

fn sm2_fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| Fixture::new(KeyAlg::Sm2))
}

impl Fixture {
    fn new(alg: KeyAlg) -> Self {
        let world = World::with_alg(alg);
        let verifier = world.verifier();
        let licence = world.business_licence(|_| {});
        assert!(verifier.verify(licence.as_bytes(), HUANGSHI, NOW).valid);
        Fixture {
            _world: world,
            verifier,
            licence,
        }
    }

    /// The licence with byte `index` (of its signed part) replaced, if that changes it.
    fn changed(&self, index: prop::sample::Index, byte: u8) -> Option<Vec<u8>> {
        let signed_len = self.licence.rfind('.').unwrap();
        let i = index.index(signed_len);
        let mut bytes = self.licence.clone().into_bytes();
        (bytes[i] != byte).then(|| {
            bytes[i] = byte;
            bytes
        })
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Changing any byte of `header.payload` to any other byte makes the licence invalid.
    #[test]
    fn any_changed_byte_of_the_signed_part_is_rejected(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        for f in [fixture(), sm2_fixture()] {
            let Some(bytes) = f.changed(index, byte) else { continue };
            let verdict = f.verifier.verify(&bytes, HUANGSHI, NOW);
            prop_assert!(!verdict.valid, "{:?} -> {:#04x} accepted", index, byte);
        }
    }

    /// No SM2 signature but the signer's own verifies: random `r‖s` of any length (64 included)
    /// is refused without a panic.
    #[test]
    fn random_sm2_signatures_are_refused(sig in prop::collection::vec(any::<u8>(), 0..100)) {
        use base64::Engine;
        let f = sm2_fixture();
        let signing_input = f.licence.rsplit_once('.').unwrap().0;
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let forged = format!("{signing_input}.{}", enc.encode(&sig));
        prop_assert!(!f.verifier.verify(forged.as_bytes(), HUANGSHI, NOW).valid);
    }

    /// Arbitrary bytes never panic and are never valid.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let verdict = fixture().verifier.verify(&bytes, HUANGSHI, NOW);
        prop_assert!(!verdict.valid);
    }

    /// Arbitrary strings shaped like a JWS (three base64url parts) never panic.
    #[test]
    fn arbitrary_jws_shapes_never_panic(h in "[A-Za-z0-9_-]{0,200}", p in "[A-Za-z0-9_-]{0,400}", s in "[A-Za-z0-9_-]{0,120}") {
        let input = format!("{h}.{p}.{s}");
        prop_assert!(!fixture().verifier.verify(input.as_bytes(), HUANGSHI, NOW).valid);
    }

    /// Arbitrary JSON-ish headers and payloads (valid base64url of arbitrary text) never panic.
    #[test]
    fn arbitrary_json_parts_never_panic(h in "\\PC{0,120}", p in "\\PC{0,240}") {
        use base64::Engine;
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let input = format!("{}.{}.AAAA", enc.encode(h), enc.encode(p));
        prop_assert!(!fixture().verifier.verify(input.as_bytes(), HUANGSHI, NOW).valid);
    }
}
