//! The window desk (核验台, contract section 5): `GET /desk/` on the public listener, the page on
//! which a window clerk checks the licence a citizen or a company shows (亮证).
//!
//! The desk is under the same client-certificate rule as `/v1` (a window's workstation holds its
//! department's certificate) and verifies for the caller's city through the same code as
//! `POST /v1/licences/verify` (`Connection::verify_all`: the verdict cache, the metrics and one
//! audit record per check). The page is rendered on the server (`page`); it works without
//! script (the form posts to `/desk/verify`, which answers the whole page with the verdict
//! card), and with it (`assets/desk.js`) the card is swapped in place and the two other ways in
//! work: an uploaded photo or screenshot of the QR code, and the workstation's camera, both read
//! in the browser by the vendored jsQR (`assets/jsQR.js`, Apache-2.0, licence beside it) or the
//! browser's own `BarcodeDetector`. Nothing is stored in the browser: every answer is
//! `no-store`, the page sets no cookie and uses no storage, and the holder's id never leaves the
//! gateway unmasked (`sanitize`).

mod meanings;
mod page;

use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, HOST, ORIGIN};
use hyper::{Method, Request, Response, StatusCode};

use super::caller::Caller;
use super::problem::{classify, ApiError};
use super::service::{check_media_type, discard_body, read_body, Connection};
use super::web::{self, Asset};
use crate::licence::Verdict;
use crate::policy::mask::mask_text;
use crate::policy::model::MaskMethod;

/// The desk's page.
pub const PAGE: &str = "/desk/";
/// Where the form posts.
pub const VERIFY: &str = "/desk/verify";
/// What the form posts.
const FORM: &str = "application/x-www-form-urlencoded";
/// Prefix of the desk's assets.
const ASSETS: &str = "/desk/assets/";

static ASSET_FILES: [Asset; 5] = [
    Asset {
        name: "desk.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("desk/assets/desk.css"),
    },
    Asset {
        name: "desk.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("desk/assets/desk.js"),
    },
    Asset {
        name: "jsQR.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("desk/assets/jsQR.js"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("desk/assets/icon.svg"),
    },
    Asset {
        name: "jsQR.LICENSE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("desk/assets/jsQR.LICENSE"),
    },
];

/// Whether `path` is the desk's.
pub fn owns(path: &str) -> bool {
    path == "/desk" || path.starts_with("/desk/")
}

/// What the result area shows.
pub(super) enum Outcome {
    /// Nothing checked yet.
    Ready,
    /// A verdict, sanitized, with the time of the check.
    Checked { verdict: Box<Verdict>, at: i64 },
    /// A request the desk could not check: (Chinese, English).
    Notice(&'static str, String),
}

/// Answers one desk request with a page (never a problem document: a person reads it); the
/// caller, when its certificate named one, for the request log.
pub(super) async fn handle(
    conn: &Connection,
    req: Request<Incoming>,
    request_id: &str,
) -> (Response<Full<Bytes>>, Option<Arc<Caller>>) {
    let path = req.uri().path().to_owned();
    let caller = match conn.caller(&path) {
        Ok(c) => c,
        Err(e) => {
            discard_body(req.into_body());
            return (refused(&e), None);
        }
    };
    let method = req.method().clone();
    let read_only = method == Method::GET || method == Method::HEAD;
    let response = match path.as_str() {
        "/desk" if read_only => web::redirect(PAGE),
        PAGE if read_only => render(conn, &caller, StatusCode::OK, &Outcome::Ready),
        VERIFY if method == Method::POST => verify(conn, req, &caller, request_id).await,
        "/desk" | PAGE | VERIFY => {
            discard_body(req.into_body());
            let allowed = if path == VERIFY { "POST" } else { "GET, HEAD" };
            let mut r = web::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static(allowed));
            r
        }
        _ => match path
            .strip_prefix(ASSETS)
            .and_then(|name| Asset::find(&ASSET_FILES, name))
        {
            Some(asset) if read_only => web::asset(asset),
            _ => {
                discard_body(req.into_body());
                web::text(StatusCode::NOT_FOUND, "not found\n")
            }
        },
    };
    (response, Some(caller))
}

/// `POST /desk/verify` (form field `licence`): the page with the verdict card.
async fn verify(
    conn: &Connection,
    req: Request<Incoming>,
    caller: &Caller,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let state = conn.state();
    let limit = state.config.limits.max_body_bytes;
    let notice =
        |status, zh, en: &str| render(conn, caller, status, &Outcome::Notice(zh, en.into()));
    if let Err(why) = same_origin(&req) {
        discard_body(req.into_body());
        return notice(StatusCode::FORBIDDEN, "拒绝跨站提交", &why);
    }
    if check_media_type(&req, &[FORM], FORM).is_err() {
        discard_body(req.into_body());
        return notice(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "请通过页面表单提交",
            "send the page's form (application/x-www-form-urlencoded)",
        );
    }
    let body = match read_body(req, limit).await {
        Ok(b) => b,
        Err(ApiError::BodyTooLarge { limit }) => {
            return notice(
                StatusCode::PAYLOAD_TOO_LARGE,
                "内容过长，不是电子证照",
                &format!("more than {limit} bytes: not a licence"),
            )
        }
        Err(e) => {
            return notice(
                StatusCode::BAD_REQUEST,
                "无法读取提交的内容",
                &e.to_string(),
            )
        }
    };
    let licence = form_value(&body, "licence").unwrap_or_default();
    let licence = licence.trim();
    if licence.is_empty() {
        return notice(
            StatusCode::BAD_REQUEST,
            "请扫描或粘贴电子证照",
            "scan or paste a licence first",
        );
    }
    let verdict = match conn
        .verify_all(vec![licence.as_bytes().to_vec()], caller, request_id)
        .await
    {
        Ok(mut verdicts) if !verdicts.is_empty() => verdicts.swap_remove(0),
        // 503 while a cluster's database is away (contract section 9), else 500
        Err(e) => {
            return notice(
                classify(&e).status,
                "核验未能完成，请稍后重试",
                "the check could not be completed; try again",
            )
        }
        Ok(_) => {
            return notice(
                StatusCode::INTERNAL_SERVER_ERROR,
                "核验未能完成，请稍后重试",
                "the check could not be completed; try again",
            )
        }
    };
    let at = state.clock.now();
    let verdict = Box::new(sanitize(verdict, &state.mask_key));
    render(
        conn,
        caller,
        StatusCode::OK,
        &Outcome::Checked { verdict, at },
    )
}

