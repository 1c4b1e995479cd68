//! Licences shown as QR codes (亮证, contract section 2): the compact JWS itself in byte mode,
//! error correction M, in the smallest QR version that holds it; rendered as SVG or PNG.
//!
//! Used by `tongban licence qr` and the demo. The window desk reads such codes in the browser
//! (`server::desk`); the tests read them back with a Rust decoder.

use qrcode::bits::Bits;
use qrcode::render::svg;
use qrcode::types::QrError as EncodeError;
use qrcode::{Color, EcLevel, QrCode, Version};

/// Error correction of every licence code: M restores up to ~15 % of damaged codewords, the
/// usual trade-off for a phone screen held to a camera.
pub const EC_LEVEL: EcLevel = EcLevel::M;
/// Light modules around the code (the standard's quiet zone).
pub const QUIET_ZONE: usize = 4;
/// Pixels per module in rendered images: a version-20 code is 776 px wide.
pub const MODULE_PX: usize = 8;
/// Largest QR version.
const MAX_VERSION: i16 = 40;

/// Why a licence cannot be made a QR code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error(
        "the licence is {len} bytes, {} bytes more than a QR code holds ({max} bytes in byte \
         mode at error correction M)", .len - .max
    )]
    TooLarge { len: usize, max: usize },
    #[error("the licence is empty")]
    Empty,
    #[error("cannot encode the QR code: {0}")]
    Encode(String),
    #[error("cannot write the PNG image: {0}")]
    Png(String),
}

/// A licence as a QR code.
pub struct LicenceQr {
    code: QrCode,
}

/// Most bytes a QR code holds in byte mode at [`EC_LEVEL`] (2,331: version 40).
pub fn capacity() -> usize {
    // mode indicator (4 bits) and a 16-bit character count precede the data in versions 10–40
    Bits::new(Version::Normal(MAX_VERSION))
        .max_len(EC_LEVEL)
        .map_or(0, |bits| bits.saturating_sub(4 + 16) / 8)
}

/// Encodes `data` in byte mode at [`EC_LEVEL`] in the smallest version that holds it.
pub fn encode(data: &[u8]) -> Result<LicenceQr, QrError> {
    if data.is_empty() {
        return Err(QrError::Empty);
    }
    for version in 1..=MAX_VERSION {
        let mut bits = Bits::new(Version::Normal(version));
        let pushed = bits
            .push_byte_data(data)
            .and_then(|()| bits.push_terminator(EC_LEVEL));
        match pushed {
            Ok(()) => {
                let code = QrCode::with_bits(bits, EC_LEVEL)
                    .map_err(|e| QrError::Encode(e.to_string()))?;
                return Ok(LicenceQr { code });
            }
            Err(EncodeError::DataTooLong) => continue,
            Err(e) => return Err(QrError::Encode(e.to_string())),
        }
    }
    Err(QrError::TooLarge {
        len: data.len(),
        max: capacity(),
    })
}

impl LicenceQr {
    /// The QR version, 1–40.
    pub fn version(&self) -> i16 {
        match self.code.version() {
            Version::Normal(v) | Version::Micro(v) => v,
        }
    }

    /// Modules on a side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.code.width()
    }

    /// Whether the module at column `x`, row `y` (quiet zone excluded) is dark.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width() && y < self.width() && self.code[(x, y)] == Color::Dark
    }

    /// An SVG image, [`MODULE_PX`] per module, quiet zone included.
    pub fn svg(&self) -> String {
        let px = u32::try_from(MODULE_PX).unwrap_or(8);
        self.code
            .render::<svg::Color<'_>>()
            .quiet_zone(true)
            .module_dimensions(px, px)
            .build()
    }

    /// A grey-scale image (0 dark, 255 light) with `module_px` pixels per module and the quiet
    /// zone: `(side, pixels)`, row by row.
    pub fn luma(&self, module_px: usize) -> (usize, Vec<u8>) {
        let modules = self.width() + 2 * QUIET_ZONE;
        let side = modules * module_px;
        let mut pixels = vec![255u8; side * side];
        for (i, row) in pixels.chunks_exact_mut(side).enumerate() {
            let y = (i / module_px).wrapping_sub(QUIET_ZONE);
            for (j, pixel) in row.iter_mut().enumerate() {
                let x = (j / module_px).wrapping_sub(QUIET_ZONE);
                if self.is_dark(x, y) {
                    *pixel = 0;
                }
            }
        }
        (side, pixels)
    }

    /// A 1-bit grey-scale PNG, [`MODULE_PX`] per module, quiet zone included.
    pub fn png(&self) -> Result<Vec<u8>, QrError> {
        let (side, pixels) = self.luma(MODULE_PX);
        let packed: Vec<u8> = pixels
            .chunks_exact(side)
            .flat_map(|row| {
                row.chunks(8).map(|eight| {
                    eight
                        .iter()
                        .enumerate()
                        .fold(0u8, |byte, (k, &p)| byte | (u8::from(p != 0) << (7 - k)))
                })
            })
            .collect();
        let side = u32::try_from(side).map_err(|e| QrError::Png(e.to_string()))?;
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder
            .write_header()
            .map_err(|e| QrError::Png(e.to_string()))?;
        writer
            .write_image_data(&packed)
            .map_err(|e| QrError::Png(e.to_string()))?;
        writer.finish().map_err(|e| QrError::Png(e.to_string()))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(qr: &LicenceQr) -> Vec<u8> {
        let (side, pixels) = qr.luma(4);
        let mut image =
            rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| pixels[y * side + x]);
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1);
        let mut out = Vec::new();
        grids[0].decode_to(&mut out).unwrap();
        out
    }

    #[test]
    fn capacity_is_version_40_m_in_byte_mode() {
        assert_eq!(capacity(), 2331);
        assert_eq!(encode(&[b'a'; 2331]).unwrap().version(), 40);
        let err = encode(&[b'a'; 2400]).err().unwrap();
        assert_eq!(
            err,
            QrError::TooLarge {
                len: 2400,
                max: 2331
            }
        );
        assert!(err.to_string().contains("69 bytes more"), "{err}");
        assert_eq!(encode(b"").err(), Some(QrError::Empty));
    }

    #[test]
    fn smallest_version_in_byte_mode() {
        // version 1-M holds 14 bytes in byte mode (digits alone would fit far more)
        assert_eq!(encode(&[b'7'; 14]).unwrap().version(), 1);
        assert_eq!(encode(&[b'7'; 15]).unwrap().version(), 2);
        let qr = encode(b"eyJhbGciOiJFUzI1NiJ9.e30.sig").unwrap();
        assert_eq!(qr.width(), 17 + 4 * qr.version() as usize);
    }

    #[test]
    fn renders_decode_back() {
        let text = b"eyJhbGciOiJFUzI1NiIsImtpZCI6IkFCQyJ9.eyJsaWQiOiIxLjIuMTU2In0.c2ln".repeat(5);
        let qr = encode(&text).unwrap();
        assert_eq!(decode(&qr), text);
        let svg = qr.svg();
        assert!(svg.starts_with("<?xml") && svg.ends_with("</svg>"));
        let side = (qr.width() + 2 * QUIET_ZONE) * MODULE_PX;
        assert!(svg.contains(&format!("width=\"{side}\"")), "{svg}");
        let png = qr.png().unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let reader = decoder.read_info().unwrap();
        assert_eq!(reader.info().width as usize, side);
    }
}
