//! `tongban licence qr FILE [--out OUT.svg|OUT.png]`: a licence as a QR code (contract section 6).

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::fail;
use crate::licence::jws;
use crate::qr::{self, QrError};

#[derive(Debug, clap::Args)]
pub struct QrArgs {
    /// The licence (a compact JWS, ideally issued with `--kid`); `-` reads standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Write the image here instead of SVG to standard output; `.svg` or `.png` decides the format.
    #[arg(long, value_name = "OUT")]
    out: Option<PathBuf>,
}

/// Exit status when the licence does not fit a QR code (contract section 6).
const EXIT_TOO_LARGE: u8 = 1;

enum Format {
    Svg,
    Png,
}

pub fn run(args: &QrArgs) -> ExitCode {
    let format = match args.out.as_deref().map(format_of).transpose() {
        Ok(f) => f.unwrap_or(Format::Svg),
        Err(e) => return fail(e),
    };
    let licence = match read_licence(&args.file) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let code = match qr::encode(&licence) {
        Ok(code) => code,
        Err(e @ QrError::TooLarge { .. }) => {
            let hint = if has_x5c(&licence) {
                "; issue it with `--kid` to name the signer by kid instead of x5c"
            } else {
                ""
            };
            eprintln!("tongban: {e}{hint}");
            return ExitCode::from(EXIT_TOO_LARGE);
        }
        Err(e) => return fail(e),
    };
    let image = match format {
        Format::Svg => Ok(code.svg().into_bytes()),
        Format::Png => code.png(),
    };
    let image = match image {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let written = match &args.out {
        Some(out) => std::fs::write(out, &image).map_err(|e| format!("{}: {e}", out.display())),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(&image)
                .and_then(|()| stdout.flush())
                .map_err(|e| format!("standard output: {e}"))
        }
    };
    if let Err(e) = written {
        return fail(e);
    }
    if let Some(out) = &args.out {
        eprintln!(
            "tongban: QR version {} ({}×{} modules, error correction M), {} bytes of licence → {}",
            code.version(),
            code.width(),
            code.width(),
            licence.len(),
            out.display()
        );
    }
    ExitCode::SUCCESS
}

fn format_of(out: &Path) -> Result<Format, String> {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("svg") => Ok(Format::Svg),
        Some("png") => Ok(Format::Png),
        _ => Err(format!(
            "--out `{}`: the file name must end in .svg or .png",
            out.display()
        )),
    }
}

/// The licence's bytes, surrounding whitespace removed; refuses what is not a compact JWS.
fn read_licence(file: &Path) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let limit = jws::MAX_LICENCE_BYTES as u64 + 1024;
    let read = if file == Path::new("-") {
        std::io::stdin().lock().take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(limit).read_to_end(&mut bytes))
    };
    let name = || {
        if file == Path::new("-") {
            "standard input".to_owned()
        } else {
            file.display().to_string()
        }
    };
    read.map_err(|e| format!("{}: {e}", name()))?;
    let licence = bytes.trim_ascii().to_vec();
    jws::split(&licence).map_err(|e| format!("{}: not a licence (compact JWS): {e}", name()))?;
    Ok(licence)
}

/// Whether the protected header names the signer by `x5c` (the large form).
fn has_x5c(licence: &[u8]) -> bool {
    jws::split(licence)
        .ok()
        .and_then(|c| jws::decode_json_object(c.header_b64, "header").ok())
        .is_some_and(|h| h.contains_key("x5c"))
}