fn render(
    conn: &Connection,
    caller: &Caller,
    status: StatusCode,
    outcome: &Outcome,
) -> Response<Full<Bytes>> {
    let state = conn.state();
    let snapshot = state.snapshot();
    let html = page::render(&page::Context {
        city: &caller.city,
        department: &caller.department,
        org_name: caller.org_name.as_deref().unwrap_or_default(),
        catalog: snapshot.verifier.catalog(),
        generation: snapshot.generation,
        loaded_at: snapshot.loaded_at,
        outcome,
    });
    web::page(status, html, web::DESK_CSP)
}

/// The page for a certificate the desk cannot serve (401 without one, 403 for one that does
/// not name a department of its city).
fn refused(e: &ApiError) -> Response<Full<Bytes>> {
    let status = super::problem::classify(e).status;
    web::page(status, page::refused(status, &e.to_string()), web::DESK_CSP)
}

/// Refuses a post made from another site: a page elsewhere must not make the workstation's
/// browser check licences (and write audit records) in the clerk's name.
fn same_origin(req: &Request<Incoming>) -> Result<(), String> {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = header("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Err(format!("a {site} request"));
        }
    }
    let Some(origin) = header(ORIGIN.as_str()) else {
        return Ok(());
    };
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| header(HOST.as_str()).map(str::to_owned))
        .unwrap_or_default();
    if origin.strip_prefix("https://") == Some(authority.as_str()) {
        Ok(())
    } else {
        Err(format!(
            "origin `{}` is not this desk",
            origin.chars().take(100).collect::<String>()
        ))
    }
}

/// The value of `name` in an `application/x-www-form-urlencoded` body.
fn form_value(body: &[u8], name: &str) -> Option<String> {
    body.split(|&b| b == b'&').find_map(|pair| {
        let mut halves = pair.splitn(2, |&b| b == b'=');
        let key = halves.next().unwrap_or_default();
        let value = halves.next().unwrap_or_default();
        (percent_decode(key) == name.as_bytes())
            .then(|| String::from_utf8_lossy(&percent_decode(value)).into_owned())
    })
}

/// `+` is a space, `%XX` a byte; a `%` not followed by two hex digits stays as it is.
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        let hex = |j: usize| text.get(j).and_then(|&c| char::from(c).to_digit(16));
        match b {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => {
                    out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    out
}

/// The verdict as the desk may show it: the holder's id masked as `id_number` (first 6 and last
/// 4 characters) everywhere, messages included, so the page cannot hold it in full.
pub(super) fn sanitize(mut verdict: Verdict, key: &crate::policy::mask::MaskKey) -> Verdict {
    let Some(id) = verdict.holder.as_mut().and_then(|h| h.id.take()) else {
        return verdict;
    };
    let masked = mask_text(MaskMethod::IdNumber, &id, key);
    for finding in verdict.errors.iter_mut().chain(verdict.warnings.iter_mut()) {
        if !id.is_empty() && finding.message.contains(&id) {
            finding.message = finding.message.replace(&id, &masked);
        }
    }
    if let Some(h) = verdict.holder.as_mut() {
        h.id = Some(masked);
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::licence::verdict::{Finding, HolderInfo};
    use crate::licence::Code;
    use crate::policy::mask::MaskKey;

    #[test]
    fn form_values_are_decoded() {
        assert_eq!(
            form_value(b"a=1&licence=ey.J%2B+x%0A", "licence").as_deref(),
            Some("ey.J+ x\n")
        );
        assert_eq!(form_value(b"licence", "licence").as_deref(), Some(""));
        assert_eq!(form_value(b"x=1", "licence"), None);
        assert_eq!(percent_decode(b"100%"), b"100%");
        assert_eq!(percent_decode(b"%zz%4"), b"%zz%4");
    }

    #[test]
    fn the_holder_id_is_masked_everywhere() {
        let id = "420100199001010012";
        let verdict = Verdict {
            valid: true,
            lid: None,
            ltype: None,
            ltype_name: None,
            issuer: None,
            holder: Some(HolderInfo {
                name: Some("张三".into()),
                id: Some(id.into()),
                id_type: Some("ID_NUMBER".into()),
            }),
            errors: Vec::new(),
            warnings: vec![Finding::new(Code::HolderIdCheck, format!("id {id} fails"))],
            verified_for_city: "420100".into(),
            cached: false,
            iat: None,
            nbf: None,
            exp: None,
        };
        let clean = sanitize(verdict, &MaskKey::new(b"k"));
        let text = format!("{clean:?}");
        assert!(!text.contains(id), "{text}");
        assert_eq!(
            clean.holder.unwrap().id.as_deref(),
            Some("420100********0012")
        );
    }
}
