//! The console as the binary carries it: `dist/` (the `trunk build --release` output) embedded at
//! compile time in release builds, so copying `lifeguard` to a CI runner or a server is enough to
//! run `lifeguard serve`. (Debug builds read `dist/` at run time.) The wasm and scripts go out as
//! the gzip -9 copies the build puts beside them, to browsers that accept gzip; any path that is
//! no file answers `index.html`, so a pasted deep link opens its view.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

#[derive(Embed)]
#[folder = "../dist"]
#[allow_missing = true]
struct Console;

/// Whether this binary carries a built console.
#[must_use]
pub fn available() -> bool {
    Console::get("index.html").is_some()
}

/// How many files the binary carries.
#[must_use]
pub fn files() -> usize {
    Console::iter().count()
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or_default().trim();
            // `gzip;q=0` refuses it.
            let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
            (name == "gzip" || name == "*") && !refused
        })
}

/// The file at `uri` (or `index.html`), gzipped when there is a copy and the browser takes it.
pub async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let wanted = uri.path().trim_start_matches('/');
    let path = if wanted.is_empty() || Console::get(wanted).is_none() {
        "index.html"
    } else {
        wanted
    };
    let Some(file) = Console::get(path) else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "This lifeguard binary carries no console: run `trunk build --release` before \
             building it, or serve a build with --frontend-dir.",
        )
            .into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()));
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag.as_bytes() == etag.as_bytes())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let gzipped = accepts_gzip(&headers)
        .then(|| Console::get(&format!("{path}.gz")))
        .flatten();
    let mut response = match gzipped {
        Some(gz) => {
            let mut response = Response::new(Body::from(gz.data.into_owned()));
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            response
        }
        None => Response::new(Body::from(file.data.into_owned())),
    };
    let headers = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(encoding: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(encoding).unwrap(),
        );
        headers
    }

    #[test]
    fn gzip_is_taken_unless_refused() {
        assert!(accepts_gzip(&with("gzip, deflate, br")));
        assert!(accepts_gzip(&with("br;q=1.0, gzip;q=0.8")));
        assert!(accepts_gzip(&with("*")));
        assert!(!accepts_gzip(&with("gzip;q=0")));
        assert!(!accepts_gzip(&with("br")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
