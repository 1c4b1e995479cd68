//! QR codes of licences: `tongban licence qr` (formats, exit statuses, the overflow in bytes) and
//! the 100 demo licences of `certs/demo` in `kid` form, each rendered and decoded back exactly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failure here is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tongban::qr;
use tongban::server::demo::qr::KidSigners;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn tongban(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args(args)
        .output()
        .expect("tongban runs")
}

/// The text of the one QR code in a grey-scale image.
fn decode_luma(width: usize, height: usize, pixel: impl FnMut(usize, usize) -> u8) -> Vec<u8> {
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, pixel);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let mut out = Vec::new();
    grids[0].decode_to(&mut out).expect("the code decodes");
    out
}

/// Decodes a PNG written by `licence qr` (1-bit grey).
fn decode_png(path: &Path) -> Vec<u8> {
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut reader = png::Decoder::new(file).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Grayscale, png::BitDepth::One)
    );
    let (w, h, stride) = (info.width as usize, info.height as usize, info.line_size);
    decode_luma(w, h, |x, y| {
        if buf[y * stride + x / 8] & (0x80 >> (x % 8)) != 0 {
            255
        } else {
            0
        }
    })
}

fn kid_licence(ltype: &str) -> String {
    let dir = repo("certs/demo");
    let signers = KidSigners::load(&dir).unwrap();
    let x5c = std::fs::read_to_string(dir.join(format!("licences/{ltype}.jws"))).unwrap();
    signers.kid_form(x5c.trim()).unwrap()
}

