//! Properties of the verifier: any change to the signed part of a valid licence is rejected,
//! and no input, however hostile, makes it panic.

mod common;

use common::*;
use proptest::prelude::*;
use std::sync::OnceLock;
use tongban::licence::Verifier;

struct Fixture {
    _world: World,
    verifier: Verifier,
    licence: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let world = World::new();
        let verifier = world.verifier();
        let licence = world.business_licence(|_| {});
        assert!(verifier.verify(licence.as_bytes(), HUANGSHI, NOW).valid);
        Fixture {
            _world: world,
            verifier,
            licence,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Changing any byte of `header.payload` to any other byte makes the licence invalid.
    #[test]
    fn any_changed_byte_of_the_signed_part_is_rejected(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let f = fixture();
        let signed_len = f.licence.rfind('.').unwrap();
        let i = index.index(signed_len);
        let mut bytes = f.licence.clone().into_bytes();
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let verdict = f.verifier.verify(&bytes, HUANGSHI, NOW);
        prop_assert!(!verdict.valid, "byte {} -> {:#04x} accepted", i, byte);
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
