//! What the gateway's pages share (the window desk on the public listener, the hall screen on
//! the admin listener): HTML escaping, the security headers, and assets compiled into the binary
//! (the halls' networks reach no CDN and no font service).

use std::convert::Infallible;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

/// A response body that may stream (the screen's event stream) or not.
pub type Body = BoxBody<Bytes, Infallible>;

/// Content-Security-Policy of the window desk: scripts, styles and images only from the page's
/// own origin (no inline script or style at all), the camera stream, requests back to the desk.
pub const DESK_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob:; media-src 'self' blob: mediastream:; connect-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// Content-Security-Policy of the hall screen: as the desk's, without forms, images or camera.
pub const SCREEN_CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// A file served as it was compiled in.
pub struct Asset {
    /// The last path segment it is served under.
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
}

impl Asset {
    /// The asset named `name` among `assets`.
    pub fn find<'a>(assets: &'a [Asset], name: &str) -> Option<&'a Asset> {
        assets.iter().find(|a| a.name == name)
    }
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for HTML text and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// An HTML page with the security headers of `csp`; never stored by the browser.
pub fn page(status: StatusCode, html: String, csp: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(html)));
    *r.status_mut() = status;
    secure(&mut r, "text/html; charset=utf-8", Some(csp));
    r
}

/// A compiled-in asset with the security headers.
pub fn asset(asset: &Asset) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(asset.bytes)));
    secure(&mut r, asset.content_type, None);
    r
}

/// A plain-text answer (errors of the page routes that are not pages).
pub fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_owned())));
    *r.status_mut() = status;
    secure(&mut r, "text/plain; charset=utf-8", None);
    r
}

/// A `303 See Other` to `location` (same origin).
pub fn redirect(location: &'static str) -> Response<Full<Bytes>> {
    let mut r = text(StatusCode::SEE_OTHER, "");
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(location));
    r
}

/// Boxes a whole body.
pub fn boxed(r: Response<Full<Bytes>>) -> Response<Body> {
    r.map(BodyExt::boxed)
}

/// The headers of every page route: the type, no sniffing, no framing, no caching, no referrer,
/// and the page's Content-Security-Policy.
pub fn secure<B>(r: &mut Response<B>, content_type: &'static str, csp: Option<&'static str>) {
    let h = r.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(header::CONTENT_TYPE, content_type);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::CACHE_CONTROL, "no-store");
    set(header::REFERRER_POLICY, "no-referrer");
    set(
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if let Some(csp) = csp {
        set(header::CONTENT_SECURITY_POLICY, csp);
        set(
            HeaderName::from_static("permissions-policy"),
            "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert('x') & "y"</script>"#),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(escape("武汉市"), "武汉市");
    }

    #[test]
    fn pages_carry_the_security_headers() {
        let r = page(StatusCode::OK, "<p>x</p>".into(), DESK_CSP);
        let h = r.headers();
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["x-frame-options"], "DENY");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
        assert!(!csp.contains("unsafe"));
        assert!(!SCREEN_CSP.contains("unsafe"));
    }
}