#[test]
fn qr_command_writes_svg_and_png_that_decode_back() {
    let tmp = tempfile::tempdir().unwrap();
    let licence = kid_licence("BUSINESS_LICENCE");
    let file = tmp.path().join("licence.jws");
    std::fs::write(&file, format!("{licence}\n")).unwrap();
    let file = file.to_str().unwrap();

    let svg = tongban(&["licence", "qr", file]);
    assert_eq!(svg.status.code(), Some(0), "{svg:?}");
    let text = String::from_utf8(svg.stdout).unwrap();
    assert!(text.starts_with("<?xml") && text.trim_end().ends_with("</svg>"));
    assert!(svg.stderr.is_empty(), "SVG to stdout prints nothing else");

    let png = tmp.path().join("licence.PNG");
    let out = tongban(&["licence", "qr", file, "--out", png.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(decode_png(&png), licence.as_bytes());
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(note.contains("QR version"), "{note}");

    let svg_file = tmp.path().join("licence.svg");
    let out = tongban(&["licence", "qr", file, "--out", svg_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&svg_file).unwrap(), text);
}

#[test]
fn qr_command_refuses_a_licence_too_large_saying_by_how_much() {
    // the x5c form of a Wuhan licence carries the signer and the intermediate
    let x5c = repo("certs/demo/licences/ID_CARD.jws");
    let len = std::fs::read_to_string(&x5c).unwrap().trim().len();
    assert!(
        len > qr::capacity(),
        "the x5c form does not fit ({len} bytes)"
    );
    let out = tongban(&["licence", "qr", x5c.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    let over = len - qr::capacity();
    assert!(
        err.contains(&format!(
            "{len} bytes, {over} bytes more than a QR code holds"
        )),
        "{err}"
    );
    assert!(err.contains("--kid"), "{err}");
}

#[test]
fn qr_command_usage_and_io_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let licence = repo("certs/demo/licences/BUSINESS_LICENCE.jws");
    let licence = licence.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["licence", "qr", "/nonexistent/licence.jws"],
            "/nonexistent/licence.jws",
        ),
        (
            &["licence", "qr", licence, "--out", "code.gif"],
            ".svg or .png",
        ),
        (&["licence", "qr", "Cargo.toml"], "not a licence"),
        (
            &[
                "licence",
                "qr",
                licence,
                "--out",
                "/nonexistent/dir/code.png",
            ],
            "/nonexistent/dir/code.png",
        ),
    ];
    for (args, says) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_tongban"))
            .args(args)
            .current_dir(repo(""))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("tongban: ") && err.contains(says),
            "{args:?}: {err}"
        );
    }
    let help = tongban(&["licence", "qr", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    drop(tmp);
}

/// All 100 demo licences in `kid` form: the QR version at error correction M, and each code
/// decodes back to the exact licence. Prints the figures (`--nocapture`).
#[test]
fn every_demo_licence_in_kid_form_fits_and_decodes_exactly() {
    let dir = repo("certs/demo");
    let signers = KidSigners::load(&dir).unwrap();
    let catalog = tongban::catalog::Catalog::embedded().unwrap();
    let licences: Vec<(String, String)> = catalog
        .licence_types()
        .iter()
        .map(|t| {
            let x5c =
                std::fs::read_to_string(dir.join(format!("licences/{}.jws", t.code))).unwrap();
            let kid = signers.kid_form(x5c.trim()).unwrap();
            assert_eq!(
                kid.split('.').nth(1),
                x5c.trim().split('.').nth(1),
                "{}: the same payload",
                t.code
            );
            (t.code.clone(), kid)
        })
        .collect();
    assert_eq!(licences.len(), 100);
    // decoding is slow unoptimised: two threads
    let (mut versions, mut sizes): (Vec<i16>, Vec<usize>) = std::thread::scope(|s| {
        let workers: Vec<_> = licences
            .chunks(50)
            .map(|chunk| {
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|(ltype, kid)| {
                            let code = qr::encode(kid.as_bytes()).unwrap();
                            let (side, pixels) = code.luma(2);
                            let decoded = decode_luma(side, side, |x, y| pixels[y * side + x]);
                            assert_eq!(decoded, kid.as_bytes(), "{ltype}");
                            (code.version(), kid.len())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).unzip()
    });
    assert_eq!(versions.len(), 100);
    versions.sort_unstable();
    sizes.sort_unstable();
    let median = |v: &[i16]| f64::from(v[49] + v[50]) / 2.0;
    println!(
        "100 demo licences in kid form: {}–{} bytes (median {}); QR version at EC M: min {}, \
         median {}, max {}",
        sizes[0],
        sizes[99],
        (sizes[49] + sizes[50]) / 2,
        versions[0],
        median(&versions),
        versions[99]
    );
    // a phone screen at arm's length reads up to about version 25 comfortably
    assert!(versions[99] <= 25, "largest version {}", versions[99]);
}

/// `tongban demo` writes QR codes of `kid`-form demo licences and prints where they are; each
/// decodes to a licence that verifies (the expired one does not).
#[test]
fn the_demo_writes_qr_codes_and_says_where() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tongban"))
        .args([
            "demo",
            "--public",
            "127.0.0.1:0",
            "--admin",
            "127.0.0.1:0",
            "--dir",
        ])
        .arg(&dir)
        .current_dir(repo(""))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut codes = Vec::new();
    let mut desk = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(path) = line.strip_prefix("#   ").filter(|p| p.ends_with(".png")) {
            codes.push(PathBuf::from(path));
        }
        if line.contains("/desk/") {
            desk = Some(line.clone());
        }
        if line.starts_with("Stop with Ctrl-C") {
            break;
        }
    }
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(desk.is_some_and(|l| l.contains("https://127.0.0.1:")));
    assert_eq!(codes.len(), 4, "{codes:?}");
    for png in &codes {
        let licence = decode_png(png);
        let jws = String::from_utf8(licence).unwrap();
        let header: serde_json::Value = serde_json::from_slice(
            &base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                jws.split('.').next().unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(
            header.get("kid").is_some() && header.get("x5c").is_none(),
            "{header}"
        );
        let file = png.with_extension("jws");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), jws);
        let verdict = tongban(&[
            "verify",
            "--trust",
            dir.join("trust").to_str().unwrap(),
            "--city",
            "420700",
            file.to_str().unwrap(),
        ]);
        let expired = png.ends_with("invalid-expired.png");
        assert_eq!(
            verdict.status.code(),
            Some(if expired { 1 } else { 0 }),
            "{png:?}: {verdict:?}"
        );
    }
}
